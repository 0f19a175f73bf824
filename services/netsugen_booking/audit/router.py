"""The audit trail, read-only: ``GET /v1/audit`` and ``GET /v1/audit/export.csv`` (admin, auditor).

Served here only: every service writes its entries into the one shared table ``auth.audit_entry``
(the same database), so one reader sees the whole platform's trail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.audit.schemas import AuditEntryOut, AuditList
from shared.audit import AuditEntry
from shared.auth import Principal
from shared.csvsafe import CsvWriter
from shared.db import DbSession
from shared.errors import Unprocessable, problem_responses
from shared.jst import to_jst
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit, paginate
from shared.permissions import P, require

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class InvalidRange(Unprocessable):
    slug, title = "invalid-range", "Invalid range"


Who = Annotated[
    str | None,
    Query(max_length=200, description="The actor: a token or account id, or its name (exact)."),
]
Object = Annotated[
    str | None,
    Query(
        max_length=300,
        description="The object: its type (`netsugen.member`), its id, or `type:id`.",
        examples=["netsugen.member"],
    ),
]
From = Annotated[datetime | None, Query(alias="from", description="From this time (inclusive, ISO-8601).")]
To = Annotated[datetime | None, Query(description="Before this time (exclusive, ISO-8601).")]


def _filtered(
    query: Select[Any], who: str | None, obj: str | None, start: datetime | None, end: datetime | None
) -> Select[Any]:
    for value in (start, end):
        if value is not None and value.tzinfo is None:
            raise InvalidRange(
                "`from` and `to` need a UTC offset (e.g. +09:00).",
                detail_ja="`from`・`to` にはタイムゾーン(例: +09:00)が必要です。",
            )
    if start is not None and end is not None and end <= start:
        raise InvalidRange("`to` must be after `from`.", detail_ja="`to` は `from` より後にしてください。")
    if who:
        query = query.where(or_(AuditEntry.actor_id == who, AuditEntry.actor_name == who))
    if obj:
        kind, sep, ident = obj.partition(":")
        if sep and ident:
            query = query.where(AuditEntry.object_type == kind, AuditEntry.object_id == ident)
        else:
            query = query.where(or_(AuditEntry.object_type == obj, AuditEntry.object_id == obj))
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    if end is not None:
        query = query.where(AuditEntry.at < end)
    return query


@router.get(
    "",
    summary="List audit entries / 監査ログの一覧",
    description=(
        "Admin and auditor. Newest first. Filters: `who` (token/account id or name), `object` (type, id or "
        "`type:id`), `from`/`to` (time range). Personal data in `before`/`after` is masked."
    ),
    response_model=AuditList,
    responses=problem_responses(401, 403, 422),
)
async def list_audit(
    session: DbSession,
    _: Annotated[Principal, require(P.AUDIT_READ)],
    who: Who = None,
    object: Object = None,
    from_: From = None,
    to: To = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AuditList:
    query = _filtered(select(AuditEntry), who, object, from_, to)
    rows, next_cursor = await paginate(
        session, query, (AuditEntry.id,), limit=limit, cursor=cursor, descending=True, scalars=True
    )
    return AuditList(items=[AuditEntryOut.of(r) for r in rows], next_cursor=next_cursor)


COLUMNS = [
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "role",
    "operation",
    "object_type",
    "object_id",
    "before",
    "after",
    "service",
    "request_id",
    "client_address",
]


async def _csv(
    maker: async_sessionmaker[AsyncSession], query: Select[Any], batch: int = 1000
) -> AsyncIterator[bytes]:
    writer = CsvWriter()
    yield "\ufeff".encode()  # BOM: spreadsheet programs read the file as UTF-8
    writer.row(COLUMNS)
    last: int | None = None
    async with maker() as session:
        while True:
            page = query if last is None else query.where(AuditEntry.id > last)
            rows = list((await session.scalars(page.order_by(AuditEntry.id).limit(batch))).all())
            for r in rows:
                writer.row(
                    [
                        r.id,
                        to_jst(r.at),
                        r.actor_kind,
                        r.actor_id,
                        r.actor_name,
                        r.role,
                        r.operation,
                        r.object_type,
                        r.object_id,
                        _json(r.before),
                        _json(r.after),
                        r.service,
                        r.request_id,
                        r.client_address,
                    ]
                )
            yield writer.take().encode()
            if len(rows) < batch:
                return
            last = rows[-1].id


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@router.get(
    "/export.csv",
    summary="Export audit entries as CSV / 監査ログの CSV 出力",
    description=(
        "Admin and auditor. The same filters as the list; oldest first; UTF-8 with BOM; every cell through the "
        "platform's CSV writer (formula-like text neutralised). Personal data stays masked."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV"}, **problem_responses(401, 403, 422)},
)
async def export_audit_csv(
    request: Request,
    _: Annotated[Principal, require(P.AUDIT_EXPORT)],
    who: Who = None,
    object: Object = None,
    from_: From = None,
    to: To = None,
) -> StreamingResponse:
    query = _filtered(select(AuditEntry), who, object, from_, to)
    return StreamingResponse(
        _csv(request.app.state.sessionmaker, query),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
