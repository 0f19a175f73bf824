"""Cold start: `make run` with a ready virtual environment until every /readyz answers 200.

Runs on the bench database (already migrated and seeded, as on a developer's second `make run`),
on ports 28101-28103, with the platform's own children (APIs, worker, scheduler). The clock starts
when `make run` is spawned and stops when the last /readyz answers 200; `make run` is then stopped
with SIGINT (Ctrl-C) and must exit cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx

from bench.benchmarks.context import BenchContext
from bench.config import COLDSTART_PORTS, ROOT, TARGETS
from bench.report import Row
from bench.stack import require_free


def _ready_all(client: httpx.Client) -> bool:
    for port in COLDSTART_PORTS.values():
        try:
            if client.get(f"http://127.0.0.1:{port}/readyz").status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


TITLE = "cold start"


def measure(ctx: BenchContext) -> dict[str, float | str | bool]:
    require_free(list(COLDSTART_PORTS.values()))
    env = dict(os.environ)
    for key in ("KPI_API_URL", "NETSUGEN_URL", "NOTIFIER_URL", "SERVICE_TOKEN", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(key, None)
    env.update(
        {
            "DATABASE_URL": ctx.stack.database_url,
            "REDIS_URL": ctx.stack.redis_url,
            "KPI_API_PORT": str(COLDSTART_PORTS["kpi_api"]),
            "NETSUGEN_PORT": str(COLDSTART_PORTS["netsugen_booking"]),
            "NOTIFIER_PORT": str(COLDSTART_PORTS["notifier"]),
        }
    )
    log_path = ctx.artifacts / "coldstart-make-run.log"
    # "With a ready virtual environment": bring it up to date first, untimed.
    subprocess.run(
        ["make", "--no-print-directory", "venv"], cwd=ROOT, env=env, capture_output=True, check=False
    )
    with log_path.open("wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready_s: float | None = None
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() - started < 90 and proc.poll() is None:
                if _ready_all(client):
                    ready_s = time.monotonic() - started
                    break
                time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C on the terminal: the whole process group
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
    text = log_path.read_text(errors="replace")
    prepared = re.search(r"prepared in ([0-9.]+)s", text)
    return {
        "ready_s": round(ready_s, 2) if ready_s is not None else -1.0,
        "prepare_s": float(prepared.group(1)) if prepared else -1.0,
        "exit_code": code,
        "clean_stop": "[platform] stopped" in text,
        "log": str(log_path),
    }


def run(ctx: BenchContext) -> None:
    result = measure(ctx)
    ctx.report.details["coldstart"] = result
    limit = TARGETS["coldstart_s"]
    ready = float(result["ready_s"])
    if ready < 0:
        ctx.report.add(
            Row(
                "cold start",
                "make run → all /readyz 200",
                None,
                "s",
                target=f"≤ {limit:.0f} s",
                ok=False,
                note=f"not ready within 90 s; see {result['log']}",
            )
        )
        return
    stop = (
        "stopped cleanly on Ctrl-C"
        if result["clean_stop"]
        else f"NOT stopped cleanly ({result['exit_code']})"
    )
    note = f"of which migrate+seed {result['prepare_s']:.1f} s; {stop}"
    ctx.report.add(
        Row(
            "cold start",
            "make run → all /readyz 200",
            ready,
            "s",
            target=f"≤ {limit:.0f} s",
            ok=ready <= limit,
            note=note,
        )
    )
