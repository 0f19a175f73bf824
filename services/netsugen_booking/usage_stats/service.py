"""The usage statistics of a period, read set-wise from the database (one statement per section).

Every figure is an aggregate computed by PostgreSQL; nothing here walks visits one by one, so a
fiscal year costs the same handful of statements as a month. Definitions are in README.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.billing.models import Invoice, InvoiceLine
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.calendar.service import hours_between
from services.netsugen_booking.consultations.models import Consultation, ConsultationSlot
from services.netsugen_booking.feeds.service import CATEGORY_LABELS
from services.netsugen_booking.members.models import Member, PlanAssignment
from services.netsugen_booking.plans.models import Plan
from services.netsugen_booking.programs.models import PROGRAM_CATEGORIES, Program, ProgramRegistration
from services.netsugen_booking.resources.models import Resource
from services.netsugen_booking.usage_stats.labels import NO_PLAN, REVENUE_KIND_NAMES, Language
from services.netsugen_booking.usage_stats.rules import (
    HOURS,
    REVENUE_KINDS,
    WEEKDAYS,
    Period,
    RevenueKind,
    month_ends,
    month_key,
    ratio,
    revenue_kind,
    weekday_counts,
)
from services.netsugen_booking.usage_stats.schemas import (
    ConsultationsOut,
    CountByPlan,
    EventCategoryOut,
    EventsOut,
    MembersMonthOut,
    MembersOut,
    OccupancyOut,
    PeriodOut,
    RevenueByKind,
    RevenueByMonth,
    RevenueByPlan,
    RevenueOut,
    RoomOut,
    UsageStatsOut,
    VisitsByMonth,
    VisitsOut,
)
from services.netsugen_booking.visits.models import Visit
from shared.jst import JST, start_of_day_jst, to_jst

TZ = "Asia/Tokyo"
VISIT = Visit.__table__.fullname  # type: ignore[attr-defined]
MEMBER = Member.__table__.fullname  # type: ignore[attr-defined]
ASSIGNMENT = PlanAssignment.__table__.fullname  # type: ignore[attr-defined]
PLAN = Plan.__table__.fullname  # type: ignore[attr-defined]
BOOKING = Booking.__table__.fullname  # type: ignore[attr-defined]
RESOURCE = Resource.__table__.fullname  # type: ignore[attr-defined]
PROGRAM = Program.__table__.fullname  # type: ignore[attr-defined]
REGISTRATION = ProgramRegistration.__table__.fullname  # type: ignore[attr-defined]
CONSULTATION = Consultation.__table__.fullname  # type: ignore[attr-defined]
SLOT = ConsultationSlot.__table__.fullname  # type: ignore[attr-defined]
INVOICE = Invoice.__table__.fullname  # type: ignore[attr-defined]
LINE = InvoiceLine.__table__.fullname  # type: ignore[attr-defined]

# A person: an individual member, or one named user of a corporate member (user ids are unique uuids).
_VISITS_SQL = f"""
    SELECT to_char(check_in_at AT TIME ZONE '{TZ}', 'YYYY-MM') AS month,
           count(*) AS visits,
           count(DISTINCT coalesce(member_user_id, member_id)) AS unique_visitors
      FROM {VISIT}
     WHERE check_in_at >= :start AND check_in_at < :end
     GROUP BY 1 ORDER BY 1
"""
_VISIT_TOTALS_SQL = f"""
    SELECT count(*) AS visits,
           count(DISTINCT coalesce(member_user_id, member_id)) AS unique_visitors,
           count(DISTINCT member_id) AS unique_members,
           coalesce(sum(extract(epoch FROM coalesce(check_out_at, greatest(:now, check_in_at)) - check_in_at)), 0)
               AS seconds
      FROM {VISIT}
     WHERE check_in_at >= :start AND check_in_at < :end
"""
_VISITS_BY_PLAN_SQL = f"""
    SELECT plan_code, count(*) AS visits FROM {VISIT}
     WHERE check_in_at >= :start AND check_in_at < :end GROUP BY 1 ORDER BY 1
