from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.netsugen_booking.billing.pricing import (
    DayCharge,
    DropinPrice,
    Proration,
    Visit,
    covered_by_plan,
    monthly_fee_for,
    price_dropin,
    quote_total,
)
from services.netsugen_booking.calendar.rules import (
    JST,
    Closure,
    DayHours,
    SpecialHours,
    opening_hours_for,
)

DEFAULT = DropinPrice()
TUESDAY = date(2026, 12, 1)  # weekday, 10:00-21:00
FRIDAY = date(2026, 12, 4)
SATURDAY = date(2026, 12, 5)  # weekend, 10:00-18:00
YEAR_END = Closure(date(2026, 12, 29), date(2027, 1, 3), "年末年始休館", "Year-end closure")


def _jst(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=JST)


def _visit(day: date, start: tuple[int, int], end: tuple[int, int]) -> Visit:
    return Visit(_jst(day, *start), _jst(day, *end))


def _minutes(day: date, start: tuple[int, int], minutes: int) -> Visit:
    check_in = _jst(day, *start)
    return Visit(check_in, check_in + timedelta(minutes=minutes))


def _price(
    visits: list[Visit],
    price: DropinPrice = DEFAULT,
    hours_for: Callable[[date], DayHours] = opening_hours_for,
) -> list[DayCharge]:
    return price_dropin(visits, price_for=lambda _day: price, hours_for=hours_for)


def _single_charge(visits: list[Visit], price: DropinPrice = DEFAULT) -> int:
    days = _price(visits, price)
    assert len(days) == 1
    return days[0].charge


# --- worked examples --------------------------------------------------------------


def test_defaults() -> None:
    assert DEFAULT == DropinPrice(block_minutes=60, block_price_yen=250, daily_cap_yen=1000, grace_minutes=0)


def test_zero_minute_visit_is_free_but_listed() -> None:
    days = _price([_minutes(TUESDAY, (12, 0), 0)])
    assert days == [
        DayCharge(
            date=TUESDAY,
            billable_minutes=0,
            blocks=0,
            uncapped=0,
            cap_applied=False,
            charge=0,
            visit_minutes=0,
        )
    ]


@pytest.mark.parametrize("minutes", [1, 2, 30, 59, 60])
def test_one_to_sixty_minutes_cost_250(minutes: int) -> None:
    assert _single_charge([_minutes(TUESDAY, (12, 0), minutes)]) == 250


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(61, 500), (120, 500), (121, 750), (180, 750), (181, 1000), (240, 1000)],
)
def test_started_hours(minutes: int, expected: int) -> None:
    assert _single_charge([_minutes(TUESDAY, (12, 0), minutes)]) == expected


def test_sixty_one_minutes_breakdown() -> None:
    (day,) = _price([_minutes(TUESDAY, (12, 0), 61)])
    assert (day.billable_minutes, day.blocks, day.uncapped, day.cap_applied, day.charge) == (
        61,
        2,
        500,
        False,
        500,
    )


def test_two_twenty_minute_visits_same_day_cost_250() -> None:
    visits = [_minutes(TUESDAY, (10, 0), 20), _minutes(TUESDAY, (15, 0), 20)]
    (day,) = _price(visits)
    assert day.billable_minutes == 40
    assert day.charge == 250


@pytest.mark.parametrize("minutes", [181, 240, 300, 480, 660])
def test_more_than_three_hours_costs_the_cap(minutes: int) -> None:
    (day,) = _price([_minutes(TUESDAY, (10, 0), minutes)])
    assert day.charge == 1000


def test_full_weekday_is_capped() -> None:
    (day,) = _price([_visit(TUESDAY, (10, 0), (21, 0))])
    assert day.billable_minutes == 660
    assert day.blocks == 11
    assert day.uncapped == 2750
    assert day.cap_applied
    assert day.charge == 1000


def test_exactly_four_hours_hits_cap_without_applying_it() -> None:
    (day,) = _price([_minutes(TUESDAY, (10, 0), 240)])
    assert day.uncapped == 1000
    assert not day.cap_applied
    assert day.charge == 1000


