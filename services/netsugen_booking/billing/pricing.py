"""NETSUGEN pricing rules (pure functions, no I/O).  Money is ``int`` yen.

Drop-in (個人・非月額): 250円 per started hour, capped at 1,000円 per day
(DOMAIN.md section 2).  Prices are tax-inclusive (総額表示).

Drop-in algorithm, per JST calendar day:

1. clip every visit to that day's opening hours (a visit over midnight is split
   per day, a closed day contributes nothing) and add up the seconds; the
   minutes are ``floor(total seconds / 60)``;
2. subtract the grace minutes (never below 0);
3. round up to started blocks;
4. multiply by the block price;
5. cap at the daily cap.

Visits are treated as presence intervals of one member: if visits overlap
(e.g. a duplicated check-in record), the overlapping time is counted once.
"""

from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from services.netsugen_booking.calendar.rules import JST, DayHours

__all__ = [
    "DayCharge",
    "DropinPrice",
    "Proration",
    "Visit",
    "covered_by_plan",
    "monthly_fee_for",
    "price_dropin",
    "quote_total",
]

Proration = Literal["full", "daily"]


def _require_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _require_date(name: str, value: object) -> None:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date (not a datetime)")


@dataclass(frozen=True)
class DropinPrice:
    """Drop-in tariff.  The default is 250円 per started 60 minutes, 1,000円/day cap.

    A 30-minute block is ``DropinPrice(block_minutes=30, block_price_yen=125)``.
    """

    block_minutes: int = 60
    block_price_yen: int = 250
    daily_cap_yen: int = 1000
    grace_minutes: int = 0

    def __post_init__(self) -> None:
        for name in ("block_minutes", "block_price_yen", "daily_cap_yen", "grace_minutes"):
            _require_int(name, getattr(self, name))
        if self.block_minutes <= 0:
            raise ValueError("block_minutes must be positive")
        if self.block_price_yen < 0:
            raise ValueError("block_price_yen must not be negative")
        if self.daily_cap_yen < 0:
            raise ValueError("daily_cap_yen must not be negative")
        if self.grace_minutes < 0:
            raise ValueError("grace_minutes must not be negative")


@dataclass(frozen=True)
class Visit:
    """One stay: ``check_in`` <= ``check_out``, both timezone-aware."""

    check_in: datetime
    check_out: datetime

    def __post_init__(self) -> None:
        _require_aware("check_in", self.check_in)
        _require_aware("check_out", self.check_out)
        if self.check_out < self.check_in:
            raise ValueError(
                f"check_out ({self.check_out.isoformat()}) is before check_in ({self.check_in.isoformat()})"
            )


@dataclass(frozen=True)
class DayCharge:
    """The drop-in charge of one JST calendar day.

    ``visit_minutes``: minutes present that day (not clipped to opening hours).
    ``billable_minutes``: minutes after clipping to opening hours and grace.
    ``uncapped``: ``blocks * block_price_yen``; ``charge`` is that capped.
    """

    date: _dt.date
    billable_minutes: int
    blocks: int
    uncapped: int
    cap_applied: bool
    charge: int
    visit_minutes: int


_Interval = tuple[datetime, datetime]


def _union_seconds(intervals: Iterable[_Interval]) -> int:
    """Whole seconds covered by the union of the intervals (overlaps counted once)."""
    total = timedelta(0)
    current: _Interval | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, end)
        elif end > current[1]:
            current = (current[0], end)
    if current is not None:
        total += current[1] - current[0]
    return total // timedelta(seconds=1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST)


