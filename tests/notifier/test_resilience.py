"""Failures of the machinery itself: a worker killed mid-delivery, Redis stopped while events are
produced, deliveries left behind (reconciliation) and the figures in /metrics.

The worker runs as a real process (`python -m arq services.notifier.worker.WorkerSettings`) where
a test kills it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arq import create_pool

from services.notifier.deliveries.metrics import refresh_ledger_metrics
from shared.app import redis_settings
from shared.events import MemberRegistered, make_event
from shared.metrics import OUTBOX_RELAY_ERRORS
from shared.outbox import NOTIFIER_QUEUE, OutboxRelay, pending_count
from tests.notifier.conftest import (
    SERVICE_TOKEN,
    async_wait_for,
    attempts_of,
    enqueue_event,
    execute,
    free_port,
    ledger,
    scalar,
)

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def worker_env(stack: Any, smtp: Any, world: Any, *, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_POOL_SIZE": "8",
        "NETSUGEN_URL": world.base_url,
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "RETRY_SCHEDULE_S": "[0.2, 0.4]",
        "MAX_ATTEMPTS": "5",
        "QUIET_HOURS_ENABLED": "false",
        "WORKER_POLL_DELAY_S": "0.05",
        "RECONCILE_INTERVAL_S": "1",
        "RECONCILE_AFTER_S": "1",
        "SENDING_LEASE_S": "4",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


#: The two ways to run the worker: plain arq, and the supervised entry point.
WORKER_COMMANDS = {
    "arq": ["-m", "arq", "services.notifier.worker.WorkerSettings"],
    "supervised": ["-m", "services.notifier.worker"],
}


def start_worker(env: dict[str, str], log: Path, how: str = "arq") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *WORKER_COMMANDS[how]],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def logdir() -> Iterator[Path]:
    """Logs of the processes a test starts; printed when the test fails."""
    d = Path(tempfile.mkdtemp(prefix="notifier-test-"))
    yield d
    for log in sorted(d.glob("*.log")):
        print(f"---- {log.name} ----\n{log.read_text(errors='replace')[-4000:]}")
    shutil.rmtree(d, ignore_errors=True)


class TestWorkerKilledMidDelivery:
    async def test_every_delivery_ends_once(
        self, stack, smtp, world, emit_event, relay, arq_pool, engine, logdir
    ) -> None:
        members = [world.add_member() for _ in range(6)]
        events = [await emit_event(MemberRegistered(member_id=m)) for m in members]
        assert await relay.relay_once() == 6
        smtp.handler.data_delay_s = 60.0  # the server holds every message in DATA …
        env = worker_env(stack, smtp, world, redis_url=stack.redis_url)
        first = start_worker(env, logdir / "worker1.log")
        try:
            # … until all six are claimed and sending, then the worker dies without warning.
            async def all_sending() -> bool:
                sending = await scalar(
                    engine, "SELECT count(*) FROM notifier.delivery WHERE status = 'sending'"
                )
                return bool(sending == 6 and smtp.handler.data_started >= 6)

            await async_wait_for(all_sending, timeout=30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            stop(first)
        await asyncio.sleep(0.3)
        assert smtp.messages == []  # the connections dropped during DATA: nothing was accepted
        assert [r.status for r in await ledger(engine)] == ["sending"] * 6
        # arq re-runs a job whose worker died once its in-progress key expires (job timeout + 10 s);
        # drop the keys to stand for that time passing, so the re-runs race the reconciler.
        ids = {str(e.id) for e in events}
        keys = [k for k in await arq_pool.keys("arq:in-progress:*") if k.decode().rsplit(":", 1)[-1] in ids]
        assert len(keys) == 6
        await arq_pool.delete(*keys)

        smtp.handler.data_delay_s = 0.0
        second = start_worker(env, logdir / "worker2.log")
        try:

            async def all_delivered() -> bool:
                return bool(
                    await scalar(engine, "SELECT count(*) FROM notifier.delivery WHERE status = 'delivered'")
                    == 6
                )

            await async_wait_for(all_delivered, timeout=60)
            await asyncio.sleep(1.5)  # let any straggling job run: it must change nothing
        finally:
            stop(second)

        rows = await ledger(engine)
        assert len(rows) == 6  # one ledger row per event, never two
        assert sorted(r.event_id for r in rows) == sorted(e.id for e in events)
        assert await scalar(engine, "SELECT count(*) FROM notifier.inbox") == 6
        for row in rows:
            assert (row.status, row.attempts) == ("delivered", 2)
            assert [(a.number, a.result) for a in await attempts_of(engine, row.id)] == [
                (1, "interrupted"),
                (2, "delivered"),
            ]
        mails = smtp.messages
        assert len(mails) == 6
        assert sorted(m.message_id for m in mails) == sorted(f"<{r.id}@netsugen.example.jp>" for r in rows)
        assert sorted(m.rcpt_tos[0] for m in mails) == sorted(world.email_of(m) for m in members)
        runs = await scalar(engine, "SELECT COALESCE(sum(interrupted), 0) FROM notifier.reconcile_run")
        assert runs == 6


class TestGracefulStop:
    async def test_sigterm_gives_running_attempts_back_at_once(
        self, stack, smtp, world, emit_event, relay, engine, logdir
    ) -> None:
        members = [world.add_member() for _ in range(3)]
        for m in members:
            await emit_event(MemberRegistered(member_id=m))
        await relay.relay_once()
        smtp.handler.data_delay_s = 60.0
        # A lease far longer than the test: nothing here may wait for it.
        env = worker_env(stack, smtp, world, redis_url=stack.redis_url, SENDING_LEASE_S="600")
        first = start_worker(env, logdir / "worker1.log")
        try:

            async def all_in_data() -> bool:
                return smtp.handler.data_started >= 3

            await async_wait_for(all_in_data, timeout=30)

            async def reconciled_at_startup() -> bool:
                # The start-up reconciliation finishes first: arq's own close() fails (exit 1) when
                # SIGTERM lands while a finished job's result is being stored, which is not this test's.
                return await scalar(engine, "SELECT count(*) FROM notifier.reconcile_run") >= 1

            await async_wait_for(reconciled_at_startup, timeout=30)
            await asyncio.sleep(0.5)
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=20) == 0
        finally:
            stop(first)
        rows = await ledger(engine)
        assert [(r.status, r.attempts) for r in rows] == [("failed_temporary", 1)] * 3
        for row in rows:
            assert [(a.number, a.result) for a in await attempts_of(engine, row.id)] == [(1, "interrupted")]

        smtp.handler.data_delay_s = 0.0
        second = start_worker(env, logdir / "worker2.log")
        try:
            await async_wait_for(lambda: _delivered(engine, 3), timeout=30)
        finally:
            stop(second)
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(world.email_of(m) for m in members)
        assert [(r.status, r.attempts) for r in await ledger(engine)] == [("delivered", 2)] * 3


class TestRedisStopped:
    @pytest.mark.parametrize("how", ["arq", "supervised"])
    async def test_events_wait_in_the_outbox_and_all_arrive(
        self, stack, smtp, world, emit_event, engine, notifier_client, staff_headers, logdir, how
    ) -> None:
        port = free_port()
        argv = [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(logdir),
        ]
        redis_log = (logdir / "redis.log").open("ab")
        server = subprocess.Popen(argv, stdout=redis_log, stderr=subprocess.STDOUT)
        url = f"redis://127.0.0.1:{port}/0"
        pool = await create_pool(_patient(url))
        worker = start_worker(worker_env(stack, smtp, world, redis_url=url), logdir / "worker.log", how)
        from services.netsugen_booking.db import outbox as netsugen_outbox

        relay = OutboxRelay(
            service="netsugen_booking", engine=engine, table=netsugen_outbox, redis=pool, interval_s=0.05
        )
        relay.start()
        try:
            before = [world.add_member() for _ in range(2)]
            for m in before:
                await emit_event(MemberRegistered(member_id=m))
            await async_wait_for(lambda: _delivered(engine, 2), timeout=30)

            server.terminate()
            server.wait(timeout=10)
            errors_before = OUTBOX_RELAY_ERRORS.labels("netsugen_booking")._value.get()
            during = [world.add_member() for _ in range(5)]
            for m in during:
                # The producer's transaction does not touch Redis: it commits as usual.
                await emit_event(MemberRegistered(member_id=m))
            await asyncio.sleep(1.0)
            assert await pending_count(engine, netsugen_outbox) == 5
            assert OUTBOX_RELAY_ERRORS.labels("netsugen_booking")._value.get() > errors_before
            # The notifier's API keeps answering (it needs only PostgreSQL for this).
            r = await notifier_client.get("/v1/deliveries?status=delivered", headers=staff_headers)
            assert r.status_code == 200 and len(r.json()["items"]) == 2

            server = subprocess.Popen(argv, stdout=redis_log, stderr=subprocess.STDOUT)
            relay.wake()
            await async_wait_for(lambda: _delivered(engine, 7), timeout=60)
            assert await pending_count(engine, netsugen_outbox) == 0
            assert worker.poll() is None  # the worker waited for Redis instead of dying
        finally:
            await relay.stop()
            stop(worker)
            await pool.aclose()
            server.terminate()
            server.wait(timeout=10)
            redis_log.close()

        mails = smtp.messages
        assert len(mails) == 7
        assert sorted(m.rcpt_tos[0] for m in mails) == sorted(world.email_of(m) for m in before + during)
        assert len(await ledger(engine)) == 7


def _patient(url: str) -> Any:
    settings = redis_settings(url)
    settings.conn_retries = 20
    return settings


async def _delivered(engine: Any, n: int) -> bool:
    return bool(
        await scalar(engine, "SELECT count(*) FROM notifier.delivery WHERE status = 'delivered'") == n
    )


class TestReconciliation:
    async def test_left_behind_deliveries_are_requeued_and_counted(
        self, world, arq_pool, run_worker, make_settings, engine, smtp, notifier_client, admin_headers
    ) -> None:
        # Three deliveries, planned while their type was paused (so they wait, queued).
        await notifier_client.put("/v1/event-types/member.registered/pause", headers=admin_headers)
        members = [world.add_member() for _ in range(3)]
        for m in members:
            await enqueue_event(arq_pool, make_event(MemberRegistered(member_id=m)))
        await run_worker()
        a, b, c = await ledger(engine)
        # a: its worker died while sending, an hour ago. b: overdue, its job lost. c: still paused.
        await execute(
            engine,
            "UPDATE notifier.delivery SET status = 'sending', attempts = 1, "
            "claimed_at = now() - interval '1 hour' WHERE id = :id",
            id=a.id,
        )
        await execute(
            engine,
            "UPDATE notifier.delivery SET next_attempt_at = now() - interval '1 hour' WHERE id IN (:b, :c)",
            b=b.id,
            c=c.id,
        )
        await execute(engine, "DELETE FROM notifier.event_type_pause")  # resumed without the API's nudge
        await execute(
            engine, "INSERT INTO notifier.event_type_pause (event_type) VALUES ('visit.checked_in')"
        )
        await execute(
            engine, "UPDATE notifier.delivery SET event_type = 'visit.checked_in' WHERE id = :id", id=c.id
        )

        await run_worker(make_settings(sending_lease_s=60, reconcile_after_s=60), cron=True)

        after = {r.id: r for r in await ledger(engine)}
        assert (after[a.id].status, after[a.id].attempts) == ("delivered", 2)
        assert [(x.number, x.result) for x in await attempts_of(engine, a.id)] == [
            (1, "interrupted"),
            (2, "delivered"),
        ]
        assert (after[b.id].status, after[b.id].attempts) == ("delivered", 1)
        assert after[c.id].status == "queued"  # paused types are left alone
        assert len(smtp.messages) == 2

        run = (await ledger_runs(engine))[0]
        assert (run.interrupted, run.requeued, run.already_queued, run.dead) == (1, 2, 0, 0)
        # Counted when the run ended: the two it re-queued had not been sent yet.
        assert (run.unfinished_deliveries, run.unfinished_events) == (3, 3)

        await refresh_ledger_metrics(engine)
        metrics = (await notifier_client.get("/metrics")).text
        assert 'notifier_reconcile_last_run{figure="requeued"} 2.0' in metrics
        assert 'notifier_reconcile_last_run{figure="interrupted"} 1.0' in metrics
        assert 'notifier_unfinished_deliveries{status="queued"} 1.0' in metrics
        assert "notifier_unfinished_events 1.0" in metrics
        assert "notifier_dead_letters 0.0" in metrics

    async def test_interrupted_past_the_last_attempt_is_dead(
        self, world, arq_pool, run_worker, make_settings, engine
    ) -> None:
        await enqueue_event(arq_pool, make_event(MemberRegistered(member_id=world.add_member())))
        await run_worker()
        [row] = await ledger(engine)
        await execute(
            engine,
            "UPDATE notifier.delivery SET status = 'sending', attempts = 3, delivered_at = NULL, "
            "claimed_at = now() - interval '1 hour' WHERE id = :id",
            id=row.id,
        )
        await run_worker(make_settings(sending_lease_s=60, max_attempts=3), cron=True)
        [dead] = await ledger(engine)
        assert dead.status == "dead"
        assert dead.reason.startswith("gave up after 3 attempts: interrupted")


class TestDatabaseUnreachable:
    async def test_the_event_job_comes_back_later(
        self, world, arq_pool, run_worker, make_settings, smtp
    ) -> None:
        event = make_event(MemberRegistered(member_id=world.add_member()))
        await enqueue_event(arq_pool, event)
        broken = make_settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
        await run_worker(broken, max_burst_jobs=1)
        # Not lost: still queued, for a later try.
        [job] = await arq_pool.queued_jobs(queue_name=NOTIFIER_QUEUE)
        assert job.job_id == str(event.id)
        assert smtp.messages == []
        await run_worker()  # waits for the retry (5 s), now with the database
        [mail] = smtp.messages
        assert mail.subject == "NETSUGENへようこそ"


async def ledger_runs(engine: Any) -> list[Any]:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT * FROM notifier.reconcile_run ORDER BY id DESC"))).all())
