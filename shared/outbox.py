"""Transactional outbox: events are written in the same transaction as the change that caused them.

A relay (one asyncio task per API process) moves unsent rows to the notifier's arq queue with
``_job_id`` = event id and marks them sent. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so
several replicas can relay at once without sending a row twice. When Redis is down the rows wait
and the API keeps answering; they go out when Redis is back.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import orjson
import structlog
from arq.connections import ArqRedis
from sqlalchemy import Column as SAColumn
from sqlalchemy import DateTime, Index, Integer, MetaData, String, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.events import Event, EventData, make_event
from shared.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PENDING, OUTBOX_RELAY_ERRORS, OUTBOX_RELAYED

log = structlog.get_logger("outbox")

NOTIFIER_QUEUE = "notifier:queue"
NOTIFIER_JOB = "handle_event"
#: How long a relayed event may wait in the queue for a notifier worker.
JOB_EXPIRES = timedelta(days=7)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        SAColumn("id", UUID(as_uuid=True), primary_key=True),
        SAColumn("event_type", String(64), nullable=False),
        SAColumn("payload", JSONB, nullable=False),
        SAColumn("request_id", String(64)),
        SAColumn("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        SAColumn("sent_at", DateTime(timezone=True)),
        SAColumn("attempts", Integer, nullable=False, server_default="0"),
        SAColumn("last_error", Text),
        Index("ix_outbox_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
    )


def event_row(event: Event) -> dict[str, Any]:
    """The outbox row of an event: id, event_type, payload (JSON-ready dict), request_id.

    :func:`emit` inserts it; a hot path may insert it in its own statement (visits/service.py)."""
    from shared.logging import request_id_var

    return {
        "id": event.id,
        "event_type": event.type,
        "payload": event.model_dump(mode="json"),
        "request_id": request_id_var.get(),
    }


async def emit(session: AsyncSession, table: Table, data: EventData) -> Event:
    """Record an event in the caller's transaction. It exists only if that transaction commits."""
    event = make_event(data)
    await session.execute(table.insert().values(**event_row(event)))
    return event


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        table: Table,
        redis: ArqRedis,
        interval_s: float = 0.25,
        batch: int = 200,
        retention: timedelta | None = None,
        purge_every_s: float = 3600.0,
    ) -> None:
        self.service = service
        self.engine = engine
        self.table = table
        self.redis = redis
        self.interval_s = interval_s
        self.batch = batch
        #: Sent rows older than this are deleted (None: kept forever), once per ``purge_every_s``.
        self.retention = retention
        self.purge_every_s = purge_every_s
        self._next_purge = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except TimeoutError:
                self._task.cancel()

    async def _run(self) -> None:
        backoff = self.interval_s
        while not self._stopping.is_set():
            try:
                sent = await self.relay_once()
                backoff = self.interval_s
                await self._purge_when_due()
                if sent >= self.batch:
                    continue  # more waiting: go again at once
            except Exception as exc:  # Redis or PostgreSQL down: rows stay in the outbox.
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                log.warning("outbox_relay_failed", error=type(exc).__name__, retry_in_s=backoff)
                backoff = min(backoff * 2, 10.0)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass

    async def _purge_when_due(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if self.retention is None or loop_time < self._next_purge:
            return
        self._next_purge = loop_time + self.purge_every_s
        purged = await purge_sent(self.engine, self.table, self.retention)
        if purged:
            log.info("outbox_purged", service=self.service, rows=purged, older_than_days=self.retention.days)

    async def relay_once(self) -> int:
        t = self.table
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(t.c.id, t.c.payload, t.c.request_id, t.c.created_at, func.now().label("now"))
                    .where(t.c.sent_at.is_(None))
                    .order_by(t.c.created_at)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                OUTBOX_PENDING.labels(self.service).set(0)
                OUTBOX_OLDEST_AGE.labels(self.service).set(0)
                return 0
            # Rows come oldest first: the first one's wait is the relay's lag.
            OUTBOX_OLDEST_AGE.labels(self.service).set(
                max(0.0, (rows[0].now - rows[0].created_at).total_seconds())
            )
            OUTBOX_PENDING.labels(self.service).set(len(rows))
            sent_ids: list[uuid.UUID] = []
            for row in rows:
                await self.redis.enqueue_job(
                    NOTIFIER_JOB,
                    orjson.dumps(row.payload).decode(),
                    row.request_id,
                    _job_id=str(row.id),
                    _queue_name=NOTIFIER_QUEUE,
                    # arq drops a job not started within a day by default; the row is already
                    # marked sent by then, so a notifier worker down for a long weekend would lose it.
                    _expires=JOB_EXPIRES,
                )
                sent_ids.append(row.id)
            await conn.execute(
                t.update().where(t.c.id.in_(sent_ids)).values(sent_at=func.now(), attempts=t.c.attempts + 1)
            )
        OUTBOX_RELAYED.labels(self.service).inc(len(sent_ids))
        return len(sent_ids)


async def pending_count(engine: AsyncEngine, table: Table) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(select(func.count()).select_from(table).where(table.c.sent_at.is_(None)))
    return int(value or 0)


async def purge_sent(engine: AsyncEngine, table: Table, older_than: timedelta, *, batch: int = 5000) -> int:
    """Delete relayed rows sent more than ``older_than`` ago, in batches (unsent rows are never touched).

    Several replicas may purge at once: each batch skips rows another one has locked.
    """
    total = 0
    while True:
        async with engine.begin() as conn:
            doomed = (
                select(table.c.id)
                .where(table.c.sent_at.is_not(None), table.c.sent_at < func.now() - older_than)
                .limit(batch)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            result = await conn.execute(table.delete().where(table.c.id.in_(doomed)))
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < batch:
            return total
