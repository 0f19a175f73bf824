"""`make run`: the whole platform in the foreground.

1. PostgreSQL and Redis: ``DATABASE_URL``/``REDIS_URL`` or the embedded servers under `.data/`;
   under the embedded default also a local SMTP sink writing `.data/mail/*.eml`.
2. Migrations (``alembic upgrade head``) and the idempotent seed.
3. The three APIs (uvicorn), the notifier worker and the scheduler (arq cron), as child processes.
4. Waits for every ``/readyz`` and prints the URLs of the API docs. Ctrl-C stops everything.
5. Keeps running: a child that dies is restarted with an increasing delay (1 s, 2 s, 4 s … 30 s)
   and the log says so; only a child that keeps failing (``RESTART_LIMIT`` crashes within
   ``RESTART_WINDOW_S``) stops the platform. Nothing is lost across a restart: events wait in
   the outbox and in Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import update

from gunma import migrate as migrations
from gunma.seeding import seed_all
from gunma.stack import DATA_DIR, ROOT, Urls, export_urls, resolve_urls, stop_started
from shared.auth import ApiToken, create_token
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.jst import utcnow

PLATFORM_SERVICE_TOKEN_NAME = "platform service token (make run)"


#: A child that crashes this many times within the window is given up on, and the platform stops.
RESTART_LIMIT = 5
RESTART_WINDOW_S = 120.0
RESTART_DELAY_MAX_S = 30.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: monotonic times of this child's recent crashes (within RESTART_WINDOW_S).
    crashes: list[float] = field(default_factory=list)
    #: when a crashed child is due to start again (None: running or never crashed).
    restart_at: float | None = None


def restart_delay(crashes_in_window: int) -> float:
    """1 s after the first crash, doubling for each further crash in the window, at most 30 s."""
    return min(RESTART_DELAY_MAX_S, 2.0 ** max(0, crashes_in_window - 1))


class Supervisor:
    """Starts the children, restarts one that dies (with backoff) and gives up on one that keeps dying.

    ``poll()`` is called in a loop; ``clock`` and ``spawn`` are injectable so that the policy is
    tested without waiting.
    """

    def __init__(
        self,
        children: list[Child],
        spawn: Callable[[Child], subprocess.Popen[bytes]],
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = print,
    ) -> None:
        self.children = children
        self.spawn = spawn
        self.clock = clock
        self.log = log

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.process = self.spawn(child)
        child.restart_at = None
        self.log(f"[platform] started {child.name} (pid {child.process.pid})")

    def poll(self) -> str | None:
        """One round: restart what is due; returns the name of a child given up on, if any."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            code = child.process.returncode
            child.crashes = [t for t in child.crashes if now - t < RESTART_WINDOW_S] + [now]
            if len(child.crashes) >= RESTART_LIMIT:
                self.log(
                    f"[platform] {child.name} exited with {code} and has failed {len(child.crashes)} times "
                    f"in {RESTART_WINDOW_S:.0f} s; giving up and stopping the platform"
                )
                return child.name
            delay = restart_delay(len(child.crashes))
            child.restart_at = now + delay
            self.log(
                f"[platform] {child.name} exited with {code}; restarting in {delay:.0f} s "
                f"(crash {len(child.crashes)} of {RESTART_LIMIT} allowed in {RESTART_WINDOW_S:.0f} s)"
            )
        return None


def api_ports() -> dict[str, int]:
    return {
        "kpi_api": int(os.environ.get("KPI_API_PORT", "8001")),
        "netsugen_booking": int(os.environ.get("NETSUGEN_PORT", "8002")),
        "notifier": int(os.environ.get("NOTIFIER_PORT", "8003")),
    }


def worker_metrics_port() -> str:
    return os.environ.get("WORKER_METRICS_PORT", "9103")


def uvicorn_argv(service: str, port: int, host: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"services.{service}.main:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "15",
        # The services read X-Forwarded-For themselves, and only from TRUSTED_PROXIES (shared/auth.py);
        # uvicorn's own handling would trust it from 127.0.0.1, i.e. from any local client.
        "--no-proxy-headers",
    ]


def platform_children(host: str = "127.0.0.1") -> list[Child]:
    children = [Child(svc, uvicorn_argv(svc, port, host)) for svc, port in api_ports().items()]
    # The supervised entry point restarts arq's loop in-process if a Redis outage ends it, so one
    # outage does not stop the whole platform (containers get the same from their restart policy).
    # The worker's own delivery counters (Prometheus), as in Kubernetes (notifier-worker.yaml).
    children.append(
        Child(
            "notifier-worker",
            [sys.executable, "-m", "services.notifier.worker"],
            env={"WORKER_METRICS_PORT": worker_metrics_port()},
        )
    )
    children.append(
        Child(
            "scheduler", [sys.executable, "-m", "arq", "services.netsugen_booking.scheduler.WorkerSettings"]
        )
    )
    return children


