"""Coordinator consultations (コーディネーター事業): coordinators, weekly availability windows,
generated slots and the consultations booked on them.

Two database guarantees:

- a coordinator's live slots never overlap (exclusion constraint), so regenerating slots from
  windows is idempotent (``INSERT … ON CONFLICT DO NOTHING``);
- a slot carries at most one live consultation (partial unique index on ``slot_id``), so two
  members racing for one slot get one consultation and one 409.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.members.models  # noqa: F401  (the `member` table the FKs refer to)
from services.netsugen_booking.db import Base

SLOT_MINUTES = (30, 60)
CONSULTATION_STATUSES = ("confirmed", "cancelled", "completed", "no_show")
CONSULTATION_OUTCOMES = (
    "resolved",
    "follow_up",
    "referred_to_business_matching",
    "referred_to_specialist",
    "no_show",
)
SLOT_NO_OVERLAP = "consultation_slot_no_overlap"
CONSULTATION_ONE_PER_SLOT = "uq_consultation_slot_live"


class Coordinator(Base):
    __tablename__ = "coordinator"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    # Areas of expertise, e.g. accounting, sme_management, funding.
    expertise: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    bio: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = ({"comment": "Coordinators (certified accountants, SME consultants …)"},)


class CoordinatorAvailability(Base):
    """A weekly window: every ``weekday`` from ``starts_at`` to ``ends_at`` (JST wall clock)."""

    __tablename__ = "coordinator_availability"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    coordinator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coordinator.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday … 6 = Sunday
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("starts_at < ends_at", name="times_in_order"),
        CheckConstraint("slot_minutes IN (30, 60)", name="slot_minutes"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity_in_order"),
        {"comment": "Coordinators' weekly availability windows"},
    )


class ConsultationSlot(Base):
    __tablename__ = "consultation_slot"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    coordinator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coordinator.id", ondelete="RESTRICT"))
    availability_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("coordinator_availability.id", ondelete="SET NULL")
    )
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("end_at - start_at IN (interval '30 minutes', interval '60 minutes')", name="length"),
        ExcludeConstraint(
            ("coordinator_id", "="),
            (text("tstzrange(start_at, end_at)"), "&&"),
            where=text("withdrawn_at IS NULL"),
            using="gist",
            name=SLOT_NO_OVERLAP,
        ),
        {"comment": "Bookable consultation slots (30 or 60 minutes)"},
    )


class Consultation(Base):
    __tablename__ = "consultation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consultation_slot.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("member.id", ondelete="RESTRICT"), index=True)
    topic: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), server_default="confirmed")
    note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(48))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'cancelled', 'completed', 'no_show')", name="status"),
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('resolved', 'follow_up', 'referred_to_business_matching',"
            " 'referred_to_specialist', 'no_show')",
            name="outcome",
        ),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_has_time"),
        CheckConstraint("(outcome IS NULL) = (recorded_at IS NULL)", name="outcome_recorded"),
        # Each slot is booked at most once (a cancelled consultation frees it).
        Index(
            CONSULTATION_ONE_PER_SLOT,
            "slot_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
        ),
        {"comment": "Consultations booked by members on coordinators' slots"},
    )
