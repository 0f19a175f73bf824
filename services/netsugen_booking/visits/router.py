"""Front desk API: check-in, check-out, manual entry, correction, lists, audit and occupancy."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from services.netsugen_booking.calendar.service import hours_on
from services.netsugen_booking.frontdesk_common import idempotency
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.idempotency import IdempotencyKeyHeader
from services.netsugen_booking.members import service as members
from services.netsugen_booking.settings import NetsugenSettings
from services.netsugen_booking.visits import service
from services.netsugen_booking.visits.schemas import (
    AuditList,
    AuditOut,
    CheckInRequest,
    ManualVisitCreate,
    OccupancyOut,
    Occupant,
    VisitCorrection,
    VisitList,
    VisitOut,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import Forbidden, problem_responses
from shared.jst import jst_date, to_jst
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, require
from shared.ratelimit import per_token_limit

router = APIRouter(prefix="/v1", tags=["visits"])


def capacity_of(request: Request) -> int:
    settings: NetsugenSettings = request.app.state.settings
    return int(getattr(settings, "netsugen_capacity", 80))


@router.post(
    "/visits",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(per_token_limit("check-in", "checkin_rate_limit_per_minute"))],
    response_model=VisitOut,
    summary="Check in",
    description=(
        "Staff (front desk or kiosk). Identify the person with exactly one of `member_id`, `member_number` "
        "or `card_token`; a corporate member's users check in as themselves (their own card, or "
        "`member_user_id`). Refusals, with Japanese `detail` by default:\n\n"
        "- 409 `space-closed` outside opening hours or on a closed day;\n"
        "- 409 `space-full` at capacity (`capacity` and `count` in the body);\n"
        "- 409 `visit-already-open` when the person is already in (`visit_id` in the body);\n"
        "- 403 `member-suspended`, `member-left`, `member-user-inactive`;\n"
        "- 404 `member-not-found`, `unknown-card`, `member-user-not-found`;\n"
        "- 422 `member-user-required` for a corporate member without a user;\n"
        "- 429 `rate-limited` (with `Retry-After`) beyond `CHECKIN_RATE_LIMIT_PER_MINUTE` attempts a "
        "minute with one token.\n\n"
        "`Idempotency-Key`: a repeated key returns the first answer (`Idempotent-Replayed: true`); the "
        "same key with another body is 422 `idempotency-key-reuse`. Emits `visit.checked_in`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
async def check_in(
    body: CheckInRequest,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.VISITS_WRITE)],
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    started = await idempotency.begin(
        session, key=idempotency_key, principal=principal, operation="POST /v1/visits", body=body
    )
    if isinstance(started, JSONResponse):
        return started
    member, user = await members.resolve_person(
        session,
        member_id=body.member_id,
        member_number=body.member_number,
        card_token=body.card_token,
        member_user_id=body.member_user_id,
    )
    visit = await service.check_in(
        session,
        member=member,
        user=user,
        source="card" if body.card_token else "desk",
        actor=service.Actor.of(principal),
        now=now,
        capacity=capacity_of(request),
    )
    out = VisitOut.of(visit)
    if started is not None:
        await started.save(session, status.HTTP_201_CREATED, out)
    return _json(out, status.HTTP_201_CREATED)


def _json(out: VisitOut, status_code: int = status.HTTP_200_OK) -> Response:
    """The front desk's hot paths serialise once (pydantic, in Rust), not again through response_model."""
    return Response(out.model_dump_json().encode(), status_code=status_code, media_type="application/json")