def test_thirty_minute_blocks() -> None:
    half_hour = DropinPrice(block_minutes=30, block_price_yen=125)
    assert _single_charge([_minutes(TUESDAY, (12, 0), 1)], half_hour) == 125
    assert _single_charge([_minutes(TUESDAY, (12, 0), 30)], half_hour) == 125
    assert _single_charge([_minutes(TUESDAY, (12, 0), 31)], half_hour) == 250
    assert _single_charge([_minutes(TUESDAY, (12, 0), 61)], half_hour) == 375
    assert _single_charge([_minutes(TUESDAY, (12, 0), 300)], half_hour) == 1000


def test_grace_minutes() -> None:
    grace = DropinPrice(grace_minutes=10)
    assert _single_charge([_minutes(TUESDAY, (12, 0), 10)], grace) == 0
    assert _single_charge([_minutes(TUESDAY, (12, 0), 11)], grace) == 250
    assert _single_charge([_minutes(TUESDAY, (12, 0), 70)], grace) == 250
    assert _single_charge([_minutes(TUESDAY, (12, 0), 71)], grace) == 500
    (day,) = _price([_minutes(TUESDAY, (12, 0), 5)], grace)
    assert day.billable_minutes == 0  # never below zero
    assert day.visit_minutes == 5


def test_grace_is_per_day_not_per_visit() -> None:
    grace = DropinPrice(grace_minutes=10)
    visits = [_minutes(TUESDAY, (11, 0), 8), _minutes(TUESDAY, (14, 0), 8)]
    (day,) = _price(visits, grace)
    assert day.billable_minutes == 6
    assert day.charge == 250


def test_grace_applies_after_clipping() -> None:
    grace = DropinPrice(grace_minutes=15)
    # 09:00-10:10 -> 10 minutes inside opening hours -> fully covered by grace
    (day,) = _price([_visit(TUESDAY, (9, 0), (10, 10))], grace)
    assert day.visit_minutes == 70
    assert day.billable_minutes == 0
    assert day.charge == 0


def test_visit_before_opening_is_clipped() -> None:
    (day,) = _price([_visit(TUESDAY, (9, 0), (10, 30))])
    assert day.visit_minutes == 90
    assert day.billable_minutes == 30
    assert day.charge == 250


def test_visit_entirely_before_opening_is_free() -> None:
    (day,) = _price([_visit(TUESDAY, (8, 0), (10, 0))])
    assert day.visit_minutes == 120
    assert day.billable_minutes == 0
    assert day.charge == 0


def test_after_closing_never_counted_weekday() -> None:
    (day,) = _price([_visit(TUESDAY, (20, 30), (22, 0))])
    assert day.visit_minutes == 90
    assert day.billable_minutes == 30
    assert day.charge == 250


def test_after_closing_never_counted_saturday() -> None:
    (day,) = _price([_visit(SATURDAY, (17, 0), (19, 0))])
    assert day.billable_minutes == 60
    assert day.charge == 250


def test_holiday_uses_weekend_hours() -> None:
    # 2026-11-23 (勤労感謝の日, Monday) closes at 18:00
    (day,) = _price([_visit(date(2026, 11, 23), (17, 0), (20, 0))])
    assert day.billable_minutes == 60
    assert day.charge == 250


def test_visit_over_midnight_is_split_per_day() -> None:
    visit = Visit(_jst(FRIDAY, 20, 0), _jst(SATURDAY, 11, 30))
    friday, saturday = _price([visit])
    assert friday.date == FRIDAY
    assert friday.visit_minutes == 240  # 20:00-24:00
    assert friday.billable_minutes == 60  # 20:00-21:00
    assert friday.charge == 250
    assert saturday.date == SATURDAY
    assert saturday.visit_minutes == 690  # 00:00-11:30
    assert saturday.billable_minutes == 90  # 10:00-11:30
    assert saturday.charge == 500


