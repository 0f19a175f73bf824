"""Ledger figures for the API's ``/metrics``.

The reconciliation cron runs in the worker process; its figures are stored (``reconcile_run``)
and the API process reads them, with live counts of the ledger, every ``metrics_refresh_s``.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import FastAPI
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("notifier.metrics")

UNFINISHED = Gauge(
    "notifier_unfinished_deliveries", "Deliveries not in a final status, by status", ["status"]
)
UNFINISHED_EVENTS = Gauge("notifier_unfinished_events", "Events with at least one delivery not final")
OLDEST_UNFINISHED = Gauge(
    "notifier_oldest_unfinished_delivery_age_seconds", "Age of the oldest delivery not final (0 when none)"
)
DEAD_LETTERS = Gauge("notifier_dead_letters", "Deliveries in the dead letters (status dead)")
LAST_RUN = Gauge(
    "notifier_reconcile_last_run_timestamp_seconds", "When the reconciliation cron last finished"
)
LAST_RUN_FIGURES = Gauge("notifier_reconcile_last_run", "Figures of the last reconciliation run", ["figure"])
RUNS_24H = Gauge(
    "notifier_reconcile_24h", "Sums over the reconciliation runs of the last 24 hours", ["figure"]
)

_FIGURES = ("interrupted", "requeued", "already_queued", "dead")

LEDGER_SQL = text(
    """
SELECT
    (SELECT json_object_agg(status, n) FROM (
        SELECT status, count(*) AS n FROM notifier.delivery
        WHERE status IN ('queued', 'sending', 'failed_temporary') GROUP BY status) s) AS unfinished,
    (SELECT count(DISTINCT inbox_id) FROM notifier.delivery
        WHERE status IN ('queued', 'sending', 'failed_temporary')) AS events,
    (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM notifier.delivery
        WHERE status IN ('queued', 'sending', 'failed_temporary')) AS oldest_s,
    (SELECT count(*) FROM notifier.delivery WHERE status = 'dead') AS dead
"""
)
LAST_RUN_SQL = text(
    """
SELECT EXTRACT(EPOCH FROM finished_at) AS at, interrupted, requeued, already_queued, dead
FROM notifier.reconcile_run ORDER BY id DESC LIMIT 1
"""
)
RUNS_24H_SQL = text(
    """
SELECT COALESCE(sum(interrupted), 0) AS interrupted, COALESCE(sum(requeued), 0) AS requeued,
       COALESCE(sum(already_queued), 0) AS already_queued, COALESCE(sum(dead), 0) AS dead
FROM notifier.reconcile_run WHERE finished_at > now() - interval '24 hours'
"""
)


async def refresh_ledger_metrics(engine: AsyncEngine) -> None:
    # Autocommit: each statement alone, so no transaction holds locks across tables.
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        ledger = (await conn.execute(LEDGER_SQL)).one()
        last = (await conn.execute(LAST_RUN_SQL)).first()
        day = (await conn.execute(RUNS_24H_SQL)).one()
    counts = ledger.unfinished or {}
    for status in ("queued", "sending", "failed_temporary"):
        UNFINISHED.labels(status).set(int(counts.get(status, 0)))
    UNFINISHED_EVENTS.set(int(ledger.events))
    OLDEST_UNFINISHED.set(float(ledger.oldest_s))
    DEAD_LETTERS.set(int(ledger.dead))
    if last is not None:
        LAST_RUN.set(float(last.at))
        for figure in _FIGURES:
            LAST_RUN_FIGURES.labels(figure).set(int(getattr(last, figure)))
    for figure in _FIGURES:
        RUNS_24H.labels(figure).set(int(getattr(day, figure)))


async def _refresh_loop(app: FastAPI, interval_s: float) -> None:
    while True:
        try:
            await refresh_ledger_metrics(app.state.engine)
        except Exception as exc:  # the database may be away for a while; /metrics keeps the last figures
            log.warning("ledger_metrics_refresh_failed", error=type(exc).__name__)
        await asyncio.sleep(interval_s)


async def start_metrics_refresh(app: FastAPI) -> None:
    app.state.ledger_metrics_task = asyncio.create_task(
        _refresh_loop(app, app.state.settings.metrics_refresh_s), name="notifier-ledger-metrics"
    )


async def stop_metrics_refresh(app: FastAPI) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "ledger_metrics_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