"""
# Each visit (clipped to the period; an open one ends now) is cut at the hours of the JST wall
# clock; each piece adds its seconds to its (weekday, hour) cell. In integer seconds of JST wall
# time (UTC + 9 h; Japan has no daylight saving): hour h = s / 3600, its day h / 24 counts from
# Thursday 1970-01-01 (ISO weekday 4). Integer series are ~10× cheaper than timestamp series here.
_OCCUPANCY_SQL = f"""
    WITH v AS (
        SELECT extract(epoch FROM greatest(check_in_at, :start))::bigint + 32400 AS s,
               extract(epoch FROM least(coalesce(check_out_at, greatest(:now, check_in_at)), :end))::bigint
                   + 32400 AS e
          FROM {VISIT}
         WHERE check_in_at < :end AND coalesce(check_out_at, greatest(:now, check_in_at)) > :start
    ), pieces AS (
        SELECT s, e, h FROM v, generate_series(s / 3600, (e - 1) / 3600) AS h WHERE e > s
    )
    SELECT ((h / 24 + 3) % 7 + 1)::int AS weekday, (h % 24)::int AS hour,
           sum(least(e, (h + 1) * 3600) - greatest(s, h * 3600)) AS seconds
      FROM pieces
     GROUP BY 1, 2
"""
_MEMBERS_AT_SQL = f"""
    SELECT d.day, a.plan_code, count(DISTINCT a.member_id) AS members
      FROM unnest(CAST(:days AS date[])) AS d(day)
      JOIN {ASSIGNMENT} a ON a.start_date <= d.day AND (a.end_date IS NULL OR a.end_date >= d.day)
     GROUP BY 1, 2
"""
_JOINERS_SQL = f"""
    SELECT 'new' AS what, to_char(created_at AT TIME ZONE '{TZ}', 'YYYY-MM') AS month, count(*) AS n
      FROM {MEMBER} WHERE created_at >= :start AND created_at < :end GROUP BY 2
    UNION ALL
    SELECT 'left', to_char(left_at AT TIME ZONE '{TZ}', 'YYYY-MM'), count(*)
      FROM {MEMBER} WHERE left_at >= :start AND left_at < :end GROUP BY 2
"""
# least()/greatest() skip NULLs, so without the FILTER a room with no booking would count the whole period.
_ROOMS_SQL = f"""
    SELECT r.id, r.slug, r.kind, r.name_ja, r.name_en, r.active,
           count(*) FILTER (WHERE b.member_id IS NOT NULL AND b.start_at >= :start) AS bookings,
           coalesce(sum(extract(epoch FROM least(b.end_at, :end) - greatest(b.start_at, :start)))
                    FILTER (WHERE b.id IS NOT NULL), 0) AS seconds,
           coalesce(sum(extract(epoch FROM least(b.end_at, :end) - greatest(b.start_at, :start)))
                    FILTER (WHERE b.program_id IS NOT NULL), 0) AS event_seconds
      FROM {RESOURCE} r
      LEFT JOIN {BOOKING} b
        ON b.resource_id = r.id AND b.status = 'confirmed' AND b.start_at < :end AND b.end_at > :start
     GROUP BY r.id
     ORDER BY r.kind, r.slug
"""
# Held: started in the period and already over. Attendance: what was reported at closing, else
# the registrations checked in so far.
_EVENTS_SQL = f"""
    SELECT p.category,
           count(*) AS held,
           coalesce(sum(coalesce(p.attendance_count, att.checked_in)), 0) AS attendance,
           coalesce(sum(att.confirmed), 0) AS registrations
      FROM {PROGRAM} p
      LEFT JOIN LATERAL (
           SELECT count(*) FILTER (WHERE r.checked_in_at IS NOT NULL) AS checked_in,
                  count(*) FILTER (WHERE r.status = 'confirmed') AS confirmed
             FROM {REGISTRATION} r WHERE r.program_id = p.id
      ) att ON true
     WHERE p.start_at >= :start AND p.start_at < :end AND p.end_at <= :now
     GROUP BY 1
"""
_CONSULTATIONS_SQL = f"""
    SELECT c.status, count(*) AS n
      FROM {CONSULTATION} c JOIN {SLOT} s ON s.id = c.slot_id
     WHERE s.start_at >= :start AND s.start_at < :end
     GROUP BY 1
"""
# Issued documents only (a draft is not revenue); a credit note carries its invoice's month.
_REVENUE_SQL = f"""
    SELECT to_char(i.period_start, 'YYYY-MM') AS month, i.kind AS document, l.kind AS line_kind,
           l.plan_code, p.kind AS plan_kind, sum(l.amount_yen) AS yen
      FROM {INVOICE} i
      JOIN {LINE} l ON l.invoice_id = i.id
      LEFT JOIN {PLAN} p ON p.code = l.plan_code
     WHERE i.status <> 'draft' AND i.period_start BETWEEN :first AND :last
     GROUP BY 1, 2, 3, 4, 5
