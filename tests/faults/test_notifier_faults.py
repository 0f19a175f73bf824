"""The notifier under two faults at once: its worker is SIGKILLed in the middle of sending, and then
Redis is stopped while more events are produced. Every event must still end in exactly one
delivery (one ledger row, one email).

Each fault alone is covered by the notifier's own tests (tests/notifier/test_resilience.py:
``TestWorkerKilledMidDelivery`` and ``TestRedisStopped``); this test reuses their fixtures and
helpers (real SMTP server, stand-in netsugen contact endpoint, the worker as a real process) and
combines the faults, with a Redis of its own (embedded, persistent) that it stops and restarts. The
killed worker's deliveries are not nudged by the test: the reconciler of the restarted worker finds
them past their sending lease and finishes them.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from arq import create_pool

from gunma import embedded
from shared.app import redis_settings
from shared.events import MemberRegistered
from shared.outbox import OutboxRelay, pending_count
from tests.faults.conftest import free_port
from tests.notifier.conftest import (  # noqa: F401  (fixtures used by name)
    async_wait_for,
    attempts_of,
    emit_event,
    ledger,
    scalar,
    smtp,
    smtp_session,
    world,
    world_session,
)
from tests.notifier.test_resilience import start_worker, stop, worker_env

pytestmark = pytest.mark.system


def _patient(url: str) -> Any:
    settings = redis_settings(url)
    settings.conn_retries = 40
    return settings


async def _delivered(engine: Any) -> int:
    return int(await scalar(engine, "SELECT count(*) FROM notifier.delivery WHERE status = 'delivered'"))


async def test_worker_killed_then_redis_stopped_every_event_delivered_once(
    stack: Any,  # noqa: F811
    smtp: Any,  # noqa: F811
    world: Any,  # noqa: F811
    emit_event: Any,  # noqa: F811
    engine: Any,  # noqa: F811
    log_dir: Path,  # noqa: F811
) -> None:
    redis_dir = Path(tempfile.mkdtemp(prefix="gunma-redis-"))
    port = free_port()
    url = embedded.start_redis(redis_dir, port=port)
    pool = await create_pool(_patient(url))
    from services.netsugen_booking.db import outbox as netsugen_outbox

    relay = OutboxRelay(
        service="netsugen_booking", engine=engine, table=netsugen_outbox, redis=pool, interval_s=0.05
    )
    env = worker_env(stack, smtp, world, redis_url=url)
    workers = []
    try:
        relay.start()
        # 1. Four events; the SMTP server holds every message in DATA; the worker dies mid-send.
        smtp.handler.data_delay_s = 60.0
        first_batch = [world.add_member() for _ in range(4)]
        events = [await emit_event(MemberRegistered(member_id=m)) for m in first_batch]
        workers.append(start_worker(env, log_dir / "worker1.log"))

        async def all_sending() -> bool:
            sending = await scalar(engine, "SELECT count(*) FROM notifier.delivery WHERE status = 'sending'")
            return bool(sending == 4 and smtp.handler.data_started >= 4)

        await async_wait_for(all_sending, timeout=40)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        await asyncio.sleep(0.3)
        assert smtp.messages == []  # the connections dropped in DATA: nothing was accepted

        # 2. Redis goes away; four more events are produced meanwhile.
        await asyncio.to_thread(embedded.stop_redis, redis_dir)
        second_batch = [world.add_member() for _ in range(4)]
        events += [await emit_event(MemberRegistered(member_id=m)) for m in second_batch]
        await asyncio.sleep(1.0)
        assert await pending_count(engine, netsugen_outbox) == 4  # kept in the outbox, not lost

        # 3. Redis is back (its data kept: AOF), a new worker starts; nobody touches the queue.
        smtp.handler.data_delay_s = 0.0
        await asyncio.to_thread(embedded.start_redis, redis_dir, port=port)
        relay.wake()
        workers.append(start_worker(env, log_dir / "worker2.log"))

        async def all_delivered() -> bool:
            return await _delivered(engine) == 8

        await async_wait_for(all_delivered, timeout=90)
        await asyncio.sleep(1.5)  # a straggling re-run must change nothing
        assert await pending_count(engine, netsugen_outbox) == 0
    finally:
        await relay.stop()
        for w in workers:
            stop(w)
        await pool.aclose()
        embedded.stop_redis(redis_dir)
        shutil.rmtree(redis_dir, ignore_errors=True)

    rows = await ledger(engine)
    assert len(rows) == 8, "one ledger row per event"
    assert sorted(r.event_id for r in rows) == sorted(e.id for e in events)
    assert {r.status for r in rows} == {"delivered"}
    killed = {e.id for e in events[:4]}
    for row in rows:
        results = [a.result for a in await attempts_of(engine, row.id)]
        assert results == (["interrupted", "delivered"] if row.event_id in killed else ["delivered"]), results
    mails = smtp.messages
    assert len(mails) == 8, "one email per event, none twice"
    assert len({m.message_id for m in mails}) == 8
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(
        world.email_of(m) for m in first_batch + second_batch
    )