@router.post(
    "/visits/manual",
    status_code=status.HTTP_201_CREATED,
    response_model=VisitOut,
    summary="Record a visit afterwards",
    description=(
        "Staff. For when the kiosk was down: explicit `check_in_at` and `check_out_at` (ISO-8601 with "
        "offset), in order (422 `times-not-in-order`), not in the future (422 `time-in-future`), check-in "
        "inside opening hours (422 `outside-opening-hours`); a check-out past closing is clipped to "
        "closing, as a live check-out is. Refused for a suspended member (409 "
        "`manual-entry-member-suspended`), a member who had left by then (409 `manual-entry-member-left`) "
        "and a day before the member registered (422 `manual-entry-before-registration`), unless "
        "`override: true` with an `override_reason` (both audited). `reason` is required and the entry "
        "is kept in the audit log. Overlapping another visit of the person: 409 `visit-overlap`. A visit "
        "in a month already invoiced is billed by the next invoice run (supplementary invoice). Accepts "
        "`Idempotency-Key`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def manual_entry(
    body: ManualVisitCreate,
    session: DbSession,
    principal: Annotated[Principal, require(P.VISITS_WRITE)],
    now: Now,
    idempotency_key: IdempotencyKeyHeader = None,
) -> VisitOut | JSONResponse:
    started = await idempotency.begin(
        session, key=idempotency_key, principal=principal, operation="POST /v1/visits/manual", body=body
    )
    if isinstance(started, JSONResponse):
        return started
    member, user = await members.resolve_person(
        session,
        member_id=body.member_id,
        member_number=body.member_number,
        member_user_id=body.member_user_id,
    )
    visit = await service.manual_entry(
        session,
        member=member,
        user=user,
        check_in_at=body.check_in_at,
        check_out_at=body.check_out_at,
        reason=body.reason,
        actor=service.Actor.of(principal),
        now=now,
        override_reason=body.override_reason if body.override else None,
    )
    out = VisitOut.of(visit)
    if started is not None:
        await started.save(session, status.HTTP_201_CREATED, out)
    return out


@router.get(
    "/visits",
    summary="List visits",
    description=(
        "Staff see every visit; a `member` token sees only its own member's (another `member_id` is 403). "
        "Filters: `member_id`, `member_user_id`, `from`/`to` (JST days of check-in, inclusive), `open`. "
        "Newest first, cursor pagination."
    ),
    responses=problem_responses(401, 403),
)
async def list_visits(
    session: DbSession,
    principal: Annotated[Principal, require(P.VISITS_READ)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    member_id: uuid.UUID | None = None,
    member_user_id: uuid.UUID | None = None,
    from_: Annotated[date | None, Query(alias="from", description="First JST day (YYYY-MM-DD).")] = None,
    to: Annotated[date | None, Query(description="Last JST day, inclusive.")] = None,
    open_: Annotated[
        bool | None, Query(alias="open", description="Only open (true) or closed (false).")
    ] = None,
) -> VisitList:
    if not principal.sees_every_member:
        if member_id is not None and str(member_id) != principal.subject:
            raise Forbidden(
                "A member token can only list its own visits.", detail_ja="ご自身の入館記録のみ参照できます。"
            )
        try:
            member_id = uuid.UUID(principal.subject or "")
        except ValueError:
            raise Forbidden(
                "This member token has no member id.", detail_ja="会員IDのないトークンです。"
            ) from None
    page, next_cursor = await service.list_visits(
        session,
        limit=limit,
        cursor=cursor,
        member_id=member_id,
        member_user_id=member_user_id,
        start=from_,
        end=to,
        is_open=open_,
    )
    return VisitList(items=[VisitOut.of(v) for v in page], next_cursor=next_cursor)


@router.get(
    "/visits/{visit_id}",
    summary="Read a visit",
    description="Staff, or the member whose visit it is.",
    responses=problem_responses(401, 403, 404),
)
async def get_visit(
    visit_id: uuid.UUID, session: DbSession, principal: Annotated[Principal, require(P.VISITS_READ)]
) -> VisitOut:
    visit = await service.get_visit(session, visit_id)
    service.ensure_visible(principal, visit)
    return VisitOut.of(visit)


@router.post(
    "/visits/{visit_id}/check-out",
    response_model=VisitOut,
    summary="Check out",
    description=(
        "Staff, or the member whose visit it is (403 `not-your-visit` for another member's). The "
        "check-out time is now, clipped to the closing time of the visit's day: time after closing is "
        "never counted. Repeating it returns the same visit unchanged. Emits `visit.checked_out` once."
    ),
    responses=problem_responses(401, 403, 404),
)
async def check_out(
    visit_id: uuid.UUID,
    session: DbSession,
    principal: Annotated[Principal, require(P.VISITS_CHECK_OUT)],
    now: Now,
) -> Response:
    visit = await service.get_visit(session, visit_id, for_update=True)
    service.ensure_visible(principal, visit)
    return _json(
        VisitOut.of(await service.check_out(session, visit, actor=service.Actor.of(principal), now=now))
    )


@router.post(
    "/visits/check-out",
    response_model=VisitOut,
    summary="Check out by scanning the card again (or by member)",
    description=(
        "Staff. The same identification as check-in (`card_token`, `member_number` or `member_id`, and "
        "`member_user_id` for a corporate member's user): closes that person's open visit now, clipped to "
        "closing time, as `POST /v1/visits/{id}/check-out` does. 409 `no-open-visit` when the person is "
        "not in. Emits `visit.checked_out`."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def check_out_by_card(
    body: CheckInRequest,
    session: DbSession,
    principal: Annotated[Principal, require(P.VISITS_WRITE)],
    now: Now,
) -> Response:
    member, user = await members.resolve_person(
        session,
        member_id=body.member_id,
        member_number=body.member_number,
        card_token=body.card_token,
        member_user_id=body.member_user_id,
    )
    visit = await service.open_visit_of(session, member, user)
    return _json(
        VisitOut.of(await service.check_out(session, visit, actor=service.Actor.of(principal), now=now))
    )


@router.patch(
    "/visits/{visit_id}",
    summary="Correct a visit's times",
    description=(
        "Staff. New `check_in_at` and/or `check_out_at` with a required `reason`; kept in the audit log "
        "with the values before and after. The same rules as a manual entry apply (order, opening hours, "
        "not in the future, membership on the day, 409 `visit-overlap`, `override` with `override_reason`); "
        "a check-out past closing is clipped to closing. A correction in a month already invoiced is "
        "billed by the next invoice run (credit the invoice first when the charge must go down)."
    ),
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def correct_visit(
    visit_id: uuid.UUID,
    body: VisitCorrection,
    session: DbSession,
    principal: Annotated[Principal, require(P.VISITS_WRITE)],
    now: Now,
) -> VisitOut:
    visit = await service.get_visit(session, visit_id, for_update=True)
    visit = await service.correct(
        session,
        visit,
        check_in_at=body.check_in_at,
        check_out_at=body.check_out_at,
        reason=body.reason,
        actor=service.Actor.of(principal),
        now=now,
        override_reason=body.override_reason if body.override else None,
    )
    return VisitOut.of(visit)


@router.get(
    "/visits/{visit_id}/audit",
    summary="A visit's audit log",
    description="Staff. Every change of the visit: who, when, action, reason, before and after.",
    responses=problem_responses(401, 403, 404),
)
async def visit_audit(
    visit_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.FRONTDESK_READ)]
) -> AuditList:
    await service.get_visit(session, visit_id)
    return AuditList(items=[AuditOut.of(a) for a in await service.audit_of(session, visit_id)])


@router.get(
    "/occupancy",
    summary="Who is in now",
    description="Staff. The people checked in now, their count, the capacity and today's hours.",
    responses=problem_responses(401, 403),
)
async def occupancy(
    request: Request, session: DbSession, _: Annotated[Principal, require(P.FRONTDESK_READ)], now: Now
) -> OccupancyOut:
    today = jst_date(now)
    hours = await hours_on(session, today)
    rows = await service.occupants(session, today)
    capacity = capacity_of(request)
    return OccupancyOut(
        as_of=to_jst(now),
        open_now=hours.contains(now),
        opens_at=f"{hours.opens_at:%H:%M}" if hours.opens_at else None,
        closes_at=f"{hours.closes_at:%H:%M}" if hours.closes_at else None,
        count=len(rows),
        capacity=capacity,
        available=max(0, capacity - len(rows)),
        visitors=[
            Occupant(
                visit_id=v.id,
                member_id=v.member_id,
                member_number=number,
                member_user_id=v.member_user_id,
                name=name,
                check_in_at=to_jst(v.check_in_at),
            )
            for v, number, name in rows
        ],
    )
