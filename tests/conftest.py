"""Test fixtures: real PostgreSQL and real Redis, always.

- Servers: ``DATABASE_URL``/``REDIS_URL`` when set (CI points them at the machine's own servers),
  otherwise the embedded servers under `.data/` (what `make test` does on a fresh machine).
- A fresh database (``TEST_DATABASE_NAME``, default ``gunma_test``) is created, migrated with
  ``alembic upgrade heads`` and seeded once per session.
- Isolation: after each test that uses the database, every table except reference data
  (tables marked ``info={"reference": True}``: the seeded SDGs, KPIs, plans, resources) is
  truncated. Tests really commit, so concurrency tests see real transactions.
- Apps are called through ``httpx.AsyncClient(transport=ASGITransport(app))`` with their lifespan
  running; the in-process outbox relay is off unless a test starts one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gunma import migrate as migrations
from gunma.seeding import seed_all
from gunma.stack import resolve_urls, stop_started
from shared.auth import Role, create_token
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.pgnotify import barrier_all

TEST_DB = os.environ.get("TEST_DATABASE_NAME", "gunma_test")
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "9"))
BOOTSTRAP_TOKEN = "test-bootstrap-admin-token-0123456789abcdef"


@dataclass(frozen=True)
class StackInfo:
    database_url: str  # the test database (asyncpg SQLAlchemy URL)
    server_url: str  # the same server, maintenance database
    redis_url: str
    embedded: bool


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _recreate_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    urls = resolve_urls(database="gunma")
    server = make_url(urls.database_url)
    test_url = server.set(database=TEST_DB).render_as_string(hide_password=False)
    redis_url = urls.redis_url.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"
    asyncio.run(_recreate_database(urls.database_url, TEST_DB))
    migrations.upgrade(test_url, "heads")
    asyncio.run(seed_all(test_url))
    os.environ.update(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": test_url,
            "REDIS_URL": redis_url,
            "LOG_JSON": "true",
        }
    )
    yield StackInfo(test_url, urls.database_url, redis_url, urls.embedded_database)
    stop_started(urls)


@pytest.fixture(scope="session")
async def engine(stack: StackInfo) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(stack.database_url, pool_size=10, max_overflow=60, application_name="tests")
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
async def redis_client(stack: StackInfo) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(stack.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def _mutable_tables() -> list[str]:
    from migrations.metadata import all_metadata

    names = []
    for md in all_metadata():
        for table in md.sorted_tables:
            if not table.info.get("reference"):
                names.append(f'"{table.schema}"."{table.name}"')
    return names


@pytest.fixture(scope="session")
def mutable_tables(stack: StackInfo) -> list[str]:
    return _mutable_tables()


@pytest.fixture(scope="session")
async def cleanup_sql(engine: AsyncEngine, mutable_tables: list[str]) -> str:
    """One batch that empties the mutable tables and restarts their sequences.

    ``DELETE`` with triggers disabled (``session_replication_role = replica``: no FK checks, and the
    invoice immutability trigger is skipped) takes milliseconds where ``TRUNCATE`` of ~50 tables
    takes a second or more, which over the whole suite is the difference of many minutes. It needs
    a superuser (as on CI and the embedded server); otherwise we fall back to TRUNCATE.
    """
    async with engine.connect() as conn:
        superuser = await conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        existing = {
            f'"{r[0]}"."{r[1]}"'
            for r in await conn.execute(
                text(
                    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
                )
            )
        }
        # Every sequence of our schemas except those owned by a reference table's column (e.g. the
        # identity of the seeded kpi.target): restarting those would make the next insert collide.
        sequences = [
            f'"{r[0]}"."{r[1]}"'
            for r in await conn.execute(
                text(
                    "SELECT n.nspname, s.relname, tn.nspname, t.relname "
                    "FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace "
                    "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
                    "AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                    "LEFT JOIN pg_class t ON t.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace "
                    "WHERE s.relkind = 'S' AND n.nspname IN ('auth', 'kpi', 'netsugen', 'notifier')"
                )
            )
            if r[3] is None or f'"{r[2]}"."{r[3]}"' in mutable_tables
        ]
    tables = [t for t in mutable_tables if t in existing]
    if not superuser:
        return f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"
    return (
        "SET LOCAL session_replication_role = replica;"
        + "".join(f"DELETE FROM {t};" for t in tables)
        + "".join(f"ALTER SEQUENCE {s} RESTART;" for s in sequences)
    )


@pytest.fixture
async def clean_db(
    engine: AsyncEngine, cleanup_sql: str, redis_client: aioredis.Redis
) -> AsyncIterator[None]:
    yield
    # Rate-limit windows in Redis (shared/fixed_window.py) are state too: no test inherits another's.
    stale = [k async for k in redis_client.scan_iter(match="ratelimit:*")]
    if stale:
        await redis_client.delete(*stale)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        # asyncpg's simple-query protocol runs the whole batch in one round trip.
        await raw.driver_connection.execute(f"BEGIN;{cleanup_sql}COMMIT;")  # type: ignore[union-attr]
    # The in-process caches of the apps (shared/pgnotify.py) must have seen the cleanup's
    # notifications before the next test reads through them.
    await barrier_all()


@pytest.fixture
async def db(clean_db: None, sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits at the end of the test (like a request); data is truncated after."""
    async with session_scope(sessionmaker) as session:
        yield session


