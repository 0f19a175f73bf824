"""Rooms, booths and the event space: public to read, administrators maintain them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.language import request_language
from services.netsugen_booking.resources import service
from services.netsugen_booking.resources.schemas import (
    Availability,
    ResourceCreate,
    ResourceList,
    ResourceOut,
    ResourceUpdate,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.permissions import P, require

router = APIRouter(prefix="/v1/resources", tags=["resources"])


@router.get(
    "",
    summary="List bookable resources",
    description="Public. Meeting rooms, booths and the event space, with capacity, booking grid and hourly price.",
)
async def list_resources(session: DbSession) -> ResourceList:
    return ResourceList(items=[ResourceOut.of(r) for r in await service.list_resources(session)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a resource",
    description="Admin.",
    responses=problem_responses(401, 403, 409),
)
async def create_resource(
    body: ResourceCreate, session: DbSession, _: Annotated[Principal, require(P.RESOURCES_WRITE)]
) -> ResourceOut:
    return ResourceOut.of(await service.create_resource(session, body))


@router.get(
    "/{resource_id}",
    summary="Read a resource",
    description="Public.",
    responses=problem_responses(404),
)
async def get_resource(resource_id: uuid.UUID, session: DbSession) -> ResourceOut:
    return ResourceOut.of(await service.get_resource(session, resource_id))


@router.patch(
    "/{resource_id}",
    summary="Change a resource",
    description="Admin. A price change applies to bookings made afterwards; booked prices are frozen.",
    responses=problem_responses(401, 403, 404),
)
async def update_resource(
    resource_id: uuid.UUID,
    body: ResourceUpdate,
    session: DbSession,
    _: Annotated[Principal, require(P.RESOURCES_WRITE)],
) -> ResourceOut:
    resource = await service.get_resource(session, resource_id, for_update=True)
    return ResourceOut.of(await service.update_resource(session, resource, body))


@router.get(
    "/{resource_id}/availability",
    summary="Free intervals of a resource on a day",
    description=(
        "Public. The day's opening hours (closures, special hours and public holidays applied) minus "
        "the confirmed bookings and minus the part of today already past (rounded up to the grid)."
    ),
    responses=problem_responses(404),
)
async def resource_availability(
    resource_id: uuid.UUID,
    request: Request,
    session: DbSession,
    now: Now,
    day: date = Query(alias="date", description="JST calendar date, YYYY-MM-DD.", examples=["2026-12-01"]),
) -> Availability:
    resource = await service.get_resource(session, resource_id)
    return await service.availability(session, resource, day, now=now, language=request_language(request))
