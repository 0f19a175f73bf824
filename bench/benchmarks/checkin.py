"""Front desk: check-in then check-out, distinct members, 16 connections (bench/lua/checkin_cycle.lua).

Set-up: 2,000 active drop-in members written with SQL (member numbers M000001 …), a staff token
(shared.auth.create_token), capacity 10,000 (``NETSUGEN_CAPACITY``, set when the stack starts) and
special hours 00:00–23:59 for today and tomorrow (JST) through the admin API, so the run is
"within opening hours" whatever the time of day. Each of 16 wrk threads owns one connection and
every 16th member: check in by member number, check out that visit, next member.

Baseline: bench/baselines/checkin.py — the same statements the service issues for both requests
(captured in every run with bench/sqlcapture.py and stored in the results), in bare asyncpg.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from bench.baselines.runner import BASELINE_URL, baseline_app
from bench.benchmarks.context import BenchContext
from bench.benchmarks.http import Measured, Scenario, measure_pair, throughput_rows
from bench.config import CONNECTIONS, TARGETS
from bench.data import create_members, make_tokens, write_lines
from bench.report import Row
from bench.sqlcapture import Call, Captured, capture
from shared.jst import jst_date, utcnow

TITLE = "check-in/out cycle"
SERVICE = "netsugen_booking"


def missing(ctx: BenchContext) -> str | None:
    if not ctx.stack.ready.get(SERVICE):
        return f"{SERVICE} is not running"
    paths = httpx.get(f"{ctx.stack.url(SERVICE)}/openapi.json", timeout=10).json().get("paths", {})
    if "/v1/visits" not in paths or "/v1/visits/{visit_id}/check-out" not in paths:
        return "POST /v1/visits or /v1/visits/{visit_id}/check-out not in netsugen_booking's API yet"
    return None


def tokens(ctx: BenchContext) -> dict[str, str]:
    if not ctx.tokens:
        ctx.tokens.update(asyncio.run(make_tokens(ctx.stack.database_url)))
    return ctx.tokens


def open_all_day(ctx: BenchContext) -> dict[str, Any]:
    """Special hours 00:00–23:59 today and tomorrow (JST), through the admin API."""
    today = jst_date(utcnow())
    body = {
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=1)).isoformat(),
        "opens_at": "00:00",
        "closes_at": "23:59",
        "reason_ja": "ベンチマーク",
        "reason_en": "benchmark",
    }
    r = httpx.post(
        f"{ctx.stack.url(SERVICE)}/v1/calendar/special-hours",
        json=body,
        headers={"Authorization": f"Bearer {tokens(ctx)['admin']}"},
        timeout=10,
    )
    if r.status_code not in (201, 409):
        raise RuntimeError(f"special hours: {r.status_code} {r.text[:300]}")
    return {"status": r.status_code, **body}


def capture_sql(ctx: BenchContext, member_numbers: list[str]) -> dict[str, Any]:
    """The statements of a check-in and its check-out, captured in-process on the bench database.

    Two cycles: the second shows the steady state (pooled connection: the pool's pre-ping included).
    """
    staff = {"Authorization": f"Bearer {tokens(ctx)['staff']}"}

    def check_out_path(done: list[Captured]) -> str:
        return f"/v1/visits/{json.loads(done[-1].response)['id']}/check-out"

    calls = []
    for number in member_numbers[:2]:
        calls += [
            Call("POST", "/v1/visits", {"member_number": number}, staff),
            Call("POST", check_out_path, None, staff),
        ]
    done = asyncio.run(
        capture(SERVICE, calls, database_url=ctx.stack.database_url, redis_url=ctx.stack.redis_url)
    )
    return {
        "check_in": done[2].summary(),
        "check_out": done[3].summary(),
        "first_check_in": done[0].summary(),
    }


async def close_open_visits(dsn: str) -> None:
    """A run stops mid-cycle: up to 16 visits stay open. Once the requests still in flight have
    finished (no busy connection of the service or the baseline), close them: the next run starts
    clean."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(300):
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name IN ('netsugen_booking', 'bench-baseline') AND state <> 'idle'"
            )
            if not busy:
                break
            await asyncio.sleep(0.1)
        await conn.execute(
            "UPDATE netsugen.visit SET check_out_at = greatest(check_in_at, now()) WHERE check_out_at IS NULL"
        )
    finally:
        await conn.close()


def run(ctx: BenchContext) -> None:
    open_hours = open_all_day(ctx)
    members = asyncio.run(create_members(ctx.stack.dsn, ctx.profile.members + 2))
    sql_members, members = [n for _, n in members[:2]], members[2:]
    members_file = write_lines(ctx.artifacts / "members.txt", [number for _, number in members])
    sql = capture_sql(ctx, sql_members)
    print(
        f"    check-in: {len(sql['check_in']['statements'])} statements, {sql['check_in']['round_trips']} round "
        f"trips; check-out: {len(sql['check_out']['statements'])}, {sql['check_out']['round_trips']}"
    )
    staff = tokens(ctx)["staff"]
    scenario = Scenario(
        "checkin_cycle",
        "checkin_cycle.lua",
        [staff, str(members_file), str(CONNECTIONS)],
        threads=CONNECTIONS,
        before=lambda: asyncio.run(close_open_visits(ctx.stack.dsn)),
    )
    with baseline_app(ctx.stack):
        measured: Measured = measure_pair(ctx, ctx.stack.url(SERVICE), BASELINE_URL, scenario, SERVICE)
    ctx.report.details["checkin"] = {
        **measured.as_dict(),
        "sql": sql,
        "special_hours": open_hours,
        "members": len(members),
    }
    ctx.report.add(
        *throughput_rows(
            TITLE,
            "cycles",
            measured,
            unit="/s",
            ratio_target=TARGETS["checkin_ratio"],
            p99_target_ms=TARGETS["checkin_p99_ms"],
        )
    )
    ctx.report.add(*sql_rows(sql))


def sql_rows(sql: dict[str, Any]) -> list[Row]:
    return [
        Row(
            TITLE,
            "SQL statements per check-in",
            len(sql["check_in"]["statements"]),
            note=f"{sql['check_in']['round_trips']} round trips with BEGIN/COMMIT/pre-ping (baseline 4 + 2)",
        ),
        Row(
            TITLE,
            "SQL statements per check-out",
            len(sql["check_out"]["statements"]),
            note=f"{sql['check_out']['round_trips']} round trips (baseline 3 + 2)",
        ),
    ]
