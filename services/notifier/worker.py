"""The notifier's arq worker.

    python -m services.notifier.worker                      # supervised (what `make run` should use)
    python -m arq services.notifier.worker.WorkerSettings   # plain arq

It consumes ``shared.outbox.NOTIFIER_QUEUE``. Its Redis client retries every command (and every
reconnection) until Redis answers again, so an outage pauses the worker instead of killing it; the
outbox relays keep the events meanwhile. arq's WATCH/MULTI transactions cannot be retried by the
client, so an outage that starts in the middle of one still ends ``Worker.run()``: the supervised
entry point then starts a fresh worker loop in the same process (jobs are idempotent).

``WorkerSettings`` is built on first access (PEP 562 ``__getattr__``) from the environment, so
importing this module (tests call :func:`worker_options` with their own settings) reads nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import structlog
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Worker, get_kwargs
from prometheus_client import start_http_server
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.notifier.dispatch.contacts import ContactResolver
from services.notifier.dispatch.engine import Dispatcher
from services.notifier.dispatch.lookup_http import LookupClient
from services.notifier.dispatch.mailer import SmtpPool
from services.notifier.dispatch.render import default_catalog
from services.notifier.settings import NotifierSettings, get_settings
from services.notifier.webhooks.destinations import GuardedTransport, PinnedResolver, system_resolver
from shared.app import redis_settings
from shared.outbox import NOTIFIER_QUEUE
from shared.worker import worker_shutdown, worker_startup

log = structlog.get_logger("notifier.worker")


def use_uvloop() -> bool:
    """Make new event loops uvloop's (cheaper socket I/O and scheduling than asyncio's default loop).

    arq creates its loop with ``asyncio.get_event_loop()`` when the worker is built, so this must run
    before that: the supervised entry point and the ``WorkerSettings`` used by ``python -m arq`` call
    it. Tests that run the worker in their own loop are not affected. False when uvloop is missing."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio still works
        return False
    if not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy):
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def notifier_redis_settings(url: str) -> RedisSettings:
    settings = redis_settings(url)
    settings.conn_retries = 120  # start-up: wait up to two minutes for Redis
    settings.conn_retry_delay = 1
    # OSError too: a refused connection surfaces as one while (re)connecting.
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError, TimeoutError]
    settings.retry = Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=-1)
    return settings


def create_dispatcher(settings: NotifierSettings, ctx: dict[str, Any]) -> Dispatcher:
    token = settings.service_token.get_secret_value() if settings.service_token else None
    contacts = ContactResolver(
        LookupClient(
            settings.netsugen_url,
            service_token=token,
            timeout_s=settings.contact_timeout_s,
            size=settings.worker_max_jobs,
        )
    )
    settings.secret_box()  # production without WEBHOOK_SECRET_KEYS fails here, at start-up
    # Every connection goes to a resolved, checked, pinned address (SSRF: webhooks/destinations.py).
    resolver = PinnedResolver(
        allow_private=settings.webhook_allow_private_destinations,
        ttl_s=settings.webhook_dns_cache_s,
        # Tests stand in for DNS (a name answering a private address) through the worker's ctx.
        resolver=ctx.get("webhook_resolver") or system_resolver,
    )
    webhooks = httpx.AsyncClient(
        transport=GuardedTransport(resolver),
        trust_env=False,
        timeout=httpx.Timeout(settings.webhook_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "gunma-sdgs-notifier/1.0 (Standard Webhooks)"},
    )
    smtp = SmtpPool(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        timeout_s=settings.smtp_timeout_s,
        size=settings.smtp_pool_size,
    )
    return Dispatcher(
        settings=settings,
        engine=ctx["engine"],
        redis=ctx["redis"],
        catalog=default_catalog(),
        contacts=contacts,
        smtp=smtp,
        webhooks=webhooks,
    )


async def startup(ctx: dict[str, Any]) -> None:
    settings: NotifierSettings = ctx.get("settings") or get_settings()
    # Up to DB_POOL_SIZE + DB_MAX_OVERFLOW connections, as configured, but all kept open: the
    # worker's jobs keep more than DB_POOL_SIZE busy, and an "overflow" connection is closed on
    # return (and another opened for the next statement: a new PostgreSQL backend, statements
    # prepared again), which cost the worker and the database more than the statements.
    pooled = settings.model_copy(
        update={"db_pool_size": settings.db_pool_size + settings.db_max_overflow, "db_max_overflow": 0}
    )
    await worker_startup(ctx, service="notifier-worker", settings=pooled)
    ctx["dispatcher"] = create_dispatcher(settings, ctx)
    if settings.worker_metrics_port:
        try:
            start_http_server(settings.worker_metrics_port)
        except OSError as exc:  # the port is taken (a second worker on one host): deliver anyway
            log.error("worker_metrics_unavailable", port=settings.worker_metrics_port, error=str(exc))
        else:
            log.info("worker_metrics_serving", port=settings.worker_metrics_port)


