"""The service's idempotent seed: each listed domain's ``seed.py`` exposes ``run_seed``, run in this order.

Wired by hand (``tests/test_structure.py`` fails when a domain's ``seed.py`` is missing here).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.indicators.seed import run_seed as seed_indicators
from shared.seeding import Progress

SEEDS = (seed_indicators,)


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seed in SEEDS:
        counts.update(await seed(session, progress))
        await session.flush()
    return counts
