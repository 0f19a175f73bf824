"""Day-before reminders (``booking.reminder``) for bookings, event registrations and consultations.

From ``booking_reminder_hour_jst`` (09:00) on, everything confirmed for tomorrow (JST) is
reminded once: the marker row in ``reminder_sent`` is inserted with ``ON CONFLICT DO NOTHING`` in the
same transaction as the outbox event, so a second run (or a second scheduler) sends nothing again.
Only items that existed at today's reminder time are reminded: something booked later the same day
for tomorrow has just had its confirmation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings.models import Booking, ReminderSent
from services.netsugen_booking.consultations.models import Consultation, ConsultationSlot
from services.netsugen_booking.db import outbox
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from shared.events import BookingReminder
from shared.jst import JST, start_of_day_jst, to_jst
from shared.outbox import emit


@dataclass(frozen=True)
class ReminderCounts:
    bookings: int = 0
    registrations: int = 0
    consultations: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "bookings": self.bookings,
            "registrations": self.registrations,
            "consultations": self.consultations,
        }


async def _mark(session: AsyncSession, kind: str, subject_id: uuid.UUID, now: datetime) -> bool:
    result = await session.execute(
        insert(ReminderSent)
        .values(subject_kind=kind, subject_id=subject_id, sent_at=now)
        .on_conflict_do_nothing()
        .returning(ReminderSent.subject_id)
    )
    return result.first() is not None


async def send_reminders(session: AsyncSession, *, now: datetime, reminder_hour: int) -> ReminderCounts:
    local = to_jst(now)
    cutoff = datetime.combine(local.date(), time(reminder_hour), tzinfo=JST)
    if local < cutoff:
        return ReminderCounts()
    tomorrow = start_of_day_jst(local.date() + timedelta(days=1))
    day_after = tomorrow + timedelta(days=1)

    bookings = (
        await session.execute(
            select(Booking.id, Booking.member_id).where(
                Booking.status == "confirmed",
                Booking.member_id.is_not(None),
                Booking.start_at >= tomorrow,
                Booking.start_at < day_after,
                Booking.created_at < cutoff,
            )
        )
    ).all()
    n_bookings = 0
    for booking_id, member_id in bookings:
        if await _mark(session, "booking", booking_id, now):
            await emit(
                session,
                outbox,
                BookingReminder(member_id=member_id, subject_kind="booking", subject_id=booking_id),
            )
            n_bookings += 1

    registrations = (
        await session.execute(
            select(ProgramRegistration.id, ProgramRegistration.member_id)
            .join(Program, Program.id == ProgramRegistration.program_id)
            .where(
                ProgramRegistration.status == "confirmed",
                Program.status == "scheduled",
                Program.start_at >= tomorrow,
                Program.start_at < day_after,
                func.coalesce(ProgramRegistration.promoted_at, ProgramRegistration.created_at) < cutoff,
            )
        )
    ).all()
    n_registrations = 0
    for registration_id, member_id in registrations:
        if await _mark(session, "event_registration", registration_id, now):
            await emit(
                session,
                outbox,
                BookingReminder(
                    member_id=member_id,
                    registration_id=registration_id,
                    subject_kind="event_registration",
                    subject_id=registration_id,
                ),
            )
            n_registrations += 1

    consultations = (
        await session.execute(
            select(Consultation.id, Consultation.member_id)
            .join(ConsultationSlot, ConsultationSlot.id == Consultation.slot_id)
            .where(
                Consultation.status == "confirmed",
                ConsultationSlot.start_at >= tomorrow,
                ConsultationSlot.start_at < day_after,
                Consultation.created_at < cutoff,
            )
        )
    ).all()
    n_consultations = 0
    for consultation_id, member_id in consultations:
        if await _mark(session, "consultation", consultation_id, now):
            await emit(
                session,
                outbox,
                BookingReminder(member_id=member_id, subject_kind="consultation", subject_id=consultation_id),
            )
            n_consultations += 1
    return ReminderCounts(n_bookings, n_registrations, n_consultations)
