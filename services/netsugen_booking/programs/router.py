"""Events (交流事業) and their registrations, waitlist, attendance and closing."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.language import request_language
from services.netsugen_booking.kpi_reporting.tasks import enqueue_report
from services.netsugen_booking.programs import service
from services.netsugen_booking.programs.guests import normalize_email
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from services.netsugen_booking.programs.schemas import (
    Category,
    ConfirmationContact,
    ProgramCreate,
    ProgramList,
    ProgramOut,
    ProgramStatus,
    RegistrationCancel,
    RegistrationConfirm,
    RegistrationContact,
    RegistrationCreate,
    RegistrationList,
    RegistrationOut,
)
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import OptionalPrincipal, Principal, client_address
from shared.db import DbSession
from shared.errors import problem_responses
from shared.fixed_window import raise_if_limited
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, require, require_optional

router = APIRouter(tags=["events"])


async def _program_out(session: AsyncSession, program: Program, now: datetime) -> ProgramOut:
    confirmed, waitlisted = (await service.seat_counts(session, [program.id]))[program.id]
    return ProgramOut.of(program, confirmed=confirmed, waitlisted=waitlisted, now=now)


async def _registration_out(
    session: AsyncSession, registration: ProgramRegistration, cancel_token: str | None = None
) -> RegistrationOut:
    position = await service.waitlist_position(session, registration)
    return RegistrationOut.of(registration, position=position, cancel_token=cancel_token)


@router.post(
    "/v1/programs",
    status_code=status.HTTP_201_CREATED,
    summary="Create an event",
    description=(
        "Staff. With a `resource_id`, the event books that resource for its whole time (on the "
        "resource's grid, within opening hours); a clash with another booking is 409 `slot-taken`. "
        "Registration is open from `registration_opens_at` (default now) until `registration_closes_at` "
        "(default the start)."
    ),
    responses=problem_responses(401, 403, 409, 422),
)
async def create_program(
    body: ProgramCreate,
    request: Request,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.PROGRAMS_WRITE)],
) -> ProgramOut:
    program = await service.create_program(
        session, body, principal=principal, now=now, language=request_language(request)
    )
    return await _program_out(session, program, now)


@router.get(
    "/v1/programs",
    summary="List events",
    description="Public: public events. With a token, members-only events too. Sorted by start.",
)
async def list_programs(
    session: DbSession,
    now: Now,
    principal: OptionalPrincipal,
    category: Category | None = None,
    program_status: Annotated[ProgramStatus | None, Query(alias="status")] = None,
    date_from: Annotated[date | None, Query(alias="from", description="First JST day.")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last JST day, inclusive.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ProgramList:
    rows, next_cursor = await service.list_programs(
        session,
        include_private=principal is not None,
        category=category,
        status=program_status,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        cursor=cursor,
    )
    counts = await service.seat_counts(session, [p.id for p in rows])
    items = [ProgramOut.of(p, confirmed=counts[p.id][0], waitlisted=counts[p.id][1], now=now) for p in rows]
    return ProgramList(items=items, next_cursor=next_cursor)


@router.get(
    "/v1/programs/{program_id}",
    summary="Read an event",
    description="Public for public events.",
    responses=problem_responses(404),
)
async def get_program(
    program_id: uuid.UUID, session: DbSession, now: Now, principal: OptionalPrincipal
) -> ProgramOut:
    program = await service.get_program(session, program_id, principal=principal)
    return await _program_out(session, program, now)


async def _limit_guest_registration(request: Request, email: str, principal: Principal | None) -> None:
    """Anonymous guest registrations per client address and per normalized email (Redis, all replicas)."""
    if principal is not None and principal.is_staff:
        return  # the front desk registering walk-in guests is accountable and not limited
    settings: NetsugenSettings = request.app.state.settings
    window = settings.guest_registration_limit_window_s
    redis = request.app.state.redis
    await raise_if_limited(
        redis,
        f"guest-registration:address:{client_address(request)}",
        limit=settings.guest_registration_limit_per_address,
        window_s=window,
        what_en="guest registrations from this address",
        what_ja="このアドレスからのゲスト申込",
    )
    await raise_if_limited(
        redis,
        f"guest-registration:email:{normalize_email(email)}",
        limit=settings.guest_registration_limit_per_email,
        window_s=window,
        what_en="guest registrations for this email address",
        what_ja="このメールアドレスでのゲスト申込",
    )


@router.post(
    "/v1/programs/{program_id}/registrations",
    status_code=status.HTTP_201_CREATED,
    summary="Register for an event",
    description=(
        "A member (`member_id`, with that member's token or a staff token) or a guest (`guest`: name, "
        "email, language; no token needed for public events). A member's registration is `confirmed` "
        "while seats are left (`event.registration_confirmed`), otherwise `waitlisted` "
        "(`event.waitlisted`) in arrival order. A guest's registration is `pending_confirmation` and "
        "holds nothing: the guest is emailed a one-time link "
        "(`event.registration_confirmation_requested`) and takes a seat or a waitlist place only by "
        "confirming it (`POST /v1/event-registrations/{id}/confirm`) before `confirmation_expires_at` "
        "(`GUEST_CONFIRMATION_TTL_MINUTES`). A guest's answer carries a `cancel_token`, shown once. "
        "Guest registrations without a staff token are limited per client address and per "
        "normalized email (plus tags and gmail dots removed): 429 `rate-limited` with `Retry-After`. "
        "Outside the registration window: 409 `registration-closed`; registered already (the same "
        "normalized email for guests): 409 `already-registered`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
async def register(
    program_id: uuid.UUID,
    body: RegistrationCreate,
    request: Request,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal | None, require_optional(P.REGISTRATIONS_WRITE)],
) -> RegistrationOut:
    settings: NetsugenSettings = request.app.state.settings
    if body.guest is not None:
        await _limit_guest_registration(request, str(body.guest.email), principal)
    registration, secret = await service.register(
        session,
        program_id,
        member_id=body.member_id,
        guest=body.guest,
        principal=principal,
        now=now,
        confirmation_ttl_minutes=settings.guest_confirmation_ttl_minutes,
    )
    return await _registration_out(session, registration, secret)


@router.post(
    "/v1/event-registrations/{registration_id}/confirm",
    summary="Confirm a guest registration (double opt-in)",
    description=(
        "Public: the `token` of the link emailed to the guest. Takes a seat while seats are left "
        "(`confirmed`, `event.registration_confirmed`), otherwise a waitlist place (`waitlisted`, "
        "`event.waitlisted`), in the order of confirmation. The link works once: a confirmed "
        "registration answers 409 `registration-already-confirmed`. A wrong token is 404; a lapsed "
        "registration is 410 `confirmation-expired`; outside the registration window 409 "
        "`registration-closed`."
    ),
    responses=problem_responses(404, 409, 410, 422),
)
async def confirm_registration(
    registration_id: uuid.UUID, body: RegistrationConfirm, session: DbSession, now: Now
) -> RegistrationOut:
    registration = await service.confirm_registration(session, registration_id, token=body.token, now=now)
    return await _registration_out(session, registration)


@router.get(
    "/v1/programs/{program_id}/registrations",
    summary="List an event's registrations",
    description="Staff. In arrival order, with each waitlisted registration's position.",
    responses=problem_responses(401, 403, 404),
)
async def list_registrations(
    program_id: uuid.UUID, session: DbSession, principal: Annotated[Principal, require(P.REGISTRANTS_READ)]
) -> RegistrationList:
    await service.get_program(session, program_id, principal=principal)
    rows = await service.list_registrations(session, program_id)
    items: list[RegistrationOut] = []
    position = 0
    for r in rows:
        if r.status == "waitlisted":
            position += 1
        items.append(RegistrationOut.of(r, position=position if r.status == "waitlisted" else None))
    return RegistrationList(items=items)


@router.post(
    "/v1/programs/{program_id}/close",
    summary="Close an event and report its attendance",
    description=(
        "Staff, once the event has started. Freezes `attendance_count` (checked-in registrations). "
        "When the category maps to a KPI (`kpi_report_mapping`), a report is recorded in the same "
        "transaction and sent to the KPI registry by the scheduler, retried until accepted. "
        "Closing twice answers the same."
    ),
    responses=problem_responses(401, 403, 404, 409),
)
async def close_program(
    program_id: uuid.UUID,
    request: Request,
    background: BackgroundTasks,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.PROGRAMS_WRITE)],
) -> ProgramOut:
    settings: NetsugenSettings = request.app.state.settings
    program = await service.get_program(session, program_id, principal=principal, for_update=True)
    report = await service.close_program(
        session, program, now=now, closed_by=principal.name, mapping=settings.kpi_report_mapping
    )
    if report is not None:
        # Runs after the response, i.e. after the commit; the scheduler's sweep is the safety net.
        background.add_task(enqueue_report, request.app.state.redis, report.id)
    return await _program_out(session, program, now)


@router.get(
    "/v1/event-registrations/{registration_id}",
    summary="Read a registration",
    description="Staff, or the member whose registration it is.",
    responses=problem_responses(401, 403, 404),
)
async def get_registration(
    registration_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.REGISTRATIONS_READ)],
) -> RegistrationOut:
    registration = await service.get_registration(session, registration_id, principal=principal)
    return await _registration_out(session, registration)


@router.post(
    "/v1/event-registrations/{registration_id}/cancel",
    summary="Cancel a registration",
    description=(
        "Staff, the member whose registration it is, or a guest with the `cancel_token`. Until the "
        "event starts. A confirmed seat freed this way goes to the first on the waitlist "
        "(`event.waitlist_promoted`). A repeated cancellation answers the same. Someone else's "
        "registration (or a wrong `cancel_token`) is 404."
    ),
    responses=problem_responses(404, 409),
)
async def cancel_registration(
    registration_id: uuid.UUID,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal | None, require_optional(P.REGISTRATIONS_WRITE)],
    body: RegistrationCancel | None = None,
) -> RegistrationOut:
    registration = await service.cancel_registration(
        session,
        registration_id,
        principal=principal,
        cancel_token=body.cancel_token if body else None,
        now=now,
    )
    return await _registration_out(session, registration)


@router.post(
    "/v1/event-registrations/{registration_id}/check-in",
    summary="Check an attendee in",
    description="Staff, from one hour before the start until the event is closed. Repeating it answers the same.",
    responses=problem_responses(401, 403, 404, 409),
)
async def check_in(
    registration_id: uuid.UUID,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.PROGRAMS_WRITE)],
) -> RegistrationOut:
    registration = await service.check_in(session, registration_id, principal=principal, now=now)
    return await _registration_out(session, registration)


@router.get(
    "/v1/event-registrations/{registration_id}/contact",
    summary="Contact details of a registrant (for the notifier)",
    description=(
        "`service` or staff. Name, email and language: a guest's from the registration, a member's "
        "from the member record."
    ),
    responses=problem_responses(401, 403, 404),
)
async def registration_contact(
    registration_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.REGISTRATIONS_CONTACT)]
) -> RegistrationContact:
    return await service.contact(session, registration_id)


@router.get(
    "/v1/event-registrations/{registration_id}/confirmation-contact",
    summary="Recipient and link secret of a guest's confirmation email (for the notifier)",
    description=(
        "`service` (or admin). For `event.registration_confirmation_requested`: the guest's email, "
        "language and name (shortened to 40 characters, URLs and host names removed), and a fresh "
        "one-time `confirmation_token` for the link (only its hash is stored, so each call replaces "
        "the previous one). 410 `confirmation-not-pending` once the registration is confirmed, "
        "cancelled or lapsed: no link is mailed then."
    ),
    responses=problem_responses(401, 403, 404, 410),
)
async def confirmation_contact(
    registration_id: uuid.UUID,
    session: DbSession,
    now: Now,
    _: Annotated[Principal, require(P.REGISTRATION_CONFIRMATION)],
) -> ConfirmationContact:
    return await service.confirmation_contact(session, registration_id, now=now)
