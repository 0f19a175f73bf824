"""NETSUGEN usage statistics for staff: JSON, XLSX and a server-rendered page (see README.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.frontdesk_common.language import request_language
from services.netsugen_booking.usage_stats.labels import Language
from services.netsugen_booking.usage_stats.page import PAGE_CSP, render_page
from services.netsugen_booking.usage_stats.rules import parse_period
from services.netsugen_booking.usage_stats.schemas import UsageStatsOut
from services.netsugen_booking.usage_stats.service import usage_stats
from services.netsugen_booking.usage_stats.xlsx import XLSX_MEDIA_TYPE, build_workbook
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.jst import to_jst
from shared.permissions import P, require

router = APIRouter(tags=["usage statistics"])

#: Staff (and admins), and the narrow accountant and auditor roles.
StatsReader = Annotated[Principal, require(P.USAGE_STATS_READ)]

MonthQuery = Annotated[
    str | None,
    Query(max_length=7, description="A calendar month, `YYYY-MM` (2020-12 … 2099-03).", examples=["2026-11"]),
]
FiscalYearQuery = Annotated[
    int | None,
    Query(
        description="A fiscal year (年度, April–March), 2020–2098: `2026` = 2026-04-01 … 2027-03-31.",
        examples=[2026],
    ),
]
DESCRIPTION = (
    "Give exactly one of `month` or `fiscal_year` (otherwise 422 `invalid-period`). Visits and unique visitors "
    "(a person is an individual member or one named user of a corporate member), members by plan at each month's "
    "end, new and leaving members, occupancy by weekday and hour (person-minutes and average people present), "
    "room utilisation (booked hours / opening hours), events held and their attendance, consultations held, and "
    "revenue by kind (drop-in, monthly, bookings) and plan from issued invoices less credit notes, by billing "
    "month. Names in Japanese, or English with `Accept-Language: en`. Readers: staff, admin, accountant, auditor."
)


@router.get(
    "/v1/usage-stats",
    summary="Usage statistics of a month or fiscal year",
    description=DESCRIPTION,
    response_model=UsageStatsOut,
    responses=problem_responses(401, 403, 422),
)
async def get_usage_stats(
    request: Request,
    session: DbSession,
    principal: StatsReader,
    now: Now,
    month: MonthQuery = None,
    fiscal_year: FiscalYearQuery = None,
) -> UsageStatsOut:
    period = parse_period(month=month, fiscal_year=fiscal_year)
    return await usage_stats(session, period, now=now, lang=request_language(request))


@router.get(
    "/v1/usage-stats.xlsx",
    summary="Usage statistics as an Excel workbook",
    description="The same figures as `GET /v1/usage-stats`, one sheet per section. " + DESCRIPTION,
    response_class=Response,
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The workbook."},
        **problem_responses(401, 403, 422),
    },
)
async def get_usage_stats_xlsx(
    request: Request,
    session: DbSession,
    principal: StatsReader,
    now: Now,
    month: MonthQuery = None,
    fiscal_year: FiscalYearQuery = None,
) -> Response:
    period = parse_period(month=month, fiscal_year=fiscal_year)
    lang = request_language(request)
    stats = await usage_stats(session, period, now=now, lang=lang)
    return Response(
        build_workbook(stats, lang),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="netsugen-usage-{period.key}.xlsx"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/usage-stats",
    response_class=HTMLResponse,
    summary="Usage statistics page (HTML, staff)",
    description=(
        "The statistics as a page with SVG charts drawn on the server (occupancy heat map, visits, members, "
        "rooms, revenue) and the same figures in tables; no script. Without `month` or `fiscal_year` it shows "
        "the current month. Japanese by default; `lang=en` or `Accept-Language: en` for English."
    ),
    responses=problem_responses(401, 403, 422),
)
async def usage_stats_page(
    request: Request,
    session: DbSession,
    principal: StatsReader,
    now: Now,
    month: MonthQuery = None,
    fiscal_year: FiscalYearQuery = None,
    lang: Annotated[Language | None, Query(description="Page language (default: Accept-Language).")] = None,
) -> HTMLResponse:
    if month is None and fiscal_year is None:
        month = to_jst(now).strftime("%Y-%m")
    period = parse_period(month=month, fiscal_year=fiscal_year)
    language: Language = lang or request_language(request)
    stats = await usage_stats(session, period, now=now, lang=language)
    return HTMLResponse(
        render_page(stats, language),
        headers={
            "Cache-Control": "no-store",
            "Content-Language": language,
            "Content-Security-Policy": PAGE_CSP,
        },
    )
