"""Migrations: the models and the migrations agree, and upgrade/downgrade both work."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from gunma import migrate as migrations
from migrations.metadata import all_metadata
from tests.conftest import TEST_DB, StackInfo, _asyncpg_dsn, _recreate_database


def _diff_for(connection: Any, metadata: Any) -> list[Any]:
    schema = metadata.schema

    def include_object(obj: Any, name: str, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "schema", schema) == schema

    ctx = MigrationContext.configure(
        connection,
        opts={"include_schemas": True, "include_object": include_object, "compare_type": True},
    )
    return list(compare_metadata(ctx, metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        for metadata in all_metadata():
            diff = await conn.run_sync(_diff_for, metadata)
            assert diff == [], f"schema {metadata.schema}: models and migrations disagree: {diff}"


async def test_upgrade_downgrade_upgrade(stack: StackInfo) -> None:
    name = f"{TEST_DB}_migrations"
    await _recreate_database(stack.server_url, name)
    url = make_url(stack.server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrations.upgrade, url, "heads")
    await asyncio.to_thread(migrations.downgrade, url, "base")
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema IN ('auth', 'kpi', 'netsugen', 'notifier')"
        )
        assert left == 0
    finally:
        await conn.close()
    await asyncio.to_thread(migrations.upgrade, url, "heads")
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'auth' AND table_name = 'api_token'"
        )
        assert tables == 1
    finally:
        await conn.close()
    admin = await asyncpg.connect(_asyncpg_dsn(stack.server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def test_one_migration_head() -> None:
    """Every migration revises the single head: `alembic upgrade head` and `alembic revision` work."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql+asyncpg://unused/unused"))
    heads = script.get_heads()
    assert len(heads) == 1, (
        f"more than one migration head: {heads}; merge them (alembic merge) or chain yours"
    )
