"""Plain async factories for NETSUGEN tests (keyword-only arguments)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

_seq = itertools.count(1)


async def create_member(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    kind: str = "individual",
    plan: str = "dropin",
    plan_start: str = "2026-01-01",
    name: str | None = None,
    email: str | None = None,
    language: str = "ja",
) -> dict[str, Any]:
    n = next(_seq)
    body = {
        "kind": kind,
        "name": name or f"テスト会員{n}",
        "email": email or f"member{n}@example.jp",
        "language": language,
        "plan": plan,
        "plan_start": plan_start,
    }
    r = await client.post("/v1/members", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def add_user(
    client: httpx.AsyncClient, headers: dict[str, str], member_id: str, *, name: str | None = None
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/members/{member_id}/users", json={"name": name or f"利用者{next(_seq)}"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def check_in(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/v1/visits", json=body, headers=headers)


async def outbox_events(session: AsyncSession, event_type: str | None = None) -> list[dict[str, Any]]:
    """Payloads of the netsugen outbox, oldest first."""
    from services.netsugen_booking.db import outbox

    stmt = select(outbox.c.payload).order_by(outbox.c.created_at)
    if event_type is not None:
        stmt = stmt.where(outbox.c.event_type == event_type)
    await session.commit()  # a fresh snapshot
    return [dict(p) for p in (await session.scalars(stmt)).all()]


async def count_rows(session: AsyncSession, sql: str, **params: Any) -> int:
    await session.commit()
    return int((await session.execute(text(sql), params)).scalar_one())


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = dict(response.json())
    assert body["type"] == f"urn:gunma-sdgs:problem:{slug}", body
    return body
