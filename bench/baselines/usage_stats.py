"""Baseline of ``GET /v1/usage-stats?month=YYYY-MM``: the service's own statements, in bare asyncpg.

The SQL is imported from ``services.netsugen_booking.usage_stats.service`` (named parameters turned
into asyncpg's ``$n``), so the baseline runs exactly the service's aggregates plus the two calendar
reads and the plan names, on one pooled connection, and serialises the raw rows with orjson. It
leaves out what the service adds: auth, parameter validation, the opening-hours rules, pydantic
models, labels, the response's shaping. The ratio shows the cost of those over the database work.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.netsugen_booking.usage_stats import service as usage
from shared.jst import JST, month_range

_NAME = re.compile(r"(?<![:\w]):(\w+)")
CLOSURES = (
    "SELECT start_date, end_date FROM netsugen.calendar_closure WHERE start_date <= $2 AND end_date >= $1"
)
SPECIAL = (
    "SELECT start_date, end_date, opens_at, closes_at FROM netsugen.calendar_special_hours "
    "WHERE start_date <= $2 AND end_date >= $1"
)
PLANS = "SELECT code, name_ja, name_en FROM netsugen.plan ORDER BY code"


def positional(sql: str) -> tuple[str, list[str]]:
    """``:name`` parameters → ``$1 …`` and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAME.sub(number, sql), names


STATEMENTS = {
    key: positional(getattr(usage, name))
    for key, name in (
        ("totals", "_VISIT_TOTALS_SQL"),
        ("by_month", "_VISITS_SQL"),
        ("by_plan", "_VISITS_BY_PLAN_SQL"),
        ("members", "_MEMBERS_AT_SQL"),
        ("joiners", "_JOINERS_SQL"),
        ("occupancy", "_OCCUPANCY_SQL"),
        ("rooms", "_ROOMS_SQL"),
        ("events", "_EVENTS_SQL"),
        ("consultations", "_CONSULTATIONS_SQL"),
        ("revenue", "_REVENUE_SQL"),
        ("documents", "_DOCUMENT_COUNT_SQL"),
    )
}


def _plain(value: Any) -> Any:
    return str(value) if not isinstance(value, (int, float, str, type(None))) else value


async def usage_stats(request: Request) -> Response:
    year, month = (int(x) for x in request.query_params["month"].split("-"))
    first, last = month_range(year, month)
    now = datetime.now(JST)
    params: dict[str, Any] = {
        "start": datetime(first.year, first.month, first.day, tzinfo=JST),
        "end": datetime(last.year, last.month, last.day, tzinfo=JST) + timedelta(days=1),
        "now": now,
        "days": [min(last, now.date())],
        "first": first,
        "last": last,
    }
    out: dict[str, Any] = {}
    async with request.app.state.pool.acquire() as conn:
        await conn.execute("SET jit = off")  # as the service does (SET LOCAL in its transaction)
        out["plans"] = [dict(r) for r in await conn.fetch(PLANS)]
        for key, (sql, names) in STATEMENTS.items():
            rows = await conn.fetch(sql, *(params[n] for n in names))
            out[key] = [{k: _plain(v) for k, v in r.items()} for r in rows]
        out["closures"] = [dict(r) for r in await conn.fetch(CLOSURES, first, last)]
        out["special"] = [
            {k: _plain(v) for k, v in r.items()} for r in await conn.fetch(SPECIAL, first, last)
        ]
    return Response(orjson.dumps(out, default=str), media_type="application/json")


ROUTES = [Route("/v1/usage-stats", usage_stats)]
