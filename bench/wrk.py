"""Run `wrk` (Debian's package) with a Lua script and read the exact figures its `done()` prints."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

from bench.config import CONNECTIONS, LUA_DIR

INSTALL_HINT = (
    "bench: `wrk` (the HTTP load generator) is not installed.\n"
    "  Debian/Ubuntu: sudo apt-get install -y wrk\n"
    "  macOS:         brew install wrk\n"
    "Then run `make bench` again."
)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def require_wrk() -> str:
    path = wrk_path()
    if path is None:
        raise SystemExit(INSTALL_HINT)
    return path


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float  # HTTP requests per second
    units_per_s: float  # completed units of work per second (cycles for check-in/out)
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: dict[str, int]  # socket errors and HTTP statuses >= 400 (wrk's own count)
    bad: int  # responses whose status the script did not expect
    connections: int
    threads: int

    @property
    def error_total(self) -> int:
        return self.bad + sum(v for k, v in self.errors.items() if k != "status")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_output(stdout: str, connections: int) -> WrkResult:
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise RuntimeError(f"wrk printed no BENCH_JSON line:\n{stdout[-2000:]}")
    duration_s = data["duration_us"] / 1e6
    return WrkResult(
        requests=data["requests"],
        duration_s=round(duration_s, 3),
        rps=round(data["requests"] / duration_s, 1),
        units_per_s=round(data["cycles"] / duration_s, 1),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        mean_ms=round(data["mean_us"] / 1000, 3),
        errors=data["errors"],
        bad=data["bad"],
        connections=connections,
        threads=data["threads"],
    )


def run_wrk(
    base_url: str,
    script: str,
    args: list[str],
    *,
    duration_s: int,
    connections: int = CONNECTIONS,
    threads: int = 2,
    timeout_s: int = 10,
) -> WrkResult:
    """`wrk -t<threads> -c<connections> -d<duration>s --latency -s <script> <url> -- <args>`."""
    argv = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(LUA_DIR / script),
        base_url,
        "--",
        *args,
    ]
    proc = subprocess.run(
        argv, cwd=LUA_DIR, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result = parse_output(proc.stdout, connections)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if lines:
        shown = "\n      ".join(line[:240] for line in lines[:3])
        print(f"    wrk stderr ({len(lines)} lines): {shown}")
    return result
