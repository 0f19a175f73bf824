"""NETSUGEN's bookable resources (reference data). Idempotent: a resource that exists by slug is
left as it is, so an administrator's later changes (price, capacity) survive a re-seed.

Prices are illustrative defaults for a fresh platform; administrators set the real ones
(`PATCH /v1/resources/{id}`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.resources.models import Resource
from shared.seeding import Progress

#: Stable ids, so the seeded resources have the same id on every installation.
_NAMESPACE = uuid.UUID("5b0e7c1e-6a0f-4f1e-9a59-2b1f3f6c0d11")

RESOURCES: list[dict[str, Any]] = [
    {
        "slug": "meeting-room-a",
        "kind": "meeting_room",
        "name_ja": "会議室A",
        "name_en": "Meeting room A",
        "capacity": 8,
        "grid_minutes": 15,
        "price_per_hour_yen": 1000,
    },
    {
        "slug": "meeting-room-b",
        "kind": "meeting_room",
        "name_ja": "会議室B",
        "name_en": "Meeting room B",
        "capacity": 6,
        "grid_minutes": 15,
        "price_per_hour_yen": 0,
    },
    {
        "slug": "booth-1",
        "kind": "booth",
        "name_ja": "Web会議ブース1",
        "name_en": "Call booth 1",
        "capacity": 1,
        "grid_minutes": 15,
        "price_per_hour_yen": 0,
    },
    {
        "slug": "event-space",
        "kind": "event_space",
        "name_ja": "イベントスペース",
        "name_en": "Event space",
        "capacity": 80,
        "grid_minutes": 30,
        "price_per_hour_yen": 0,
    },
]


def resource_id(slug: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, slug)


async def run_seed(session: AsyncSession, progress: Progress) -> dict[str, int]:
    inserted = 0
    for i, row in enumerate(RESOURCES, start=1):
        result = await session.execute(
            insert(Resource)
            .values(id=resource_id(row["slug"]), **row)
            .on_conflict_do_nothing(index_elements=["slug"])
            .returning(Resource.id)
        )
        inserted += len(result.all())
        progress("resources", i, len(RESOURCES))
    return {"resources": inserted}
