"""Idle memory: RSS of each API and each arq worker after start-up, before any load (psutil)."""

from __future__ import annotations

import time

from bench.benchmarks.context import BenchContext
from bench.config import TARGETS
from bench.report import Row

TITLE = "idle memory"
PROCESSES = ("kpi_api", "netsugen_booking", "notifier", "notifier-worker", "scheduler")


def run(ctx: BenchContext) -> None:
    time.sleep(2.0)  # let start-up finish (first /readyz, relay's first poll)
    limit = TARGETS["idle_rss_mb"]
    figures: dict[str, dict[str, float]] = {}
    for name in PROCESSES:
        try:
            child = ctx.stack.child(name)
        except KeyError:
            continue
        if child.process.poll() is not None:
            ctx.report.add(
                Row(
                    "idle memory",
                    f"RSS {name}",
                    None,
                    "MB",
                    target=f"≤ {limit:.0f} MB",
                    ok=False,
                    note=f"exited at start-up ({child.process.returncode}); see {child.log_path}",
                )
            )
            continue
        info = child.ps().memory_full_info()
        rss = info.rss / 1_048_576
        uss = getattr(info, "uss", 0) / 1_048_576
        figures[name] = {"rss_mb": round(rss, 1), "uss_mb": round(uss, 1)}
        ctx.report.add(
            Row(
                "idle memory",
                f"RSS {name}",
                round(rss, 1),
                "MB",
                target=f"≤ {limit:.0f} MB",
                ok=rss <= limit,
                note=f"USS {uss:.0f} MB",
            )
        )
    ctx.report.details["idle_memory"] = figures
    ctx.shared["idle_rss"] = figures


def after_load(ctx: BenchContext) -> None:
    """RSS after the load benchmarks (informational: growth would point at a leak or a cache)."""
    figures = {}
    for name in PROCESSES:
        try:
            figures[name] = round(ctx.stack.child(name).rss_mb(), 1)
        except Exception:  # not started, or exited
            continue
    ctx.report.details["rss_after_load_mb"] = figures
