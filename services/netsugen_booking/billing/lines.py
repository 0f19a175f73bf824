"""Pure building blocks of an invoice: the price table, plan spans and the invoice lines.

No I/O: the invoice run (``invoice_run.py``) loads rows set-wise and feeds them through these
functions in one streaming pass per member, so the rules are tested directly.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from services.netsugen_booking.billing.pricing import (
    DayCharge,
    DropinPrice,
    Proration,
    Visit,
    monthly_fee_for,
    price_dropin,
)
from services.netsugen_booking.billing.tax import TaxRounding, consumption_tax_included
from services.netsugen_booking.calendar.rules import DayHours

LineKind = Literal["subscription", "dropin_day", "booking", "credit"]
DROPIN_PLAN = "dropin"
TAX_RATE_PERCENT = 10


@dataclass(frozen=True)
class PriceRow:
    """One row of the price table (``plan_price``)."""

    plan_code: str
    effective_from: date
    monthly_fee_yen: int | None
    block_minutes: int
    block_price_yen: int
    daily_cap_yen: int
    grace_minutes: int


class NoPriceInEffect(LookupError):
    """No price row of the plan is in effect on the day (the day is before the first row)."""


class PriceTable:
    """The prices in effect on any day: the latest row with ``effective_from <= day``.

    ``block_minutes_override`` (30 or 60) replaces the drop-in block length and scales the block
    price with it (250円 per 60 minutes → 125円 per 30, rounded down to whole yen);
    ``grace_minutes_override`` replaces the grace minutes.
    """

    def __init__(
        self,
        rows: Iterable[PriceRow],
        *,
        block_minutes_override: int | None = None,
        grace_minutes_override: int | None = None,
    ) -> None:
        by_plan: dict[str, list[PriceRow]] = {}
        for row in rows:
            by_plan.setdefault(row.plan_code, []).append(row)
        self._rows = {code: sorted(rs, key=lambda r: r.effective_from) for code, rs in by_plan.items()}
        self._starts = {code: [r.effective_from for r in rs] for code, rs in self._rows.items()}
        self.block_minutes_override = block_minutes_override
        self.grace_minutes_override = grace_minutes_override
        self._dropin_cache: dict[date, DropinPrice] = {}

    def plans(self) -> set[str]:
        return set(self._rows)

    def row_for(self, plan_code: str, day: date) -> PriceRow:
        starts = self._starts.get(plan_code)
        if not starts:
            raise NoPriceInEffect(f"plan {plan_code!r} has no prices")
        index = bisect.bisect_right(starts, day) - 1
        if index < 0:
            raise NoPriceInEffect(f"no price of plan {plan_code!r} is in effect on {day.isoformat()}")
        return self._rows[plan_code][index]

    def dropin_for(self, day: date) -> DropinPrice:
        cached = self._dropin_cache.get(day)
        if cached is None:
            cached = self.tariff_of(self.row_for(DROPIN_PLAN, day))
            self._dropin_cache[day] = cached
        return cached

    def tariff_of(self, row: PriceRow) -> DropinPrice:
        block_minutes, block_price = row.block_minutes, row.block_price_yen
        if self.block_minutes_override is not None and self.block_minutes_override != block_minutes:
            block_price = block_price * self.block_minutes_override // block_minutes
            block_minutes = self.block_minutes_override
        grace = row.grace_minutes if self.grace_minutes_override is None else self.grace_minutes_override
        return DropinPrice(
            block_minutes=block_minutes,
            block_price_yen=block_price,
            daily_cap_yen=row.daily_cap_yen,
            grace_minutes=grace,
        )

    def monthly_fee(self, plan_code: str, day: date) -> int:
        fee = self.row_for(plan_code, day).monthly_fee_yen
        return fee or 0


@dataclass(frozen=True)
class Assignment:
    """A plan assignment; ``end=None`` is open-ended. ``plan_kind``: ``monthly`` or ``dropin``."""

    plan_code: str
    start: date
    end: date | None
    plan_kind: str


def monthly_spans(assignments: Iterable[Assignment]) -> list[Assignment]:
    """The monthly-plan assignments with back-to-back rows of the same plan merged.

    A plan continued through two rows (e.g. re-created on a member update) is one plan: it must
    not be charged twice in a month nor have a second "first month".
    """
    spans: list[Assignment] = []
    for a in sorted((a for a in assignments if a.plan_kind == "monthly"), key=lambda a: a.start):
        last = spans[-1] if spans else None
        if (
            last is not None
            and last.plan_code == a.plan_code
            and last.end is not None
            and last.end + timedelta(days=1) == a.start
        ):
            spans[-1] = Assignment(a.plan_code, last.start, a.end, "monthly")
        else:
            spans.append(a)
    return spans


def covered_days(spans: Sequence[Assignment], start: date, end: date) -> set[date]:
    """The days from ``start`` to ``end`` on which a monthly plan is active (visits free)."""
    days: set[date] = set()
    for span in spans:
        lo = max(span.start, start)
        hi = end if span.end is None else min(span.end, end)
        day = lo
        while day <= hi:
            days.add(day)
            day += timedelta(days=1)
    return days


def is_covered(spans: Sequence[Assignment], day: date) -> bool:
    return any(s.start <= day and (s.end is None or day <= s.end) for s in spans)


@dataclass(frozen=True)
class DraftLine:
    kind: LineKind
    description: str
    amount_yen: int
    plan_code: str | None = None
    service_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    member_user_id: uuid.UUID | None = None
    minutes: int | None = None
    blocks: int | None = None
    uncapped_yen: int | None = None
    cap_applied: bool | None = None
    corrects: str | None = None


def subscription_lines(
    assignments: Iterable[Assignment],
    *,
    period_start: date,
    period_end: date,
    prices: PriceTable,
    proration: Proration,
    plan_names: dict[str, str],
) -> list[DraftLine]:
    """One line per monthly plan active in the month (``monthly_fee_for`` decides the amount).

    The fee is the price in effect on the plan's first active day of the month.
    """
    lines: list[DraftLine] = []
    for span in monthly_spans(assignments):
        active_from = max(span.start, period_start)
        active_to = period_end if span.end is None else min(span.end, period_end)
        if active_to < active_from:
            continue
        fee = monthly_fee_for(
            month_start=period_start,
            fee_yen=prices.monthly_fee(span.plan_code, active_from),
            plan_start=span.start,
            plan_end=span.end,
            proration=proration,
        )
        full = prices.monthly_fee(span.plan_code, active_from)
        name = plan_names.get(span.plan_code, span.plan_code)
        month = f"{period_start.year}年{period_start.month}月分"
        prorated = fee != full
        description = f"{name} 月額利用料（{month}" + (
            f"・日割 {active_from.month}/{active_from.day}〜{active_to.month}/{active_to.day}）"
            if prorated
            else "）"
        )
        lines.append(
            DraftLine(
                kind="subscription",
                description=description,
                amount_yen=fee,
                plan_code=span.plan_code,
                period_start=active_from,
                period_end=active_to,
            )
        )
    return lines


def dropin_line(charge: DayCharge, *, user_id: uuid.UUID | None, user_name: str | None) -> DraftLine:
    who = f" {user_name}" if user_name else ""
    cap = "（1日上限適用）" if charge.cap_applied else ""
    description = (
        f"ドロップイン利用 {charge.date.month}/{charge.date.day}{who} "
        f"{charge.billable_minutes}分・{charge.blocks}ブロック{cap}"
    )
    return DraftLine(
        kind="dropin_day",
        description=description[:300],
        amount_yen=charge.charge,
        plan_code=DROPIN_PLAN,
        service_date=charge.date,
        member_user_id=user_id,
        minutes=charge.billable_minutes,
        blocks=charge.blocks,
        uncapped_yen=charge.uncapped,
        cap_applied=charge.cap_applied,
    )


@dataclass
class PersonVisits:
    """The visits of one person: an individual member, or one named user of a corporation."""

    user_id: uuid.UUID | None
    user_name: str | None
    visits: list[Visit] = field(default_factory=list)


def dropin_charges(
    visits: Sequence[Visit],
    *,
    spans: Sequence[Assignment],
    period_start: date,
    period_end: date,
    prices: PriceTable,
    hours_for: Callable[[date], DayHours],
) -> list[DayCharge]:
    """Drop-in day charges of one person in the period, without the days a monthly plan covers."""
    return [
        day
        for day in price_dropin(visits, price_for=prices.dropin_for, hours_for=hours_for)
        if period_start <= day.date <= period_end and not is_covered(spans, day.date)
    ]


def cap_reached(charge: DayCharge, prices: PriceTable) -> bool:
    """The day reached the daily cap: its uncapped charge is at least the (positive) cap."""
    cap = prices.dropin_for(charge.date).daily_cap_yen
    return cap > 0 and charge.uncapped >= cap


@dataclass(frozen=True)
class DraftInvoice:
    lines: list[DraftLine]
    total_yen: int
    tax_yen: int
    cap_days: list[date]


def build_invoice(
    *,
    assignments: Sequence[Assignment],
    people: Iterable[PersonVisits],
    period_start: date,
    period_end: date,
    prices: PriceTable,
    hours_for: Callable[[date], DayHours],
    proration: Proration,
    tax_rounding: TaxRounding,
    plan_names: dict[str, str],
) -> DraftInvoice:
    """All the lines of one member's month: subscription fees first, then drop-in days by date.

    Drop-in days of 0円 (a 0-minute visit, or only time outside opening hours) get no line. The
    consumption tax is computed once, on the invoice total.
    """
    lines = subscription_lines(
        assignments,
        period_start=period_start,
        period_end=period_end,
        prices=prices,
        proration=proration,
        plan_names=plan_names,
    )
    spans = monthly_spans(assignments)
    day_lines: list[DraftLine] = []
    cap_days: set[date] = set()
    for person in people:
        for charge in dropin_charges(
            person.visits,
            spans=spans,
            period_start=period_start,
            period_end=period_end,
            prices=prices,
            hours_for=hours_for,
        ):
            if cap_reached(charge, prices):
                cap_days.add(charge.date)
            if charge.charge > 0:
                day_lines.append(dropin_line(charge, user_id=person.user_id, user_name=person.user_name))
    day_lines.sort(key=lambda line: (line.service_date or period_start, line.description))
    lines.extend(day_lines)
    total = sum(line.amount_yen for line in lines)
    tax = consumption_tax_included(total, rate_percent=TAX_RATE_PERCENT, rounding=tax_rounding)
    return DraftInvoice(lines=lines, total_yen=total, tax_yen=tax, cap_days=sorted(cap_days))


def invoice_number(series: str, fiscal_year: int, sequence: int) -> str:
    """``NS-2026-000123``: series, fiscal year (年度, April–March) and a gapless sequence."""
    return f"{series}-{fiscal_year}-{sequence:06d}"
