"""What NETSUGEN owes and has sent to the KPI registry (for staff to see that nothing is stuck)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.netsugen_booking.kpi_reporting.models import KpiReport
from services.netsugen_booking.kpi_reporting.schemas import KpiReportList, KpiReportOut
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit, paginate
from shared.permissions import P, require

router = APIRouter(prefix="/v1/kpi-reports", tags=["kpi reporting"])


@router.get(
    "",
    summary="List KPI reports",
    description=(
        "Staff. One row per closed event whose category maps to a KPI: `pending` until the KPI "
        "registry accepted the fiscal year's total (`attempts`, `last_error` and `next_attempt_at` "
        "show the retries), then `sent` with the value and whether it went as a correction."
    ),
    responses=problem_responses(401, 403),
)
async def list_reports(
    session: DbSession,
    _: Annotated[Principal, require(P.KPI_REPORTS_READ)],
    report_status: Annotated[Literal["pending", "sent"] | None, Query(alias="status")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> KpiReportList:
    query = select(KpiReport)
    if report_status is not None:
        query = query.where(KpiReport.status == report_status)
    rows, next_cursor = await paginate(
        session, query, (KpiReport.created_at, KpiReport.id), limit=limit, cursor=cursor, scalars=True
    )
    return KpiReportList(items=[KpiReportOut.of(r) for r in rows], next_cursor=next_cursor)