"""
_DOCUMENT_COUNT_SQL = f"""
    SELECT kind, count(*) AS n FROM {INVOICE}
     WHERE status <> 'draft' AND period_start BETWEEN :first AND :last GROUP BY 1
"""


def _hours(seconds: Any) -> float:
    return round(float(seconds) / 3600, 2)


async def _plan_names(session: AsyncSession, lang: Language) -> dict[str, str]:
    rows = await session.execute(text(f"SELECT code, name_ja, name_en FROM {PLAN} ORDER BY code"))
    return {r.code: (r.name_ja if lang == "ja" else r.name_en) for r in rows}


async def usage_stats(
    session: AsyncSession, period: Period, *, now: datetime, lang: Language
) -> UsageStatsOut:
    """Every section of the statistics for ``period`` as of ``now``."""
    start = start_of_day_jst(period.start)
    end = start_of_day_jst(period.end + timedelta(days=1))
    bounds = {"start": start, "end": end, "now": now}
    today = to_jst(now).date()
    # The planner guesses 1,000 rows per generate_series and JIT-compiles the occupancy query, which
    # costs more than running it (measured: ~100 ms of 1.7 s on 40,000 visits); as in the invoice run.
    await session.execute(text("SET LOCAL jit = off"))
    plans = await _plan_names(session, lang)

    def plan_name(code: str | None) -> str:
        return NO_PLAN[lang] if code is None else plans.get(code, code)

    # ---- visits
    totals = (await session.execute(text(_VISIT_TOTALS_SQL), bounds)).one()
    per_month = {r.month: r for r in await session.execute(text(_VISITS_SQL), bounds)}
    by_plan = [
        CountByPlan(plan_code=r.plan_code, name=plan_name(r.plan_code), count=r.visits)
        for r in await session.execute(text(_VISITS_BY_PLAN_SQL), bounds)
    ]
    months = [month_key(y, m) for y, m in period.months]
    visits = VisitsOut(
        visits=totals.visits,
        unique_visitors=totals.unique_visitors,
        unique_members=totals.unique_members,
        visitor_hours=_hours(totals.seconds),
        by_plan=by_plan,
        by_month=[
            VisitsByMonth(
                month=m,
                visits=per_month[m].visits if m in per_month else 0,
                unique_visitors=per_month[m].unique_visitors if m in per_month else 0,
            )
            for m in months
        ],
    )

    # ---- members
    ends = month_ends(period, today)
    counted: dict[date, dict[str, int]] = defaultdict(dict)
    if ends:
        for r in await session.execute(text(_MEMBERS_AT_SQL), {"days": [d for _, d in ends]}):
            counted[r.day][r.plan_code] = r.members
    moves: dict[tuple[str, str], int] = {
        (r.what, r.month): r.n for r in await session.execute(text(_JOINERS_SQL), bounds)
    }
    member_months = []
    for key, day in ends:
        at = counted.get(day, {})
        member_months.append(
            MembersMonthOut(
                month=key,
                as_of=day,
                by_plan=[
                    CountByPlan(plan_code=c, name=plan_name(c), count=at.get(c, 0)) for c in sorted(plans)
                ],
                total=sum(at.values()),
                new_members=moves.get(("new", key), 0),
                leaving_members=moves.get(("left", key), 0),
            )
        )
    members = MembersOut(
        new_members=sum(n for (what, _), n in moves.items() if what == "new"),
        leaving_members=sum(n for (what, _), n in moves.items() if what == "left"),
        by_month=member_months,
    )

    # ---- occupancy heat map
    seconds = {
        (r.weekday, r.hour): float(r.seconds) for r in await session.execute(text(_OCCUPANCY_SQL), bounds)
    }
    days = weekday_counts(period.start, period.end)
    minutes = [[round(seconds.get((w, h), 0.0) / 60) for h in HOURS] for w in WEEKDAYS]
    occupancy = OccupancyOut(
        weekdays=list(WEEKDAYS),
        hours=list(HOURS),
        person_minutes=minutes,
        average_present=[
            [round(seconds.get((w, h), 0.0) / 3600 / days[w], 2) if days[w] else 0.0 for h in HOURS]
            for w in WEEKDAYS
        ],
        days_per_weekday=[days[w] for w in WEEKDAYS],
    )

    # ---- rooms: booked hours over the opening hours of the calendar (holidays, closures applied)
    open_seconds = 0.0
    for hours in await hours_between(session, period.start, period.end, language=lang):
        if hours.open and hours.opens_at is not None and hours.closes_at is not None:
            opens = datetime.combine(hours.date, hours.opens_at, tzinfo=JST)
            closes = datetime.combine(hours.date, hours.closes_at, tzinfo=JST)
            open_seconds += (closes - opens).total_seconds()
    rooms = []
    for r in await session.execute(text(_ROOMS_SQL), bounds):
        if not r.active and not r.seconds:
            continue
        rooms.append(
            RoomOut(
                resource_id=str(r.id),
                slug=r.slug,
                name=r.name_ja if lang == "ja" else r.name_en,
                kind=r.kind,
                bookings=r.bookings,
                booked_hours=_hours(r.seconds),
                event_hours=_hours(r.event_seconds),
                open_hours=_hours(open_seconds),
                utilisation=ratio(float(r.seconds), open_seconds),
            )
        )

    # ---- events and consultations
    held = {r.category: r for r in await session.execute(text(_EVENTS_SQL), bounds)}
    events = EventsOut(
        held=sum(r.held for r in held.values()),
        attendance=sum(int(r.attendance) for r in held.values()),
        registrations=sum(int(r.registrations) for r in held.values()),
        by_category=[
            EventCategoryOut(
                category=c,
                name=CATEGORY_LABELS[lang][c],
                held=held[c].held if c in held else 0,
                attendance=int(held[c].attendance) if c in held else 0,
            )
            for c in PROGRAM_CATEGORIES
        ],
    )
    consult = {r.status: r.n for r in await session.execute(text(_CONSULTATIONS_SQL), bounds)}
    consultations = ConsultationsOut(
        held=consult.get("completed", 0),
        no_show=consult.get("no_show", 0),
        cancelled=consult.get("cancelled", 0),
        booked=consult.get("confirmed", 0),
    )

    revenue = await _revenue(session, period, months, plan_name, lang)
    return UsageStatsOut(
        period=PeriodOut(
            kind=period.kind,
            key=period.key,
            start=period.start,
            end=period.end,
            fiscal_year=period.fiscal_year,
        ),
        generated_at=to_jst(now),
        visits=visits,
        members=members,
        occupancy=occupancy,
        rooms=rooms,
        events=events,
        consultations=consultations,
        revenue=revenue,
    )


async def _revenue(
    session: AsyncSession, period: Period, months: list[str], plan_name: Any, lang: Language
) -> RevenueOut:
    bounds = {"first": period.start.replace(day=1), "last": period.end}
    kinds: dict[RevenueKind, list[int]] = {k: [0, 0] for k in REVENUE_KINDS}
    by_plan: dict[str | None, list[int]] = {}
    by_month: dict[str, list[int]] = {m: [0, 0] for m in months}
    for r in await session.execute(text(_REVENUE_SQL), bounds):
        column = 0 if r.document == "invoice" else 1
        yen = int(r.yen)
        kinds[revenue_kind(r.line_kind, r.plan_kind)][column] += yen
        by_plan.setdefault(r.plan_code, [0, 0])[column] += yen
        by_month.setdefault(r.month, [0, 0])[column] += yen
    documents = {r.kind: r.n for r in await session.execute(text(_DOCUMENT_COUNT_SQL), bounds)}
    invoiced = sum(v[0] for v in kinds.values())
    credited = sum(v[1] for v in kinds.values())
    return RevenueOut(
        invoiced_yen=invoiced,
        credited_yen=credited,
        net_yen=invoiced + credited,
        invoices=documents.get("invoice", 0),
        credit_notes=documents.get("credit_note", 0),
        by_kind=[
            RevenueByKind(
                kind=k,
                name=REVENUE_KIND_NAMES[k][lang],
                invoiced_yen=v[0],
                credited_yen=v[1],
                net_yen=v[0] + v[1],
            )
            for k, v in kinds.items()
        ],
        by_plan=[
            RevenueByPlan(
                plan_code=code, name=plan_name(code), invoiced_yen=v[0], credited_yen=v[1], net_yen=sum(v)
            )
            for code, v in sorted(by_plan.items(), key=lambda item: (item[0] is None, item[0] or ""))
        ],
        by_month=[
            RevenueByMonth(month=m, invoiced_yen=v[0], credited_yen=v[1], net_yen=v[0] + v[1])
            for m, v in sorted(by_month.items())
        ],
    )
