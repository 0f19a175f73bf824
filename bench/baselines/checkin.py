"""Baseline of the front desk's check-in and check-out: the service's statements in bare asyncpg.

The statements are those netsugen_booking issues (captured with bench/sqlcapture.py; every bench
run stores the service's current list in the results JSON under ``details.checkin.sql``), in the
same order, in one transaction per request, with the same columns:

check-in (service: 13 statements)          baseline
  auth.api_token lookup                     — (no auth)
  member by member_number                   ✓
  calendar_closure for today                ✓
  calendar_special_hours for today          ✓
  pg_advisory_xact_lock (capacity)          ✓
  open visit of the person FOR UPDATE       ✓
  count(*) of open visits today             ✓
  plan_assignment on today                  ✓
  SAVEPOINT / RELEASE                       — (no error handling)
  INSERT visit RETURNING                    ✓
  INSERT outbox                             — (no outbox)
  INSERT visit_audit                        ✓ (the audit log is the domain's record, kept)

check-out (service: 7): visit FOR UPDATE, closure, special hours, UPDATE visit, audit ✓;
auth and outbox —. No validation: the baseline neither refuses a closed day nor clips to closing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.jst import JST

CHECK_IN_LOCK = 0x4E534349

MEMBER = (
    "SELECT id, member_number, kind, name, email, language, status, card_token_hash, status_reason, left_at, "
    "created_at, updated_at FROM netsugen.member WHERE member_number = $1"
)
CLOSURES = (
    "SELECT id, start_date, end_date, reason_ja, reason_en, created_by, created_at FROM netsugen.calendar_closure "
    "WHERE start_date <= $1 AND end_date >= $2 ORDER BY start_date, created_at"
)
SPECIAL = (
    "SELECT id, start_date, end_date, opens_at, closes_at, reason_ja, reason_en, created_by, created_at "
    "FROM netsugen.calendar_special_hours WHERE start_date <= $1 AND end_date >= $2 ORDER BY start_date"
)
LOCK = "SELECT pg_advisory_xact_lock($1)"
VISIT_COLUMNS = (
    "id, member_id, member_user_id, check_in_at, check_out_at, source, auto_checked_out, plan_code, created_by, "
    "created_at, updated_at"
)
OPEN_VISIT = (
    f"SELECT {VISIT_COLUMNS} FROM netsugen.visit WHERE member_id = $1 AND member_user_id IS NULL "
    "AND check_out_at IS NULL FOR UPDATE"
)
COUNT_IN = "SELECT count(*) AS count_1 FROM netsugen.visit WHERE check_out_at IS NULL AND check_in_at >= $1"
PLAN_ON = (
    "SELECT member_id, plan_code FROM netsugen.plan_assignment WHERE member_id IN ($3) AND start_date <= $1 "
    "AND (end_date IS NULL OR end_date >= $2)"
)
INSERT_VISIT = (
    "INSERT INTO netsugen.visit (id, member_id, member_user_id, check_in_at, check_out_at, source, "
    "auto_checked_out, plan_code, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "RETURNING created_at, updated_at"
)
INSERT_AUDIT = (
    "INSERT INTO netsugen.visit_audit (id, visit_id, action, actor, actor_role, reason, before, after, at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)
VISIT_FOR_UPDATE = f"SELECT {VISIT_COLUMNS} FROM netsugen.visit WHERE id = $1 FOR UPDATE"
UPDATE_VISIT = "UPDATE netsugen.visit SET check_out_at = $1, updated_at = now() WHERE id = $2 RETURNING updated_at"


async def startup(app: Starlette) -> None:
    return None


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(JST).isoformat() if dt is not None else None


def _visit_json(v: dict[str, Any]) -> bytes:
    check_in, check_out = v["check_in_at"], v["check_out_at"]
    return orjson.dumps({
        "id": str(v["id"]), "member_id": str(v["member_id"]), "member_user_id": None,
        "check_in_at": _iso(check_in), "check_out_at": _iso(check_out), "open": check_out is None,
        "minutes": int((check_out - check_in).total_seconds() // 60) if check_out else None,
        "source": v["source"], "auto_checked_out": v["auto_checked_out"], "plan_code": v["plan_code"],
        "created_by": v["created_by"], "created_at": _iso(v["created_at"]), "updated_at": _iso(v["updated_at"]),
    })


def _snapshot(v: dict[str, Any]) -> str:
    return orjson.dumps({
        "member_id": str(v["member_id"]), "member_user_id": None, "check_in_at": _iso(v["check_in_at"]),
        "check_out_at": _iso(v["check_out_at"]), "source": v["source"],
        "auto_checked_out": v["auto_checked_out"], "plan_code": v["plan_code"],
    }).decode()


async def check_in(request: Request) -> Response:
    body = orjson.loads(await request.body())
    now = datetime.now(UTC)
    today = now.astimezone(JST).date()
    day_start = datetime(today.year, today.month, today.day, tzinfo=JST)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        member = await conn.fetchrow(MEMBER, body["member_number"])
        await conn.fetch(CLOSURES, today, today)
        await conn.fetch(SPECIAL, today, today)
        await conn.execute(LOCK, CHECK_IN_LOCK)
        await conn.fetch(OPEN_VISIT, member["id"])
        await conn.fetchval(COUNT_IN, day_start)
        plan = await conn.fetchrow(PLAN_ON, today, today, member["id"])
        visit: dict[str, Any] = {
            "id": uuid.uuid4(), "member_id": member["id"], "member_user_id": None, "check_in_at": now,
            "check_out_at": None, "source": "desk", "auto_checked_out": False,
            "plan_code": plan["plan_code"] if plan else "dropin", "created_by": "bench staff",
        }
        stamps = await conn.fetchrow(
            INSERT_VISIT, visit["id"], visit["member_id"], None, now, None, "desk", False, visit["plan_code"],
            visit["created_by"],
        )
        visit.update(created_at=stamps["created_at"], updated_at=stamps["updated_at"])
        await conn.execute(INSERT_AUDIT, uuid.uuid4(), visit["id"], "check_in", "bench staff", "staff", None, None,
                           _snapshot(visit), now)
    return Response(_visit_json(visit), status_code=201, media_type="application/json")


async def check_out(request: Request) -> Response:
    visit_id = uuid.UUID(request.path_params["visit_id"])
    now = datetime.now(UTC)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(VISIT_FOR_UPDATE, visit_id)
        visit = dict(row)
        day = visit["check_in_at"].astimezone(JST).date()
        await conn.fetch(CLOSURES, day, day)
        await conn.fetch(SPECIAL, day, day)
        before = _snapshot(visit)
        visit["check_out_at"] = max(visit["check_in_at"], now)
        visit["updated_at"] = await conn.fetchval(UPDATE_VISIT, visit["check_out_at"], visit_id)
        await conn.execute(INSERT_AUDIT, uuid.uuid4(), visit_id, "check_out", "bench staff", "staff", None, before,
                           _snapshot(visit), now)
    return Response(_visit_json(visit), media_type="application/json")


ROUTES = [
    Route("/v1/visits", check_in, methods=["POST"]),
    Route("/v1/visits/{visit_id}/check-out", check_out, methods=["POST"]),
]
