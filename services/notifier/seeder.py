"""The notifier seeds nothing: its event types and templates are code (``event_types/``, ``templates/``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.seeding import Progress


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    return {}
