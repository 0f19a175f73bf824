"""Room bookings and the day-before reminder markers.

No two confirmed bookings of one resource overlap: an exclusion constraint over
``(resource_id WITH =, tstzrange(start_at, end_at) WITH &&) WHERE status = 'confirmed'`` makes it
impossible whatever the requests race. Ranges are half-open, so 10:00-11:00 and 11:00-12:00 both fit.
An event that uses a resource holds it with a booking of its own (``program_id`` set, no member).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

import services.netsugen_booking.members.models  # noqa: F401  (the `member` table the FKs refer to)
import services.netsugen_booking.programs.models  # noqa: F401
import services.netsugen_booking.resources.models  # noqa: F401
from services.netsugen_booking.db import Base

BOOKING_STATUSES = ("confirmed", "cancelled")
REMINDER_KINDS = ("booking", "event_registration", "consultation")

#: Name of the exclusion constraint; a violation of it is the "slot taken" 409.
BOOKING_NO_OVERLAP = "booking_no_overlap"


class Booking(Base):
    __tablename__ = "booking"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    resource_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource.id", ondelete="RESTRICT"))
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("member.id", ondelete="RESTRICT"), index=True
    )
    # Set when the booking holds the resource for an event (programs); then there is no member.
    program_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("program.id", ondelete="RESTRICT"), unique=True
    )
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), server_default="confirmed")
    # The resource's hourly price pro rata, rounded down to the yen, frozen at booking time.
    price_yen: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # True when staff cancelled after the member's cancellation deadline.
    deadline_overridden: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    __table_args__ = (
        CheckConstraint("end_at > start_at", name="times_in_order"),
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="status"),
        CheckConstraint("price_yen >= 0", name="price_not_negative"),
        CheckConstraint("(member_id IS NULL) <> (program_id IS NULL)", name="member_or_program"),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_has_time"),
        ExcludeConstraint(
            ("resource_id", "="),
            (text("tstzrange(start_at, end_at)"), "&&"),
            where=text("status = 'confirmed'"),
            using="gist",
            name=BOOKING_NO_OVERLAP,
        ),
        Index("ix_booking_resource_id_start_at", "resource_id", "start_at"),
        Index("ix_booking_start_at", "start_at"),
        {"comment": "Bookings of rooms, booths and the event space"},
    )


class ReminderSent(Base):
    """One row per reminded booking, registration or consultation: a reminder goes out once."""

    __tablename__ = "reminder_sent"

    subject_kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "subject_kind IN ('booking', 'event_registration', 'consultation')", name="subject_kind"
        ),
        {"comment": "Day-before reminders already sent (booking.reminder)"},
    )
