"""Housekeeping: forget idempotency keys after their time to live."""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from services.netsugen_booking.frontdesk_common.idempotency import purge_expired
from shared.db import session_scope
from shared.jst import utcnow


async def purge_idempotency_keys(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete idempotency keys older than ``netsugen_idempotency_ttl_hours`` (idempotent)."""
    ttl = int(getattr(ctx["settings"], "netsugen_idempotency_ttl_hours", 24))
    async with session_scope(ctx["sessionmaker"]) as session:
        deleted = await purge_expired(session, now=utcnow(), ttl_hours=ttl)
    return {"deleted": deleted}


FUNCTIONS: list[Any] = [purge_idempotency_keys]
CRON_JOBS: list[CronJob] = [cron(purge_idempotency_keys, minute={5}, unique=True)]
