"""The platform under test, started the way `make run` starts it, on a dedicated database.

- PostgreSQL and Redis: ``DATABASE_URL``/``REDIS_URL`` when set (the same servers, another database
  and Redis db), otherwise the embedded servers of ``gunma.stack.resolve_urls``.
- The database ``gunma_bench`` is dropped and re-created on every run, then migrated and seeded by
  ``gunma.platform.prepare_environment`` (the same code as `make run`).
- The children are ``gunma.platform.platform_children()`` (three APIs under uvicorn with uvloop and
  httptools, the notifier worker, the scheduler) on ports 28001-28003, plus an SMTP sink on 28025.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg
import psutil  # type: ignore[import-untyped]
from sqlalchemy import make_url

from bench.config import BENCH_DATABASE, BENCH_REDIS_DB, ROOT, SERVICE_PORTS, SMTP_SINK_PORT
from gunma import platform
from gunma.stack import Urls, resolve_urls, stop_started


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy URL (postgresql+asyncpg://) → libpq DSN for asyncpg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free(ports: list[int]) -> None:
    busy = [p for p in ports if not port_free(p)]
    if busy:
        raise SystemExit(
            f"bench: port(s) {', '.join(map(str, busy))} are in use. Another `make bench` running? "
            "Stop it (or the process holding the port) and retry."
        )


async def recreate_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(
        asyncpg_dsn(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def ps(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def rss_mb(self) -> float:
        return float(self.ps().memory_info().rss) / 1_048_576

    def cpu_s(self) -> float:
        t = self.ps().cpu_times()
        return float(t.user) + float(t.system)


@dataclass
class BenchStack:
    artifacts: Path
    urls: Urls | None = None
    server_urls: Urls | None = None
    env: dict[str, str] = field(default_factory=dict)
    children: list[Running] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)
    started_s: float = 0.0
    ready: dict[str, bool] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        assert self.urls is not None
        return self.urls.database_url

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.database_url)

    @property
    def redis_url(self) -> str:
        assert self.urls is not None
        return self.urls.redis_url

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{SERVICE_PORTS[service]}"

    def child(self, name: str) -> Running:
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(name)

    def up(self, *, extra_env: dict[str, str] | None = None) -> None:
        require_free([*SERVICE_PORTS.values(), SMTP_SINK_PORT])
        self.artifacts.mkdir(parents=True, exist_ok=True)
        server = resolve_urls(database=BENCH_DATABASE)
        self.server_urls = server
        bench_url = (
            make_url(server.database_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)
        )
        redis_url = server.redis_url.rsplit("/", 1)[0] + f"/{BENCH_REDIS_DB}"
        asyncio.run(recreate_database(server.database_url, BENCH_DATABASE))
        flush_redis(redis_url)
        self.urls = Urls(bench_url, redis_url, server.embedded_database, server.embedded_redis)
        # What `make run` reads: the ports of the APIs, the SMTP server of the notifier.
        os.environ["KPI_API_PORT"] = str(SERVICE_PORTS["kpi_api"])
        os.environ["NETSUGEN_PORT"] = str(SERVICE_PORTS["netsugen_booking"])
        os.environ["NOTIFIER_PORT"] = str(SERVICE_PORTS["notifier"])
        for key in ("KPI_API_URL", "NETSUGEN_URL", "NOTIFIER_URL", "SERVICE_TOKEN"):
            os.environ.pop(key, None)
        os.environ["SMTP_HOST"] = "127.0.0.1"
        os.environ["SMTP_PORT"] = str(SMTP_SINK_PORT)
        for key, value in (extra_env or {}).items():
            os.environ[key] = value
        self.env = platform.prepare_environment(self.urls)
        self.started_s = time.monotonic()
        mail_dir = self.artifacts / "mail"
        sink = platform.Child(
            "smtp-sink",
            [
                sys.executable,
                "-m",
                "gunma.embedded",
                "smtp-sink",
                "--port",
                str(SMTP_SINK_PORT),
                "--dir",
                str(mail_dir),
            ],
        )
        for child in [sink, *platform.platform_children("127.0.0.1")]:
            self.start_child(child.name, child.argv)
        self.ready = platform.wait_ready(SERVICE_PORTS, timeout_s=60)
        down = [svc for svc, ok in self.ready.items() if not ok]
        if len(down) == len(SERVICE_PORTS):
            self.down()
            raise SystemExit(f"bench: no service became ready; see {self.artifacts}/*.log")
        if down:
            # The benchmarks of the others still run; theirs report "not run".
            print(f"[bench] NOT READY: {', '.join(down)} (see {self.artifacts}/<service>.log)")

    def start_child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Running:
        log = (self.artifacts / f"{name}.log").open("ab")
        self._logs.append(log)
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        running = Running(name, process, self.artifacts / f"{name}.log")
        self.children.append(running)
        return running

    def stop_child(self, running: Running, grace_s: float = 15.0) -> None:
        if running.process.poll() is None:
            running.process.terminate()
            try:
                running.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
        if running in self.children:
            self.children.remove(running)

    def check_alive(self) -> list[str]:
        return [c.name for c in self.children if c.process.poll() is not None]

    def down(self) -> None:
        for running in reversed(list(self.children)):
            self.stop_child(running)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self.server_urls is not None:
            stop_started(self.server_urls)
