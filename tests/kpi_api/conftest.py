"""Fixtures and helpers of the KPI registry tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import session_scope


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"urn:gunma-sdgs:problem:{slug}", body
    return body


async def post_observation(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    indicator_id: str,
    fiscal_year: int,
    value: Any,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/kpis/{indicator_id}/observations",
        json={"fiscal_year": fiscal_year, "value": value, **extra},
        headers=headers,
    )


async def outbox_events(engine: AsyncEngine) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT event_type, payload FROM kpi.outbox ORDER BY created_at, event_type")
            )
        ).all()
    return [(row.event_type, row.payload) for row in rows]


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


@pytest.fixture
async def restore_registry(
    clean_db: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """For tests that change seeded reference data (indicators, targets, initiatives): afterwards the
    registry is emptied and seeded again from the YAML, before the usual truncation."""
    yield
    from services.kpi_api.seeder import run_seed

    async with session_scope(sessionmaker) as session:
        await session.execute(text("TRUNCATE kpi.indicator, kpi.initiative CASCADE"))
        await session.execute(text("DELETE FROM kpi.seed_record WHERE kind IN ('indicator', 'initiative')"))
        await run_seed(session, lambda *_: None)


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(kpi_app: FastAPI) -> Any:
    """``with count_queries() as counter: ...``: SQL statements the KPI app ran meanwhile."""
    engine: AsyncEngine = kpi_app.state.engine

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counter.statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        try:
            yield counter
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", on_execute)

    return counting
