from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.netsugen_booking.calendar.rules import (
    JST,
    Closure,
    DayHours,
    SpecialHours,
    calendar_range,
    holiday_name,
    opening_hours_for,
)

YEAR_END = Closure(
    start=date(2026, 12, 29),
    end=date(2027, 1, 3),
    reason_ja="年末年始休館",
    reason_en="Year-end and New Year closure",
)
FESTIVAL = SpecialHours(
    start=date(2026, 10, 30),
    end=date(2026, 10, 31),
    opens_at=time(9, 0),
    closes_at=time(22, 30),
    reason_ja="ぐんまスタートアップフェスティバル",
    reason_en="Gunma Startup Festival",
)


def _jst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=JST)


# --- regular hours -------------------------------------------------------------


def test_weekday_is_open_10_to_21() -> None:
    hours = opening_hours_for(date(2026, 12, 1))  # Tuesday
    assert hours == DayHours(
        date=date(2026, 12, 1),
        open=True,
        opens_at=time(10, 0),
        closes_at=time(21, 0),
        reason=None,
        kind="weekday",
    )


def test_saturday_is_open_10_to_18() -> None:
    hours = opening_hours_for(date(2026, 12, 5))
    assert (hours.open, hours.opens_at, hours.closes_at) == (True, time(10), time(18))
    assert hours.kind == "weekend"
    assert hours.reason is None


def test_sunday_is_open_10_to_18() -> None:
    hours = opening_hours_for(date(2026, 12, 6), language="en")
    assert (hours.open, hours.opens_at, hours.closes_at) == (True, time(10), time(18))
    assert hours.kind == "weekend"
    assert hours.reason is None


# --- public holidays -----------------------------------------------------------


def test_public_holiday_labor_thanksgiving_day() -> None:
    day = date(2026, 11, 23)  # Monday, 勤労感謝の日
    ja = opening_hours_for(day)
    assert (ja.open, ja.opens_at, ja.closes_at) == (True, time(10), time(18))
    assert ja.kind == "holiday"
    assert ja.reason == "勤労感謝の日"
    assert opening_hours_for(day, language="en").reason == "Labor Thanksgiving Day"


def test_respect_for_the_aged_day_names() -> None:
    assert opening_hours_for(date(2026, 9, 21)).reason == "敬老の日"
    assert opening_hours_for(date(2026, 9, 21), language="en").reason == "Respect for the Aged Day"


def test_substitute_holiday_2026_05_06() -> None:
    # 2026-05-03 (憲法記念日) is a Sunday, so Wednesday 05-06 becomes 振替休日.
    hours = opening_hours_for(date(2026, 5, 6))
    assert hours.kind == "holiday"
    assert hours.reason == "振替休日"
    assert (hours.opens_at, hours.closes_at) == (time(10), time(18))
    assert opening_hours_for(date(2026, 5, 6), language="en").reason == "Substitute Holiday"


def test_citizens_holiday_2026_09_22() -> None:
    # Tuesday between 敬老の日 (09-21) and 秋分の日 (09-23): 国民の休日.
    hours = opening_hours_for(date(2026, 9, 22))
    assert hours.kind == "holiday"
    assert hours.reason == "国民の休日"
    assert (hours.opens_at, hours.closes_at) == (time(10), time(18))
    assert opening_hours_for(date(2026, 9, 22), language="en").reason == "National Holiday"
    assert opening_hours_for(date(2026, 9, 23)).reason == "秋分の日"


def test_holiday_on_a_sunday_is_reported_as_holiday() -> None:
    hours = opening_hours_for(date(2026, 5, 3))  # Sunday, 憲法記念日
    assert hours.kind == "holiday"
    assert hours.reason == "憲法記念日"
    assert (hours.opens_at, hours.closes_at) == (time(10), time(18))


def test_day_after_holiday_block_is_a_normal_weekday() -> None:
    hours = opening_hours_for(date(2026, 5, 7))  # Thursday
    assert hours.kind == "weekday"
    assert hours.closes_at == time(21)


def test_holiday_name_helper() -> None:
    assert holiday_name(date(2026, 1, 1)) == "元日"
    assert holiday_name(date(2026, 1, 1), language="en") == "New Year's Day"
    assert holiday_name(date(2026, 12, 1)) is None


def test_year_without_holiday_data_is_refused() -> None:
    with pytest.raises(ValueError, match="holiday data"):
        opening_hours_for(date(2100, 1, 1))


