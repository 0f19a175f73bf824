"""NETSUGEN opening calendar (pure business rules, no I/O).

Regular hours (DOMAIN.md section 2):

* weekdays 10:00-21:00 JST;
* Saturdays, Sundays and Japanese public holidays (土日祝日) 10:00-18:00 JST.

Precedence for a single day: a :class:`Closure` beats :class:`SpecialHours`,
which beat public holidays, which beat weekends, which beat the weekday rule.

Public holidays come from the maintained ``holidays`` package
(``holidays.country_holidays("JP")``).  It includes 振替休日 (substitute holidays)
and 国民の休日 (a weekday sandwiched between two holidays, e.g. 2026-09-22), and it
computes the equinox days, so no holiday list is typed in by hand here.  Updating
the package is how the data is refreshed.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal

import holidays

from shared.jst import JST

__all__ = [
    "HOLIDAY_CALENDAR_FIRST_YEAR",
    "HOLIDAY_CALENDAR_LAST_YEAR",
    "JST",
    "WEEKDAY_CLOSES_AT",
    "WEEKDAY_OPENS_AT",
    "WEEKEND_CLOSES_AT",
    "WEEKEND_OPENS_AT",
    "Closure",
    "DayHours",
    "DayKind",
    "Language",
    "SpecialHours",
    "calendar_range",
    "holiday_name",
    "opening_hours_for",
]

Language = Literal["ja", "en"]
DayKind = Literal["weekday", "weekend", "holiday", "closure", "special"]

WEEKDAY_OPENS_AT = time(10, 0)
WEEKDAY_CLOSES_AT = time(21, 0)
WEEKEND_OPENS_AT = time(10, 0)
WEEKEND_CLOSES_AT = time(18, 0)

# The holiday data set only covers these years; outside them it silently returns
# no holidays, which would misprice holidays as weekdays, so we refuse instead.
HOLIDAY_CALENDAR_FIRST_YEAR = 1949
HOLIDAY_CALENDAR_LAST_YEAR = 2099

# ``holidays`` language codes for the two languages we expose.
_HOLIDAYS_LANGUAGE: dict[Language, str] = {"ja": "ja", "en": "en_US"}


def _check_language(language: str) -> Language:
    if language == "ja":
        return "ja"
    if language == "en":
        return "en"
    raise ValueError(f"language must be 'ja' or 'en', got {language!r}")


@lru_cache(maxsize=512)
def _jp_holidays(year: int, language: Language) -> Mapping[date, str]:
    """Japanese public holidays of ``year`` as an immutable-by-convention dict."""
    if not HOLIDAY_CALENDAR_FIRST_YEAR <= year <= HOLIDAY_CALENDAR_LAST_YEAR:
        raise ValueError(
            f"no Japanese public holiday data for year {year}; supported years are "
            f"{HOLIDAY_CALENDAR_FIRST_YEAR}-{HOLIDAY_CALENDAR_LAST_YEAR}"
        )
    jp = holidays.country_holidays("JP", years=year, language=_HOLIDAYS_LANGUAGE[language])
    return {day: str(name) for day, name in jp.items()}


def holiday_name(day: date, *, language: Language = "ja") -> str | None:
    """Name of the Japanese public holiday on ``day`` or ``None`` if it is not one.

    Raises ``ValueError`` for years without holiday data.
    """
    if isinstance(day, datetime):
        raise TypeError("holiday_name expects a date, not a datetime")
    return _jp_holidays(day.year, _check_language(language)).get(day)


@dataclass(frozen=True)
class Closure:
    """The space is closed on every day from ``start`` to ``end`` (both inclusive)."""

    start: date
    end: date
    reason_ja: str
    reason_en: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"closure ends ({self.end}) before it starts ({self.start})")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    def reason(self, language: Language) -> str:
        return self.reason_ja if language == "ja" else self.reason_en


@dataclass(frozen=True)
class SpecialHours:
    """Non-regular hours on every day from ``start`` to ``end`` (both inclusive)."""

    start: date
    end: date
    opens_at: time
    closes_at: time
    reason_ja: str
    reason_en: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"special hours end ({self.end}) before they start ({self.start})")
        if self.opens_at.tzinfo is not None or self.closes_at.tzinfo is not None:
            raise ValueError("special hours are wall-clock JST times; pass naive times")
        if not self.opens_at < self.closes_at:
            raise ValueError(
                f"special hours must open before they close ({self.opens_at} >= {self.closes_at})"
            )

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    def reason(self, language: Language) -> str:
        return self.reason_ja if language == "ja" else self.reason_en


@dataclass(frozen=True)
class DayHours:
    """The opening hours of one JST calendar day.

    ``opens_at``/``closes_at`` are naive wall-clock JST times; both are ``None``
    exactly when ``open`` is False.  ``reason`` is in the requested language.
    """

    date: _dt.date
    open: bool
    opens_at: time | None
    closes_at: time | None
    reason: str | None
    kind: DayKind

    def __post_init__(self) -> None:
        if self.open:
            if self.opens_at is None or self.closes_at is None:
                raise ValueError("an open day needs opens_at and closes_at")
            if not self.opens_at < self.closes_at:
                raise ValueError("opens_at must be before closes_at")
        elif self.opens_at is not None or self.closes_at is not None:
            raise ValueError("a closed day has no opens_at/closes_at")

    def opens_at_dt(self) -> datetime | None:
        """Opening instant as an aware Asia/Tokyo datetime (``None`` when closed)."""
        if self.opens_at is None:
            return None
        return datetime.combine(self.date, self.opens_at, tzinfo=JST)

    def closes_at_dt(self) -> datetime | None:
        """Closing instant as an aware Asia/Tokyo datetime (``None`` when closed)."""
        if self.closes_at is None:
            return None
        return datetime.combine(self.date, self.closes_at, tzinfo=JST)

    def contains(self, dt: datetime) -> bool:
        """True when ``opens_at <= dt < closes_at``.  ``dt`` must be timezone-aware."""
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError("contains() needs a timezone-aware datetime")
        opens = self.opens_at_dt()
        closes = self.closes_at_dt()
        if opens is None or closes is None:
            return False
        return opens <= dt < closes


def opening_hours_for(
    day: date,
    *,
    closures: Sequence[Closure] = (),
    special_hours: Sequence[SpecialHours] = (),
    language: Language = "ja",
) -> DayHours:
    """Opening hours of ``day`` (a JST calendar date).

    Precedence: closure > special hours > public holiday > weekend > weekday.
    Several closures may overlap (the first listed gives the reason); two
    *different* special-hours entries covering the same day are a configuration
    error and raise ``ValueError``.
    """
    if isinstance(day, datetime):
        raise TypeError("opening_hours_for expects a date, not a datetime")
    lang = _check_language(language)

    for closure in closures:
        if closure.covers(day):
            return DayHours(
                date=day,
                open=False,
                opens_at=None,
                closes_at=None,
                reason=closure.reason(lang),
                kind="closure",
            )

    matching = [sh for sh in special_hours if sh.covers(day)]
    if matching:
        first = matching[0]
        if any(sh != first for sh in matching[1:]):
            raise ValueError(f"conflicting special hours configured for {day}")
        return DayHours(
            date=day,
            open=True,
            opens_at=first.opens_at,
            closes_at=first.closes_at,
            reason=first.reason(lang),
            kind="special",
        )

    name = holiday_name(day, language=lang)
    if name is not None:
        return DayHours(
            date=day,
            open=True,
            opens_at=WEEKEND_OPENS_AT,
            closes_at=WEEKEND_CLOSES_AT,
            reason=name,
            kind="holiday",
        )

    if day.weekday() >= 5:  # Saturday or Sunday
        return DayHours(
            date=day,
            open=True,
            opens_at=WEEKEND_OPENS_AT,
            closes_at=WEEKEND_CLOSES_AT,
            reason=None,
            kind="weekend",
        )

    return DayHours(
        date=day,
        open=True,
        opens_at=WEEKDAY_OPENS_AT,
        closes_at=WEEKDAY_CLOSES_AT,
        reason=None,
        kind="weekday",
    )


def calendar_range(
    start: date,
    end: date,
    *,
    closures: Sequence[Closure] = (),
    special_hours: Sequence[SpecialHours] = (),
    language: Language = "ja",
) -> list[DayHours]:
    """Opening hours of every day from ``start`` to ``end`` (both inclusive)."""
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise TypeError("calendar_range expects dates, not datetimes")
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    return [
        opening_hours_for(
            start + timedelta(days=offset),
            closures=closures,
            special_hours=special_hours,
            language=language,
        )
        for offset in range((end - start).days + 1)
    ]
