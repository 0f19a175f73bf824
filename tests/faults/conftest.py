"""Fault-injection fixtures: a PostgreSQL and a Redis of the tests' own (started from the embedded
packages on free ports, so stopping them never touches the servers other suites use), and real
service processes started the way the platform starts them (``gunma.platform.uvicorn_argv``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from gunma import embedded
from gunma import migrate as migrations
from gunma.platform import uvicorn_argv
from gunma.seeding import seed_all
from tests.conftest import BOOTSTRAP_TOKEN

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = BOOTSTRAP_TOKEN  # the same admin as the in-process tests (helpers such as confirm_guest use it)
ADMIN = {"Authorization": f"Bearer {BOOTSTRAP}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateStack:
    data_dir: Path
    pg_port: int
    redis_port: int
    database_url: str
    redis_url: str

    def stop_postgres(self) -> None:
        embedded.stop_postgres(self.data_dir)

    def start_postgres(self) -> None:
        embedded.start_postgres(self.data_dir, port=self.pg_port, database="gunma")

    def stop_redis(self) -> None:
        embedded.stop_redis(self.data_dir)

    def start_redis(self) -> None:
        embedded.start_redis(self.data_dir, port=self.redis_port)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        dsn = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    """PostgreSQL + Redis for these tests only, migrated and seeded; stopped and removed at the end."""
    # A short path: PostgreSQL's socket path must fit in 107 bytes.
    data_dir = Path(tempfile.mkdtemp(prefix="gunma-faults-"))
    pg_port, redis_port = free_port(), free_port()
    try:
        database_url = embedded.start_postgres(data_dir, port=pg_port, database="gunma")
        redis_url = embedded.start_redis(data_dir, port=redis_port)
        migrations.upgrade(database_url, "heads")
        asyncio.run(seed_all(database_url))
        yield PrivateStack(data_dir, pg_port, redis_port, database_url, redis_url)
    finally:
        for stop in (embedded.stop_redis, embedded.stop_postgres):
            try:
                stop(data_dir)
            except Exception as exc:  # keep tearing down
                print(f"teardown: {stop.__name__}: {exc}")
        shutil.rmtree(data_dir, ignore_errors=True)


class ServiceProcess:
    """A uvicorn process of one service (same argv as `make run`), its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port = int(argv[argv.index("--port") + 1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"{self.name} exited: {self.log()[-3000:]}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} did not start: {self.log()[-3000:]}")
                time.sleep(0.2)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BOOTSTRAP_ADMIN_TOKEN": BOOTSTRAP,
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
        "NETSUGEN_CAPACITY": "10000",
        # The per-token check-in limit is for front desks, not for a load test.
        "CHECKIN_RATE_LIMIT_PER_MINUTE": "100000",
        "PYTHONPATH": str(ROOT),
    }
    for key in ("KPI_API_URL", "NETSUGEN_URL", "NOTIFIER_URL", "SERVICE_TOKEN"):
        env.pop(key, None)
    env.update(extra)
    return env


CLOCK_FACTORY = "tests.e2e.frontdesk_server:create_app"


def netsugen_process(
    env: dict[str, str], log_dir: Path, *, clock_file: Path | None = None, name: str = "netsugen"
) -> ServiceProcess:
    """netsugen_booking as `make run` starts it; with ``clock_file``, the same app whose clock reads
    the offset in that file (tests/e2e/frontdesk_server.py), so check-ins happen in opening hours."""
    argv = uvicorn_argv("netsugen_booking", free_port(), "127.0.0.1")
    if clock_file is not None:
        argv[argv.index("services.netsugen_booking.main:create_app")] = CLOCK_FACTORY
        env = {**env, "NETSUGEN_TEST_CLOCK_FILE": str(clock_file)}
    return ServiceProcess(name, argv, env, log_dir / f"{name}.log")


def kpi_process(env: dict[str, str], log_dir: Path, port: int | None = None) -> ServiceProcess:
    argv = uvicorn_argv("kpi_api", port or free_port(), "127.0.0.1")
    return ServiceProcess("kpi_api", argv, env, log_dir / "kpi_api.log")


@pytest.fixture
def log_dir() -> Iterator[Path]:
    """Logs of the processes a test starts; their tails are printed when the test fails."""
    d = Path(tempfile.mkdtemp(prefix="gunma-faults-logs-"))
    yield d
    for log in sorted(d.glob("*.log")):
        print(f"---- {log.name} ----\n{log.read_text(errors='replace')[-3000:]}")
    shutil.rmtree(d, ignore_errors=True)


def set_clock(clock_file: Path, when: datetime) -> None:
    from tests.e2e.frontdesk_server import write_offset

    write_offset(clock_file, when)


async def create_members(client: httpx.AsyncClient, n: int, prefix: str) -> list[dict[str, Any]]:
    async def one(i: int) -> dict[str, Any]:
        body = {
            "kind": "individual",
            "name": f"{prefix} 会員{i}",
            "email": f"{prefix}-{i}@example.jp",
            "language": "ja",
            "plan": "dropin",
            "plan_start": "2026-01-01",
        }
        r = await client.post("/v1/members", json=body, headers=ADMIN)
        assert r.status_code == 201, r.text
        return dict(r.json())

    members: list[dict[str, Any]] = []
    for start in range(0, n, 10):
        members += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 10))))
    return members


def python() -> str:
    return sys.executable