def test_multi_day_visit_is_capped_each_day() -> None:
    visit = Visit(_jst(TUESDAY, 9, 0), _jst(date(2026, 12, 3), 12, 0))
    days = _price([visit])
    assert [d.date for d in days] == [TUESDAY, date(2026, 12, 2), date(2026, 12, 3)]
    assert [d.charge for d in days] == [1000, 1000, 500]
    assert [d.visit_minutes for d in days] == [900, 1440, 720]
    assert quote_total(days) == 2500


def test_visit_ending_at_midnight_does_not_touch_next_day() -> None:
    visit = Visit(_jst(TUESDAY, 20, 0), _jst(date(2026, 12, 2), 0, 0))
    (day,) = _price([visit])
    assert day.date == TUESDAY
    assert day.visit_minutes == 240


def test_visit_starting_at_midnight() -> None:
    visit = Visit(_jst(date(2026, 12, 2), 0, 0), _jst(date(2026, 12, 2), 11, 0))
    (day,) = _price([visit])
    assert day.date == date(2026, 12, 2)
    assert day.billable_minutes == 60


def test_closed_day_costs_nothing() -> None:
    closed = partial(opening_hours_for, closures=[YEAR_END])
    days = _price([_visit(date(2026, 12, 30), (10, 0), (17, 0))], hours_for=closed)
    assert days == [
        DayCharge(
            date=date(2026, 12, 30),
            billable_minutes=0,
            blocks=0,
            uncapped=0,
            cap_applied=False,
            charge=0,
            visit_minutes=420,
        )
    ]


def test_visit_from_open_day_into_closure() -> None:
    closed = partial(opening_hours_for, closures=[YEAR_END])
    visit = Visit(_jst(date(2026, 12, 28), 20, 0), _jst(date(2026, 12, 29), 12, 0))
    days = _price([visit], hours_for=closed)
    assert [(d.date, d.charge) for d in days] == [
        (date(2026, 12, 28), 250),
        (date(2026, 12, 29), 0),
    ]


def test_days_sorted_and_untouched_days_omitted() -> None:
    visits = [
        _minutes(date(2026, 12, 10), (12, 0), 30),
        _minutes(TUESDAY, (12, 0), 90),
        _minutes(date(2026, 12, 3), (12, 0), 200),
    ]
    days = _price(visits)
    assert [d.date for d in days] == [TUESDAY, date(2026, 12, 3), date(2026, 12, 10)]
    assert [d.charge for d in days] == [500, 1000, 250]
    assert quote_total(days) == 1750


def test_no_visits() -> None:
    assert _price([]) == []
    assert quote_total([]) == 0


def test_days_follow_jst_not_the_visit_timezone() -> None:
    # 2026-12-01 23:30 UTC is 2026-12-02 08:30 JST; 02:00 UTC is 11:00 JST
    visit = Visit(
        datetime(2026, 12, 1, 23, 30, tzinfo=UTC),
        datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
    )
    (day,) = _price([visit])
    assert day.date == date(2026, 12, 2)
    assert day.visit_minutes == 150
    assert day.billable_minutes == 60
    assert day.charge == 250


def test_seconds_are_summed_before_flooring() -> None:
    # Two visits of 30 s: 60 s in total = 1 minute -> one block.
    visits = [
        Visit(_jst(TUESDAY, 12, 0, 0), _jst(TUESDAY, 12, 0, 30)),
        Visit(_jst(TUESDAY, 13, 0, 0), _jst(TUESDAY, 13, 0, 30)),
    ]
    (day,) = _price(visits)
    assert day.billable_minutes == 1
    assert day.charge == 250


def test_under_a_minute_is_free_and_partial_minutes_floor() -> None:
    assert _single_charge([Visit(_jst(TUESDAY, 12, 0, 0), _jst(TUESDAY, 12, 0, 59))]) == 0
    (day,) = _price([Visit(_jst(TUESDAY, 12, 0, 0), _jst(TUESDAY, 13, 0, 59))])
    assert day.billable_minutes == 60
    assert day.charge == 250


