"""Reads billing needs from the rest of the service: prices, plans and the opening calendar.

Each is one small query (reference data, or the closures of a date range); the results feed the
pure rules in ``lines.py``/``pricing.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.billing.lines import PriceRow, PriceTable
from services.netsugen_booking.calendar.models import CalendarClosure, CalendarSpecialHours
from services.netsugen_booking.calendar.rules import Closure, DayHours, SpecialHours, opening_hours_for
from services.netsugen_booking.plans.models import Plan, PlanPrice
from services.netsugen_booking.settings import NetsugenSettings
from shared.pgnotify import NotifiedCache


@dataclass(frozen=True)
class PlanInfo:
    code: str
    kind: str
    name_ja: str
    name_en: str


async def load_plans(session: AsyncSession) -> dict[str, PlanInfo]:
    rows = (await session.execute(select(Plan.code, Plan.kind, Plan.name_ja, Plan.name_en))).all()
    return {r.code: PlanInfo(r.code, r.kind, r.name_ja, r.name_en) for r in rows}


async def load_price_table(session: AsyncSession, settings: NetsugenSettings) -> PriceTable:
    rows = (
        await session.execute(
            select(
                PlanPrice.plan_code,
                PlanPrice.effective_from,
                PlanPrice.monthly_fee_yen,
                PlanPrice.block_minutes,
                PlanPrice.block_price_yen,
                PlanPrice.daily_cap_yen,
                PlanPrice.grace_minutes,
            )
        )
    ).all()
    return PriceTable(
        (PriceRow(*row) for row in rows),
        block_minutes_override=settings.billing_dropin_block_minutes,
        grace_minutes_override=settings.billing_dropin_grace_minutes,
    )


PRICES_CHANNEL = "netsugen_prices"
#: One table per drop-in override pair (settings), trusted while the channel's token is unchanged.
_PRICES: NotifiedCache[tuple[int | None, int | None], PriceTable] = NotifiedCache(PRICES_CHANNEL, max_size=16)


async def cached_price_table(session: AsyncSession, settings: NetsugenSettings) -> PriceTable:
    """:func:`load_price_table`, kept in process memory while ``netsugen_prices`` vouches for it.

    For the hot path (the daily-cap check of every check-out); batch jobs read the table afresh.
    """
    token = _PRICES.token()
    key = (settings.billing_dropin_block_minutes, settings.billing_dropin_grace_minutes)
    hit = _PRICES.get(key, token)
    if hit is not None:
        return hit
    table = await load_price_table(session, settings)
    _PRICES.put(key, token, table)
    return table


class CalendarView:
    """``hours_for(day)`` over the closures and special hours loaded for a date range (cached)."""

    def __init__(self, closures: Sequence[Closure], special_hours: Sequence[SpecialHours]) -> None:
        self.closures = list(closures)
        self.special_hours = list(special_hours)
        self._cache: dict[date, DayHours] = {}

    def hours_for(self, day: date) -> DayHours:
        hours = self._cache.get(day)
        if hours is None:
            hours = opening_hours_for(day, closures=self.closures, special_hours=self.special_hours)
            self._cache[day] = hours
        return hours

    @property
    def fn(self) -> Callable[[date], DayHours]:
        return self.hours_for


async def load_calendar(session: AsyncSession, start: date, end: date) -> CalendarView:
    """Closures and special hours overlapping ``start``..``end`` (inclusive)."""
    closures = (
        await session.execute(
            select(
                CalendarClosure.start_date,
                CalendarClosure.end_date,
                CalendarClosure.reason_ja,
                CalendarClosure.reason_en,
            )
            .where(CalendarClosure.start_date <= end, CalendarClosure.end_date >= start)
            .order_by(CalendarClosure.start_date, CalendarClosure.id)
        )
    ).all()
    special = (
        await session.execute(
            select(
                CalendarSpecialHours.start_date,
                CalendarSpecialHours.end_date,
                CalendarSpecialHours.opens_at,
                CalendarSpecialHours.closes_at,
                CalendarSpecialHours.reason_ja,
                CalendarSpecialHours.reason_en,
            )
            .where(CalendarSpecialHours.start_date <= end, CalendarSpecialHours.end_date >= start)
            .order_by(CalendarSpecialHours.start_date)
        )
    ).all()
    return CalendarView(
        [Closure(r.start_date, r.end_date, r.reason_ja, r.reason_en) for r in closures],
        [
            SpecialHours(r.start_date, r.end_date, r.opens_at, r.closes_at, r.reason_ja, r.reason_en)
            for r in special
        ],
    )
