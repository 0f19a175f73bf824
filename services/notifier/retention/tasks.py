"""Retention of the delivery ledger: nothing grows forever.

Every hour (at minute 17) the worker deletes, in batches:
- deliveries in a final state (delivered, failed permanently, dead, suppressed) created more than
  ``LEDGER_RETENTION_DAYS`` ago, with their attempts (``ON DELETE CASCADE``);
- inbox rows received before then that no delivery refers to any more;
- reconciliation runs older than that.
Deliveries still in flight (queued, sending, failed temporarily) are never deleted, whatever their age.
The job is idempotent (deleting what is already gone changes nothing), so two workers may run it.
"""

from __future__ import annotations

from typing import Any

import structlog
from arq.cron import CronJob, cron
from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.deliveries.models import FINAL_STATUSES, Delivery, Inbox, ReconcileRun
from services.notifier.settings import NotifierSettings, get_settings

log = structlog.get_logger("notifier.retention")

RETENTION_JOB = "purge_ledger"
BATCH = 5000


async def purge_ledger(engine: AsyncEngine, older_than_days: int, *, batch: int = BATCH) -> dict[str, int]:
    cutoff = func.now() - func.make_interval(0, 0, 0, older_than_days)
    counts = {"deliveries": 0, "inbox": 0, "reconcile_runs": 0}
    while True:
        async with engine.begin() as conn:
            doomed = (
                select(Delivery.id)
                .where(Delivery.status.in_(FINAL_STATUSES), Delivery.created_at < cutoff)
                .limit(batch)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            result = await conn.execute(delete(Delivery).where(Delivery.id.in_(doomed)))
        n = int(getattr(result, "rowcount", 0) or 0)
        counts["deliveries"] += n
        if n < batch:
            break
    while True:
        async with engine.begin() as conn:
            doomed = (
                select(Inbox.id)
                .where(Inbox.received_at < cutoff, ~exists().where(Delivery.inbox_id == Inbox.id))
                .limit(batch)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            result = await conn.execute(delete(Inbox).where(Inbox.id.in_(doomed)))
        n = int(getattr(result, "rowcount", 0) or 0)
        counts["inbox"] += n
        if n < batch:
            break
    async with engine.begin() as conn:
        result = await conn.execute(delete(ReconcileRun).where(ReconcileRun.started_at < cutoff))
        counts["reconcile_runs"] = int(getattr(result, "rowcount", 0) or 0)
    return counts


async def purge_ledger_job(ctx: dict[str, Any]) -> dict[str, int]:
    settings: NotifierSettings = ctx.get("settings") or get_settings()
    counts = await purge_ledger(ctx["engine"], settings.ledger_retention_days)
    log.info("ledger_purged", older_than_days=settings.ledger_retention_days, **counts)
    return counts


FUNCTIONS: list[Any] = []
CRON_JOBS: list[CronJob] = [
    cron(
        purge_ledger_job, name=RETENTION_JOB, minute={17}, second={0}, microsecond=0, unique=True, timeout=600
    ),
]
