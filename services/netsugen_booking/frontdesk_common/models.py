"""Stored answers of requests made with an ``Idempotency-Key`` header."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.netsugen_booking.db import Base


class IdempotencyKey(Base):
    """One row per (scope, key). ``scope`` is the caller (token) and the operation, so two
    callers can never see each other's answers and one key cannot be replayed on another route."""

    __tablename__ = "idempotency_key"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    scope: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the canonical request body: the same key with another body is refused (422).
    request_hash: Mapped[str] = mapped_column(String(64))
    # Written in the same transaction as the operation itself; another request with the same key
    # waits on the unique index until that transaction ends, so it never sees these NULL.
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

    __table_args__ = (
        UniqueConstraint("scope", "key"),
        {"comment": "Idempotency keys and the first answer given for them"},
    )
