"""Coordinator consultations (コーディネーター事業)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.netsugen_booking.bookings.common import ensure_can_act_for, member_subject
from services.netsugen_booking.consultations import service
from services.netsugen_booking.consultations.schemas import (
    AvailabilityCreate,
    AvailabilityCreated,
    AvailabilityOut,
    ConsultationCancel,
    ConsultationCreate,
    ConsultationList,
    ConsultationOut,
    ConsultationRecord,
    ConsultationStatus,
    CoordinatorCreate,
    CoordinatorList,
    CoordinatorOut,
    CoordinatorUpdate,
    SlotGenerate,
    SlotGenerated,
    SlotList,
    SlotOut,
)
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import OptionalPrincipal, Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, coordinator_scope, require

router = APIRouter(tags=["consultations"])


def _settings(request: Request) -> NetsugenSettings:
    settings: NetsugenSettings = request.app.state.settings
    return settings


@router.post(
    "/v1/coordinators",
    status_code=status.HTTP_201_CREATED,
    summary="Add a coordinator",
    description="Staff. Name, title and areas of expertise (e.g. accounting, sme_management, funding).",
    responses=problem_responses(401, 403),
)
async def create_coordinator(
    body: CoordinatorCreate,
    session: DbSession,
    now: Now,
    _: Annotated[Principal, require(P.COORDINATORS_WRITE)],
) -> CoordinatorOut:
    coordinator = await service.create_coordinator(session, body, now=now)
    return CoordinatorOut.of(coordinator, [])


@router.get(
    "/v1/coordinators",
    summary="List coordinators",
    description="Public: active coordinators with their weekly availability. Staff see inactive ones too.",
)
async def list_coordinators(
    session: DbSession,
    principal: OptionalPrincipal,
    expertise: Annotated[
        str | None, Query(max_length=64, description="Only coordinators with this area.")
    ] = None,
) -> CoordinatorList:
    rows = await service.list_coordinators(
        session, expertise=expertise, include_inactive=principal is not None and principal.is_staff
    )
    windows = await service.windows_of(session, [c.id for c in rows])
    return CoordinatorList(items=[CoordinatorOut.of(c, windows[c.id]) for c in rows])


@router.get(
    "/v1/coordinators/{coordinator_id}",
    summary="Read a coordinator",
    description="Public.",
    responses=problem_responses(404),
)
async def get_coordinator(coordinator_id: uuid.UUID, session: DbSession) -> CoordinatorOut:
    coordinator = await service.get_coordinator(session, coordinator_id)
    return CoordinatorOut.of(
        coordinator, (await service.windows_of(session, [coordinator.id]))[coordinator.id]
    )


@router.patch(
    "/v1/coordinators/{coordinator_id}",
    summary="Change a coordinator",
    description="Staff. An inactive coordinator's slots are hidden and cannot be booked.",
    responses=problem_responses(401, 403, 404),
)
async def update_coordinator(
    coordinator_id: uuid.UUID,
    body: CoordinatorUpdate,
    session: DbSession,
    _: Annotated[Principal, require(P.COORDINATOR_SCHEDULE)],
) -> CoordinatorOut:
    coordinator = await service.get_coordinator(session, coordinator_id, for_update=True)
    await service.update_coordinator(session, coordinator, body)
    return CoordinatorOut.of(
        coordinator, (await service.windows_of(session, [coordinator.id]))[coordinator.id]
    )


@router.post(
    "/v1/coordinators/{coordinator_id}/availability",
    status_code=status.HTTP_201_CREATED,
    summary="Add a weekly availability window",
    description=(
        "Staff. Every `weekday` from `starts_at` to `ends_at` (JST), cut into 30- or 60-minute slots. "
        "Slots are generated at once for `consultation_slot_horizon_days` and kept up to date by the "
        "scheduler; slots on closed days or outside opening hours are not made."
    ),
    responses=problem_responses(401, 403, 404, 422),
)
async def add_availability(
    coordinator_id: uuid.UUID,
    body: AvailabilityCreate,
    request: Request,
    session: DbSession,
    now: Now,
    _: Annotated[Principal, require(P.COORDINATOR_SCHEDULE)],
) -> AvailabilityCreated:
    coordinator = await service.get_coordinator(session, coordinator_id, for_update=True)
    window = await service.add_window(session, coordinator, body, now=now)
    created = await service.generate_slots(
        session,
        now=now,
        days=_settings(request).consultation_slot_horizon_days,
        coordinator_id=coordinator.id,
    )
    return AvailabilityCreated(**AvailabilityOut.of(window).model_dump(), slots_created=created)


@router.delete(
    "/v1/coordinators/{coordinator_id}/availability/{window_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a weekly availability window",
    description="Staff. Its future slots nobody booked are withdrawn; booked consultations stay.",
    responses=problem_responses(401, 403, 404),
)
async def remove_availability(
    coordinator_id: uuid.UUID,
    window_id: uuid.UUID,
    session: DbSession,
    now: Now,
    _: Annotated[Principal, require(P.COORDINATOR_SCHEDULE)],
) -> Response:
    await service.remove_window(session, coordinator_id, window_id, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/consultation-slots/generate",
    summary="Generate consultation slots now",
    description="Staff. Idempotent; the scheduler does the same every hour.",
    responses=problem_responses(401, 403),
)
async def generate_slots(
    body: SlotGenerate, session: DbSession, now: Now, _: Annotated[Principal, require(P.COORDINATORS_WRITE)]
) -> SlotGenerated:
    return SlotGenerated(slots_created=await service.generate_slots(session, now=now, days=body.days))


@router.get(
    "/v1/consultation-slots",
    summary="List consultation slots",
    description="Public. Future slots of active coordinators, by start; `available_only` (default) hides booked ones.",
)
async def list_slots(
    session: DbSession,
    now: Now,
    coordinator_id: uuid.UUID | None = None,
    expertise: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[date | None, Query(alias="from", description="First JST day.")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last JST day, inclusive.")] = None,
    available_only: bool = True,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SlotList:
    items, next_cursor = await service.list_slots(
        session,
        now=now,
        coordinator_id=coordinator_id,
        expertise=expertise,
        date_from=date_from,
        date_to=date_to,
        available_only=available_only,
        limit=limit,
        cursor=cursor,
    )
    return SlotList(items=[SlotOut.of(s, available=a) for s, a in items], next_cursor=next_cursor)


@router.post(
    "/v1/consultations",
    status_code=status.HTTP_201_CREATED,
    summary="Book a consultation",
    description=(
        "A member token books for its own member; staff for anyone. Each slot is booked at most once "
        "(the database refuses a second live consultation: 409 `slot-taken`). Emits `consultation.confirmed`."
    ),
    responses=problem_responses(401, 403, 409, 422),
)
async def book_consultation(
    body: ConsultationCreate,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.CONSULTATIONS_BOOK)],
) -> ConsultationOut:
    ensure_can_act_for(principal, body.member_id)
    consultation, slot = await service.book(
        session,
        slot_id=body.slot_id,
        member_id=body.member_id,
        topic=body.topic,
        principal=principal,
        now=now,
    )
    return ConsultationOut.of(consultation, slot, show_note=principal.is_staff)


@router.get(
    "/v1/consultations",
    summary="List consultations",
    description="Staff: all (filters optional). A member token: its own member's.",
    responses=problem_responses(401, 403),
)
async def list_consultations(
    session: DbSession,
    principal: Annotated[Principal, require(P.CONSULTATIONS_READ)],
    member_id: uuid.UUID | None = None,
    coordinator_id: uuid.UUID | None = None,
    consultation_status: Annotated[ConsultationStatus | None, Query(alias="status")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ConsultationList:
    if not principal.sees_every_member:
        if member_id is not None:
            ensure_can_act_for(principal, member_id)
        member_id = member_subject(principal)
    coordinator_id = coordinator_scope(principal, coordinator_id)
    items, next_cursor = await service.list_consultations(
        session,
        member_id=member_id,
        coordinator_id=coordinator_id,
        status=consultation_status,
        limit=limit,
        cursor=cursor,
    )
    return ConsultationList(
        items=[ConsultationOut.of(c, s, show_note=principal.is_staff) for c, s in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/v1/consultations/{consultation_id}",
    summary="Read a consultation",
    description="Staff, or the member whose consultation it is (without the coordinator's note).",
    responses=problem_responses(401, 403, 404),
)
async def get_consultation(
    consultation_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.CONSULTATIONS_READ)],
) -> ConsultationOut:
    consultation, slot = await service.get_consultation(session, consultation_id, principal)
    return ConsultationOut.of(consultation, slot, show_note=principal.is_staff)


@router.post(
    "/v1/consultations/{consultation_id}/cancel",
    summary="Cancel a consultation",
    description=(
        "The member until `booking_cancellation_deadline_hours` before the start; staff until the "
        "start with `override_deadline: true`. Frees the slot. A repeated cancellation answers the same."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def cancel_consultation(
    consultation_id: uuid.UUID,
    request: Request,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.CONSULTATIONS_CANCEL)],
    body: ConsultationCancel | None = None,
) -> ConsultationOut:
    consultation, slot = await service.cancel(
        session,
        consultation_id,
        principal=principal,
        now=now,
        override_deadline=body.override_deadline if body else False,
        deadline_hours=_settings(request).booking_cancellation_deadline_hours,
    )
    return ConsultationOut.of(consultation, slot, show_note=principal.is_staff)


@router.post(
    "/v1/consultations/{consultation_id}/record",
    summary="Record the note and outcome of a consultation",
    description=(
        "Staff (coordinators use staff tokens), once the consultation has started. `outcome` is e.g. "
        "`referred_to_business_matching`; `no_show` marks the member absent. Recording again replaces "
        "the note."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def record_consultation(
    consultation_id: uuid.UUID,
    body: ConsultationRecord,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.CONSULTATIONS_RECORD)],
) -> ConsultationOut:
    consultation, slot = await service.record(
        session, consultation_id, note=body.note, outcome=body.outcome, principal=principal, now=now
    )
    return ConsultationOut.of(consultation, slot, show_note=True)