# --- closures and special hours -------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [date(2026, 12, 29) + timedelta(days=i) for i in range(6)],
)
def test_year_end_closure_is_closed_with_reason(day: date) -> None:
    hours = opening_hours_for(day, closures=[YEAR_END])
    assert hours == DayHours(
        date=day,
        open=False,
        opens_at=None,
        closes_at=None,
        reason="年末年始休館",
        kind="closure",
    )
    en = opening_hours_for(day, closures=[YEAR_END], language="en")
    assert en.reason == "Year-end and New Year closure"


def test_closure_boundaries_are_inclusive_only() -> None:
    assert opening_hours_for(date(2026, 12, 28), closures=[YEAR_END]).kind == "weekday"
    assert opening_hours_for(date(2027, 1, 4), closures=[YEAR_END]).kind == "weekday"


def test_closure_beats_public_holiday() -> None:
    hours = opening_hours_for(date(2027, 1, 1), closures=[YEAR_END])  # 元日
    assert hours.kind == "closure"
    assert not hours.open


def test_special_hours_apply_with_reason() -> None:
    friday = opening_hours_for(date(2026, 10, 30), special_hours=[FESTIVAL])
    assert friday == DayHours(
        date=date(2026, 10, 30),
        open=True,
        opens_at=time(9, 0),
        closes_at=time(22, 30),
        reason="ぐんまスタートアップフェスティバル",
        kind="special",
    )
    saturday = opening_hours_for(date(2026, 10, 31), special_hours=[FESTIVAL], language="en")
    assert saturday.kind == "special"
    assert saturday.reason == "Gunma Startup Festival"
    assert saturday.closes_at == time(22, 30)
    assert opening_hours_for(date(2026, 11, 1), special_hours=[FESTIVAL]).kind == "weekend"


def test_special_hours_beat_holiday() -> None:
    short = SpecialHours(
        start=date(2026, 11, 23),
        end=date(2026, 11, 23),
        opens_at=time(13),
        closes_at=time(17),
        reason_ja="設備点検",
        reason_en="Maintenance",
    )
    hours = opening_hours_for(date(2026, 11, 23), special_hours=[short])
    assert hours.kind == "special"
    assert (hours.opens_at, hours.closes_at, hours.reason) == (time(13), time(17), "設備点検")


def test_closure_beats_special_hours() -> None:
    closure = Closure(date(2026, 10, 31), date(2026, 10, 31), "臨時休館", "Closed")
    hours = opening_hours_for(date(2026, 10, 31), closures=[closure], special_hours=[FESTIVAL])
    assert hours.kind == "closure"
    assert hours.reason == "臨時休館"


def test_conflicting_special_hours_are_rejected() -> None:
    other = SpecialHours(date(2026, 10, 31), date(2026, 10, 31), time(12), time(15), "a", "b")
    with pytest.raises(ValueError, match="conflicting special hours"):
        opening_hours_for(date(2026, 10, 31), special_hours=[FESTIVAL, other])
    # identical duplicates are harmless
    assert opening_hours_for(date(2026, 10, 31), special_hours=[FESTIVAL, FESTIVAL]).kind == "special"


def test_invalid_closure_and_special_hours() -> None:
    with pytest.raises(ValueError, match="closure ends"):
        Closure(date(2026, 1, 2), date(2026, 1, 1), "x", "x")
    with pytest.raises(ValueError, match="special hours end"):
        SpecialHours(date(2026, 1, 2), date(2026, 1, 1), time(10), time(12), "x", "x")
    with pytest.raises(ValueError, match="open before they close"):
        SpecialHours(date(2026, 1, 1), date(2026, 1, 1), time(12), time(12), "x", "x")
    with pytest.raises(ValueError, match="naive times"):
        SpecialHours(date(2026, 1, 1), date(2026, 1, 1), time(10, tzinfo=JST), time(12), "x", "x")


def test_invalid_day_hours() -> None:
    with pytest.raises(ValueError, match="open day needs"):
        DayHours(date(2026, 1, 1), True, None, None, None, "weekday")
    with pytest.raises(ValueError, match="closed day has no"):
        DayHours(date(2026, 1, 1), False, time(10), time(12), None, "closure")
    with pytest.raises(ValueError, match="before closes_at"):
        DayHours(date(2026, 1, 1), True, time(12), time(10), None, "weekday")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="language"):
        opening_hours_for(date(2026, 12, 1), language="fr")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        opening_hours_for(datetime(2026, 12, 1, 12, tzinfo=JST))


# --- datetimes and contains() ---------------------------------------------------


