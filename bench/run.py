"""`make bench` / `make bench-quick`: every benchmark beside its baseline, one table, results JSON.

    python -m bench.run                 # full (30 s per load run)
    python -m bench.run --quick         # the subset of `make bench-quick` (< 2 minutes)
    python -m bench.run --only checkin,kpi_list --profile   # py-spy the services during their runs

See bench/README.md for what each benchmark and its baseline measure.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
import traceback
from datetime import datetime
from types import ModuleType

from bench.benchmarks.context import BenchContext
from bench.config import FULL, QUICK, RESULTS_DIR
from bench.report import Report, Row, render_table
from bench.stack import BenchStack
from bench.wrk import INSTALL_HINT, wrk_path

# Run order: idle memory first (before any load), the KPI reads, the notifier (before the check-in
# load, whose thousands of visit events would still be in the notifier's queue), the check-ins,
# then, with the platform stopped, the invoice run and cold start.
BENCHMARKS = (
    "memory",
    "kpi_list",
    "kpi_progress",
    "kpi_dashboard",
    "notifier",
    "checkin",
    "usage_stats",
    "invoice",
    "coldstart",
)
QUICK_SET = (
    "memory",
    "kpi_list",
    "kpi_progress",
    "kpi_dashboard",
    "notifier",
    "checkin",
    "usage_stats",
    "invoice",
)
# Run after the bench platform's processes are stopped (PostgreSQL and Redis stay up).
WITHOUT_PLATFORM = ("invoice", "coldstart")


def load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.benchmarks.{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the short subset (make bench-quick)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record py-spy profiles of the services during their measured runs",
    )
    parser.add_argument("--duration", type=int, default=0, help="override the wrk duration (s)")
    parser.add_argument("--show", metavar="RESULTS_JSON", help="print the table of a saved run and exit")
    parser.add_argument("--markdown", metavar="RESULTS_JSON", help="print a saved run as a Markdown table")
    args = parser.parse_args(argv)
    if args.show or args.markdown:
        from pathlib import Path

        from bench.report import load as load_report
        from bench.report import markdown_table

        if args.show:
            render_table(load_report(Path(args.show)))
        else:
            print(markdown_table(load_report(Path(args.markdown))), end="")
        return 0

    if wrk_path() is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    profile = QUICK if args.quick else FULL
    if args.duration:
        from dataclasses import replace

        profile = replace(profile, duration_s=args.duration)
    selected = [b for b in (QUICK_SET if args.quick else BENCHMARKS)]
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = wanted - set(BENCHMARKS)
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        selected = [b for b in BENCHMARKS if b in wanted]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    selected = [b for b in selected if b not in skip]

    # A harness stopped with SIGTERM (a CI timeout, `kill`) still stops the processes it started.
    signal.signal(signal.SIGTERM, _terminate)
    started_at = datetime.now().astimezone()
    report = Report(profile.name, started_at)
    artifacts = RESULTS_DIR / "artifacts" / f"{started_at:%Y%m%dT%H%M%S}"
    stack = BenchStack(artifacts)
    clock = time.monotonic()
    print(f"[bench] {profile.name}: {', '.join(selected)}; artifacts in {artifacts}")
    try:
        # Capacity and the per-token check-in limit stay on (the checks run on every request) but are
        # raised above what 16 connections can reach, so the load measures check-ins, not refusals.
        stack.up(extra_env={"NETSUGEN_CAPACITY": "10000", "CHECKIN_RATE_LIMIT_PER_MINUTE": "1000000"})
        ctx = BenchContext(
            stack=stack, profile=profile, report=report, artifacts=artifacts, profile_services=args.profile
        )
        platform_running = True
        for name in selected:
            if name in WITHOUT_PLATFORM and platform_running:
                if "memory" in selected:
                    load("memory").after_load(ctx)
                # Batch jobs and cold start get the machine to themselves; the servers stay up.
                for running in reversed(list(stack.children)):
                    stack.stop_child(running)
                platform_running = False
                report.details["left_unsent_at_stop"] = quiesce(stack)
            run_one(ctx, name)
            dead = [d for d in stack.check_alive() if d not in report.details.get("crashed", [])]
            if dead:
                report.details.setdefault("crashed", []).extend(dead)
                print(f"[bench] process(es) exited by the end of {name}: {', '.join(dead)}; see {artifacts}")
        if platform_running and "memory" in selected:
            load("memory").after_load(ctx)
    finally:
        stack.down()
    report.details["wall_clock_s"] = round(time.monotonic() - clock, 1)
    print()
    render_table(report)
    path = report.write()
    print(f"[bench] results: {path} ({report.details['wall_clock_s']} s)")
    return 0


def quiesce(stack: BenchStack) -> dict[str, int]:
    """The stopped platform's unsent events are dropped (outbox rows marked sent, bench Redis db
    flushed), so the `make run` of the cold start does not begin by working off a backlog."""
    import asyncio

    import asyncpg

    from bench.stack import flush_redis

    async def mark_sent() -> dict[str, int]:
        conn = await asyncpg.connect(stack.dsn)
        try:
            out = {}
            for schema in ("kpi", "netsugen", "notifier"):
                status = await conn.execute(
                    f"UPDATE {schema}.outbox SET sent_at = now() WHERE sent_at IS NULL"
                )
                out[schema] = int(status.split()[-1])
            return out
        finally:
            await conn.close()

    left = asyncio.run(mark_sent())
    flush_redis(stack.redis_url)
    return left


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_one(ctx: BenchContext, name: str) -> None:
    module = load(name)
    title = getattr(module, "TITLE", name)
    missing = module.missing(ctx) if hasattr(module, "missing") else None
    if missing:
        print(f"[bench] {title}: not run — {missing}")
        ctx.report.skip(title, missing)
        return
    print(f"[bench] {title} …")
    began = time.monotonic()
    try:
        module.run(ctx)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        ctx.report.add(Row(title, "failed", None, ok=False, note=f"{type(exc).__name__}: {exc}"[:300]))
        ctx.report.details.setdefault("failures", {})[name] = traceback.format_exc()
    print(f"[bench] {title} done in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