def test_overlapping_visits_are_counted_once() -> None:
    visits = [_visit(TUESDAY, (12, 0), (13, 0)), _visit(TUESDAY, (12, 30), (13, 0))]
    (day,) = _price(visits)
    assert day.billable_minutes == 60
    assert day.visit_minutes == 60
    assert day.charge == 250
    duplicate = [_visit(TUESDAY, (12, 0), (12, 40))] * 2
    assert _single_charge(duplicate) == 250


def test_special_hours_are_respected() -> None:
    late = SpecialHours(SATURDAY, SATURDAY, time(10), time(22), "イベント", "Event")
    hours_for = partial(opening_hours_for, special_hours=[late])
    (day,) = _price([_visit(SATURDAY, (17, 0), (22, 30))], hours_for=hours_for)
    assert day.billable_minutes == 300
    assert day.charge == 1000


def test_price_for_is_asked_per_day() -> None:
    asked: list[date] = []

    def price_for(day: date) -> DropinPrice:
        asked.append(day)
        if day >= date(2026, 12, 2):
            return DropinPrice(block_price_yen=300, daily_cap_yen=1200)
        return DEFAULT

    visits = [
        _minutes(date(2026, 12, 2), (12, 0), 600),
        _minutes(TUESDAY, (12, 0), 600),
    ]
    days = price_dropin(visits, price_for=price_for, hours_for=opening_hours_for)
    assert [d.charge for d in days] == [1000, 1200]
    assert asked == [TUESDAY, date(2026, 12, 2)]


def test_hours_for_must_match_the_day() -> None:
    def wrong(_day: date) -> DayHours:
        return opening_hours_for(TUESDAY)

    with pytest.raises(ValueError, match="returned hours"):
        price_dropin(
            [_minutes(date(2026, 12, 2), (12, 0), 10)],
            price_for=lambda _d: DEFAULT,
            hours_for=wrong,
        )


def test_zero_cap_and_zero_price() -> None:
    assert _single_charge([_minutes(TUESDAY, (12, 0), 90)], DropinPrice(daily_cap_yen=0)) == 0
    assert _single_charge([_minutes(TUESDAY, (12, 0), 90)], DropinPrice(block_price_yen=0)) == 0


# --- validation ------------------------------------------------------------------


