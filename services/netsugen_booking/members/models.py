"""Members, the named users of corporate members, and plan assignments.

Card tokens (QR / IC cards) are secrets: only their SHA-256 is stored. The token itself is shown
once, when the member (or user) is created or the card is regenerated.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Sequence,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.plans.models  # noqa: F401  (the `plan` table the FKs refer to)
from services.netsugen_booking.db import Base

#: Member numbers ("M000123", printed on cards) come from this sequence: unique, never reused.
member_number_seq = Sequence("member_number_seq", metadata=Base.metadata, schema="netsugen", start=1)


class Member(Base):
    __tablename__ = "member"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_number: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), server_default="ja")
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    card_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("kind IN ('individual', 'corporate')", name="kind"),
        CheckConstraint("language IN ('ja', 'en')", name="language"),
        CheckConstraint("status IN ('active', 'suspended', 'left')", name="status"),
        CheckConstraint("status <> 'left' OR left_at IS NOT NULL", name="left_has_date"),
        Index("ix_member_created_at_id", "created_at", "id"),
        {"comment": "NETSUGEN members (individuals and corporations)"},
    )


class MemberUser(Base):
    """A named user of a corporate member; checks in as themselves with their own card."""

    __tablename__ = "member_user"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    card_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = ({"comment": "Named users of corporate members"},)


class PlanAssignment(Base):
    """A member's plan from ``start_date`` to ``end_date`` (both inclusive; NULL end = open-ended).

    A plan change ends the current assignment the day before the change and starts a new one; the
    rows of the past are never edited. The exclusion constraint makes overlapping assignments of
    one member impossible, so every day has at most one plan.
    """

    __tablename__ = "plan_assignment"
    # Server-generated columns (created_at …) come back with RETURNING: no lazy load after flush.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"), index=True)
    plan_code: Mapped[str] = mapped_column(ForeignKey("plan.code", ondelete="RESTRICT"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Why staff recorded a back-dated change (required then; the next invoice run bills the difference).
    reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_in_order"),
        ExcludeConstraint(
            ("member_id", "="),
            (text("daterange(start_date, end_date, '[]')"), "&&"),
            using="gist",
            name="plan_assignment_no_overlap",
        ),
        {"comment": "History of members' plans (never rewritten)"},
    )
