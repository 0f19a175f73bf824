"""Baseline of the front desk's check-in and check-out: the service's statements in bare asyncpg.

The statements are those netsugen_booking issues (captured with bench/sqlcapture.py; every bench
run stores the service's current list in the results JSON under ``details.checkin.sql``), in the
same order, in one transaction per request, with the same columns:

check-in (service: 4 statements)                        baseline
  auth.api_token lookup (cached by the service)          — (no auth)
  member by member_number                                ✓
  calendar (cached by the service: no statement)         —
  person lock + plan today + open-visit count            ✓ (the service's own statement)
  pg_advisory_xact_lock (capacity)                       ✓
  count + INSERT visit + INSERT visit_audit + outbox     ✓ without the outbox part (no outbox)

check-out (service: 4): visit FOR UPDATE; UPDATE visit + audit (+ outbox in the service); the
daily-cap inputs (assignments and the day's visits, the service's own statement). No validation:
the baseline neither refuses a closed day nor clips to closing, nor computes the daily cap.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.netsugen_booking.billing.service import _CAP_INPUTS_SQL as CAP_INPUTS
from services.netsugen_booking.visits.service import _PERSON_SQL as PERSON
from services.netsugen_booking.visits.service import check_in_sql, check_out_sql
from shared.jst import JST

CHECK_IN_LOCK = 0x4E534349

MEMBER = (
    "SELECT id, member_number, kind, name, email, language, status, card_token_hash, status_reason, left_at, "
    "created_at, updated_at FROM netsugen.member WHERE member_number = $1"
)
LOCK = "SELECT pg_advisory_xact_lock($1)"
VISIT_COLUMNS = (
    "id, member_id, member_user_id, check_in_at, check_out_at, source, auto_checked_out, plan_code, created_by, "
    "created_at, updated_at"
)
# The service's statements, minus their outbox part (built by the service's own functions).
CHECK_IN = check_in_sql(outbox=False)
VISIT_FOR_UPDATE = f"SELECT {VISIT_COLUMNS} FROM netsugen.visit WHERE id = $1 FOR UPDATE"
CHECK_OUT = check_out_sql(outbox=False)


async def startup(app: Starlette) -> None:
    return None


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(JST).isoformat() if dt is not None else None


def _visit_json(v: dict[str, Any]) -> bytes:
    check_in, check_out = v["check_in_at"], v["check_out_at"]
    return orjson.dumps(
        {
            "id": str(v["id"]),
            "member_id": str(v["member_id"]),
            "member_user_id": None,
            "check_in_at": _iso(check_in),
            "check_out_at": _iso(check_out),
            "open": check_out is None,
            "minutes": int((check_out - check_in).total_seconds() // 60) if check_out else None,
            "source": v["source"],
            "auto_checked_out": v["auto_checked_out"],
            "plan_code": v["plan_code"],
            "created_by": v["created_by"],
            "created_at": _iso(v["created_at"]),
            "updated_at": _iso(v["updated_at"]),
        }
    )


def _snapshot(v: dict[str, Any]) -> str:
    return orjson.dumps(
        {
            "member_id": str(v["member_id"]),
            "member_user_id": None,
            "check_in_at": _iso(v["check_in_at"]),
            "check_out_at": _iso(v["check_out_at"]),
            "source": v["source"],
            "auto_checked_out": v["auto_checked_out"],
            "plan_code": v["plan_code"],
        }
    ).decode()


async def check_in(request: Request) -> Response:
    body = orjson.loads(await request.body())
    now = datetime.now(UTC)
    today = now.astimezone(JST).date()
    day_start = datetime(today.year, today.month, today.day, tzinfo=JST)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        member = await conn.fetchrow(MEMBER, body["member_number"])
        person = await conn.fetchrow(PERSON, f"netsugen.visit:{member['id']}", member["id"], today, None)
        visit: dict[str, Any] = {
            "id": uuid.uuid4(),
            "member_id": member["id"],
            "member_user_id": None,
            "check_in_at": now,
            "check_out_at": None,
            "source": "desk",
            "auto_checked_out": False,
            "plan_code": person["plan_code"] or "dropin",
            "created_by": "bench staff",
        }
        await conn.execute(LOCK, CHECK_IN_LOCK)
        stamps = await conn.fetchrow(
            CHECK_IN,
            day_start,
            visit["id"],
            visit["member_id"],
            None,
            now,
            "desk",
            visit["plan_code"],
            "staff",
            visit["created_by"],
            10_000,
            uuid.uuid4(),
            _snapshot(visit),
        )
        visit.update(created_at=stamps["created_at"], updated_at=stamps["updated_at"])
    return Response(_visit_json(visit), status_code=201, media_type="application/json")


async def check_out(request: Request) -> Response:
    visit_id = uuid.UUID(request.path_params["visit_id"])
    now = datetime.now(UTC)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(VISIT_FOR_UPDATE, visit_id)
        visit = dict(row)
        day = visit["check_in_at"].astimezone(JST).date()
        before = _snapshot(visit)
        visit["check_out_at"] = max(visit["check_in_at"], now)
        visit["updated_at"] = await conn.fetchval(
            CHECK_OUT,
            visit["check_out_at"],
            visit_id,
            uuid.uuid4(),
            "staff",
            "bench staff",
            before,
            _snapshot(visit),
            now,
        )
        start = datetime(day.year, day.month, day.day, tzinfo=JST)
        await conn.fetch(CAP_INPUTS, visit["member_id"], day, start, start + timedelta(days=1))
    return Response(_visit_json(visit), media_type="application/json")


ROUTES = [
    Route("/v1/visits", check_in, methods=["POST"]),
    Route("/v1/visits/{visit_id}/check-out", check_out, methods=["POST"]),
]
