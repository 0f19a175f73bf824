"""Nudges from the API to the worker, sent after the request's transaction committed.

They are only nudges: the ledger is the source of truth. If one is lost (Redis down, the process
stopped right after the response), the reconciliation cron queues the due deliveries anyway.
"""

from __future__ import annotations

import uuid

import structlog
from arq.connections import ArqRedis

from services.notifier.dispatch.engine import DELIVER_JOB, RESUME_JOB
from shared.outbox import NOTIFIER_QUEUE

log = structlog.get_logger("notifier.kick")


async def kick_delivery(redis: ArqRedis, delivery_id: uuid.UUID, number: int) -> None:
    try:
        await redis.enqueue_job(
            DELIVER_JOB,
            str(delivery_id),
            _job_id=f"deliver:{delivery_id}:{number}",
            _queue_name=NOTIFIER_QUEUE,
        )
    except Exception as exc:
        log.warning("kick_failed", job=DELIVER_JOB, delivery_id=str(delivery_id), error=type(exc).__name__)


async def kick_resume(redis: ArqRedis, event_type: str) -> None:
    try:
        await redis.enqueue_job(
            RESUME_JOB, event_type, _job_id=f"resume:{event_type}:{uuid.uuid4()}", _queue_name=NOTIFIER_QUEUE
        )
    except Exception as exc:
        log.warning("kick_failed", job=RESUME_JOB, event_type=event_type, error=type(exc).__name__)
