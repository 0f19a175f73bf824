"""The notifier's arq jobs.

- ``handle_event(event_json, request_id)``: job id = event id, enqueued by every outbox relay;
- ``deliver(delivery_id)``: one attempt of one delivery; job id ``deliver:<delivery id>:<attempt>``
  (retries, quiet hours, reconciliation, resume, manual retry). No result is kept, so the id is
  free again once the job ran;
- ``resume_event_type(event_type)``: after a pause ends, queue the type's waiting deliveries;
- cron ``reconcile``: re-queues deliveries that reached no final state in time.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from arq.cron import CronJob, cron
from arq.worker import Retry, func
from pydantic import ValidationError

from services.notifier.dispatch.engine import DELIVER_JOB, EVENTS, RESUME_JOB, Dispatcher
from shared.events import Event, parse_data
from shared.logging import request_id_var
from shared.outbox import NOTIFIER_JOB

log = structlog.get_logger("notifier.jobs")

RECONCILE_JOB = "reconcile"
#: ``handle_event`` holds the only copy of an event until it is recorded: retry it for hours.
HANDLE_EVENT_MAX_TRIES = 40


def retry_defer_s(job_try: int) -> float:
    """arq-level retry of a job that could not reach the database: 5 s, 10 s, … capped at 5 min
    (40 tries cover about three hours)."""
    return float(min(5 * 2 ** max(0, job_try - 1), 300))


def _dispatcher(ctx: dict[str, Any]) -> Dispatcher:
    dispatcher: Dispatcher = ctx["dispatcher"]
    return dispatcher


async def handle_event(ctx: dict[str, Any], event_json: str, request_id: str | None = None) -> dict[str, Any]:
    """Record an event once and attempt its deliveries. A repeated event does nothing more (it only
    finishes deliveries a dead worker left unfinished)."""
    request_id_var.set(request_id)
    try:
        event = Event.model_validate_json(event_json)
        data = parse_data(event)
    except (ValidationError, KeyError, ValueError) as exc:
        # Retrying cannot make an invalid event valid: acknowledge and log it.
        EVENTS.labels("invalid").inc()
        log.error("event_rejected", error=type(exc).__name__, detail=str(exc)[:500])
        return {"status": "rejected"}
    dispatcher = _dispatcher(ctx)
    try:
        accepted = await dispatcher.accept(event, data)
    except Exception as exc:
        # PostgreSQL unreachable (or similar): the event exists only in this job, so the job must
        # come back. Nothing was recorded (one statement), so running it again is safe.
        delay = retry_defer_s(ctx.get("job_try", 1))
        log.warning("event_accept_failed", event_id=str(event.id), error=type(exc).__name__, retry_in_s=delay)
        raise Retry(defer=delay) from exc
    statuses = await dispatcher.run(accepted.claimed)
    return {
        "status": "duplicate" if accepted.duplicate else "accepted",
        "planned": accepted.planned,
        "attempted": statuses,
    }


async def deliver(ctx: dict[str, Any], delivery_id: str) -> str:
    """One attempt of one delivery, if it is still due (otherwise nothing: the job is idempotent)."""
    dispatcher = _dispatcher(ctx)
    try:
        claimed = await dispatcher.claim_one(uuid.UUID(delivery_id))
    except Exception as exc:  # database away: try again (the reconciler would find it later anyway)
        raise Retry(defer=retry_defer_s(ctx.get("job_try", 1))) from exc
    if claimed is None:
        return "not-due"
    request_id_var.set(claimed.request_id)
    return await dispatcher.attempt_and_record(claimed)


async def resume_event_type(ctx: dict[str, Any], event_type: str) -> int:
    return await _dispatcher(ctx).requeue_type(event_type)


async def reconcile(ctx: dict[str, Any]) -> dict[str, Any]:
    figures = await _dispatcher(ctx).reconcile()
    return dict(figures.__dict__)


def reconcile_cron(interval_s: int) -> CronJob:
    """The reconciliation cron every ``interval_s`` seconds (a divisor of 60, or whole minutes)."""
    if interval_s < 60:
        seconds, minutes = set(range(0, 60, interval_s)), None
    else:
        seconds, minutes = {0}, set(range(0, 60, max(1, interval_s // 60)))
    return cron(
        reconcile,
        name=RECONCILE_JOB,
        second=seconds,
        minute=minutes,
        run_at_startup=True,
        unique=True,
        timeout=60,
        microsecond=0,
    )


FUNCTIONS = [
    func(handle_event, name=NOTIFIER_JOB, max_tries=HANDLE_EVENT_MAX_TRIES),
    func(deliver, name=DELIVER_JOB, keep_result=0),
    func(resume_event_type, name=RESUME_JOB, keep_result=0),
]
#: The default schedule; the worker replaces it with one built from ``RECONCILE_INTERVAL_S``.
CRON_JOBS = [reconcile_cron(60)]
