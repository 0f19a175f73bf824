"""Pure rules of the usage statistics: the period asked for, revenue kinds, ratios (no I/O).

A period is one calendar month (``?month=2026-11``) or one fiscal year (``?fiscal_year=2026``,
2026-04-01 … 2027-03-31). NETSUGEN opened on 2020-12-21, so nothing before December 2020 can be
asked for; the holiday calendar ends in 2099, so the last fiscal year is FY2098.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

from services.netsugen_booking.usage_stats.exceptions import InvalidPeriod
from shared.jst import fiscal_year_of, fiscal_year_range, month_range

PeriodKind = Literal["month", "fiscal_year"]
RevenueKind = Literal["dropin", "monthly", "bookings", "adjustments"]

#: NETSUGEN opened on 2020-12-21: the first month with statistics.
FIRST_MONTH: Final = (2020, 12)
FIRST_FISCAL_YEAR: Final = 2020
#: The holiday data runs to 2099: FY2098 ends on 2099-03-31.
LAST_FISCAL_YEAR: Final = 2098
REVENUE_KINDS: Final[tuple[RevenueKind, ...]] = ("dropin", "monthly", "bookings", "adjustments")
#: ISO weekdays, Monday first (1 = Monday … 7 = Sunday), as the heat map's rows.
WEEKDAYS: Final = (1, 2, 3, 4, 5, 6, 7)
HOURS: Final = tuple(range(24))

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    #: ``2026-11`` or ``FY2026``.
    key: str
    start: date
    #: Inclusive.
    end: date
    fiscal_year: int

    @property
    def months(self) -> list[tuple[int, int]]:
        """The calendar months of the period, in order."""
        out: list[tuple[int, int]] = []
        year, month = self.start.year, self.start.month
        while date(year, month, 1) <= self.end:
            out.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def parse_period(*, month: str | None, fiscal_year: int | None) -> Period:
    """The period of ``?month=YYYY-MM`` or ``?fiscal_year=YYYY`` (exactly one of them)."""
    if (month is None) == (fiscal_year is None):
        raise InvalidPeriod(
            "Give exactly one of `month` (YYYY-MM) or `fiscal_year` (YYYY).",
            detail_ja="`month`(YYYY-MM)か `fiscal_year`(YYYY)のどちらか一方を指定してください。",
        )
    if month is not None:
        match = _MONTH.match(month)
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise InvalidPeriod(
                f"`month` must be YYYY-MM (e.g. 2026-11); got {month[:20]!r}.",
                detail_ja="`month` は YYYY-MM 形式で指定してください(例: 2026-11)。",
            )
        year, number = int(match.group(1)), int(match.group(2))
        first, last = month_range(year, number)
        if (year, number) < FIRST_MONTH or fiscal_year_of(first) > LAST_FISCAL_YEAR:
            raise InvalidPeriod(
                f"`month` must be between 2020-12 (NETSUGEN opened) and {LAST_FISCAL_YEAR + 1}-03.",
                detail_ja=f"`month` は 2020-12(NETSUGEN開設)から {LAST_FISCAL_YEAR + 1}-03 までです。",
            )
        return Period("month", month_key(year, number), first, last, fiscal_year_of(first))
    assert fiscal_year is not None
    if not FIRST_FISCAL_YEAR <= fiscal_year <= LAST_FISCAL_YEAR:
        raise InvalidPeriod(
            f"`fiscal_year` must be between {FIRST_FISCAL_YEAR} and {LAST_FISCAL_YEAR}.",
            detail_ja=f"`fiscal_year` は {FIRST_FISCAL_YEAR} から {LAST_FISCAL_YEAR} までです。",
        )
    first, last = fiscal_year_range(fiscal_year)
    if fiscal_year == FIRST_FISCAL_YEAR:
        first = date(*FIRST_MONTH, 1)  # FY2020 has statistics from December 2020 only
    return Period("fiscal_year", f"FY{fiscal_year}", first, last, fiscal_year)


def month_ends(period: Period, today: date) -> list[tuple[str, date]]:
    """Each month of the period with the day its membership is counted on: the month's last day,
    or today for the current month (a future month end is not known yet). Future months are left out."""
    out = []
    for year, month in period.months:
        first, last = month_range(year, month)
        if first > today:
            break
        out.append((month_key(year, month), min(last, today)))
    return out


def weekday_counts(start: date, end: date) -> dict[int, int]:
    """How many times each ISO weekday occurs from ``start`` to ``end`` (inclusive)."""
    counts = dict.fromkeys(WEEKDAYS, 0)
    day = start
    while day <= end:
        counts[day.isoweekday()] += 1
        day += timedelta(days=1)
    return counts


def revenue_kind(line_kind: str, plan_kind: str | None) -> RevenueKind:
    """What an invoice or credit-note line earns from.

    ``dropin_day`` lines are drop-in use, ``subscription`` lines monthly fees, ``booking`` lines
    room bookings. A credit line (返還インボイス) counts against the kind of what it credits: a
    full credit copies the plan of each credited line, so its plan's kind tells drop-in from
    monthly; a partial credit written as free text carries no plan and is an ``adjustments``.
    """
    if line_kind == "dropin_day":
        return "dropin"
    if line_kind == "subscription":
        return "monthly"
    if line_kind == "booking":
        return "bookings"
    if line_kind == "credit" and plan_kind == "monthly":
        return "monthly"
    if line_kind == "credit" and plan_kind == "dropin":
        return "dropin"
    return "adjustments"


def ratio(part: float, whole: float, places: int = 4) -> float | None:
    """``part / whole`` rounded, or None when there is nothing to divide by."""
    if whole <= 0:
        return None
    return round(part / whole, places)
