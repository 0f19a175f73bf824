"""Room bookings: members book for themselves, staff for anyone."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from services.netsugen_booking.bookings import service
from services.netsugen_booking.bookings.common import ensure_can_act_for, member_subject
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.bookings.schemas import (
    BookingCancel,
    BookingCreate,
    BookingList,
    BookingOut,
    BookingStatus,
)
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.language import request_language
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, require

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])


def _settings(request: Request) -> NetsugenSettings:
    settings: NetsugenSettings = request.app.state.settings
    return settings


def _out(request: Request, booking: Booking) -> BookingOut:
    hours = _settings(request).booking_cancellation_deadline_hours
    return BookingOut.of(booking, deadline=service.cancellation_deadline(booking, hours))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Book a resource",
    description=(
        "A member token books for its own member; staff book for anyone. `start` and `end` are "
        "ISO-8601 with an offset, on the resource's grid (JST), within that day's opening hours on an "
        "open day, and not in the past. Two bookings of one resource never overlap: the database "
        "refuses it and the answer is 409 `slot-taken`. Emits `booking.confirmed`."
    ),
    responses=problem_responses(401, 403, 409, 422),
)
async def create_booking(
    body: BookingCreate,
    request: Request,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.BOOKINGS_WRITE)],
) -> BookingOut:
    ensure_can_act_for(principal, body.member_id)
    booking = await service.create_booking(
        session,
        resource_id=body.resource_id,
        member_id=body.member_id,
        start=body.start,
        end=body.end,
        principal=principal,
        now=now,
        language=request_language(request),
    )
    return _out(request, booking)


@router.get(
    "",
    summary="List bookings",
    description="Staff see every booking (filters optional); a member token sees its own member's only.",
    responses=problem_responses(401, 403),
)
async def list_bookings(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.BOOKINGS_READ)],
    member_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    booking_status: Annotated[BookingStatus | None, Query(alias="status")] = None,
    date_from: Annotated[date | None, Query(alias="from", description="First JST day (start date).")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last JST day, inclusive.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> BookingList:
    if not principal.sees_every_member:
        own = member_subject(principal)
        if member_id is not None:
            ensure_can_act_for(principal, member_id)
        member_id = own
    rows, next_cursor = await service.list_bookings(
        session,
        member_id=member_id,
        resource_id=resource_id,
        status=booking_status,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    return BookingList(items=[_out(request, b) for b in rows], next_cursor=next_cursor)


@router.get(
    "/{booking_id}",
    summary="Read a booking",
    description="Staff, or the member whose booking it is.",
    responses=problem_responses(401, 403, 404),
)
async def get_booking(
    booking_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.BOOKINGS_READ)],
) -> BookingOut:
    return _out(request, await service.get_booking(session, booking_id, principal))


@router.post(
    "/{booking_id}/cancel",
    summary="Cancel a booking",
    description=(
        "Frees the slot. A member may cancel until `booking_cancellation_deadline_hours` before the "
        "start (the booking's `cancellation_deadline`); staff may cancel later with "
        "`override_deadline: true`. An ended booking cannot be cancelled. A repeated cancellation "
        "answers the same. Emits `booking.cancelled`."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def cancel_booking(
    booking_id: uuid.UUID,
    request: Request,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.BOOKINGS_WRITE)],
    body: BookingCancel | None = None,
) -> BookingOut:
    body = body or BookingCancel()
    booking = await service.cancel_booking(
        session,
        booking_id,
        principal=principal,
        now=now,
        reason=body.reason,
        override_deadline=body.override_deadline,
        deadline_hours=_settings(request).booking_cancellation_deadline_hours,
    )
    return _out(request, booking)