def test_visit_validation() -> None:
    with pytest.raises(ValueError, match="aware"):
        Visit(datetime(2026, 12, 1, 12), _jst(TUESDAY, 13))
    with pytest.raises(ValueError, match="aware"):
        Visit(_jst(TUESDAY, 12), datetime(2026, 12, 1, 13))
    with pytest.raises(ValueError, match="before"):
        Visit(_jst(TUESDAY, 13), _jst(TUESDAY, 12))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block_minutes": 0}, "block_minutes must be positive"),
        ({"block_minutes": -30}, "block_minutes must be positive"),
        ({"block_price_yen": -1}, "block_price_yen must not be negative"),
        ({"daily_cap_yen": -1}, "daily_cap_yen must not be negative"),
        ({"grace_minutes": -1}, "grace_minutes must not be negative"),
    ],
)
def test_dropin_price_validation(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DropinPrice(**kwargs)


def test_dropin_price_rejects_non_int() -> None:
    with pytest.raises(TypeError):
        DropinPrice(block_price_yen=250.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DropinPrice(grace_minutes=True)


def test_dataclasses_are_frozen() -> None:
    price = DropinPrice()
    with pytest.raises(AttributeError):
        price.block_price_yen = 1  # type: ignore[misc]


# --- monthly plans ------------------------------------------------------------------


CORPORATE = 25_000
INDIVIDUAL = 10_000


def test_monthly_full_fee_for_every_active_month() -> None:
    def fee(month: date) -> int:
        return monthly_fee_for(
            month_start=month, fee_yen=CORPORATE, plan_start=date(2026, 4, 15), plan_end=None
        )

    assert fee(date(2026, 3, 1)) == 0
    assert fee(date(2026, 4, 1)) == 25_000
    assert fee(date(2026, 5, 1)) == 25_000
    assert fee(date(2030, 1, 1)) == 25_000


def test_monthly_daily_proration_first_month_only() -> None:
    def fee(month: date) -> int:
        return monthly_fee_for(
            month_start=month,
            fee_yen=CORPORATE,
            plan_start=date(2026, 4, 15),
            plan_end=date(2026, 6, 10),
            proration="daily",
        )

    assert fee(date(2026, 3, 1)) == 0
    assert fee(date(2026, 4, 1)) == 13_333  # 25000 * 16 / 30 = 13333.3
    assert fee(date(2026, 5, 1)) == 25_000
    assert fee(date(2026, 6, 1)) == 25_000  # last month is not prorated
    assert fee(date(2026, 7, 1)) == 0


def test_monthly_daily_plan_starting_on_the_first_is_full() -> None:
    assert (
        monthly_fee_for(
            month_start=date(2026, 4, 1),
            fee_yen=INDIVIDUAL,
            plan_start=date(2026, 4, 1),
            plan_end=None,
            proration="daily",
        )
        == 10_000
    )


def test_monthly_daily_plan_starting_on_the_last_day() -> None:
    assert (
        monthly_fee_for(
            month_start=date(2026, 1, 1),
            fee_yen=INDIVIDUAL,
            plan_start=date(2026, 1, 31),
            plan_end=None,
            proration="daily",
        )
        == 322  # 10000 / 31 = 322.58
    )


def test_monthly_daily_start_and_end_in_same_month() -> None:
    assert (
        monthly_fee_for(
            month_start=date(2026, 2, 1),
            fee_yen=INDIVIDUAL,
            plan_start=date(2026, 2, 10),
            plan_end=date(2026, 2, 19),
            proration="daily",
        )
        == 3_571  # 10000 * 10 / 28 = 3571.4
    )


def test_monthly_daily_leap_february() -> None:
    assert (
        monthly_fee_for(
            month_start=date(2028, 2, 1),
            fee_yen=INDIVIDUAL,
            plan_start=date(2028, 2, 15),
            plan_end=None,
            proration="daily",
        )
        == 5_172  # 10000 * 15 / 29 = 5172.4
    )


def test_monthly_plan_ended_last_month_is_not_charged() -> None:
    assert (
        monthly_fee_for(
            month_start=date(2026, 7, 1),
            fee_yen=CORPORATE,
            plan_start=date(2026, 1, 1),
            plan_end=date(2026, 6, 30),
        )
        == 0
    )
    assert (
        monthly_fee_for(
            month_start=date(2026, 7, 1),
            fee_yen=CORPORATE,
            plan_start=date(2026, 1, 1),
            plan_end=date(2026, 7, 1),
        )
        == 25_000
    )


def test_monthly_plan_starting_next_month_is_not_charged() -> None:
    assert (
        monthly_fee_for(
            month_start=date(2026, 6, 1),
            fee_yen=CORPORATE,
            plan_start=date(2026, 7, 1),
            plan_end=None,
            proration="daily",
        )
        == 0
    )


@pytest.mark.parametrize(("proration", "expected"), [("full", 31_000), ("daily", 1_000)])
def test_monthly_single_day_plan(proration: Proration, expected: int) -> None:
    fee = monthly_fee_for(
        month_start=date(2026, 1, 1),
        fee_yen=31_000,
        plan_start=date(2026, 1, 20),
        plan_end=date(2026, 1, 20),
        proration=proration,
    )
    assert fee == expected


def test_monthly_validation() -> None:
    with pytest.raises(ValueError, match="first day"):
        monthly_fee_for(month_start=date(2026, 4, 2), fee_yen=1, plan_start=date(2026, 4, 1), plan_end=None)
    with pytest.raises(ValueError, match="before plan_start"):
        monthly_fee_for(
            month_start=date(2026, 4, 1),
            fee_yen=1,
            plan_start=date(2026, 4, 2),
            plan_end=date(2026, 4, 1),
        )
    with pytest.raises(ValueError, match="negative"):
        monthly_fee_for(month_start=date(2026, 4, 1), fee_yen=-1, plan_start=date(2026, 4, 1), plan_end=None)
    with pytest.raises(ValueError, match="proration"):
        monthly_fee_for(
            month_start=date(2026, 4, 1),
            fee_yen=1,
            plan_start=date(2026, 4, 1),
            plan_end=None,
            proration="weekly",  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError):
        monthly_fee_for(
            month_start=datetime(2026, 4, 1, tzinfo=JST),
            fee_yen=1,
            plan_start=date(2026, 4, 1),
            plan_end=None,
        )


@settings(deadline=None, max_examples=300)
@given(
    month=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 1)).map(lambda d: d.replace(day=1)),
    plan_start=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=800)),
    fee=st.integers(min_value=0, max_value=100_000),
)
def test_monthly_properties(month: date, plan_start: date, length: int | None, fee: int) -> None:
    plan_end = None if length is None else plan_start + timedelta(days=length)
    full = monthly_fee_for(month_start=month, fee_yen=fee, plan_start=plan_start, plan_end=plan_end)
    daily = monthly_fee_for(
        month_start=month,
        fee_yen=fee,
        plan_start=plan_start,
        plan_end=plan_end,
        proration="daily",
    )
    next_month = (month + timedelta(days=32)).replace(day=1)
    last_day = next_month - timedelta(days=1)
    active = plan_start <= last_day and (plan_end is None or plan_end >= month)
    assert full == (fee if active else 0)
    assert 0 <= daily <= full
    first_month = month <= plan_start <= last_day
    if not first_month:
        assert daily == full


