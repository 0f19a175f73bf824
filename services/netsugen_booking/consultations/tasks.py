"""Keeps consultation slots generated ahead from the coordinators' weekly windows."""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from services.netsugen_booking.consultations.service import generate_slots
from shared.db import session_scope
from shared.jst import utcnow


async def generate_consultation_slots(ctx: dict[str, Any]) -> dict[str, int]:
    """Idempotent: existing slots are skipped by the database."""
    days = int(ctx["settings"].consultation_slot_horizon_days)
    async with session_scope(ctx["sessionmaker"]) as session:
        created = await generate_slots(session, now=utcnow(), days=days)
    return {"slots_created": created}


FUNCTIONS: list[Any] = [generate_consultation_slots]
CRON_JOBS: list[CronJob] = [cron(generate_consultation_slots, minute={20}, unique=True, timeout=600)]
