"""The day-before reminder job.

arq evaluates cron times in the scheduler's system time zone, so the job runs at the top of every
hour and sends only from 09:00 JST (``booking_reminder_hour_jst``) on; the markers make the later
runs of the day send nothing twice, and a scheduler that was down at 09:00 catches up at its next run.
"""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from services.netsugen_booking.bookings.reminders import send_reminders
from shared.db import session_scope
from shared.jst import utcnow


async def send_booking_reminders(ctx: dict[str, Any]) -> dict[str, int]:
    async with session_scope(ctx["sessionmaker"]) as session:
        counts = await send_reminders(
            session, now=utcnow(), reminder_hour=int(ctx["settings"].booking_reminder_hour_jst)
        )
    return counts.as_dict()


FUNCTIONS: list[Any] = [send_booking_reminders]
CRON_JOBS: list[CronJob] = [cron(send_booking_reminders, minute={0}, unique=True, timeout=600)]