async def _issue_service_token(database_url: str) -> str:
    """A fresh `service` token for this run; the previous run's is revoked."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.name == PLATFORM_SERVICE_TOKEN_NAME, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            _, secret = await create_token(session, name=PLATFORM_SERVICE_TOKEN_NAME, role="service")
            return secret
    finally:
        await engine.dispose()


def wait_ready(ports: dict[str, int], timeout_s: float = 120.0) -> dict[str, bool]:
    deadline = time.monotonic() + timeout_s
    ready = dict.fromkeys(ports, False)
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline and not all(ready.values()):
            for svc, port in ports.items():
                if ready[svc]:
                    continue
                try:
                    ready[svc] = client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
    return ready


def prepare_environment(urls: Urls) -> dict[str, str]:
    """Migrate, seed and return the environment for the child processes."""
    started = time.monotonic()
    export_urls(urls)
    print(f"[platform] PostgreSQL: {'embedded (.data/)' if urls.embedded_database else 'DATABASE_URL'}")
    print(f"[platform] Redis:      {'embedded (.data/)' if urls.embedded_redis else 'REDIS_URL'}")
    migrations.upgrade(urls.database_url, "head")
    print("[platform] migrations applied (alembic upgrade head)")
    results = asyncio.run(seed_all(urls.database_url))
    for service, counts in results.items():
        print(f"[platform] seed {service}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    env = dict(os.environ)
    if not env.get("SERVICE_TOKEN"):
        env["SERVICE_TOKEN"] = asyncio.run(_issue_service_token(urls.database_url))
    ports = api_ports()
    env.setdefault("KPI_API_URL", f"http://127.0.0.1:{ports['kpi_api']}")
    env.setdefault("NETSUGEN_URL", f"http://127.0.0.1:{ports['netsugen_booking']}")
    env.setdefault("NOTIFIER_URL", f"http://127.0.0.1:{ports['notifier']}")
    if urls.embedded_database or urls.embedded_redis:
        env.setdefault("SMTP_HOST", "127.0.0.1")
        env.setdefault("SMTP_PORT", os.environ.get("SMTP_SINK_PORT", "51025"))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    print(f"[platform] prepared in {time.monotonic() - started:.1f}s")
    return env


def run_platform() -> int:
    urls = resolve_urls()
    try:
        return _run(urls)
    finally:
        stop_started(urls)


def _run(urls: Urls) -> int:
    env = prepare_environment(urls)
    children = platform_children(os.environ.get("BIND_HOST", "127.0.0.1"))
    if "SMTP_HOST" in env and env.get("SMTP_HOST") == "127.0.0.1" and not os.environ.get("SMTP_HOST"):
        mail_dir = DATA_DIR / "mail"
        children.insert(
            0,
            Child(
                "smtp-sink",
                [
                    sys.executable,
                    "-m",
                    "gunma.embedded",
                    "smtp-sink",
                    "--port",
                    env["SMTP_PORT"],
                    "--dir",
                    str(mail_dir),
                ],
            ),
        )
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def spawn(child: Child) -> subprocess.Popen[bytes]:
        # Own process group: Ctrl-C reaches only us, and we stop the children in order.
        return subprocess.Popen(child.argv, cwd=ROOT, env={**env, **child.env}, start_new_session=True)

    supervisor = Supervisor(children, spawn)
    supervisor.start_all()
    ports = api_ports()
    ready = wait_ready(ports)
    for svc, port in ports.items():
        state = "ready" if ready[svc] else "NOT READY"
        print(f"[platform] {svc:<17} http://127.0.0.1:{port}/docs  ({state})")
    if all(ready.values()):
        print(f"[platform] notifier worker metrics: http://127.0.0.1:{worker_metrics_port()}/metrics")
        print("[platform] all services ready. Ctrl-C stops everything.")
        print("[platform] create an admin token: .venv/bin/gunma token create --role admin --name you")
    exit_code = 0
    try:
        while not stopping:
            if supervisor.poll() is not None:
                stopping, exit_code = True, 1
            time.sleep(0.5)
    finally:
        shutdown(children)
    return exit_code


def shutdown(children: list[Child], grace_s: float = 20.0) -> None:
    for child in reversed(children):
        if child.process and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in reversed(children):
        if not child.process:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
    print("[platform] stopped. Data is kept in .data/ (embedded) or your DATABASE_URL.")