async def shutdown(ctx: dict[str, Any]) -> None:
    dispatcher: Dispatcher | None = ctx.get("dispatcher")
    if dispatcher is not None:
        await dispatcher.close()
    await worker_shutdown(ctx)


def _cron_jobs(settings: NotifierSettings) -> list[CronJob]:
    from services.notifier.dispatch.tasks import RECONCILE_JOB, reconcile_cron
    from services.notifier.jobs import CRON_JOBS

    jobs = [c for c in CRON_JOBS if c.name != RECONCILE_JOB]
    return [*jobs, reconcile_cron(settings.reconcile_interval_s)]


def worker_options(settings: NotifierSettings) -> dict[str, Any]:
    """Keyword arguments of ``arq.Worker`` for these settings (the shipped defaults, or a test's)."""
    from services.notifier.jobs import FUNCTIONS

    return {
        "functions": FUNCTIONS,
        "cron_jobs": _cron_jobs(settings),
        "queue_name": NOTIFIER_QUEUE,
        "redis_settings": notifier_redis_settings(settings.require_redis_url()),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": settings.worker_job_timeout_s,
        "poll_delay": settings.worker_poll_delay_s,
        "max_tries": 8,
        "keep_result": 3600,
        "ctx": {"settings": settings},
    }


_worker_settings: type | None = None


def __getattr__(name: str) -> Any:
    global _worker_settings
    if name != "WorkerSettings":
        raise AttributeError(name)
    if _worker_settings is None:
        use_uvloop()  # `python -m arq …WorkerSettings` builds its loop after reading this
        _worker_settings = type("WorkerSettings", (), worker_options(get_settings()))
    return _worker_settings


class NotifierWorker(Worker):
    """arq's worker, which takes the next job as soon as one of its ``max_jobs`` slots frees.

    arq reads the queue once per ``poll_delay`` and starts jobs while it has free slots; once they
    are all busy it stops and sleeps out the rest of the poll delay, however long the queue. Its
    throughput is then about (``max_jobs`` + jobs finished meanwhile) per poll delay: with the
    defaults (20 slots, 0.5 s) and deliveries that take tens of milliseconds (contact lookup, SMTP,
    two statements), a backlog drained at well under half the rate the process could do. Here,
    when a poll stopped on busy slots, the worker waits for the first job to finish (never longer
    than the rest of the poll delay) and reads the queue again. Jobs are started by arq's own code
    (in-progress keys, retries, aborts, cron): only the wait between reads changes.

    A job stays in the queue while it runs, so every read returns the running jobs first, and arq
    spends three Redis round trips on each to find it in progress. The ids of jobs this worker is
    running are left out before that check (arq would skip them anyway).

    Used by the supervised entry point; ``python -m arq …WorkerSettings`` runs arq's plain loop.
    """

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        running = self.tasks
        await super().start_jobs([j for j in job_ids if (t := running.get(j.decode())) is None or t.done()])

    async def _poll_iteration(self) -> None:
        deadline = self.loop.time() + self.poll_delay_s
        await super()._poll_iteration()
        while self.allow_pick_jobs and self.job_counter >= self.max_jobs and self.tasks:
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                return
            done, _ = await asyncio.wait(
                list(self.tasks.values()), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                return
            await super()._poll_iteration()


def run_supervised() -> int:
    """Run the worker; after a Redis failure that ends arq's loop, start a fresh one."""
    settings_cls = __getattr__("WorkerSettings")
    restarts = 0
    while True:
        options: dict[str, Any] = dict(get_kwargs(settings_cls))
        worker = NotifierWorker(**options)
        try:
            worker.run()
        except (RedisError, OSError) as exc:
            restarts += 1
            delay = min(2.0 * restarts, 10.0)
            log.warning(
                "worker_loop_lost_redis", error=type(exc).__name__, restart_in_s=delay, restarts=restarts
            )
            time.sleep(delay)
            continue
        return 0  # stopped by a signal (or burst mode finished)


if __name__ == "__main__":
    import logging.config

    from arq.logs import default_log_config

    logging.config.dictConfig(default_log_config(False))
    raise SystemExit(run_supervised())
