"""Start and stop the baseline app under uvicorn exactly as the services run (uvloop, httptools, 1 worker)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench.config import BASELINE_PORT
from bench.stack import BenchStack, Running, require_free


def baseline_argv(port: int = BASELINE_PORT) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baselines.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@contextmanager
def baseline_app(stack: BenchStack, **env: str) -> Iterator[Running]:
    """The baseline app on port 28011 with ``BASELINE_DSN`` and the given ``BASELINE_*`` settings."""
    require_free([BASELINE_PORT])
    child_env = dict(stack.env)
    child_env["BASELINE_DSN"] = stack.dsn
    child_env.update(env)
    running = stack.start_child("baseline", baseline_argv(), env=child_env)
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=1.0) as client:
            while True:
                if running.process.poll() is not None:
                    raise RuntimeError(f"baseline app exited; see {running.log_path}")
                try:
                    if client.get(f"http://127.0.0.1:{BASELINE_PORT}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"baseline app not ready in 30 s; see {running.log_path}")
                time.sleep(0.1)
        yield running
    finally:
        stack.stop_child(running)


BASELINE_URL = f"http://127.0.0.1:{BASELINE_PORT}"
