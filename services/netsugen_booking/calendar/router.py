"""The opening calendar: public to read; administrators set closures and special hours."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from services.netsugen_booking.calendar import service
from services.netsugen_booking.calendar.models import CalendarClosure, CalendarSpecialHours
from services.netsugen_booking.calendar.schemas import (
    CalendarOut,
    ClosureCreate,
    ClosureList,
    ClosureOut,
    ClosureUpdate,
    DayOut,
    SpecialHoursCreate,
    SpecialHoursList,
    SpecialHoursOut,
    SpecialHoursUpdate,
)
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.language import request_language
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.jst import jst_date
from shared.permissions import P, require

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])

FromDate = Annotated[date | None, Query(alias="from", description="First day (YYYY-MM-DD); default today.")]
ToDate = Annotated[date | None, Query(alias="to", description="Last day, inclusive; default from + 30 days.")]


@router.get(
    "",
    summary="Opening hours day by day",
    description=(
        "Public. For each day from `from` to `to` (inclusive, at most 366 days): `open`, `opens_at` and "
        "`closes_at` (HH:MM, JST) and `reason` — the holiday's name (振替休日 and 国民の休日 included), a "
        "closure's or special hours' reason — in the Accept-Language language (Japanese by default). "
        "Weekdays 10:00–21:00; Saturdays, Sundays and public holidays 10:00–18:00."
    ),
    response_model_by_alias=True,
    responses=problem_responses(422),
)
async def get_calendar(
    request: Request, session: DbSession, now: Now, from_: FromDate = None, to: ToDate = None
) -> CalendarOut:
    start = from_ or jst_date(now)
    end = to or service.default_range(start)[1]
    service.check_range(start, end)
    days = await service.hours_between(session, start, end, language=request_language(request))
    return CalendarOut.model_validate({"from": start, "to": end, "days": [DayOut.of(d) for d in days]})


# ---- closures ---------------------------------------------------------------------------------
@router.get(
    "/closures",
    summary="List closures",
    description="Staff. Closures overlapping `from`..`to` (all when omitted), by start date.",
    responses=problem_responses(401, 403),
)
async def list_closures(
    session: DbSession,
    _: Annotated[Principal, require(P.CALENDAR_READ)],
    from_: FromDate = None,
    to: ToDate = None,
) -> ClosureList:
    stmt = select(CalendarClosure).order_by(CalendarClosure.start_date, CalendarClosure.created_at)
    if from_ is not None:
        stmt = stmt.where(CalendarClosure.end_date >= from_)
    if to is not None:
        stmt = stmt.where(CalendarClosure.start_date <= to)
    return ClosureList(items=[ClosureOut.of(r) for r in (await session.scalars(stmt)).all()])


@router.post(
    "/closures",
    status_code=status.HTTP_201_CREATED,
    summary="Add a closure",
    description="Admin. The space is closed on every day of the range (year-end break, maintenance …).",
    responses=problem_responses(401, 403),
)
async def add_closure(
    body: ClosureCreate, session: DbSession, principal: Annotated[Principal, require(P.CALENDAR_WRITE)]
) -> ClosureOut:
    row = await service.add_closure(
        session,
        start=body.start_date,
        end=body.end_date or body.start_date,
        reason_ja=body.reason_ja,
        reason_en=body.reason_en or body.reason_ja,
        created_by=principal.name,
    )
    return ClosureOut.of(row)


@router.get(
    "/closures/{closure_id}",
    summary="Read a closure",
    description="Staff.",
    responses=problem_responses(401, 403, 404),
)
async def get_closure(
    closure_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.CALENDAR_READ)]
) -> ClosureOut:
    return ClosureOut.of(await service.get_closure(session, closure_id))


@router.patch(
    "/closures/{closure_id}",
    summary="Change a closure",
    description="Admin.",
    responses=problem_responses(401, 403, 404),
)
async def update_closure(
    closure_id: uuid.UUID,
    body: ClosureUpdate,
    session: DbSession,
    _: Annotated[Principal, require(P.CALENDAR_WRITE)],
) -> ClosureOut:
    row = await service.get_closure(session, closure_id)
    start = body.start_date or row.start_date
    end = body.end_date or row.end_date
    service.check_range(start, end, max_days=3660)
    row.start_date, row.end_date = start, end
    if body.reason_ja is not None:
        row.reason_ja = body.reason_ja
    if body.reason_en is not None:
        row.reason_en = body.reason_en
    await session.flush()
    return ClosureOut.of(row)


@router.delete(
    "/closures/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a closure",
    description="Admin.",
    responses=problem_responses(401, 403, 404),
)
async def delete_closure(
    closure_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.CALENDAR_WRITE)]
) -> Response:
    await session.delete(await service.get_closure(session, closure_id))
    await session.flush()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- special hours ----------------------------------------------------------------------------
@router.get(
    "/special-hours",
    summary="List special hours",
    description="Staff. Special hours overlapping `from`..`to` (all when omitted), by start date.",
    responses=problem_responses(401, 403),
)
async def list_special_hours(
    session: DbSession,
    _: Annotated[Principal, require(P.CALENDAR_READ)],
    from_: FromDate = None,
    to: ToDate = None,
) -> SpecialHoursList:
    stmt = select(CalendarSpecialHours).order_by(CalendarSpecialHours.start_date)
    if from_ is not None:
        stmt = stmt.where(CalendarSpecialHours.end_date >= from_)
    if to is not None:
        stmt = stmt.where(CalendarSpecialHours.start_date <= to)
    return SpecialHoursList(items=[SpecialHoursOut.of(r) for r in (await session.scalars(stmt)).all()])


@router.post(
    "/special-hours",
    status_code=status.HTTP_201_CREATED,
    summary="Add special hours",
    description=(
        "Admin. Non-regular hours (HH:MM JST) on every day of the range. Two special-hours entries may "
        "not cover the same day (409 `special-hours-overlap`); a closure on the same day wins."
    ),
    responses=problem_responses(401, 403, 409),
)
async def add_special_hours(
    body: SpecialHoursCreate, session: DbSession, principal: Annotated[Principal, require(P.CALENDAR_WRITE)]
) -> SpecialHoursOut:
    row = await service.add_special_hours(
        session,
        start=body.start_date,
        end=body.end_date or body.start_date,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        reason_ja=body.reason_ja,
        reason_en=body.reason_en or body.reason_ja,
        created_by=principal.name,
    )
    return SpecialHoursOut.of(row)


@router.get(
    "/special-hours/{sh_id}",
    summary="Read special hours",
    description="Staff.",
    responses=problem_responses(401, 403, 404),
)
async def get_special_hours(
    sh_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.CALENDAR_READ)]
) -> SpecialHoursOut:
    return SpecialHoursOut.of(await service.get_special_hours(session, sh_id))


@router.patch(
    "/special-hours/{sh_id}",
    summary="Change special hours",
    description="Admin.",
    responses=problem_responses(401, 403, 404, 409),
)
async def update_special_hours(
    sh_id: uuid.UUID,
    body: SpecialHoursUpdate,
    session: DbSession,
    _: Annotated[Principal, require(P.CALENDAR_WRITE)],
) -> SpecialHoursOut:
    row = await service.get_special_hours(session, sh_id)
    start = body.start_date or row.start_date
    end = body.end_date or row.end_date
    opens = body.opens_at or row.opens_at
    closes = body.closes_at or row.closes_at
    service.check_range(start, end, max_days=3660)
    service.check_hours(opens, closes)

    def apply() -> None:
        row.start_date, row.end_date, row.opens_at, row.closes_at = start, end, opens, closes
        if body.reason_ja is not None:
            row.reason_ja = body.reason_ja
        if body.reason_en is not None:
            row.reason_en = body.reason_en

    await service.flush_special_hours(session, apply)
    return SpecialHoursOut.of(row)


@router.delete(
    "/special-hours/{sh_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete special hours",
    description="Admin.",
    responses=problem_responses(401, 403, 404),
)
async def delete_special_hours(
    sh_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.CALENDAR_WRITE)]
) -> Response:
    await session.delete(await service.get_special_hours(session, sh_id))
    await session.flush()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
