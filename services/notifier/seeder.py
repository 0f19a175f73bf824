"""The service's idempotent seed: each domain folder's `seed.py` exposing `run_seed`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.discovery import discover
from shared.seeding import Progress


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    for module in discover("services.notifier", "seed"):
        counts.update(await module.run_seed(session, progress))
        await session.flush()
    return counts
