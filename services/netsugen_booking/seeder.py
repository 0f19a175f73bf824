"""The service's idempotent seed: each listed domain's ``seed.py`` exposes ``run_seed``, run in this order.

Wired by hand (``tests/test_structure.py`` fails when a domain's ``seed.py`` is missing here).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.plans.seed import run_seed as seed_plans
from services.netsugen_booking.resources.seed import run_seed as seed_resources
from shared.seeding import Progress

SEEDS = (
    seed_plans,
    seed_resources,
)


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seed in SEEDS:
        counts.update(await seed(session, progress))
        await session.flush()
    return counts
