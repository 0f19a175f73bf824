"""Pure rules: the slots a weekly availability window yields on one day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from services.netsugen_booking.calendar.rules import DayHours
from shared.jst import JST


def window_applies(day: date, *, weekday: int, valid_from: date, valid_until: date | None) -> bool:
    return day.weekday() == weekday and valid_from <= day and (valid_until is None or day <= valid_until)


def slots_on(
    day: date, *, starts_at: time, ends_at: time, slot_minutes: int, hours: DayHours, not_before: datetime
) -> list[tuple[datetime, datetime]]:
    """Back-to-back slots from the window's start, each wholly inside the window and the opening
    hours of the day, none starting before ``not_before``. A closed day yields none."""
    opens, closes = hours.opens_at_dt(), hours.closes_at_dt()
    if not hours.open or opens is None or closes is None:
        return []
    window_start = datetime.combine(day, starts_at, tzinfo=JST)
    window_end = datetime.combine(day, ends_at, tzinfo=JST)
    step = timedelta(minutes=slot_minutes)
    out: list[tuple[datetime, datetime]] = []
    start = window_start
    while start + step <= window_end:
        end = start + step
        if start >= opens and end <= closes and start >= not_before:
            out.append((start, end))
        start = end
    return out
