"""Pure time rules of bookings (no I/O): the grid, opening hours, free intervals and the price.

Times are aware datetimes; the grid and the opening hours are read on the JST wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from services.netsugen_booking.bookings.exceptions import (
    ClosedDay,
    InThePast,
    OffGrid,
    OutsideOpeningHours,
    TimesNotInOrder,
)
from services.netsugen_booking.calendar.rules import DayHours
from shared.jst import JST, to_jst

Interval = tuple[datetime, datetime]


def on_grid(dt: datetime, grid_minutes: int) -> bool:
    """True when ``dt`` falls on a multiple of ``grid_minutes`` after JST midnight."""
    local = to_jst(dt)
    if local.second or local.microsecond:
        return False
    return (local.hour * 60 + local.minute) % grid_minutes == 0


def check_times_in_order(start: datetime, end: datetime) -> None:
    if end <= start:
        raise TimesNotInOrder(
            f"The end ({end.isoformat()}) must be after the start ({start.isoformat()}).",
            detail_ja="終了時刻は開始時刻より後にしてください。",
        )


def check_not_past(start: datetime, now: datetime) -> None:
    if start < now:
        raise InThePast(
            f"The start ({start.isoformat()}) is in the past.",
            detail_ja="過去の時刻は予約できません。",
        )


def check_on_grid(start: datetime, end: datetime, grid_minutes: int) -> None:
    for label, dt in (("start", start), ("end", end)):
        if not on_grid(dt, grid_minutes):
            raise OffGrid(
                f"The {label} ({to_jst(dt):%H:%M:%S} JST) is not on the {grid_minutes}-minute grid.",
                detail_ja=f"{'開始' if label == 'start' else '終了'}時刻({to_jst(dt):%H:%M:%S})が"
                f"{grid_minutes}分単位ではありません。",
                grid_minutes=grid_minutes,
            )


def check_within_hours(start: datetime, end: datetime, hours: DayHours) -> None:
    """``[start, end)`` lies inside the opening hours of ``hours`` (the JST day of ``start``)."""
    opens, closes = hours.opens_at_dt(), hours.closes_at_dt()
    if not hours.open or opens is None or closes is None:
        reason = f" ({hours.reason})" if hours.reason else ""
        raise ClosedDay(
            f"NETSUGEN is closed on {hours.date.isoformat()}{reason}.",
            detail_ja=f"{hours.date.isoformat()}は休館日です{reason}。",
        )
    if start < opens or end > closes:
        raise OutsideOpeningHours(
            f"{to_jst(start):%H:%M}–{to_jst(end):%H:%M} is outside the opening hours of "
            f"{hours.date.isoformat()} ({opens:%H:%M}–{closes:%H:%M} JST).",
            detail_ja=f"{hours.date.isoformat()}の営業時間({opens:%H:%M}〜{closes:%H:%M})外です。",
            opens_at=f"{opens:%H:%M}",
            closes_at=f"{closes:%H:%M}",
        )


def check_bookable(
    start: datetime, end: datetime, *, grid_minutes: int | None, hours: DayHours, now: datetime
) -> None:
    """Every rule a booked interval obeys, in the order a person would fix them."""
    check_times_in_order(start, end)
    if grid_minutes is not None:
        check_on_grid(start, end, grid_minutes)
    check_not_past(start, now)
    check_within_hours(start, end, hours)


def ceil_to_grid(dt: datetime, grid_minutes: int) -> datetime:
    """The first grid point at or after ``dt`` (JST wall clock)."""
    local = to_jst(dt)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=grid_minutes)
    elapsed = local - midnight
    steps = -(-elapsed // step)  # ceiling division of timedeltas
    return (midnight + steps * step).astimezone(JST)


def free_intervals(
    opens: datetime, closes: datetime, busy: Iterable[Interval], *, not_before: datetime | None = None
) -> list[Interval]:
    """``[opens, closes)`` minus the busy intervals (and minus everything before ``not_before``)."""
    cursor = opens if not_before is None else max(opens, not_before)
    out: list[Interval] = []
    for b_start, b_end in sorted(busy):
        if b_end <= cursor:
            continue
        if b_start >= closes:
            break
        if b_start > cursor:
            out.append((cursor, min(b_start, closes)))
        cursor = max(cursor, b_end)
        if cursor >= closes:
            break
    if cursor < closes:
        out.append((cursor, closes))
    return out


def price_yen(price_per_hour_yen: int, start: datetime, end: datetime) -> int:
    """The hourly price pro rata to the minute, rounded down to the yen (e.g. 45 min at ¥1,000 = ¥750)."""
    minutes = int((end - start).total_seconds() // 60)
    return price_per_hour_yen * minutes // 60
