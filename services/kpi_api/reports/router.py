"""The KPI progress report for the prefecture's annual review (admins and auditors): XLSX and HTML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.kpi_api.core.http import language
from services.kpi_api.core.vocab import Language
from services.kpi_api.reports.html import PAGE_CSP, render_report
from services.kpi_api.reports.service import FIRST_REPORT_FISCAL_YEAR, LAST_REPORT_FISCAL_YEAR, build_report
from services.kpi_api.reports.xlsx import XLSX_MEDIA_TYPE, build_workbook
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.permissions import P, require

router = APIRouter(prefix="/v1/reports", tags=["reports"])

ReportReader = Annotated[Principal, require(P.KPI_PROGRESS_REPORT)]
FiscalYear = Annotated[
    int,
    Query(
        description=f"The fiscal year (年度) reported: values up to it are graded ({FIRST_REPORT_FISCAL_YEAR}–"
        f"{LAST_REPORT_FISCAL_YEAR}; otherwise 422 `invalid-fiscal-year`).",
        examples=[2025],
    ),
]
LangQuery = Annotated[
    Language | None, Query(description="`ja` (default) or `en`; without it, Accept-Language decides.")
]
DESCRIPTION = (
    "For each plan section (1.1(3), 1.2(1), 2(2), 2(3)-2, with the plan's titles): every indicator and breakdown "
    "with the targets that section states, baseline, latest value and its year, target, achievement rate, "
    "expected rate, status, the indicator's overall status and an empty comment column; a summary of the status "
    "counts overall, per aspect, per SDG goal and per section. Graded by the registry's progress method with the "
    "observations up to `fiscal_year`. Admins and auditors."
)


@router.get(
    "/kpi-progress.xlsx",
    summary="KPI progress report (XLSX)",
    description=DESCRIPTION,
    response_class=Response,
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The workbook."},
        **problem_responses(401, 403, 422),
    },
)
async def kpi_progress_xlsx(
    request: Request,
    session: DbSession,
    principal: ReportReader,
    fiscal_year: FiscalYear,
    lang: LangQuery = None,
) -> Response:
    report = await build_report(session, fiscal_year, lang or language(request))
    return Response(
        build_workbook(report),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="kpi-progress-FY{fiscal_year}.xlsx"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/kpi-progress",
    summary="KPI progress report (printable HTML)",
    description=DESCRIPTION + " A4 landscape when printed; no script.",
    response_class=HTMLResponse,
    responses=problem_responses(401, 403, 422),
)
async def kpi_progress_html(
    request: Request,
    session: DbSession,
    principal: ReportReader,
    fiscal_year: FiscalYear,
    lang: LangQuery = None,
) -> HTMLResponse:
    report = await build_report(session, fiscal_year, lang or language(request))
    return HTMLResponse(
        render_report(report),
        headers={
            "Cache-Control": "no-store",
            "Content-Language": report.lang,
            "Content-Security-Policy": PAGE_CSP,
        },
    )