def test_opens_and_closes_at_dt_are_aware_jst() -> None:
    hours = opening_hours_for(date(2026, 12, 1))
    assert hours.opens_at_dt() == _jst(2026, 12, 1, 10)
    assert hours.closes_at_dt() == _jst(2026, 12, 1, 21)
    opens = hours.opens_at_dt()
    assert opens is not None
    assert opens.tzinfo == JST
    assert opens.utcoffset() == timedelta(hours=9)


def test_closed_day_has_no_datetimes() -> None:
    hours = opening_hours_for(date(2026, 12, 30), closures=[YEAR_END])
    assert hours.opens_at_dt() is None
    assert hours.closes_at_dt() is None
    assert not hours.contains(_jst(2026, 12, 30, 12))


def test_contains_boundaries_weekday() -> None:
    hours = opening_hours_for(date(2026, 12, 1))
    assert hours.contains(_jst(2026, 12, 1, 10, 0))
    assert not hours.contains(_jst(2026, 12, 1, 9, 59, 59))
    assert hours.contains(_jst(2026, 12, 1, 20, 59, 59))
    assert not hours.contains(_jst(2026, 12, 1, 21, 0))
    assert not hours.contains(_jst(2026, 12, 2, 12, 0))  # other day


def test_contains_boundaries_weekend() -> None:
    hours = opening_hours_for(date(2026, 12, 5))
    assert hours.contains(_jst(2026, 12, 5, 10))
    assert hours.contains(_jst(2026, 12, 5, 17, 59))
    assert not hours.contains(_jst(2026, 12, 5, 18))
    assert not hours.contains(_jst(2026, 12, 5, 20))


def test_contains_compares_instants_across_timezones() -> None:
    hours = opening_hours_for(date(2026, 12, 1))
    # 01:00 UTC == 10:00 JST, 12:00 UTC == 21:00 JST
    assert hours.contains(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    assert not hours.contains(datetime(2026, 12, 1, 0, 59, tzinfo=UTC))
    assert not hours.contains(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))


def test_contains_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        opening_hours_for(date(2026, 12, 1)).contains(datetime(2026, 12, 1, 12))


# --- calendar_range --------------------------------------------------------------


def test_calendar_range_year_end() -> None:
    days = calendar_range(date(2026, 12, 26), date(2027, 1, 5), closures=[YEAR_END])
    assert [d.date for d in days] == [date(2026, 12, 26) + timedelta(days=i) for i in range(11)]
    assert [d.kind for d in days] == [
        "weekend",  # 12-26 Sat
        "weekend",  # 12-27 Sun
        "weekday",  # 12-28 Mon
        *["closure"] * 6,  # 12-29 .. 01-03
        "weekday",  # 01-04 Mon
        "weekday",  # 01-05 Tue
    ]


def test_calendar_range_passes_language_and_special_hours() -> None:
    days = calendar_range(date(2026, 9, 19), date(2026, 9, 23), special_hours=[], language="en")
    assert [d.reason for d in days] == [
        None,
        None,
        "Respect for the Aged Day",
        "National Holiday",
        "Autumnal Equinox Day",
    ]
    assert all(d.closes_at == time(18) for d in days)


def test_calendar_range_single_day_and_reversed() -> None:
    assert calendar_range(date(2026, 12, 1), date(2026, 12, 1)) == [opening_hours_for(date(2026, 12, 1))]
    with pytest.raises(ValueError, match="is before start"):
        calendar_range(date(2026, 12, 2), date(2026, 12, 1))


def test_holiday_counts_per_year() -> None:
    days = calendar_range(date(2026, 1, 1), date(2026, 12, 31))
    assert sum(1 for d in days if d.kind == "holiday") == 18
    assert all(d.open for d in days)


@settings(deadline=None, max_examples=300)
@given(st.dates(min_value=date(2021, 1, 1), max_value=date(2030, 12, 31)))
def test_regular_hours_invariants(day: date) -> None:
    hours = opening_hours_for(day)
    assert hours.open
    assert hours.date == day
    assert hours.opens_at == time(10)
    if hours.kind == "weekday":
        assert day.weekday() < 5
        assert holiday_name(day) is None
        assert hours.closes_at == time(21)
        assert hours.reason is None
    elif hours.kind == "weekend":
        assert day.weekday() >= 5
        assert hours.closes_at == time(18)
        assert hours.reason is None
    else:
        assert hours.kind == "holiday"
        assert hours.closes_at == time(18)
        assert hours.reason == holiday_name(day)