def settings_overrides(stack: StackInfo) -> dict[str, Any]:
    return {
        "environment": "test",
        "database_url": stack.database_url,
        "redis_url": stack.redis_url,
        "bootstrap_admin_token": BOOTSTRAP_TOKEN,
        "outbox_relay_enabled": False,
        "db_pool_size": 10,
        "db_max_overflow": 60,
    }


async def _running(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def kpi_app(stack: StackInfo) -> AsyncIterator[FastAPI]:
    from services.kpi_api.main import create_app
    from services.kpi_api.settings import KpiSettings

    async for app in _running(create_app(KpiSettings(**settings_overrides(stack)))):
        yield app


@pytest.fixture(scope="session")
async def netsugen_app(stack: StackInfo) -> AsyncIterator[FastAPI]:
    from services.netsugen_booking.main import create_app
    from services.netsugen_booking.settings import NetsugenSettings

    async for app in _running(create_app(NetsugenSettings(**settings_overrides(stack)))):
        yield app


@pytest.fixture(scope="session")
async def notifier_app(stack: StackInfo) -> AsyncIterator[FastAPI]:
    from services.notifier.main import create_app
    from services.notifier.settings import NotifierSettings

    async for app in _running(create_app(NotifierSettings(**settings_overrides(stack)))):
        yield app


def _client(app: FastAPI, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=f"http://{host}"
    )


@pytest.fixture
async def kpi_client(clean_db: None, kpi_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(kpi_app, "kpi") as client:
        yield client


@pytest.fixture
async def netsugen_client(clean_db: None, netsugen_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(netsugen_app, "netsugen") as client:
        yield client


@pytest.fixture
async def notifier_client(clean_db: None, notifier_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(notifier_app, "notifier") as client:
        yield client


TokenFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_token(clean_db: None, sessionmaker: async_sessionmaker[AsyncSession]) -> TokenFactory:
    """``await make_token("staff")`` or ``await make_token("member", subject=str(member_id))``."""

    async def factory(role: Role, *, subject: str | None = None, name: str | None = None) -> str:
        async with session_scope(sessionmaker) as session:
            _, secret = await create_token(session, name=name or f"test {role}", role=role, subject=subject)
        return secret

    return factory


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def admin_headers(make_token: TokenFactory) -> dict[str, str]:
    return bearer(await make_token("admin"))


@pytest.fixture
async def staff_headers(make_token: TokenFactory) -> dict[str, str]:
    return bearer(await make_token("staff"))


@pytest.fixture
async def service_headers(make_token: TokenFactory) -> dict[str, str]:
    return bearer(await make_token("service"))
