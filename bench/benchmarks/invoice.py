"""Invoice run (billing): time and peak memory at 10,000 and 40,000 members, 20 visits each.

For each size the netsugen member tables are emptied, N members are written with SQL (85 % drop-in,
15 % individual monthly, all since 2020-04), each with 20 visits on 20 distinct days of the last
full month (JST), starting 10:00–15:00 and lasting 10–180 minutes (inside every day's hours),
then ANALYZEd. The run is the service's own ``run_invoices`` in a fresh process
(``bench/invoice_job.py``), as the CLI calls it. Target: time(40k) / time(10k) ≤ 4.4 (linear).
The platform's processes are stopped first: the run's `invoice.issued` events stay in the outbox
and are marked sent afterwards, so they never reach the notifier.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench import profiling
from bench.benchmarks.context import BenchContext
from bench.config import ROOT, TARGETS
from bench.report import Row
from shared.jst import JST

TITLE = "invoice run"
VISITS_PER_MEMBER = 20
MONTHLY_SHARE = 0.15


def missing(ctx: BenchContext) -> str | None:
    try:
        from services.netsugen_booking.billing import invoice_run  # noqa: F401
    except Exception as exc:
        return f"billing invoice run not importable ({type(exc).__name__}: {exc})"[:200]
    return None


def last_full_month(today: date) -> tuple[date, int]:
    first_this = today.replace(day=1)
    last_prev = first_this - timedelta(days=1)
    start = last_prev.replace(day=1)
    return start, calendar.monthrange(start.year, start.month)[1]


RESET_SQL = "TRUNCATE netsugen.member CASCADE"

VISITS_SQL = """
INSERT INTO netsugen.visit (id, member_id, check_in_at, check_out_at, source, plan_code, created_by)
SELECT gen_random_uuid(), m.id, t.cin, t.cin + make_interval(mins => 10 + floor(random() * 170)::int),
       'desk', pa.plan_code, 'bench'
FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM netsugen.member) AS m
JOIN netsugen.plan_assignment AS pa ON pa.member_id = m.id
CROSS JOIN LATERAL (
    SELECT (($1::date + ((m.rn + k) % $2)::int)::timestamp + interval '10 hours'
            + make_interval(mins => floor(random() * 300)::int)) AT TIME ZONE 'Asia/Tokyo' AS cin
    FROM generate_series(0, $3 - 1) AS k
) AS t
"""


async def load_data(dsn: str, members: int, month_start: date, days: int) -> dict[str, Any]:
    from bench.data import create_members

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(RESET_SQL)
    finally:
        await conn.close()
    monthly = int(members * MONTHLY_SHARE)
    began = time.monotonic()
    await create_members(dsn, members - monthly, plan="dropin", label="ベンチ会員")
    if monthly:
        await create_members(dsn, monthly, plan="individual_monthly", label="ベンチ月額会員")
    conn = await asyncpg.connect(dsn)
    try:
        status = await conn.execute(VISITS_SQL, month_start, days, VISITS_PER_MEMBER)
        await conn.execute("ANALYZE netsugen.member, netsugen.plan_assignment, netsugen.visit")
    finally:
        await conn.close()
    return {
        "members": members,
        "visits": int(status.split()[-1]),
        "load_s": round(time.monotonic() - began, 1),
    }


async def quiesce_outbox(dsn: str) -> int:
    """Mark the run's events sent: they must not reach a notifier started later (cold start)."""
    conn = await asyncpg.connect(dsn)
    try:
        status = await conn.execute("UPDATE netsugen.outbox SET sent_at = now() WHERE sent_at IS NULL")
        return int(status.split()[-1])
    finally:
        await conn.close()


def run_job(ctx: BenchContext, period: str, profile_to: Path | None = None) -> dict[str, Any]:
    env = dict(ctx.stack.env)
    env["DATABASE_URL"] = ctx.stack.database_url
    argv = [sys.executable, "-m", "bench.invoice_job", period]
    spy = profiling.py_spy_path()
    if profile_to is not None and spy is not None:
        profile_to.parent.mkdir(parents=True, exist_ok=True)
        argv = [spy, "record", "--rate", "200", "--format", "raw", "-o", str(profile_to), "--", *argv]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            return result
    raise RuntimeError(f"invoice job failed ({proc.returncode}): {proc.stderr[-1500:]}")


def run(ctx: BenchContext) -> None:
    month_start, days = last_full_month(datetime.now(JST).date())
    period = f"{month_start:%Y-%m}"
    results: dict[int, dict[str, Any]] = {}
    # Each size `invoice_repeats` times, the sizes alternating (10k, 40k, 10k, 40k …); the fastest
    # run of each size counts: a batch job's time only grows with the machine's other load.
    repeats = max(1, ctx.profile.invoice_repeats)
    for attempt in range(repeats):
        for n, size in enumerate(ctx.profile.invoice_sizes):
            data = asyncio.run(load_data(ctx.stack.dsn, size, month_start, days))
            print(
                f"    {size:,} members, {data['visits']:,} visits loaded in {data['load_s']} s; running {period} …"
            )
            # --profile: py-spy samples the smallest run (from outside; a few % slower).
            profiled = ctx.profile_services and n == 0 and attempt == 0
            raw = ctx.artifacts / "profiles" / f"invoice_run.{size}.txt" if profiled else None
            job = run_job(ctx, period, raw)
            if raw is not None:
                job["profile"] = profiling.summarise(raw, within="run_invoices")
                profiling.print_summary(f"invoice run {size:,} members", job["profile"])
            job["events_quiesced"] = asyncio.run(quiesce_outbox(ctx.stack.dsn))
            print(
                f"    {size:,} members: {job['seconds']:.2f} s, {job['invoices_created']:,} invoices, "
                f"{job['lines_created']:,} lines, peak RSS {job['peak_rss_mb']} MB"
            )
            previous = results.get(size)
            times = [*(previous["all_seconds"] if previous else []), job["seconds"]]
            if previous is None or job["seconds"] < previous["seconds"]:
                results[size] = {**data, **job}
            results[size]["all_seconds"] = times
    ctx.report.details["invoice"] = {"period": period, "runs": results}
    small, large = sorted(results)[0], sorted(results)[-1]
    for size in sorted(results):
        r = results[size]
        runs = ", ".join(f"{t:.1f}" for t in r["all_seconds"])
        ctx.report.add(
            Row(
                TITLE,
                f"{size:,} members, {r['visits']:,} visits",
                r["seconds"],
                "s",
                note=f"fastest of {len(r['all_seconds'])} ({runs} s); peak RSS {r['peak_rss_mb']} MB "
                f"(start {r['rss_before_mb']} MB); {r['invoices_created']:,} invoices",
            )
        )
    if small != large:
        scaling = results[large]["seconds"] / results[small]["seconds"]
        limit = TARGETS["invoice_scaling"] * (large / small) / 4
        ctx.report.add(
            Row(
                TITLE,
                f"time({large:,}) / time({small:,})",
                round(scaling, 2),
                "",
                target=f"≤ {limit:.1f}",
                ok=scaling <= limit,
                note=f"linear = {large / small:.1f}",
            )
        )
