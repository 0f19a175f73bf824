"""Sending closed events' attendance to the KPI registry.

The KPIs fed are cumulative (累計), recorded once per fiscal year, so what is sent is the fiscal
year's running total for the indicator, recomputed at send time from every closed event of the
mapped categories in that fiscal year. The first value of a year is a plain observation; when the
registry already holds one (409) the total is re-sent as ``"correction": true``, which adds a
revision there (the registry keeps the history).

Every pending report of one (indicator, fiscal year) is sent together, under a transaction-level
advisory lock for that pair, so two workers never send the same year at once (a stale total can
never overtake a newer one) and a burst of closes costs one call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import cast
from sqlalchemy.types import String

from services.netsugen_booking.bookings.config import KpiMapping
from services.netsugen_booking.kpi_reporting.models import KpiReport
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from services.netsugen_booking.settings import NetsugenSettings
from shared.db import session_scope
from shared.http import make_client
from shared.jst import fiscal_year_range, start_of_day_jst

log = structlog.get_logger("kpi_reporting")

SOURCE = "NETSUGEN (netsugen_booking): attendance of closed events"


class KpiRejected(Exception):
    """The KPI registry answered, but not with success."""


@dataclass(frozen=True)
class SendResult:
    indicator_id: str
    fiscal_year: int
    sent: bool
    value: int | None
    correction: bool
    reports: int
    error: str | None = None


def backoff_seconds(attempts: int, *, cap_s: int) -> int:
    """30 s, 60 s, 120 s … doubling per failed attempt, at most ``cap_s``."""
    return int(min(cap_s, 30 * 2 ** max(attempts - 1, 0)))


def fiscal_year_bounds(fiscal_year: int) -> tuple[datetime, datetime]:
    first, last = fiscal_year_range(fiscal_year)
    return start_of_day_jst(first), start_of_day_jst(last + timedelta(days=1))


async def fiscal_year_total(
    session: AsyncSession, indicator_id: str, fiscal_year: int, mapping: dict[str, KpiMapping]
) -> int:
    """The indicator's value for the fiscal year from NETSUGEN's closed events.

    ``attendance`` categories add their events' frozen attendance counts; ``distinct_attendees``
    categories add the number of different people (member, or guest email) checked in over the year.
    """
    start, end = fiscal_year_bounds(fiscal_year)
    by_attendance = [
        c for c, m in mapping.items() if m.indicator_id == indicator_id and m.count == "attendance"
    ]
    by_person = [
        c for c, m in mapping.items() if m.indicator_id == indicator_id and m.count == "distinct_attendees"
    ]
    in_year = (Program.status == "closed", Program.start_at >= start, Program.start_at < end)
    total = 0
    if by_attendance:
        total += int(
            await session.scalar(
                select(func.coalesce(func.sum(Program.attendance_count), 0)).where(
                    Program.category.in_(by_attendance), *in_year
                )
            )
            or 0
        )
    if by_person:
        person = func.coalesce(
            cast(ProgramRegistration.member_id, String), literal("guest:") + ProgramRegistration.guest_email
        )
        total += int(
            await session.scalar(
                select(func.count(distinct(person)))
                .join(Program, Program.id == ProgramRegistration.program_id)
                .where(
                    ProgramRegistration.checked_in_at.is_not(None), Program.category.in_(by_person), *in_year
                )
            )
            or 0
        )
    return total


async def post_observation(
    client: httpx.AsyncClient, indicator_id: str, fiscal_year: int, value: int, note: str
) -> bool:
    """POST the value; on 409 (a value exists for the year) re-send it as a correction.

    Returns whether it went as a correction. Raises ``httpx.HTTPError`` when the registry cannot be
    reached and :class:`KpiRejected` when it refuses.
    """
    body: dict[str, object] = {"fiscal_year": fiscal_year, "value": value, "source": SOURCE, "note": note}
    path = f"/v1/kpis/{indicator_id}/observations"
    response = await client.post(path, json=body)
    correction = False
    if response.status_code == 409:
        correction = True
        response = await client.post(path, json={**body, "correction": True})
    if not response.is_success:
        raise KpiRejected(f"{response.status_code} {response.text[:500]}")
    return correction


async def _due_groups(
    maker: async_sessionmaker[AsyncSession], *, now: datetime, report_id: uuid.UUID | None
) -> Sequence[tuple[str, int]]:
    async with session_scope(maker) as session:
        query = select(KpiReport.indicator_id, KpiReport.fiscal_year).where(KpiReport.status == "pending")
        if report_id is not None:
            query = query.where(KpiReport.id == report_id)
        else:
            query = query.where(KpiReport.next_attempt_at <= now)
        rows = (
            await session.execute(query.distinct().order_by(KpiReport.fiscal_year, KpiReport.indicator_id))
        ).all()
        return [(r.indicator_id, r.fiscal_year) for r in rows]


async def send_group(
    maker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    settings: NetsugenSettings,
    indicator_id: str,
    fiscal_year: int,
    *,
    now: datetime,
) -> SendResult | None:
    """Send one (indicator, fiscal year); ``None`` when another worker holds it or nothing is pending."""
    async with session_scope(maker) as session:
        # One sender per (indicator, fiscal year) at a time: otherwise a total computed earlier could
        # reach the registry after a newer one and overwrite it. Busy: the next sweep sends it.
        locked = await session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtext(f"kpi_report:{indicator_id}:{fiscal_year}")))
        )
        if not locked:
            return None
        reports = (
            await session.scalars(
                select(KpiReport)
                .where(
                    KpiReport.status == "pending",
                    KpiReport.indicator_id == indicator_id,
                    KpiReport.fiscal_year == fiscal_year,
                )
                .with_for_update()
            )
        ).all()
        if not reports:
            return None
        total = await fiscal_year_total(session, indicator_id, fiscal_year, settings.kpi_report_mapping)
        closed = await session.scalar(
            select(func.count()).where(
                KpiReport.indicator_id == indicator_id, KpiReport.fiscal_year == fiscal_year
            )
        )
        # Deterministic: re-sending the same total with the same note is a no-op ("unchanged") there.
        note = f"FY{fiscal_year} running total of {closed} closed NETSUGEN event(s)."
        try:
            correction = await post_observation(client, indicator_id, fiscal_year, total, note)
        except (httpx.HTTPError, KpiRejected) as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            for report in reports:
                report.attempts += 1
                report.last_error = error
                report.next_attempt_at = now + timedelta(
                    seconds=backoff_seconds(report.attempts, cap_s=settings.kpi_report_max_backoff_s)
                )
            log.warning("kpi_report_failed", indicator_id=indicator_id, fiscal_year=fiscal_year, error=error)
            return SendResult(indicator_id, fiscal_year, False, None, False, len(reports), error)
        for report in reports:
            report.attempts += 1
            report.status = "sent"
            report.sent_value = total
            report.sent_as_correction = correction
            report.sent_at = now
            report.last_error = None
        log.info(
            "kpi_report_sent",
            indicator_id=indicator_id,
            fiscal_year=fiscal_year,
            value=total,
            correction=correction,
        )
        return SendResult(indicator_id, fiscal_year, True, total, correction, len(reports))


def kpi_client(settings: NetsugenSettings) -> httpx.AsyncClient:
    token = settings.service_token.get_secret_value() if settings.service_token else None
    return make_client(
        settings.kpi_api_url, service_token=token, timeout_s=settings.http_timeout_s, attempts=2
    )


async def send_due(
    maker: async_sessionmaker[AsyncSession],
    settings: NetsugenSettings,
    *,
    now: datetime,
    report_id: uuid.UUID | None = None,
) -> list[SendResult]:
    """Send every pending report that is due (or just ``report_id``'s year, due or not)."""
    results: list[SendResult] = []
    groups = await _due_groups(maker, now=now, report_id=report_id)
    if not groups:
        return results
    async with kpi_client(settings) as client:
        for indicator_id, fiscal_year in groups:
            result = await send_group(maker, client, settings, indicator_id, fiscal_year, now=now)
            if result is not None:
                results.append(result)
    return results
