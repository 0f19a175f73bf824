"""Scheduled billing: the invoice run (catch-up of every recent month) and overdue reminders (督促).

arq evaluates cron times in the worker's timezone (the system's, unless the worker sets one), and
"00:30 JST on the 1st" is 15:30 UTC on the *last* day of the previous month, which cron fields
cannot express. So both jobs tick every hour and decide in JST:

- ``billing.invoice_run`` (minute 30): from 00:30 JST on, each of the last
  ``BILLING_CATCH_UP_MONTHS`` months (3) that still has unbilled items (a late manual visit, a
  back-dated plan, a released item of a voided invoice, a month whose run was missed) is billed,
  oldest first, each in its own transaction. A month with nothing unbilled costs one indexed
  ``EXISTS`` query. arq may run a job twice; a run with nothing new creates nothing.
- ``billing.overdue_reminders`` (minute 45): sends each due reminder stage once (database-enforced).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from arq.cron import CronJob, cron

from services.netsugen_booking.billing.invoice_run import Period, has_unbilled, run_invoices
from services.netsugen_booking.billing.reminders import send_overdue_reminders
from services.netsugen_booking.settings import NetsugenSettings, get_settings
from shared.db import session_scope
from shared.jst import JST

log = structlog.get_logger("billing")

RUN_MINUTE = 30
REMINDER_MINUTE = 45


def months_to_check(now: datetime, count: int) -> list[Period]:
    """The ``count`` months before the current JST month, oldest first."""
    months = [Period.of(now.astimezone(JST).date()).previous()]
    while len(months) < count:
        months.append(months[-1].previous())
    return months[::-1]


async def monthly_invoice_run(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Bill every recent past month that still has unbilled items (see the module doc)."""
    now = now or datetime.now(JST)
    settings: NetsugenSettings = ctx.get("settings") or get_settings()
    billed: dict[str, Any] = {}
    for period in months_to_check(now, settings.billing_catch_up_months):
        async with session_scope(ctx["sessionmaker"]) as session:
            if not await has_unbilled(session, settings, period):
                continue
            run = await run_invoices(
                session,
                settings,
                period=period,
                trigger="schedule",
                requested_by="scheduler",
                today=now.astimezone(JST).date(),
            )
        log.info(
            "invoice_run_done", period=str(period), invoices=run.invoices_created, total_yen=run.total_yen
        )
        billed[str(period)] = {"invoices_created": run.invoices_created, "total_yen": run.total_yen}
    return {"billed": billed}


async def invoice_run_for(ctx: dict[str, Any], period: str) -> dict[str, Any]:
    """Enqueue-able run for an explicit month (``YYYY-MM``); bills only what is unbilled, like every run."""
    settings: NetsugenSettings = ctx.get("settings") or get_settings()
    async with session_scope(ctx["sessionmaker"]) as session:
        run = await run_invoices(
            session, settings, period=Period.parse(period), trigger="schedule", requested_by="worker"
        )
    return {"period": period, "invoices_created": run.invoices_created, "total_yen": run.total_yen}


async def overdue_reminders(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(JST)
    settings: NetsugenSettings = ctx.get("settings") or get_settings()
    async with session_scope(ctx["sessionmaker"]) as session:
        sent = await send_overdue_reminders(session, settings, today=now.astimezone(JST).date())
    if sent:
        log.info("overdue_reminders_sent", count=sent)
    return {"sent": sent}


FUNCTIONS: list[Any] = [invoice_run_for]
CRON_JOBS: list[CronJob] = [
    cron(monthly_invoice_run, name="billing.monthly_invoice_run", minute=RUN_MINUTE, timeout=1800),
    cron(overdue_reminders, name="billing.overdue_reminders", minute=REMINDER_MINUTE, timeout=600),
]
