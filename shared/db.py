"""Database plumbing shared by every service.

- One Postgres schema per service (`kpi`, `netsugen`, `notifier`; `auth` for API tokens).
- Engines and sessionmakers are built in the app's lifespan (or a worker's ``on_startup``).
- The request-scoped session dependency is the only place that commits: services ``flush()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SCHEMAS = ("auth", "kpi", "netsugen", "notifier")


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def create_engine(
    database_url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    statement_timeout_ms: int = 15000,
    application_name: str = "gunma",
    pre_ping: bool = False,
) -> AsyncEngine:
    """The async engine. ``pre_ping`` is off by default: it costs three round trips on every
    checkout (measured in bench/). A connection that died with its server fails one request with a
    503 problem (``is_database_unavailable``), is invalidated, and the next checkout reconnects.

    ``hide_parameters``: a statement's bound values (member names, email addresses, card-token
    hashes) never appear in an exception's text, so an unexpected database error logged with its
    traceback carries the SQL but no personal data (docs/security.md, finding 4)."""
    connect_args: dict[str, Any] = {
        "server_settings": {
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
            "timezone": "UTC",
        },
        "timeout": 5,
    }
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
        hide_parameters=True,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


#: The request's session. ``scope="function"`` makes the commit run when the endpoint returns and
#: *before* the response is sent, so a client never sees 2xx for a transaction that failed to commit.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]


@asynccontextmanager
async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Session for jobs and CLI commands: commits on success, rolls back on error."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def transaction_driver(session: AsyncSession) -> Any:
    """The asyncpg connection carrying ``session``'s transaction, for a hot path's few statements.

    SQLAlchemy's statement handling costs more CPU per statement than asyncpg's own on this
    hardware; the front desk's check-in sends its statements straight to the driver, *inside* the
    request's transaction (begun here if it has not been yet), so commit and rollback stay the
    session's. Raw asyncpg errors keep their ``sqlstate`` (shared/errors.py maps them).
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the session's connection has no driver connection")
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")  # the adapter opens its transaction lazily
    return driver
