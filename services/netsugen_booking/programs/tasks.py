"""Closes events that ended a while ago and staff did not close (their attendance is then reported),
and lapses guest registrations nobody confirmed in time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from arq.cron import CronJob, cron
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.kpi_reporting.tasks import enqueue_report
from services.netsugen_booking.programs import service
from services.netsugen_booking.settings import NetsugenSettings
from shared.db import session_scope
from shared.jst import utcnow

CLOSED_BY = "scheduler"


async def close_ended_programs(
    maker: async_sessionmaker[AsyncSession], settings: NetsugenSettings, *, now: datetime
) -> list[uuid.UUID]:
    """Close every event that ended ``program_auto_close_after_hours`` ago; returns the KPI report ids.

    Each event closes in its own transaction under its row lock, so a staff close racing this one
    closes it once.
    """
    async with session_scope(maker) as session:
        due = await service.programs_due_to_close(
            session, now=now, after_hours=settings.program_auto_close_after_hours
        )
    report_ids: list[uuid.UUID] = []
    for program_id in due:
        async with session_scope(maker) as session:
            program = await service.get_program(session, program_id, for_update=True, internal=True)
            report = await service.close_program(
                session, program, now=now, closed_by=CLOSED_BY, mapping=settings.kpi_report_mapping
            )
            if report is not None:
                report_ids.append(report.id)
    return report_ids


async def auto_close_programs(ctx: dict[str, Any]) -> dict[str, int]:
    report_ids = await close_ended_programs(ctx["sessionmaker"], ctx["settings"], now=utcnow())
    redis = ctx.get("redis")
    if redis is not None:
        for report_id in report_ids:
            await enqueue_report(redis, report_id)
    return {"reports": len(report_ids)}


async def expire_unconfirmed(maker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Unconfirmed guest registrations past ``confirm_expires_at`` become ``expired``.

    They never held a seat or a waitlist place, so nothing is freed or promoted; the sweep makes the
    status honest and stops the link for good (registration and confirmation also check the time).
    """
    async with session_scope(maker) as session:
        return await service.expire_pending(session, now=now)


async def expire_guest_registrations(ctx: dict[str, Any]) -> dict[str, int]:
    return {"expired": await expire_unconfirmed(ctx["sessionmaker"], now=utcnow())}


FUNCTIONS: list[Any] = [auto_close_programs, expire_guest_registrations]
CRON_JOBS: list[CronJob] = [
    cron(auto_close_programs, minute={0, 15, 30, 45}, unique=True, timeout=600),
    cron(expire_guest_registrations, minute=set(range(0, 60, 5)), unique=True, timeout=300),
]
