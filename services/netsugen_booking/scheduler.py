"""NETSUGEN's scheduler (arq cron): `python -m arq services.netsugen_booking.scheduler.WorkerSettings`.

arq gives each cron run a deterministic job id, so with several scheduler replicas a job still runs
once per schedule.
"""

from __future__ import annotations

from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.cron import CronJob

from services.netsugen_booking.settings import get_settings
from shared.app import redis_settings
from shared.worker import worker_shutdown, worker_startup

NETSUGEN_QUEUE = "netsugen:queue"


async def startup(ctx: dict[str, Any]) -> None:
    await worker_startup(ctx, service="netsugen-scheduler", settings=get_settings())


async def shutdown(ctx: dict[str, Any]) -> None:
    await worker_shutdown(ctx)


def _jobs() -> tuple[list[Any], list[CronJob]]:
    from services.netsugen_booking.jobs import CRON_JOBS, FUNCTIONS

    return FUNCTIONS, CRON_JOBS


class WorkerSettings:
    functions: ClassVar[list[Any]] = _jobs()[0]
    cron_jobs: ClassVar[list[CronJob]] = _jobs()[1]
    queue_name = NETSUGEN_QUEUE
    redis_settings: ClassVar[RedisSettings] = redis_settings(get_settings().require_redis_url())
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 1800
    keep_result = 3600
