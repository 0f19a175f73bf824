"""Programmatic Alembic: the same environment as `alembic upgrade head` in `migrations/`.

Also what the administrators' ``gunma db`` commands need to say what they are about to do: the
current revision, the history, and the plan of a downgrade (which revisions it undoes, and whether
it drops the billing tables, which hold invoices that must be kept for 7 years).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from gunma.stack import ROOT

#: The revision that creates the invoices, payments and credit notes. Going below it drops them.
BILLING_REVISION = "0005_netsugen_billing"


def alembic_config(database_url: str) -> Config:
    """The repository's alembic.ini when there is one (a checkout); in an installed image, the
    ``migrations`` package where it was installed, with the same options."""
    import migrations as migrations_package

    ini = ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(Path(migrations_package.__file__).resolve().parent))
    cfg.set_main_option("timezone", "Asia/Tokyo")
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/unused"))


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revisions(database_url: str) -> list[str]:
    """The revisions the database is at (empty: never migrated)."""

    async def read() -> list[str]:
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
            if not exists:
                return []
            return sorted(
                r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version")
            )
        finally:
            await conn.close()

    return asyncio.run(read())


@dataclass(frozen=True)
class Step:
    revision: str
    title: str
    to: tuple[str, ...]


def head() -> str:
    heads = script_directory().get_heads()
    return heads[0] if len(heads) == 1 else ", ".join(sorted(heads))


def history() -> list[Step]:
    """Every revision, newest first."""
    return [
        Step(
            r.revision,
            (r.doc or "").strip().splitlines()[0] if r.doc else "",
            tuple(r._normalized_down_revisions),
        )
        for r in script_directory().walk_revisions()
    ]


def downgrade_plan(target: str, current: list[str]) -> list[Step]:
    """The revisions a downgrade to ``target`` (``-1``, ``base`` or an id) would undo, in order."""
    if not current:
        return []
    script = script_directory()
    steps = []
    heads: Any = current[0] if len(current) == 1 else tuple(current)  # alembic takes either
    for action in script._downgrade_revs(target, heads):  # the plan alembic itself runs
        rev = action.revision
        steps.append(Step(rev.revision, (rev.doc or "").strip().splitlines()[0], tuple(action.to_revisions)))
    return steps
