"""Secrets for the per-member iCalendar feed URL (calendar apps cannot send a bearer token)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.members.models  # noqa: F401  (the `member` table the FKs refer to)
from services.netsugen_booking.db import Base


class MemberFeedToken(Base):
    __tablename__ = "member_feed_token"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), primary_key=True
    )
    # SHA-256 of the secret in the feed URL; regenerating replaces it (the old URL stops working).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = ({"comment": "Per-member iCalendar feed secrets (hashed)"},)
