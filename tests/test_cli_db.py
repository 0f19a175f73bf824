"""`gunma db`: current, history, upgrade and a downgrade that says what it undoes and asks first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from gunma import migrate as migrations
from gunma.cli import app
from tests.conftest import TEST_DB, StackInfo, _asyncpg_dsn, _recreate_database

runner = CliRunner()


@pytest.fixture
def scratch_url(stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"{TEST_DB}_cli"
    asyncio.run(_recreate_database(stack.server_url, name))
    url = make_url(stack.server_url).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("REDIS_URL", stack.redis_url)
    yield url
    asyncio.run(_drop_database(stack.server_url, name))


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def test_current_history_upgrade(scratch_url: str) -> None:
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 1 and "not migrated yet" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    head = migrations.head()
    assert migrations.current_revisions(scratch_url) == [head]
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and head in result.output and "at the head" in result.output
    result = runner.invoke(app, ["db", "history"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "0001_foundation" in result.output and "→" in result.output


def test_downgrade_minus_one_asks_and_says_where_it_goes(scratch_url: str) -> None:
    migrations.upgrade(scratch_url, "head")
    history = migrations.history()
    head, previous = history[0].revision, history[0].to[0]
    # Declined: nothing changes.
    result = runner.invoke(app, ["db", "downgrade", "-1"], input="n\n")
    assert result.exit_code == 1, result.output
    assert previous in result.output and "nothing was changed" in result.output
    assert migrations.current_revisions(scratch_url) == [head]
    # The old spelling works too, and `-1` is a revision, not an option.
    result = runner.invoke(app, ["downgrade", "-1"], input="y\n")
    assert result.exit_code == 0, result.output
    assert migrations.current_revisions(scratch_url) == [previous]


def test_downgrade_below_billing_is_refused_in_production(
    scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations.upgrade(scratch_url, "head")
    monkeypatch.setenv("ENVIRONMENT", "production")
    result = runner.invoke(app, ["db", "downgrade", "base", "--yes"])
    assert result.exit_code == 1
    assert "billing tables" in result.output and "refused in production" in result.output
    assert migrations.current_revisions(scratch_url) == [migrations.head()]
    # Outside production it is allowed after confirmation; base leaves no revision.
    monkeypatch.setenv("ENVIRONMENT", "development")
    result = runner.invoke(app, ["db", "downgrade", "base"], input="y\n")
    assert result.exit_code == 0, result.output
    assert migrations.current_revisions(scratch_url) == []


def test_unknown_target_is_a_clear_error(scratch_url: str) -> None:
    migrations.upgrade(scratch_url, "head")
    result = runner.invoke(app, ["db", "downgrade", "nope", "--yes"])
    assert result.exit_code == 2 and "cannot downgrade" in result.output
