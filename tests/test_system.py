"""Whole-system test: the real processes, started the way `make run` starts them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from tests.conftest import TEST_DB, StackInfo, _asyncpg_dsn, _recreate_database

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"kpi_api": 18001, "netsugen_booking": 18002, "notifier": 18003}

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def system_db(stack: StackInfo) -> str:
    name = f"{TEST_DB}_system"
    asyncio.run(_recreate_database(stack.server_url, name))
    return make_url(stack.server_url).set(database=name).render_as_string(hide_password=False)


def start_platform(database_url: str, redis_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "KPI_API_PORT": str(PORTS["kpi_api"]),
        "NETSUGEN_PORT": str(PORTS["netsugen_booking"]),
        "NOTIFIER_PORT": str(PORTS["notifier"]),
        "SERVICE_TOKEN": "",
        "OUTBOX_RELAY_ENABLED": "true",
    }
    for key in ("KPI_API_URL", "NETSUGEN_URL", "NOTIFIER_URL"):
        env.pop(key, None)
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gunma.cli", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def wait_ready(timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, int] = {}
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            for svc, port in PORTS.items():
                try:
                    status[svc] = client.get(f"http://127.0.0.1:{port}/readyz").status_code
                except httpx.HTTPError:
                    status[svc] = 0
            if all(v == 200 for v in status.values()):
                break
            time.sleep(0.5)
    return status


def test_make_run_brings_up_every_service_and_stops_cleanly(
    system_db: str, stack: StackInfo, tmp_path: Path
) -> None:
    redis_url = stack.redis_url.rsplit("/", 1)[0] + "/10"
    log_path = tmp_path / "platform.log"
    proc = start_platform(system_db, redis_url, log_path)
    try:
        status = wait_ready(120)
        assert status == dict.fromkeys(PORTS, 200), log_path.read_text()[-4000:]
        with httpx.Client(timeout=5) as client:
            for port in PORTS.values():
                docs = client.get(f"http://127.0.0.1:{port}/openapi.json")
                assert docs.status_code == 200
                assert docs.json()["info"]["title"]
        # The worker and the scheduler run too.
        out = log_path.read_text()
        for child in ("notifier-worker", "scheduler", "kpi_api", "netsugen_booking", "notifier"):
            assert f"started {child}" in out
        for port in PORTS.values():
            assert f"http://127.0.0.1:{port}/docs" in out
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log_path.read_text()[-4000:]
    assert "[platform] stopped" in log_path.read_text()

    # Running it again keeps the data (the seed is idempotent, the migrations are applied).
    async def count_tokens() -> int:
        conn = await asyncpg.connect(_asyncpg_dsn(system_db))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM auth.api_token"))
        finally:
            await conn.close()

    assert asyncio.run(count_tokens()) == 1  # the run's service token
