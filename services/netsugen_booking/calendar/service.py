"""The opening calendar with the administrators' closures and special hours from the database.

The rules themselves (weekday/weekend/holiday hours, precedence) are the pure functions of
:mod:`services.netsugen_booking.calendar.rules`; this module only loads the rows they need.
Other domains (visits, bookings, billing) call :func:`hours_on` / :func:`hours_between`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.calendar.exceptions import (
    ClosureNotFound,
    InvalidDateRange,
    SpecialHoursNotFound,
    SpecialHoursOverlap,
)
from services.netsugen_booking.calendar.models import CalendarClosure, CalendarSpecialHours
from services.netsugen_booking.calendar.rules import (
    HOLIDAY_CALENDAR_FIRST_YEAR,
    HOLIDAY_CALENDAR_LAST_YEAR,
    Closure,
    DayHours,
    Language,
    SpecialHours,
    calendar_range,
)
from services.netsugen_booking.frontdesk_common.db_errors import constraint_name, flush_in_savepoint
from shared.pgnotify import NotifiedCache

MAX_RANGE_DAYS = 366
#: Notified at commit on every change of closures and special hours (migration 0008).
CALENDAR_CHANNEL = "netsugen_calendar"
#: One day's hours per (day, language), trusted while the channel's token is unchanged (per process).
_HOURS: NotifiedCache[tuple[date, str], DayHours] = NotifiedCache(CALENDAR_CHANNEL, max_size=1_000)


def check_range(start: date, end: date, *, max_days: int = MAX_RANGE_DAYS) -> None:
    """422 for a reversed or too long range, or years without holiday data."""
    if end < start:
        raise InvalidDateRange(
            f"'to' ({end}) is before 'from' ({start}).",
            detail_ja=f"終了日({end})が開始日({start})より前です。",
        )
    if (end - start).days + 1 > max_days:
        raise InvalidDateRange(
            f"At most {max_days} days at once.", detail_ja=f"一度に指定できるのは{max_days}日までです。"
        )
    for d in (start, end):
        if not HOLIDAY_CALENDAR_FIRST_YEAR <= d.year <= HOLIDAY_CALENDAR_LAST_YEAR:
            raise InvalidDateRange(
                f"The calendar covers {HOLIDAY_CALENDAR_FIRST_YEAR}–{HOLIDAY_CALENDAR_LAST_YEAR}.",
                detail_ja=f"カレンダーは{HOLIDAY_CALENDAR_FIRST_YEAR}年〜{HOLIDAY_CALENDAR_LAST_YEAR}年のみ対応しています。",
            )


async def closure_rows(session: AsyncSession, start: date, end: date) -> Sequence[CalendarClosure]:
    return (
        await session.scalars(
            select(CalendarClosure)
            .where(CalendarClosure.start_date <= end, CalendarClosure.end_date >= start)
            .order_by(CalendarClosure.start_date, CalendarClosure.created_at)
        )
    ).all()


async def special_hours_rows(session: AsyncSession, start: date, end: date) -> Sequence[CalendarSpecialHours]:
    return (
        await session.scalars(
            select(CalendarSpecialHours)
            .where(CalendarSpecialHours.start_date <= end, CalendarSpecialHours.end_date >= start)
            .order_by(CalendarSpecialHours.start_date)
        )
    ).all()


def to_closure(row: CalendarClosure) -> Closure:
    return Closure(start=row.start_date, end=row.end_date, reason_ja=row.reason_ja, reason_en=row.reason_en)


def to_special_hours(row: CalendarSpecialHours) -> SpecialHours:
    return SpecialHours(
        start=row.start_date,
        end=row.end_date,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        reason_ja=row.reason_ja,
        reason_en=row.reason_en,
    )


async def hours_between(
    session: AsyncSession, start: date, end: date, *, language: Language = "ja"
) -> list[DayHours]:
    """Opening hours of every day from ``start`` to ``end`` (inclusive), closures and special hours applied."""
    closures = [to_closure(r) for r in await closure_rows(session, start, end)]
    specials = [to_special_hours(r) for r in await special_hours_rows(session, start, end)]
    return calendar_range(start, end, closures=closures, special_hours=specials, language=language)


async def hours_on(session: AsyncSession, day: date, *, language: Language = "ja") -> DayHours:
    """Opening hours of one JST day.

    Kept in process memory while this process listens to ``netsugen_calendar``: every check-in
    asks for today's hours, which change only when an administrator edits the calendar (and then
    every process hears of it at commit). Without a listener it is read from the database.
    """
    token = _HOURS.token()
    hit = _HOURS.get((day, language), token)
    if hit is not None:
        return hit
    hours = (await hours_between(session, day, day, language=language))[0]
    _HOURS.put((day, language), token, hours)
    return hours


# ---- administration ---------------------------------------------------------------------------
async def add_closure(
    session: AsyncSession, *, start: date, end: date, reason_ja: str, reason_en: str, created_by: str
) -> CalendarClosure:
    check_range(start, end, max_days=3660)
    row = CalendarClosure(
        start_date=start, end_date=end, reason_ja=reason_ja, reason_en=reason_en, created_by=created_by
    )
    session.add(row)
    await session.flush()
    return row


async def get_closure(session: AsyncSession, closure_id: uuid.UUID) -> CalendarClosure:
    row = await session.get(CalendarClosure, closure_id, with_for_update=True)
    if row is None:
        raise ClosureNotFound(f"No closure {closure_id}.", detail_ja="指定された休館日はありません。")
    return row


async def get_special_hours(session: AsyncSession, sh_id: uuid.UUID) -> CalendarSpecialHours:
    row = await session.get(CalendarSpecialHours, sh_id, with_for_update=True)
    if row is None:
        raise SpecialHoursNotFound(
            f"No special hours {sh_id}.", detail_ja="指定された特別営業時間はありません。"
        )
    return row


def check_hours(opens_at: time, closes_at: time) -> None:
    if not opens_at < closes_at:
        raise InvalidDateRange(
            f"opens_at ({opens_at:%H:%M}) must be before closes_at ({closes_at:%H:%M}).",
            detail_ja=f"開館時刻({opens_at:%H:%M})は閉館時刻({closes_at:%H:%M})より前にしてください。",
        )


async def flush_special_hours(session: AsyncSession, apply: Callable[[], None]) -> None:
    """Apply the change and flush in a savepoint; the no-overlap constraint becomes 409 ``special-hours-overlap``."""
    try:
        await flush_in_savepoint(session, apply)
    except IntegrityError as exc:
        if constraint_name(exc) == "calendar_special_hours_no_overlap":
            raise SpecialHoursOverlap(
                "Other special hours already cover one of these days; change or delete them first.",
                detail_ja="これらの日の一部には既に特別営業時間が設定されています。先に変更または削除してください。",
            ) from exc
        raise


async def add_special_hours(
    session: AsyncSession,
    *,
    start: date,
    end: date,
    opens_at: time,
    closes_at: time,
    reason_ja: str,
    reason_en: str,
    created_by: str,
) -> CalendarSpecialHours:
    check_range(start, end, max_days=3660)
    check_hours(opens_at, closes_at)
    row = CalendarSpecialHours(
        start_date=start,
        end_date=end,
        opens_at=opens_at,
        closes_at=closes_at,
        reason_ja=reason_ja,
        reason_en=reason_en,
        created_by=created_by,
    )
    await flush_special_hours(session, lambda: session.add(row))
    return row


def default_range(today: date) -> tuple[date, date]:
    return today, today + timedelta(days=30)
