"""``Idempotency-Key``: a repeated key returns the first answer; the same key with another body is 422.

How it works (all in the request's own transaction, so nothing is remembered for a request that
failed and rolled back; a retry then simply runs again):

1. ``INSERT … ON CONFLICT (scope, key) DO NOTHING``. A concurrent request with the same key blocks
   on the unique index until the first one commits or rolls back.
2. When the row already exists: another request hash → 422 ``idempotency-key-reuse``; otherwise the
   stored status and body are returned with the header ``Idempotent-Replayed: true``.
3. The operation runs and :meth:`IdempotentRequest.save` stores the answer before commit.

``scope`` is the caller's token and the operation, so keys of different callers never collide.
Keys are kept ``netsugen_idempotency_ttl_hours`` hours (a cron job deletes older ones).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.frontdesk_common.models import IdempotencyKey
from shared.auth import Principal
from shared.errors import Conflict, Unprocessable

_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description=(
            "Optional. A unique string (for example a UUID) chosen by the client. Repeating a request "
            "with the same key returns the first answer instead of doing the work twice; the same key "
            "with a different body is refused with 422."
        ),
        examples=["3f0e8a52-1d2b-4c1e-9a55-0c7c1b3e2f10"],
    ),
]


class IdempotencyKeyInvalid(Unprocessable):
    slug, title = "idempotency-key-invalid", "Invalid Idempotency-Key"


class IdempotencyKeyReuse(Unprocessable):
    slug, title = "idempotency-key-reuse", "Idempotency-Key reused with a different request"


class IdempotencyInProgress(Conflict):
    slug, title = "idempotency-in-progress", "A request with this Idempotency-Key is in progress"


@dataclass
class IdempotentRequest:
    """A fresh key: run the operation, then :meth:`save` its answer."""

    row_id: uuid.UUID

    async def save(self, session: AsyncSession, status: int, body: BaseModel | dict[str, Any]) -> None:
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        row = await session.get(IdempotencyKey, self.row_id)
        assert row is not None
        row.response_status = status
        row.response_body = payload
        await session.flush()


def request_hash(body: BaseModel | dict[str, Any] | None) -> str:
    payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else (body or {})
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def principal_scope(principal: Principal, operation: str) -> str:
    who = principal.token_id or f"{principal.role}:{principal.name}"
    return f"{who}|{operation}"[:300]


async def begin(
    session: AsyncSession,
    *,
    key: str | None,
    principal: Principal,
    operation: str,
    body: BaseModel | dict[str, Any] | None,
) -> IdempotentRequest | JSONResponse | None:
    """``None`` without a key; a replayed ``JSONResponse`` for a repeat; else an :class:`IdempotentRequest`."""
    if key is None:
        return None
    if not _KEY_RE.match(key):
        raise IdempotencyKeyInvalid(
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            detail_ja="Idempotency-Key は1〜255文字の表示可能なASCII文字で指定してください。",
        )
    scope = principal_scope(principal, operation)
    digest = request_hash(body)
    row_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(IdempotencyKey)
        .values(id=row_id, scope=scope, key=key, request_hash=digest)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKey.id)
    )
    if inserted is not None:
        return IdempotentRequest(row_id=inserted)
    existing = (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
    ).scalar_one()
    if existing.request_hash != digest:
        raise IdempotencyKeyReuse(
            "This Idempotency-Key was already used with a different request body.",
            detail_ja="この Idempotency-Key は別の内容のリクエストで使用済みです。",
        )
    if existing.response_status is None or existing.response_body is None:
        raise IdempotencyInProgress(
            "A request with this Idempotency-Key is still in progress. Retry shortly.",
            detail_ja="同じ Idempotency-Key のリクエストを処理中です。少し待ってから再試行してください。",
            headers={"Retry-After": "1"},
        )
    return JSONResponse(
        existing.response_body,
        status_code=existing.response_status,
        headers={"Idempotent-Replayed": "true"},
    )


async def purge_expired(session: AsyncSession, *, now: datetime, ttl_hours: int) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - timedelta(hours=ttl_hours))
    )
    return int(getattr(result, "rowcount", 0) or 0)
