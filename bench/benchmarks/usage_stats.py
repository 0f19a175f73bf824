"""`GET /v1/usage-stats?month=<last full month>` with a staff token, 16 connections (bench/lua/get_auth.lua).

Data: ``profile.members`` drop-in members (2,000; a tenth in the quick profile, whose 4 s runs are
too short for 16 concurrent requests over 40,000 visits on a busy 2-core machine) with 20 visits
each on 20 distinct days of the last full month (30 min – 5 h, inside opening hours), written with
SQL and ANALYZEd, and a booking of meeting room A on each weekday of that month.

Baseline: bench/baselines/usage_stats.py runs the service's own statements (imported from
services.netsugen_booking.usage_stats.service) in bare asyncpg and serialises the rows with orjson:
the ratio is the cost of auth, validation, the calendar rules, pydantic and shaping over the SQL.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import asyncpg
import httpx

from bench.baselines.runner import BASELINE_URL, baseline_app
from bench.benchmarks.context import BenchContext
from bench.benchmarks.http import Scenario, measure_pair, throughput_rows
from bench.config import TARGETS
from bench.data import create_members, make_tokens
from bench.report import Row
from bench.sqlcapture import Call, capture
from shared.jst import JST, month_range, now_jst

TITLE = "GET /v1/usage-stats (month)"
SERVICE = "netsugen_booking"
VISITS_PER_MEMBER = 20

INSERT_VISITS = """
WITH m AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM netsugen.member WHERE id = ANY($1::uuid[]))
INSERT INTO netsugen.visit (id, member_id, check_in_at, check_out_at, source, plan_code, created_by)
SELECT gen_random_uuid(), m.id, s.at, s.at + make_interval(mins => (30 + (m.n * 13 + k * 29) % 270)::int),
       'manual', 'dropin', 'bench'
  FROM m, generate_series(0, $3 - 1) AS k,
       LATERAL (SELECT (($2::date + ((m.n + k) % $4)::int)::timestamp
                        + make_interval(hours => 10, mins => ((m.n * 7 + k * 11) % 180)::int))
                       AT TIME ZONE 'Asia/Tokyo' AS at) AS s
"""
INSERT_BOOKINGS = """
INSERT INTO netsugen.booking (id, resource_id, member_id, start_at, end_at, status, price_yen, created_by)
SELECT gen_random_uuid(), r.id, $1::uuid, (d + time '13:00') AT TIME ZONE 'Asia/Tokyo',
       (d + time '15:00') AT TIME ZONE 'Asia/Tokyo', 'confirmed', 2000, 'bench'
  FROM netsugen.resource r, generate_series($2::date, $3::date, interval '1 day') AS d
 WHERE r.slug = 'meeting-room-a' AND extract(isodow FROM d) < 6
"""


def last_full_month(today: date) -> str:
    previous = today.replace(day=1) - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def missing(ctx: BenchContext) -> str | None:
    if not ctx.stack.ready.get(SERVICE):
        return f"{SERVICE} is not running"
    known = httpx.get(f"{ctx.stack.url(SERVICE)}/openapi.json", timeout=10).json().get("paths", {})
    return None if "/v1/usage-stats" in known else "/v1/usage-stats not in netsugen_booking's API yet"


async def _write_data(dsn: str, members: int, month: str) -> int:
    year, number = (int(x) for x in month.split("-"))
    first, last = month_range(year, number)
    rows = await create_members(dsn, members, since=first - timedelta(days=365), label="統計ベンチ")
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(INSERT_VISITS, [r[0] for r in rows], first, VISITS_PER_MEMBER, last.day)
            await conn.execute(INSERT_BOOKINGS, rows[0][0], first, last)
        await conn.execute("ANALYZE netsugen.visit; ANALYZE netsugen.booking; ANALYZE netsugen.member")
        start = datetime(first.year, first.month, first.day, tzinfo=JST)
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM netsugen.visit WHERE check_in_at >= $1 AND check_in_at < $2",
                start,
                start + timedelta(days=last.day),
            )
        )
    finally:
        await conn.close()


def run(ctx: BenchContext) -> None:
    if "staff" not in ctx.tokens:
        ctx.tokens.update(asyncio.run(make_tokens(ctx.stack.database_url)))
    month = last_full_month(now_jst().date())
    members = ctx.profile.members // 10 if ctx.profile.name == "quick" else ctx.profile.members
    visits = asyncio.run(_write_data(ctx.stack.dsn, members, month))
    print(f"    {members} members, {visits} visits in {month}")
    path = f"/v1/usage-stats?month={month}"
    headers = {"Authorization": f"Bearer {ctx.tokens['staff']}"}
    captured = asyncio.run(
        capture(
            SERVICE,
            [Call("GET", path, headers=headers), Call("GET", path, headers=headers)],
            database_url=ctx.stack.database_url,
            redis_url=ctx.stack.redis_url,
        )
    )
    body = httpx.get(f"{ctx.stack.url(SERVICE)}{path}", headers=headers, timeout=60)
    assert body.status_code == 200, body.text[:300]
    assert body.json()["visits"]["visits"] == visits, "the statistics must count every visit written"
    scenario = Scenario("usage_stats", "get_auth.lua", [path, "200", ctx.tokens["staff"]])
    with baseline_app(ctx.stack):
        measured = measure_pair(ctx, ctx.stack.url(SERVICE), BASELINE_URL, scenario, SERVICE)
    warm = captured[1].summary()
    ctx.report.details["usage_stats"] = {
        **measured.as_dict(),
        "sql": warm,
        "visits": visits,
        "month": month,
        "bytes": len(body.content),
    }
    ctx.report.add(
        *throughput_rows(
            TITLE,
            "month",
            measured,
            unit="req/s",
            ratio_target=TARGETS["usage_stats_ratio"],
            p99_target_ms=None,
        )
    )
    ctx.report.add(
        Row(
            TITLE,
            "SQL statements",
            len(warm["statements"]),
            note=f"{warm['round_trips']} round trips; {visits:,} visits; {len(body.content):,} bytes",
        )
    )
