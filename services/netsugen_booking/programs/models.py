"""Events (交流事業: seminars, workshops, pitches, networking, startup programmes, creator lab)
and their registrations.

Registrations are served in arrival order: ``seq`` comes from an identity sequence, drawn while the
event row is locked ``FOR UPDATE``, so it is the order in which registrations took their place. The
waitlist is the ``waitlisted`` rows by ``seq``; a cancellation promotes the lowest ``seq`` first.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.members.models  # noqa: F401  (the `member` table the FKs refer to)
import services.netsugen_booking.resources.models  # noqa: F401
from services.netsugen_booking.db import Base

PROGRAM_CATEGORIES = ("seminar", "workshop", "pitch", "networking", "startup_program", "creator_lab")
PROGRAM_STATUSES = ("scheduled", "closed")
REGISTRATION_STATUSES = ("pending_confirmation", "confirmed", "waitlisted", "cancelled", "expired")
#: Registrations that hold (or wait for) a place, or block a second registration of the same person.
LIVE_STATUSES_SQL = "status IN ('pending_confirmation', 'confirmed', 'waitlisted')"


class Program(Base):
    __tablename__ = "program"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title_ja: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description_ja: Mapped[str] = mapped_column(Text, server_default="")
    description_en: Mapped[str] = mapped_column(Text, server_default="")
    category: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("resource.id", ondelete="RESTRICT"))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    registration_opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registration_closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    public: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    status: Mapped[str] = mapped_column(String(16), server_default="scheduled")
    # Checked-in attendees when the event closed (what was reported to the KPI registry).
    attendance_count: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "category IN ('seminar', 'workshop', 'pitch', 'networking', 'startup_program', 'creator_lab')",
            name="category",
        ),
        CheckConstraint("status IN ('scheduled', 'closed')", name="status"),
        CheckConstraint("end_at > start_at", name="times_in_order"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("registration_closes_at > registration_opens_at", name="registration_window"),
        CheckConstraint("registration_closes_at <= end_at", name="registration_before_end"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_has_time"),
        {"comment": "Events and programmes (交流事業)"},
    )


class ProgramRegistration(Base):
    __tablename__ = "program_registration"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Arrival order (drawn under the event's row lock): the waitlist order.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    program_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("program.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), index=True
    )
    # Guests (no member): name, email (lower-cased) and language come from the registration.
    guest_name: Mapped[str | None] = mapped_column(String(200))
    guest_email: Mapped[str | None] = mapped_column(String(320))
    # The duplicate key of a guest: lower-case, plus tag removed, gmail dots removed (emails.py).
    guest_email_normalized: Mapped[str | None] = mapped_column(String(320))
    guest_language: Mapped[str | None] = mapped_column(String(2))
    # SHA-256 of the secret a guest cancels with (shown once, in the registration answer).
    cancel_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Guests confirm from an emailed link (double opt-in): SHA-256 of the one-time secret of the
    # link (the secret itself is never stored), and until when it may be used. Cleared once used.
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(24))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_confirmation', 'confirmed', 'waitlisted', 'cancelled', 'expired')",
            name="status",
        ),
        CheckConstraint("(member_id IS NULL) = (guest_email IS NOT NULL)", name="member_or_guest"),
        CheckConstraint(
            "(member_id IS NULL) = (guest_email_normalized IS NOT NULL)", name="guest_normalized"
        ),
        CheckConstraint(
            "status <> 'pending_confirmation' OR (confirm_expires_at IS NOT NULL AND confirm_token_hash IS NOT NULL)",
            name="pending_expires",
        ),
        CheckConstraint(
            "member_id IS NOT NULL OR (guest_name IS NOT NULL AND guest_language IN ('ja', 'en'))",
            name="guest_complete",
        ),
        CheckConstraint("checked_in_at IS NULL OR status = 'confirmed'", name="checked_in_confirmed"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_has_time"),
        # A member (or a normalized guest email) holds at most one live registration per event.
        Index(
            "uq_program_registration_member",
            "program_id",
            "member_id",
            unique=True,
            postgresql_where=text(f"{LIVE_STATUSES_SQL} AND member_id IS NOT NULL"),
        ),
        Index(
            "uq_program_registration_guest",
            "program_id",
            "guest_email_normalized",
            unique=True,
            postgresql_where=text(f"{LIVE_STATUSES_SQL} AND guest_email_normalized IS NOT NULL"),
        ),
        # The expiry sweep's scan.
        Index(
            "ix_program_registration_pending_expiry",
            "confirm_expires_at",
            postgresql_where=text("status = 'pending_confirmation'"),
        ),
        Index("ix_program_registration_program_id_status_seq", "program_id", "status", "seq"),
        {"comment": "Registrations for events, with their waitlist"},
    )