# --- covered_by_plan -----------------------------------------------------------------


ASSIGNMENTS: list[tuple[str, date, date | None]] = [
    ("individual_monthly", date(2026, 4, 1), date(2026, 6, 30)),
    ("corporate_monthly", date(2026, 7, 1), None),
]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 31), None),
        (date(2026, 4, 1), "individual_monthly"),
        (date(2026, 6, 30), "individual_monthly"),
        (date(2026, 7, 1), "corporate_monthly"),
        (date(2035, 1, 1), "corporate_monthly"),
    ],
)
def test_covered_by_plan(day: date, expected: str | None) -> None:
    assert covered_by_plan(day, ASSIGNMENTS) == expected


def test_plan_that_ended_yesterday_does_not_cover_today() -> None:
    assignments: list[tuple[str, date, date | None]] = [
        ("individual_monthly", date(2026, 1, 1), date(2026, 5, 31))
    ]
    assert covered_by_plan(date(2026, 5, 31), assignments) == "individual_monthly"
    assert covered_by_plan(date(2026, 6, 1), assignments) is None


def test_no_assignments() -> None:
    assert covered_by_plan(date(2026, 6, 1), []) is None


def test_single_day_plan() -> None:
    assignments: list[tuple[str, date, date | None]] = [("trial", date(2026, 6, 1), date(2026, 6, 1))]
    assert covered_by_plan(date(2026, 6, 1), assignments) == "trial"
    assert covered_by_plan(date(2026, 6, 2), assignments) is None


def test_overlapping_different_plans_are_rejected() -> None:
    assignments: list[tuple[str, date, date | None]] = [
        ("individual_monthly", date(2026, 4, 1), date(2026, 7, 1)),
        ("corporate_monthly", date(2026, 7, 1), None),
    ]
    with pytest.raises(ValueError, match="both cover"):
        covered_by_plan(date(2026, 7, 1), assignments)
    assert covered_by_plan(date(2026, 6, 30), assignments) == "individual_monthly"


def test_duplicate_rows_of_the_same_plan_are_fine() -> None:
    assignments: list[tuple[str, date, date | None]] = [
        ("individual_monthly", date(2026, 4, 1), None),
        ("individual_monthly", date(2026, 4, 1), None),
    ]
    assert covered_by_plan(date(2026, 5, 1), assignments) == "individual_monthly"


def test_assignment_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        covered_by_plan(date(2026, 5, 1), [("x", date(2026, 5, 2), date(2026, 5, 1))])


# --- properties ------------------------------------------------------------------------

_instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda dt: dt.replace(tzinfo=JST)
)
_durations = st.integers(min_value=0, max_value=3 * 86_400).map(lambda s: timedelta(seconds=s))
_prices = st.builds(
    DropinPrice,
    block_minutes=st.sampled_from([15, 30, 60, 90]),
    block_price_yen=st.integers(min_value=0, max_value=1_000),
    daily_cap_yen=st.integers(min_value=0, max_value=5_000),
    grace_minutes=st.integers(min_value=0, max_value=30),
)
_hours = st.sampled_from([opening_hours_for, partial(opening_hours_for, closures=[YEAR_END])])


def _by_day(days: list[DayCharge]) -> dict[date, int]:
    return {d.date: d.charge for d in days}


@settings(deadline=None, max_examples=300)
@given(
    visits=st.lists(st.tuples(_instants, _durations), max_size=5),
    price=_prices,
    hours_for=_hours,
)
def test_a_day_never_costs_more_than_the_cap(
    visits: list[tuple[datetime, timedelta]],
    price: DropinPrice,
    hours_for: Callable[[date], DayHours],
) -> None:
    days = _price([Visit(ci, ci + dur) for ci, dur in visits], price, hours_for)
    assert [d.date for d in days] == sorted({d.date for d in days})
    for day in days:
        assert 0 <= day.charge <= price.daily_cap_yen
        assert day.charge == min(day.uncapped, price.daily_cap_yen)
        assert day.cap_applied == (day.uncapped > price.daily_cap_yen)
        assert day.uncapped == day.blocks * price.block_price_yen
        assert (day.blocks - 1) * price.block_minutes < day.billable_minutes or day.blocks == 0
        assert day.billable_minutes <= day.blocks * price.block_minutes
        assert 0 <= day.billable_minutes <= day.visit_minutes <= 1440
        assert day.billable_minutes <= 660  # longest regular opening day
    assert quote_total(days) == sum(d.charge for d in days)


@settings(deadline=None, max_examples=300)
@given(
    check_in=_instants,
    duration=_durations,
    extra=st.integers(min_value=0, max_value=86_400).map(lambda s: timedelta(seconds=s)),
    price=_prices,
    hours_for=_hours,
)
def test_a_longer_visit_never_costs_less(
    check_in: datetime,
    duration: timedelta,
    extra: timedelta,
    price: DropinPrice,
    hours_for: Callable[[date], DayHours],
) -> None:
    short = _price([Visit(check_in, check_in + duration)], price, hours_for)
    long = _price([Visit(check_in, check_in + duration + extra)], price, hours_for)
    assert quote_total(long) >= quote_total(short)
    long_by_day = _by_day(long)
    for day, charge in _by_day(short).items():
        assert long_by_day[day] >= charge


@settings(deadline=None, max_examples=300)
@given(
    check_in=_instants,
    duration=st.integers(min_value=0, max_value=86_400),
    split_at=st.floats(min_value=0, max_value=1),
    gap=st.floats(min_value=0, max_value=1),
    price=_prices,
    hours_for=_hours,
)
def test_splitting_a_visit_never_costs_more(
    check_in: datetime,
    duration: int,
    split_at: float,
    gap: float,
    price: DropinPrice,
    hours_for: Callable[[date], DayHours],
) -> None:
    check_out = check_in + timedelta(seconds=duration)
    assume(check_out.date() == check_in.date())  # same JST day
    first_end = check_in + timedelta(seconds=int(duration * split_at))
    remaining = (check_out - first_end).total_seconds()
    second_start = first_end + timedelta(seconds=int(remaining * gap))
    whole = _price([Visit(check_in, check_out)], price, hours_for)
    exact_split = _price([Visit(check_in, first_end), Visit(first_end, check_out)], price, hours_for)
    with_break = _price([Visit(check_in, first_end), Visit(second_start, check_out)], price, hours_for)
    assert quote_total(with_break) <= quote_total(whole)
    assert quote_total(exact_split) == quote_total(whole)
    assert len(whole) == len(with_break) == 1
