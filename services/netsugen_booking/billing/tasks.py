"""Scheduled billing: the monthly invoice run on the 1st of each month at 00:30 JST.

arq evaluates cron times in the worker's timezone (the system's, unless the worker sets one), and
"00:30 JST on the 1st" is 15:30 UTC on the *last* day of the previous month, which cron fields
cannot express. So the cron ticks every hour at minute 30 in whatever timezone the worker runs,
and the job itself decides in JST: it bills the previous month on the 1st (JST) from 00:30 on.
Ticks later on the 1st catch up a missed 00:30 (scheduler down), and skip cheaply once a run
for the month has completed. arq may run a job twice; a re-run creates nothing anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from arq.cron import CronJob, cron

from services.netsugen_booking.billing.invoice_run import Period, period_already_billed, run_invoices
from services.netsugen_booking.settings import NetsugenSettings, get_settings
from shared.db import session_scope
from shared.jst import JST

log = structlog.get_logger("billing")

RUN_HOUR_JST = 0
RUN_MINUTE = 30


def due_period(now: datetime) -> Period | None:
    """The month to bill at ``now``: the previous month on the 1st (JST) from 00:30, else None."""
    local = now.astimezone(JST)
    if local.day != 1 or (local.hour, local.minute) < (RUN_HOUR_JST, RUN_MINUTE):
        return None
    return Period.of(local.date()).previous()


async def monthly_invoice_run(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(JST)
    period = due_period(now)
    if period is None:
        return {"skipped": "not the 1st of the month (JST)"}
    settings: NetsugenSettings = ctx.get("settings") or get_settings()
    async with session_scope(ctx["sessionmaker"]) as session:
        if await period_already_billed(session, period):
            return {"skipped": f"{period} already billed"}
        run = await run_invoices(
            session, settings, period=period, trigger="schedule", requested_by="scheduler",
            today=now.astimezone(JST).date(),
        )
    log.info("invoice_run_done", period=str(period), invoices=run.invoices_created, total_yen=run.total_yen)
    return {"period": str(period), "invoices_created": run.invoices_created, "total_yen": run.total_yen}


async def invoice_run_for(ctx: dict[str, Any], period: str) -> dict[str, Any]:
    """Enqueue-able run for an explicit month (``YYYY-MM``); idempotent like every run."""
    settings: NetsugenSettings = ctx.get("settings") or get_settings()
    async with session_scope(ctx["sessionmaker"]) as session:
        run = await run_invoices(
            session, settings, period=Period.parse(period), trigger="schedule", requested_by="worker"
        )
    return {"period": period, "invoices_created": run.invoices_created, "total_yen": run.total_yen}


FUNCTIONS: list[Any] = [invoice_run_for]
CRON_JOBS: list[CronJob] = [
    cron(monthly_invoice_run, name="billing.monthly_invoice_run", minute=RUN_MINUTE, timeout=1800),
]
