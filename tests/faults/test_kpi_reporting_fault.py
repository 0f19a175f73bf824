"""kpi_api is down while NETSUGEN reports an event's attendance; the report is retried and arrives
once kpi_api is back. Everything is a real process on the tests' own PostgreSQL and Redis:

- netsugen_booking's API (uvicorn, with the test clock of tests/e2e/frontdesk_server.py),
- netsugen_booking's scheduler (arq), which runs the ``send_kpi_report`` job,
- kpi_api (uvicorn), not running when the event closes, started afterwards on the same port.

tests/netsugen_booking/test_kpi_reporting.py covers the job's rules in-process (stand-in registry,
backoff, corrections); this test shows the retry working between the real processes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from shared.auth import ensure_token
from shared.db import create_engine, make_sessionmaker, session_scope
from tests.faults.conftest import (
    ADMIN,
    ROOT,
    PrivateStack,
    free_port,
    kpi_process,
    netsugen_process,
    service_env,
    set_clock,
)
from tests.netsugen_booking.test_kpi_reporting import CREATOR_LAB, closed_event

pytestmark = pytest.mark.system

SERVICE_SECRET = "faults-netsugen-service-token-0123456789"


class FileClock:
    """The ``clock`` that tests/netsugen_booking's helpers expect, moving a real process's time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, when: datetime) -> datetime:
        set_clock(self.path, when)
        return when


async def _register_service_token(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            await ensure_token(session, name="netsugen_booking", role="service", secret=SERVICE_SECRET)
    finally:
        await engine.dispose()


async def _wait_for(stack: PrivateStack, sql: str, predicate: object, timeout: float) -> list[object]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await stack.fetch(sql)
        if predicate(rows):  # type: ignore[operator]
            return rows
        assert time.monotonic() < deadline, f"not reached: {sql} → {rows}"
        await asyncio.sleep(0.25)


async def test_report_waits_for_kpi_api_and_arrives_once(private_stack: PrivateStack, log_dir: Path) -> None:
    await _register_service_token(private_stack.database_url)
    kpi_port = free_port()
    env = service_env(
        private_stack.database_url,
        private_stack.redis_url,
        KPI_API_URL=f"http://127.0.0.1:{kpi_port}",
        SERVICE_TOKEN=SERVICE_SECRET,
        HTTP_TIMEOUT_S="3",
    )
    clock_file = log_dir / "clock"
    clock = FileClock(clock_file)
    clock.set(datetime.fromisoformat("2026-12-01T09:00:00+09:00"))
    netsugen = netsugen_process(env, log_dir, clock_file=clock_file, name="netsugen-kpi").start()
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "arq", "services.netsugen_booking.scheduler.WorkerSettings"],
        cwd=ROOT,
        env=env,
        stdout=(log_dir / "scheduler.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    kpi = kpi_process(env, log_dir, port=kpi_port)
    try:
        async with httpx.AsyncClient(base_url=netsugen.url, timeout=20) as client:
            event = await closed_event(client, ADMIN, clock, category="creator_lab", day=10, attendees=3)
        # kpi_api is down: the scheduler's first try fails and the report keeps the error.
        rows = await _wait_for(
            private_stack,
            f"SELECT status, attempts, last_error FROM netsugen.kpi_report WHERE program_id = '{event['id']}'",
            lambda rows: rows and rows[0]["attempts"] >= 1,
            timeout=60,
        )
        assert rows[0]["status"] == "pending" and "Connect" in (rows[0]["last_error"] or ""), rows  # type: ignore[index]

        kpi.start()  # back up, on the same address
        rows = await _wait_for(
            private_stack,
            f"SELECT status, sent_value, attempts FROM netsugen.kpi_report WHERE program_id = '{event['id']}'",
            lambda rows: rows and rows[0]["status"] == "sent",
            timeout=90,
        )
        assert rows[0]["sent_value"] == 3  # type: ignore[index]
        async with httpx.AsyncClient(base_url=kpi.url, timeout=20) as client:
            r = await client.get(f"/v1/kpis/{CREATOR_LAB}/observations")
        assert r.status_code == 200, r.text
        fy = [o for o in r.json()["items"] if o["fiscal_year"] == 2026]
        # Arrived once: one observation, one revision, recorded by the service token.
        assert len(fy) == 1 and fy[0]["value"] == 3 and fy[0]["revision"] == 1, fy
        assert [rev["recorded_by_role"] for rev in fy[0]["revisions"]] == ["service"]
    finally:
        kpi.stop()
        if scheduler.poll() is None:
            scheduler.terminate()
            try:
                scheduler.wait(timeout=20)
            except subprocess.TimeoutExpired:
                scheduler.kill()
        netsugen.stop()
