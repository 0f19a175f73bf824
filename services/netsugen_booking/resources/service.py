"""Resources and their availability."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings import rules
from services.netsugen_booking.bookings.common import hours_of
from services.netsugen_booking.bookings.exceptions import ResourceNotFound, ResourceSlugTaken
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.calendar.rules import Language
from services.netsugen_booking.frontdesk_common.db_errors import flush_in_savepoint
from services.netsugen_booking.resources.models import Resource
from services.netsugen_booking.resources.schemas import (
    Availability,
    Interval,
    ResourceCreate,
    ResourceUpdate,
)
from shared.jst import JST, start_of_day_jst


async def list_resources(session: AsyncSession, *, include_inactive: bool = False) -> Sequence[Resource]:
    query = select(Resource).order_by(Resource.kind, Resource.slug)
    if not include_inactive:
        query = query.where(Resource.active.is_(True))
    return (await session.scalars(query)).all()


async def get_resource(
    session: AsyncSession, resource_id: uuid.UUID, *, for_update: bool = False
) -> Resource:
    resource = await session.get(Resource, resource_id, with_for_update=for_update or None)
    if resource is None:
        raise ResourceNotFound(f"No resource {resource_id}.", detail_ja="指定されたリソースは存在しません。")
    return resource


async def create_resource(session: AsyncSession, body: ResourceCreate) -> Resource:
    resource = Resource(**body.model_dump())
    try:
        await flush_in_savepoint(session, lambda: session.add(resource))
    except IntegrityError as exc:
        raise ResourceSlugTaken(
            f"A resource with slug '{body.slug}' exists.", detail_ja=f"スラッグ'{body.slug}'は使用済みです。"
        ) from exc
    return resource


async def update_resource(session: AsyncSession, resource: Resource, body: ResourceUpdate) -> Resource:
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is not None:
            setattr(resource, field, value)
    await session.flush()
    return resource


async def busy_intervals(
    session: AsyncSession, resource_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    rows = (
        await session.execute(
            select(Booking.start_at, Booking.end_at)
            .where(
                Booking.resource_id == resource_id,
                Booking.status == "confirmed",
                Booking.start_at < end,
                Booking.end_at > start,
            )
            .order_by(Booking.start_at)
        )
    ).all()
    return [(r.start_at, r.end_at) for r in rows]


async def availability(
    session: AsyncSession, resource: Resource, day: date, *, now: datetime, language: Language = "ja"
) -> Availability:
    hours = await hours_of(session, start_of_day_jst(day), language=language)
    opens, closes = hours.opens_at_dt(), hours.closes_at_dt()
    day_start = start_of_day_jst(day)
    day_end = start_of_day_jst(date.fromordinal(day.toordinal() + 1))
    busy = await busy_intervals(session, resource.id, day_start, day_end)
    free: list[tuple[datetime, datetime]] = []
    if hours.open and opens is not None and closes is not None:
        not_before = rules.ceil_to_grid(now, resource.grid_minutes)
        free = [(s, e) for s, e in rules.free_intervals(opens, closes, busy, not_before=not_before) if e > s]
    return Availability(
        resource_id=resource.id,
        date=day,
        open=hours.open,
        opens_at=hours.opens_at.strftime("%H:%M") if hours.opens_at else None,
        closes_at=hours.closes_at.strftime("%H:%M") if hours.closes_at else None,
        reason=hours.reason,
        grid_minutes=resource.grid_minutes,
        free=[Interval(start=s.astimezone(JST), end=e.astimezone(JST)) for s, e in free],
        booked=[Interval(start=s.astimezone(JST), end=e.astimezone(JST)) for s, e in busy],
    )
