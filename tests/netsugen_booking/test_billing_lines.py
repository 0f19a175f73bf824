"""Pure invoice rules: the price table, plan spans, subscription and drop-in lines, tax once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.netsugen_booking.billing.lines import (
    Assignment,
    NoPriceInEffect,
    PersonVisits,
    PriceRow,
    PriceTable,
    build_invoice,
    covered_days,
    invoice_number,
    monthly_spans,
    subscription_lines,
)
from services.netsugen_booking.billing.pricing import Visit
from services.netsugen_booking.billing.tax import consumption_tax_included
from services.netsugen_booking.calendar.rules import opening_hours_for
from tests.netsugen_booking.test_billing_factories import jst

OPENED = date(2020, 12, 21)
DROPIN = PriceRow("dropin", OPENED, None, 60, 250, 1000, 0)
ROWS = [
    DROPIN,
    PriceRow("individual_monthly", OPENED, 10_000, 60, 250, 1000, 0),
    PriceRow("corporate_monthly", OPENED, 25_000, 60, 250, 1000, 0),
]
NAMES = {"dropin": "ドロップイン", "individual_monthly": "個人月額会員", "corporate_monthly": "法人月額会員"}
OCT_1, OCT_31 = date(2026, 10, 1), date(2026, 10, 31)


def monthly(code: str, start: date, end: date | None = None) -> Assignment:
    return Assignment(code, start, end, "monthly")


class TestPriceTable:
    def test_price_in_effect_follows_effective_dates(self) -> None:
        table = PriceTable([*ROWS, PriceRow("dropin", date(2027, 4, 1), None, 60, 300, 1200, 0)])
        assert table.dropin_for(date(2027, 3, 31)).block_price_yen == 250
        assert table.dropin_for(date(2027, 4, 1)).block_price_yen == 300
        assert table.dropin_for(date(2027, 4, 1)).daily_cap_yen == 1200
        with pytest.raises(NoPriceInEffect):
            table.dropin_for(date(2020, 12, 20))

    def test_thirty_minute_override_scales_the_block_price(self) -> None:
        price = PriceTable(ROWS, block_minutes_override=30).dropin_for(OCT_1)
        assert (price.block_minutes, price.block_price_yen, price.daily_cap_yen) == (30, 125, 1000)

    def test_grace_override(self) -> None:
        assert PriceTable(ROWS, grace_minutes_override=10).dropin_for(OCT_1).grace_minutes == 10
        assert PriceTable(ROWS).dropin_for(OCT_1).grace_minutes == 0


class TestSpans:
    def test_back_to_back_rows_of_one_plan_are_one_plan(self) -> None:
        spans = monthly_spans(
            [
                monthly("individual_monthly", date(2026, 1, 1), date(2026, 6, 30)),
                monthly("individual_monthly", date(2026, 7, 1)),
                Assignment("dropin", date(2025, 1, 1), date(2025, 12, 31), "dropin"),
            ]
        )
        assert spans == [monthly("individual_monthly", date(2026, 1, 1))]

    def test_covered_days_end_on_the_plan_end(self) -> None:
        days = covered_days(
            [monthly("individual_monthly", date(2026, 9, 1), date(2026, 10, 3))], OCT_1, OCT_31
        )
        assert sorted(days) == [date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]


class TestSubscriptionLines:
    @pytest.mark.parametrize(
        ("start", "proration", "expected"),
        [
            (date(2026, 10, 1), "daily", 10_000),  # a whole first month is the full fee
            (date(2026, 10, 16), "full", 10_000),
            (date(2026, 10, 16), "daily", 5_161),  # floor(10,000 × 16 / 31)
            (date(2026, 9, 16), "daily", 10_000),  # not the first month any more
        ],
    )
    def test_fee(self, start: date, proration: str, expected: int) -> None:
        lines = subscription_lines(
            [monthly("individual_monthly", start)],
            period_start=OCT_1,
            period_end=OCT_31,
            prices=PriceTable(ROWS),
            proration=proration,
            plan_names=NAMES,  # type: ignore[arg-type]
        )
        assert [line.amount_yen for line in lines] == [expected]
        assert lines[0].description.startswith("個人月額会員 月額利用料（2026年10月分")

    def test_continued_plan_has_no_second_first_month(self) -> None:
        lines = subscription_lines(
            [
                monthly("individual_monthly", date(2026, 9, 1), date(2026, 10, 15)),
                monthly("individual_monthly", date(2026, 10, 16)),
            ],
            period_start=OCT_1,
            period_end=OCT_31,
            prices=PriceTable(ROWS),
            proration="daily",
            plan_names=NAMES,
        )
        assert [line.amount_yen for line in lines] == [10_000]

    def test_plan_ended_before_the_month_costs_nothing(self) -> None:
        lines = subscription_lines(
            [monthly("individual_monthly", date(2026, 1, 1), date(2026, 9, 30))],
            period_start=OCT_1,
            period_end=OCT_31,
            prices=PriceTable(ROWS),
            proration="full",
            plan_names=NAMES,
        )
        assert lines == []


def _invoice(assignments: list[Assignment], visits: list[Visit]) -> tuple[int, int, list[int]]:
    draft = build_invoice(
        assignments=assignments,
        people=[PersonVisits(None, None, visits)],
        period_start=OCT_1,
        period_end=OCT_31,
        prices=PriceTable(ROWS),
        hours_for=opening_hours_for,
        proration="full",
        tax_rounding="floor",
        plan_names=NAMES,
    )
    return draft.total_yen, draft.tax_yen, [line.amount_yen for line in draft.lines]


class TestBuildInvoice:
    def test_tax_is_computed_once_on_the_total(self) -> None:
        # Three days of 250円: per line floor(250×10/110) = 22, three times 66; once on 750円: 68.
        visits = [Visit(jst(2026, 10, d, 10), jst(2026, 10, d, 11)) for d in (6, 7, 8)]
        total, tax, amounts = _invoice([], visits)
        assert (total, tax, amounts) == (750, 68, [250, 250, 250])
        assert sum(consumption_tax_included(a) for a in amounts) == 66

    def test_days_covered_by_a_monthly_plan_are_free(self) -> None:
        visits = [
            Visit(jst(2026, 10, 14, 10), jst(2026, 10, 14, 15)),  # last day of the plan: free
            Visit(jst(2026, 10, 15, 10), jst(2026, 10, 15, 12)),  # the day after: 500円
        ]
        total, tax, amounts = _invoice(
            [monthly("individual_monthly", date(2026, 1, 1), date(2026, 10, 14))], visits
        )
        assert (total, amounts) == (10_500, [10_000, 500])
        assert tax == 954  # floor(10,500 × 10 / 110)

    def test_cap_days_are_reported(self) -> None:
        draft = build_invoice(
            assignments=[],
            people=[PersonVisits(None, None, [Visit(jst(2026, 10, 6, 10), jst(2026, 10, 6, 14))])],
            period_start=OCT_1,
            period_end=OCT_31,
            prices=PriceTable(ROWS),
            hours_for=opening_hours_for,
            proration="full",
            tax_rounding="floor",
            plan_names=NAMES,
        )
        assert draft.cap_days == [date(2026, 10, 6)]  # 4 blocks = 1,000円 reaches the cap
        assert draft.lines[0].cap_applied is False  # …without being above it

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.tuples(st.integers(1, 31), st.integers(0, 23 * 60), st.integers(0, 16 * 60)), max_size=25
        ),
        st.sampled_from(["floor", "round_half_up", "ceil"]),
    )
    def test_total_is_the_sum_and_tax_is_of_the_total(
        self, raw: list[tuple[int, int, int]], rounding: str
    ) -> None:
        visits = []
        for day, start_min, length in raw:
            start = jst(2026, 10, day) + timedelta(minutes=start_min)
            visits.append(Visit(start, start + timedelta(minutes=length)))
        draft = build_invoice(
            assignments=[],
            people=[PersonVisits(None, None, visits)],
            period_start=OCT_1,
            period_end=OCT_31,
            prices=PriceTable(ROWS),
            hours_for=opening_hours_for,
            proration="full",
            tax_rounding=rounding,
            plan_names=NAMES,  # type: ignore[arg-type]
        )
        assert draft.total_yen == sum(line.amount_yen for line in draft.lines)
        assert draft.tax_yen == consumption_tax_included(draft.total_yen, rounding=rounding)  # type: ignore[arg-type]
        assert all(0 < line.amount_yen <= 1000 for line in draft.lines)
        assert len({line.service_date for line in draft.lines}) == len(draft.lines)  # one line per day
        assert all(OCT_1 <= (line.service_date or OCT_1) <= OCT_31 for line in draft.lines)


def test_invoice_number_format() -> None:
    assert invoice_number("NS", 2026, 123) == "NS-2026-000123"
    assert invoice_number("NSC", 2027, 1) == "NSC-2027-000001"
    assert invoice_number("NS", 2026, 1_234_567) == "NS-2026-1234567"
