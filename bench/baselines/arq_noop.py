"""Baseline of the notifier: a bare arq worker running a no-op job, with the notifier worker's
default settings (max_jobs, poll_delay, job_timeout, max_tries, keep_result).

    BASELINE_REDIS_URL=redis://…/13 python -m arq bench.baselines.arq_noop.WorkerSettings

The job only counts itself (one Redis INCR) so the harness sees when all are done. The floor of
"take a job from Redis, run it, record its result" on this machine.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq.connections import RedisSettings

from services.notifier.settings import NotifierSettings

QUEUE = "bench:noop:queue"
DONE_KEY = "bench:noop:done"
JOB = "noop"


async def noop(ctx: dict[str, Any], n: int) -> None:
    await ctx["redis"].incr(DONE_KEY)


_defaults = NotifierSettings(database_url=None, redis_url=None)


class WorkerSettings:
    functions: ClassVar[list[Any]] = [noop]
    queue_name = QUEUE
    redis_settings = RedisSettings.from_dsn(os.environ.get("BASELINE_REDIS_URL", "redis://127.0.0.1:6379/13"))
    max_jobs = _defaults.worker_max_jobs
    poll_delay = _defaults.worker_poll_delay_s
    job_timeout = _defaults.worker_job_timeout_s
    max_tries = 8
    keep_result = 3600