def price_dropin(
    visits: Sequence[Visit],
    *,
    price_for: Callable[[date], DropinPrice],
    hours_for: Callable[[date], DayHours],
) -> list[DayCharge]:
    """Drop-in charges per JST calendar day, sorted by date.

    A day appears when at least one visit falls on it (a visit ending exactly at
    midnight does not touch the next day); a day whose visits are all outside
    opening hours, or are 0 minutes long, appears with charge 0.
    ``price_for``/``hours_for`` are called once per such day.
    """
    raw: dict[date, list[_Interval]] = {}
    for visit in visits:
        if not isinstance(visit, Visit):
            raise TypeError("visits must be Visit instances")
        check_in = visit.check_in.astimezone(JST)
        check_out = visit.check_out.astimezone(JST)
        day = check_in.date()
        if check_in == check_out:
            raw.setdefault(day, []).append((check_in, check_out))
            continue
        while _day_start(day) < check_out:
            next_midnight = _day_start(day + timedelta(days=1))
            raw.setdefault(day, []).append((max(check_in, _day_start(day)), min(check_out, next_midnight)))
            day += timedelta(days=1)

    charges: list[DayCharge] = []
    for day in sorted(raw):
        segments = raw[day]
        hours = hours_for(day)
        if not isinstance(hours, DayHours):
            raise TypeError("hours_for must return DayHours")
        if hours.date != day:
            raise ValueError(f"hours_for({day}) returned hours for {hours.date}")
        price = price_for(day)
        if not isinstance(price, DropinPrice):
            raise TypeError("price_for must return DropinPrice")

        opens = hours.opens_at_dt()
        closes = hours.closes_at_dt()
        clipped: list[_Interval] = []
        if opens is not None and closes is not None:
            for start, end in segments:
                lo, hi = max(start, opens), min(end, closes)
                if lo < hi:
                    clipped.append((lo, hi))

        visit_minutes = _union_seconds(segments) // 60
        open_minutes = _union_seconds(clipped) // 60
        billable = max(open_minutes - price.grace_minutes, 0)
        blocks = -(-billable // price.block_minutes)
        uncapped = blocks * price.block_price_yen
        cap_applied = uncapped > price.daily_cap_yen
        charge = price.daily_cap_yen if cap_applied else uncapped
        charges.append(
            DayCharge(
                date=day,
                billable_minutes=billable,
                blocks=blocks,
                uncapped=uncapped,
                cap_applied=cap_applied,
                charge=charge,
                visit_minutes=visit_minutes,
            )
        )
    return charges


def quote_total(days: Iterable[DayCharge]) -> int:
    """Sum of the (capped) day charges in yen."""
    return sum(day.charge for day in days)


def _month_end(month_start: date) -> date:
    return month_start.replace(day=calendar.monthrange(month_start.year, month_start.month)[1])


def monthly_fee_for(
    *,
    month_start: date,
    fee_yen: int,
    plan_start: date,
    plan_end: date | None,
    proration: Proration = "full",
) -> int:
    """Monthly-plan fee for the calendar month beginning ``month_start``.

    The full fee is due for every calendar month in which the plan is active on
    at least one day (``plan_start``..``plan_end``, both inclusive; ``None`` =
    open-ended).  With ``proration="daily"`` only the plan's first month is
    prorated: ``floor(fee * active days / days in month)``.  Months entirely
    before ``plan_start`` or after ``plan_end`` cost 0.
    """
    _require_date("month_start", month_start)
    _require_date("plan_start", plan_start)
    if plan_end is not None:
        _require_date("plan_end", plan_end)
    _require_int("fee_yen", fee_yen)
    if month_start.day != 1:
        raise ValueError(f"month_start must be the first day of a month, got {month_start}")
    if fee_yen < 0:
        raise ValueError("fee_yen must not be negative")
    if plan_end is not None and plan_end < plan_start:
        raise ValueError(f"plan_end ({plan_end}) is before plan_start ({plan_start})")
    if proration not in ("full", "daily"):
        raise ValueError(f"proration must be 'full' or 'daily', got {proration!r}")

    month_end = _month_end(month_start)
    active_from = max(plan_start, month_start)
    active_to = month_end if plan_end is None else min(plan_end, month_end)
    if active_to < active_from:
        return 0
    is_first_month = month_start <= plan_start <= month_end
    if proration == "full" or not is_first_month:
        return fee_yen
    active_days = (active_to - active_from).days + 1
    return fee_yen * active_days // month_end.day


def covered_by_plan(day: date, assignments: Sequence[tuple[str, date, date | None]]) -> str | None:
    """Code of the plan active on ``day`` or ``None``.

    Each assignment is ``(plan_code, start, end)`` with both ends inclusive and
    ``end=None`` meaning open-ended; a plan whose end was yesterday does not
    cover today.  Two *different* plans covering the same day are a data error
    (it is how members end up with two open bills) and raise ``ValueError``.
    """
    _require_date("day", day)
    found: str | None = None
    for code, start, end in assignments:
        _require_date("start", start)
        if end is not None:
            _require_date("end", end)
            if end < start:
                raise ValueError(f"plan {code!r} ends ({end}) before it starts ({start})")
        if start <= day and (end is None or day <= end):
            if found is not None and found != code:
                raise ValueError(f"plans {found!r} and {code!r} both cover {day}")
            found = code
    return found
