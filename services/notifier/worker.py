"""The notifier's arq worker: `python -m arq services.notifier.worker.WorkerSettings`."""

from __future__ import annotations

from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.cron import CronJob

from services.notifier.settings import get_settings
from shared.app import redis_settings
from shared.outbox import NOTIFIER_QUEUE
from shared.worker import worker_shutdown, worker_startup


async def startup(ctx: dict[str, Any]) -> None:
    await worker_startup(ctx, service="notifier-worker", settings=get_settings())


async def shutdown(ctx: dict[str, Any]) -> None:
    await worker_shutdown(ctx)


def _functions() -> list[Any]:
    from services.notifier.jobs import FUNCTIONS

    return FUNCTIONS


def _cron_jobs() -> list[CronJob]:
    from services.notifier.jobs import CRON_JOBS

    return CRON_JOBS


class WorkerSettings:
    functions: ClassVar[list[Any]] = _functions()
    cron_jobs: ClassVar[list[CronJob]] = _cron_jobs()
    queue_name = NOTIFIER_QUEUE
    redis_settings: ClassVar[RedisSettings] = redis_settings(get_settings().require_redis_url())
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 20
    job_timeout = 120
    max_tries = 8
    keep_result = 3600
