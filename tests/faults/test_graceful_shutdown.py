"""Graceful shutdown: SIGTERM to netsugen_booking (a real uvicorn process started like `make run`)
while check-ins are in flight.

The check-ins are held inside their transactions by a row lock the test takes on the members (the
visit's foreign key waits for it), so they are provably in flight when the signal arrives. Then the
lock is released. Every in-flight request must finish with its normal answer (201), every
acknowledged visit must be in the database with its outbox event, new connections are refused,
and the process shuts down cleanly within uvicorn's --timeout-graceful-shutdown.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from tests.faults.conftest import (
    ADMIN,
    PrivateStack,
    create_members,
    netsugen_process,
    service_env,
    set_clock,
)
from tests.netsugen_booking.conftest import jst

pytestmark = pytest.mark.system

IN_FLIGHT = 8  # below the service's pool (5 + 5 overflow): every request holds a connection


async def test_sigterm_lets_in_flight_check_ins_finish(private_stack: PrivateStack, log_dir: Path) -> None:
    clock_file = log_dir / "clock"
    set_clock(clock_file, jst(2026, 10, 7, 15, 0))  # a Wednesday afternoon
    service = netsugen_process(
        service_env(private_stack.database_url, private_stack.redis_url),
        log_dir,
        clock_file=clock_file,
        name="netsugen-graceful",
    ).start()
    dsn = (
        make_url(private_stack.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    locker = await asyncpg.connect(dsn)
    watcher = await asyncpg.connect(dsn)
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            members = await create_members(client, IN_FLIGHT, "graceful")
            ids = [m["id"] for m in members]
            lock = locker.transaction()
            await lock.start()
            await locker.execute("SELECT id FROM netsugen.member WHERE id = ANY($1::uuid[]) FOR UPDATE", ids)

            requests = [
                asyncio.create_task(client.post("/v1/visits", json={"member_id": m}, headers=ADMIN))
                for m in ids
            ]
            # Wait until every check-in is inside PostgreSQL, waiting for the lock.
            deadline = time.monotonic() + 30
            while True:
                # (another connection: inside a transaction pg_stat_activity is a frozen snapshot)
                waiting = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'netsugen_booking' "
                    "AND wait_event_type = 'Lock'"
                )
                if waiting >= IN_FLIGHT:
                    break
                done = [t.result().text[:300] for t in requests if t.done()]
                assert time.monotonic() < deadline, f"only {waiting} check-ins reached the database; {done}"
                await asyncio.sleep(0.05)

            service.signal(signal.SIGTERM)
            await asyncio.sleep(1.0)
            # Shutting down: no new connection is accepted …
            async with httpx.AsyncClient(base_url=service.url, timeout=3) as fresh:
                with pytest.raises(httpx.TransportError):
                    await fresh.get("/healthz")
            # … and the in-flight ones are still waiting, not cut off.
            assert not any(t.done() for t in requests)
            await lock.rollback()  # release the members: the check-ins go on and commit

            responses = await asyncio.gather(*requests)
        code = await asyncio.to_thread(service.wait, 30)
    finally:
        await locker.close()
        await watcher.close()
        service.stop()

    assert [r.status_code for r in responses] == [201] * IN_FLIGHT, [r.text[:200] for r in responses]
    acknowledged = {r.json()["id"] for r in responses}
    stored = await private_stack.fetch(
        "SELECT id::text FROM netsugen.visit WHERE member_id = ANY($1::uuid[])", ids
    )
    assert {r["id"] for r in stored} == acknowledged
    events = await private_stack.fetch(
        "SELECT count(*) AS n FROM netsugen.outbox WHERE event_type = 'visit.checked_in' "
        "AND payload->'data'->>'visit_id' = ANY($1::text[])",
        list(acknowledged),
    )
    assert events[0]["n"] == IN_FLIGHT, "every committed check-in keeps its event"
    # uvicorn re-raises the signal once it has shut down cleanly, so the status says why it stopped
    # (-15, or 143 in a container); anything else (a crash, a forced kill) is not graceful.
    assert code in (0, -signal.SIGTERM), service.log()[-3000:]
    log = service.log()
    assert "Application shutdown complete." in log and "service_stopped" in log
    assert '"unhandled_error"' not in log
