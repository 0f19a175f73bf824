"""Fixed parameters of the benchmarks: ports, connections, durations, data sizes.

Everything runs on unusual ports (28001-28003 for the services, 28011 for the baseline app,
28025 for the SMTP sink, 28101-28103 for the cold-start `make run`) so a developer's running
`make run` (8001-8003) is not disturbed, and on a dedicated database (``gunma_bench``) and Redis
database (13) on the same servers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"

BENCH_DATABASE = os.environ.get("BENCH_DATABASE_NAME", "gunma_bench")
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))

# BENCH_PORT_OFFSET shifts every port, so two harnesses (two engineers on one machine) can run at once.
_OFFSET = int(os.environ.get("BENCH_PORT_OFFSET", "0"))
SERVICE_PORTS = {"kpi_api": 28001 + _OFFSET, "netsugen_booking": 28002 + _OFFSET, "notifier": 28003 + _OFFSET}
BASELINE_PORT = 28011 + _OFFSET
SMTP_SINK_PORT = 28025 + _OFFSET
COLDSTART_PORTS = {
    "kpi_api": 28101 + _OFFSET,
    "netsugen_booking": 28102 + _OFFSET,
    "notifier": 28103 + _OFFSET,
}

CONNECTIONS = 16


@dataclass(frozen=True)
class Profile:
    """How long and how big: `make bench` (full) or `make bench-quick`."""

    name: str
    duration_s: int  # wrk duration of each measured run
    warmup_s: int  # wrk run before each measured one (JIT-free Python still warms caches/pools)
    members: int  # drop-in members cycling through check-in/check-out
    invoice_sizes: tuple[int, ...]  # members per invoice run (20 visits each)
    notifier_events: int
    # HTTP benchmarks: the duration is split into this many rounds, service and baseline
    # alternating (service, baseline, service, …), so a drift of the machine's load hits both sides.
    rounds: int = 1
    # Invoice run: each size this many times (alternating sizes); the fastest run counts.
    invoice_repeats: int = 1


FULL = Profile(
    "full",
    duration_s=30,
    warmup_s=3,
    members=2000,
    invoice_sizes=(10_000, 40_000),
    notifier_events=10_000,
    rounds=3,
    invoice_repeats=2,
)
QUICK = Profile(
    "quick", duration_s=4, warmup_s=1, members=2000, invoice_sizes=(300, 1_200), notifier_events=300, rounds=1
)

# Targets from issue 8 (2-core machine).
TARGETS = {
    "checkin_ratio": 0.5,
    "checkin_p99_ms": 50.0,
    "kpi_list_ratio": 0.5,
    "kpi_304_ratio": 0.8,
    "kpi_list_p99_ms": 30.0,
    "kpi_progress_ratio": 0.5,
    "usage_stats_ratio": 0.5,
    # The progress site's pages (issue 19): the same targets as the KPI list they are cached like.
    "kpi_dashboard_ratio": 0.5,
    "kpi_dashboard_p99_ms": 30.0,
    "invoice_scaling": 4.4,
    "notifier_ratio": 0.3,
    "notifier_per_s": 300.0,
    "idle_rss_mb": 150.0,
    "coldstart_s": 20.0,
}
