"""Runs every service's idempotent seed, in order: the KPI registry, NETSUGEN, the notifier."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.seeder import run_seed as seed_kpi_api
from services.netsugen_booking.seeder import run_seed as seed_netsugen_booking
from services.notifier.seeder import run_seed as seed_notifier
from shared.db import create_engine, make_sessionmaker, session_scope
from shared.seeding import Progress, no_progress

SEEDERS = (
    ("kpi_api", seed_kpi_api),
    ("netsugen_booking", seed_netsugen_booking),
    ("notifier", seed_notifier),
)


async def seed_session(session: AsyncSession, progress: Progress = no_progress) -> dict[str, dict[str, int]]:
    results: dict[str, dict[str, int]] = {}
    for service, run in SEEDERS:
        results[service] = await run(session, progress)
    return results


async def seed_all(database_url: str, progress: Progress = no_progress) -> dict[str, dict[str, int]]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0, application_name="seed")
    try:
        async with session_scope(make_sessionmaker(engine)) as session:
            return await seed_session(session, progress)
    finally:
        await engine.dispose()
