"""Jobs that deliver KPI reports: one right after an event closes, and a sweep every minute.

The report row (kpi_reporting.models.KpiReport) is the durable record; these jobs only deliver
it. arq may run a job twice; sending is idempotent because the value sent is the fiscal year's
total, recomputed each time.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from arq import Retry
from arq.connections import ArqRedis
from arq.cron import CronJob, cron
from arq.worker import func

from services.netsugen_booking.kpi_reporting.service import send_due
from shared.jst import utcnow

log = structlog.get_logger("kpi_reporting")

SEND_JOB = "send_kpi_report"
#: Tries of the immediate job (with growing delays) before it leaves the report to the sweep.
MAX_TRIES = 5


def _queue() -> str:
    # Imported late: the scheduler module builds its WorkerSettings from every tasks module.
    from services.netsugen_booking.scheduler import NETSUGEN_QUEUE

    return NETSUGEN_QUEUE


async def enqueue_report(redis: ArqRedis, report_id: uuid.UUID) -> None:
    """Ask the scheduler to send a report now. Failure is harmless: the sweep sends it later."""
    try:
        await redis.enqueue_job(
            SEND_JOB, str(report_id), _job_id=f"kpi-report:{report_id}", _queue_name=_queue()
        )
    except Exception as exc:  # Redis down: the row waits for the sweep
        log.warning("kpi_report_enqueue_failed", report_id=str(report_id), error=type(exc).__name__)


async def send_kpi_report(ctx: dict[str, Any], report_id: str) -> dict[str, Any]:
    """Send the report's (indicator, fiscal year) now; retried with backoff while the registry fails."""
    results = await send_due(
        ctx["sessionmaker"], ctx["settings"], now=utcnow(), report_id=uuid.UUID(report_id)
    )
    failed = [r for r in results if not r.sent]
    if failed:
        job_try = int(ctx.get("job_try", 1))
        if job_try < MAX_TRIES:
            raise Retry(defer=10 * 2 ** (job_try - 1))
        log.warning("kpi_report_left_to_sweep", report_id=report_id, error=failed[0].error)
    return {"sent": sum(1 for r in results if r.sent), "failed": len(failed)}


async def sweep_kpi_reports(ctx: dict[str, Any]) -> dict[str, int]:
    """Send every pending report whose backoff has elapsed."""
    results = await send_due(ctx["sessionmaker"], ctx["settings"], now=utcnow())
    return {"sent": sum(1 for r in results if r.sent), "failed": sum(1 for r in results if not r.sent)}


FUNCTIONS: list[Any] = [func(send_kpi_report, name=SEND_JOB, max_tries=MAX_TRIES + 1), sweep_kpi_reports]
CRON_JOBS: list[CronJob] = [cron(sweep_kpi_reports, second=0, unique=True, timeout=300)]
