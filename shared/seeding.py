"""Runs every service's idempotent seed: ``services/<svc>/seeder.py`` exposing
``async def run_seed(session, progress) -> dict[str, int]``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import create_engine, make_sessionmaker, session_scope

SEED_MODULES = (
    "services.kpi_api.seeder",
    "services.netsugen_booking.seeder",
    "services.notifier.seeder",
)

Progress = Callable[[str, int, int], None]


def _noop(label: str, done: int, total: int) -> None:
    return None


def seeders() -> list[tuple[str, Any]]:
    found = []
    for name in SEED_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        found.append((name.split(".")[1], module.run_seed))
    return found


async def seed_session(session: AsyncSession, progress: Progress = _noop) -> dict[str, dict[str, int]]:
    results: dict[str, dict[str, int]] = {}
    for service, run in seeders():
        results[service] = await run(session, progress)
    return results


async def seed_all(database_url: str, progress: Progress = _noop) -> dict[str, dict[str, int]]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0, application_name="seed")
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            return await seed_session(session, progress)
    finally:
        await engine.dispose()
