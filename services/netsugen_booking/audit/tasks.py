"""Retention of the audit trail: a daily purge of entries older than ``AUDIT_RETENTION_YEARS``.

The table refuses deletes; ``auth.purge_audit(cutoff)`` (migration 0016) is the only way out, and
this job its only caller. Running it twice purges nothing twice.
"""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from shared import audit
from shared.db import session_scope
from shared.jst import now_jst


async def purge_audit_trail(ctx: dict[str, Any]) -> dict[str, int]:
    years = int(ctx["settings"].audit_retention_years)
    async with session_scope(ctx["sessionmaker"]) as session:
        purged = await audit.purge(session, now=now_jst(), years=years)
    return {"purged": purged}


FUNCTIONS: list[Any] = [purge_audit_trail]
CRON_JOBS: list[CronJob] = [cron(purge_audit_trail, hour={3}, minute={30}, unique=True)]
