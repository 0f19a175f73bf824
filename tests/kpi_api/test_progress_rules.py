"""Exhaustive tests of the pure KPI progress rules (no I/O).

Figures come from the Gunma SDGs Future City Plan where the plan has them; the arithmetic behind
every expected number is written next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal, DivisionByZero, InvalidOperation
from random import Random
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kpi_api.progress import rules
from services.kpi_api.progress.rules import (
    ANTICIPATED_METHOD,
    GRADED_STATUS_ORDER,
    METHOD,
    METHOD_VERSION,
    PLAN_START_FISCAL_YEAR,
    Baseline,
    Comparator,
    Direction,
    Observation,
    Progress,
    Status,
    Target,
    aggregate_breakdowns,
    aggregate_status,
    compute_progress,
    effective_baseline,
    running_totals,
)


def d(text: str) -> Decimal:
    return Decimal(text)


def observations(*pairs: tuple[int, str]) -> list[Observation]:
    return [Observation(fiscal_year=fy, value=Decimal(value)) for fy, value in pairs]


# The module's own context traps nothing, so an unguarded x/0 or 0/0 would quietly become
# Infinity/NaN and then None. Tests trap both to prove that no division by zero is ever attempted.
STRICT_CONTEXT = Context(prec=28, traps=[DivisionByZero, InvalidOperation])


def grade(
    *,
    target: Target,
    observed: Sequence[Observation],
    baseline: Baseline | None = None,
    direction: Direction = "increase",
    cumulative: bool = False,
    strict: bool = True,
) -> Progress:
    def run() -> Progress:
        return compute_progress(
            direction=direction,
            cumulative=cumulative,
            baseline=baseline,
            target=target,
            observations=observed,
        )

    if not strict:
        return run()
    with patch.object(rules, "_CONTEXT", STRICT_CONTEXT):
        return run()


# 1人あたり賃金: 431万6千円 (FY2019) → 450万円 (FY2023) and 480万円 (FY2025). Money in yen.
WAGE_BASELINE = Baseline(2019, d("4316000"))
WAGE_TARGET_2023 = Target(2023, d("4500000"), "eq")
WAGE_TARGET_2025 = Target(2025, d("4800000"), "eq")

# 温室効果ガス排出量: 15,343 千t-CO2 (FY2017 in the plan's text) → 9,824 千t-CO2 (FY2030). Lower is better.
GHG_BASELINE = Baseline(2017, d("15343"))
GHG_TARGET = Target(2030, d("9824"), "eq")

# 課題の解決に向けて…児童生徒の割合 (小6): 79.7% (FY2019) → 95%以上 (FY2025).
PUPILS_BASELINE = Baseline(2019, d("79.7"))
PUPILS_TARGET = Target(2025, d("95"), "gte")

# ICTリテラシーが身についたと感じる生徒の割合: 89.6% (FY2021) → 2021年度より増加 (FY2025).
ICT_BASELINE = Baseline(2021, d("89.6"))
ICT_TARGET = Target(2025, None, "increase_from_baseline", reference_fiscal_year=2021)

# ぐんまゼロ宣言住宅促進グループ協定数(累計): 現在: — → 30 (FY2030), no unit written.
ZERO_HOUSING_TARGET = Target(2030, d("30"), "eq")
# サウンディング調査実施件数(累計): 現在: — → 15件 (FY2025).
SOUNDING_TARGET = Target(2025, d("15"), "eq")
# 健康ポイント制度参加者数: 現在: — → 12万人 (FY2023), not marked 累計.
HEALTH_POINTS_TARGET = Target(2023, d("120000"), "eq")


class TestConstants:
    def test_method_identifiers(self) -> None:
        assert METHOD == "linear_expected_v1"
        assert METHOD_VERSION == "1.0"
        assert ANTICIPATED_METHOD == "unsd_v2"

    def test_plan_starts_in_fiscal_2021(self) -> None:
        assert PLAN_START_FISCAL_YEAR == 2021

    def test_graded_order_is_worst_first(self) -> None:
        assert GRADED_STATUS_ORDER == ("regressing", "behind", "on_track", "achieved")

    def test_every_result_carries_the_method(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2022, "4450000")), baseline=WAGE_BASELINE
        )
        assert (result.method, result.method_version) == ("linear_expected_v1", "1.0")


class TestEffectiveBaseline:
    def test_given_baseline_is_used_as_is(self) -> None:
        assert effective_baseline(WAGE_BASELINE, False) == (WAGE_BASELINE, False)

    def test_given_baseline_wins_over_the_cumulative_default(self) -> None:
        given_baseline = Baseline(2021, d("3"))
        assert effective_baseline(given_baseline, True) == (given_baseline, False)

    def test_cumulative_without_baseline_starts_from_zero_at_fiscal_2020(self) -> None:
        assert effective_baseline(None, True) == (Baseline(2020, d("0")), True)

    def test_non_cumulative_without_baseline_has_none(self) -> None:
        assert effective_baseline(None, False) == (None, False)


class TestLatestObservation:
    def test_latest_is_the_greatest_fiscal_year_whatever_the_order(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023,
            observed=observations((2022, "4450000"), (2020, "4300000"), (2021, "4400000")),
            baseline=WAGE_BASELINE,
        )
        assert result.latest == Observation(2022, d("4450000"))
        assert result.status == "on_track"

    def test_the_later_entry_wins_for_a_repeated_fiscal_year(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023,
            observed=observations((2022, "4300000"), (2022, "4450000")),
            baseline=WAGE_BASELINE,
        )
        assert result.latest == Observation(2022, d("4450000"))
        assert result.status == "on_track"

    def test_non_finite_values_are_ignored(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023,
            observed=[
                Observation(2022, d("4450000")),
                Observation(2023, d("NaN")),
                Observation(2024, d("Infinity")),
            ],
            baseline=WAGE_BASELINE,
        )
        assert result.latest == Observation(2022, d("4450000"))
        assert result.status == "on_track"


class TestNoData:
    def test_no_observation_gives_no_data_with_nothing_computed(self) -> None:
        result = grade(target=WAGE_TARGET_2023, observed=[], baseline=WAGE_BASELINE)
        assert result == Progress(
            status="no_data",
            achievement_rate=None,
            expected_value=None,
            expected_rate=None,
            anticipated_value=None,
            anticipated_ratio=None,
            latest=None,
            baseline_used=WAGE_BASELINE,
            baseline_implied=False,
            method="linear_expected_v1",
            method_version="1.0",
            explanation="No observation has been recorded, so progress cannot be graded.",
        )

    @pytest.mark.parametrize(
        ("target", "baseline", "cumulative"),
        [
            (ICT_TARGET, ICT_BASELINE, False),
            (HEALTH_POINTS_TARGET, None, False),
            (Target(2025, None, "eq"), None, False),
            (ZERO_HOUSING_TARGET, None, True),
        ],
    )
    def test_no_data_is_checked_before_anything_else(
        self, target: Target, baseline: Baseline | None, cumulative: bool
    ) -> None:
        assert grade(target=target, observed=[], baseline=baseline, cumulative=cumulative).status == "no_data"

    def test_only_non_finite_observations_count_as_no_data(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=[Observation(2022, d("NaN"))], baseline=WAGE_BASELINE
        )
        assert result.status == "no_data"
        assert result.latest is None

    def test_cumulative_no_data_still_reports_the_implied_baseline(self) -> None:
        result = grade(target=ZERO_HOUSING_TARGET, observed=[], cumulative=True)
        assert (result.baseline_used, result.baseline_implied) == (Baseline(2020, d("0")), True)


class TestIncreaseIndicator:
    """1人あたり賃金, FY2023 target 4,500,000 from 4,316,000 in FY2019, graded in FY2022.

    Expected rate (2022 - 2019) / (2023 - 2019) = 3/4; expected value 4,316,000 + 0.75 × 184,000 = 4,454,000.
    On track needs a rate of at least 0.95 × 0.75 = 0.7125.
    """

    def test_on_track_full_result(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2022, "4450000")), baseline=WAGE_BASELINE
        )
        # 134,000 / 184,000 = 0.72826086… ≥ 0.7125
        assert result == Progress(
            status="on_track",
            achievement_rate=d("0.728261"),
            expected_value=d("4454000.000000"),
            expected_rate=d("0.750000"),
            anticipated_value=None,
            anticipated_ratio=None,
            latest=Observation(2022, d("4450000")),
            baseline_used=WAGE_BASELINE,
            baseline_implied=False,
            method="linear_expected_v1",
            method_version="1.0",
            explanation="On track: achievement rate 72.8% against an expected 75.0% (at least 95% of expected).",
            projection_unavailable="too_few_observations",
        )

    def test_behind(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2022, "4400000")), baseline=WAGE_BASELINE
        )
        # 84,000 / 184,000 = 0.45652173…: not 0.7125, but not negative.
        assert result.status == "behind"
        assert result.achievement_rate == d("0.456522")
        assert result.expected_value == d("4454000.000000")
        assert result.explanation == (
            "Behind: achievement rate 45.7% against an expected 75.0% (below 95% of expected)."
        )

    def test_regressing(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2022, "4300000")), baseline=WAGE_BASELINE
        )
        # -16,000 / 184,000 = -0.08695652…
        assert result.status == "regressing"
        assert result.achievement_rate == d("-0.086957")
        assert result.explanation == (
            "Regressing: achievement rate -8.7% against an expected 75.0%; "
            "the value has moved away from the target."
        )

    def test_achieved_exactly_at_target(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2022, "4500000")), baseline=WAGE_BASELINE
        )
        assert result.status == "achieved"
        assert result.achievement_rate == d("1.000000")
        assert result.expected_rate == d("0.750000")
        assert result.explanation == "The FY2022 value 4500000 meets the FY2023 target of at least 4500000."

    def test_achieved_above_target_reports_a_rate_above_one(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2023, "4600000")), baseline=WAGE_BASELINE
        )
        # 284,000 / 184,000 = 1.54347826…
        assert result.status == "achieved"
        assert result.achievement_rate == d("1.543478")
        assert (result.expected_rate, result.expected_value) == (d("1.000000"), d("4500000.000000"))

    def test_same_observation_against_the_later_target(self) -> None:
        result = grade(
            target=WAGE_TARGET_2025, observed=observations((2022, "4450000")), baseline=WAGE_BASELINE
        )
        # Expected 3/6 = 0.5, value 4,316,000 + 0.5 × 484,000 = 4,558,000; rate 134,000 / 484,000 = 0.27685950…
        assert result.status == "behind"
        assert (result.achievement_rate, result.expected_rate) == (d("0.276860"), d("0.500000"))
        assert result.expected_value == d("4558000.000000")


class TestOnTrackBoundary:
    """From 0 in FY2020 to 100 in FY2030, graded in FY2025: expected 0.5, on track from 47.5."""

    baseline = Baseline(2020, d("0"))
    target = Target(2030, d("100"), "eq")

    @pytest.mark.parametrize(
        ("value", "status"),
        [("47.5", "on_track"), ("47.499999", "behind"), ("0", "behind"), ("-0.000001", "regressing")],
    )
    def test_threshold_is_inclusive(self, value: str, status: Status) -> None:
        result = grade(target=self.target, observed=observations((2025, value)), baseline=self.baseline)
        assert result.status == status

    def test_exact_boundary_values(self) -> None:
        result = grade(target=self.target, observed=observations((2025, "47.5")), baseline=self.baseline)
        assert (result.achievement_rate, result.expected_rate) == (d("0.475000"), d("0.500000"))
        assert result.expected_value == d("50.000000")

    def test_tiny_regression_is_not_reported_as_negative_zero(self) -> None:
        result = grade(
            target=self.target, observed=observations((2025, "-0.0000001")), baseline=self.baseline
        )
        assert result.status == "regressing"
        assert str(result.achievement_rate) == "0.000000"


class TestDecreaseIndicator:
    """温室効果ガス排出量 15,343 (FY2017) → 9,824 千t-CO2 (FY2030), graded in FY2023.

    Gap 9,824 - 15,343 = -5,519. Expected rate 6/13 = 0.46153846…;
    expected value 15,343 - 6/13 × 5,519 = 15,343 - 2,547.2307692… = 12,795.7692307…
    On track needs a rate of at least 0.95 × 6/13 = 0.43846153…
    """

    @pytest.mark.parametrize(
        ("value", "status", "rate"),
        [
            ("12800", "on_track", "0.460772"),  # 2,543 / 5,519
            ("14000", "behind", "0.243341"),  # 1,343 / 5,519
            ("15500", "regressing", "-0.028447"),  # -157 / 5,519
            ("9824", "achieved", "1.000000"),
            ("9800", "achieved", "1.004349"),  # 5,543 / 5,519
        ],
    )
    def test_each_status(self, value: str, status: Status, rate: str) -> None:
        result = grade(
            target=GHG_TARGET,
            observed=observations((2023, value)),
            baseline=GHG_BASELINE,
            direction="decrease",
        )
        assert result.status == status
        assert result.achievement_rate == d(rate)
        assert result.expected_rate == d("0.461538")
        assert result.expected_value == d("12795.769231")

    def test_on_track_boundary_in_the_decreasing_direction(self) -> None:
        # Threshold value: 15,343 - 0.95 × 6/13 × 5,519 = 15,343 - 31,458.3/13 = 12,923.1307692…
        def status_at(value: str) -> Status:
            return grade(
                target=GHG_TARGET,
                observed=observations((2023, value)),
                baseline=GHG_BASELINE,
                direction="decrease",
            ).status

        assert status_at("12923.13") == "on_track"
        assert status_at("12923.14") == "behind"

    def test_achieved_explanation_says_at_most(self) -> None:
        result = grade(
            target=GHG_TARGET,
            observed=observations((2023, "9800")),
            baseline=GHG_BASELINE,
            direction="decrease",
        )
        assert result.explanation == "The FY2023 value 9800 meets the FY2030 target of at most 9824."

    def test_direction_decides_what_eq_means(self) -> None:
        # Direction is never defaulted: 15,500 is regressing only because lower is better here.
        decrease = grade(
            target=GHG_TARGET,
            observed=observations((2023, "15500")),
            baseline=GHG_BASELINE,
            direction="decrease",
        )
        increase = grade(
            target=GHG_TARGET,
            observed=observations((2023, "15500")),
            baseline=GHG_BASELINE,
            direction="increase",
        )
        assert decrease.status == "regressing"
        # eq + increase means "at least 9,824": 15,500 meets it.
        assert increase.status == "achieved"


class TestAtLeastTarget:
    """95%以上: met at exactly 95, whatever the indicator's direction."""

    @pytest.mark.parametrize("value", ["95", "95.0", "95.00", "99.9"])
    def test_achieved_at_or_above_95(self, value: str) -> None:
        result = grade(target=PUPILS_TARGET, observed=observations((2025, value)), baseline=PUPILS_BASELINE)
        assert result.status == "achieved"
        assert (
            result.explanation
            == f"The FY2025 value {d(value).normalize()} meets the FY2025 target of at least 95."
        )

    def test_exactly_95_has_rate_one(self) -> None:
        result = grade(target=PUPILS_TARGET, observed=observations((2025, "95")), baseline=PUPILS_BASELINE)
        assert result.achievement_rate == d("1.000000")

    def test_just_below_95_is_on_track_in_fiscal_2023(self) -> None:
        # Rate 15.2 / 15.3 = 0.99346405…; expected 4/6; expected value 79.7 + 2/3 × 15.3 = 89.9.
        result = grade(target=PUPILS_TARGET, observed=observations((2023, "94.9")), baseline=PUPILS_BASELINE)
        assert result.status == "on_track"
        assert (result.achievement_rate, result.expected_rate) == (d("0.993464"), d("0.666667"))
        assert result.expected_value == d("89.900000")

    def test_behind_in_fiscal_2023(self) -> None:
        # Rate 5.3 / 15.3 = 0.34640522… < 0.95 × 2/3
        result = grade(target=PUPILS_TARGET, observed=observations((2023, "85")), baseline=PUPILS_BASELINE)
        assert (result.status, result.achievement_rate) == ("behind", d("0.346405"))

    def test_comparator_wins_over_a_decrease_direction(self) -> None:
        result = grade(
            target=PUPILS_TARGET,
            observed=observations((2025, "95")),
            baseline=PUPILS_BASELINE,
            direction="decrease",
        )
        assert result.status == "achieved"
        assert result.explanation == "The FY2025 value 95 meets the FY2025 target of at least 95."


class TestAtMostTarget:
    """lte: 20 (FY2020) → at most 10 (FY2030), graded in FY2025 (expected 0.5)."""

    baseline = Baseline(2020, d("20"))
    target = Target(2030, d("10"), "lte")

    @pytest.mark.parametrize(
        ("value", "status", "rate"),
        [
            ("10", "achieved", "1.000000"),
            ("9", "achieved", "1.100000"),  # -11 / -10
            ("14", "on_track", "0.600000"),  # -6 / -10
            ("16", "behind", "0.400000"),
            ("21", "regressing", "-0.100000"),
        ],
    )
    def test_each_status(self, value: str, status: Status, rate: str) -> None:
        result = grade(target=self.target, observed=observations((2025, value)), baseline=self.baseline)
        assert (result.status, result.achievement_rate) == (status, d(rate))
        assert (result.expected_rate, result.expected_value) == (d("0.500000"), d("15.000000"))

    def test_comparator_wins_over_an_increase_direction(self) -> None:
        result = grade(target=self.target, observed=observations((2025, "10")), baseline=self.baseline)
        assert result.explanation == "The FY2025 value 10 meets the FY2030 target of at most 10."


class TestIncreaseFromBaseline:
    """2021年度より増加: ICT literacy 89.6% in FY2021 must be higher by FY2025."""

    def grade_ict(self, *pairs: tuple[int, str], baseline: Baseline | None = ICT_BASELINE) -> Progress:
        return grade(target=ICT_TARGET, observed=observations(*pairs), baseline=baseline)

    def test_achieved_when_higher(self) -> None:
        result = self.grade_ict((2021, "89.6"), (2023, "90"))
        assert result.status == "achieved"
        assert result.explanation.startswith("The FY2023 value 90 is above the FY2021 reference value 89.6.")

    def test_regressing_when_lower(self) -> None:
        result = self.grade_ict((2023, "89"))
        assert result.status == "regressing"
        assert result.explanation == "The FY2023 value 89 is below the FY2021 reference value 89.6."

    def test_behind_when_unchanged(self) -> None:
        result = self.grade_ict((2023, "89.60"))
        assert result.status == "behind"
        assert (
            result.explanation == "The FY2023 value 89.6 is unchanged from the FY2021 reference value 89.6."
        )

    def test_no_data_without_observations(self) -> None:
        assert self.grade_ict().status == "no_data"

    def test_baseline_pending_with_only_the_reference_year(self) -> None:
        result = self.grade_ict((2021, "89.6"))
        assert result.status == "baseline_pending"
        assert result.explanation == "No value after the FY2021 reference year has been recorded yet."

    def test_baseline_pending_with_only_an_earlier_year(self) -> None:
        # A higher value before the reference year does not count as an increase over it.
        assert self.grade_ict((2020, "95")).status == "baseline_pending"

    def test_rates_are_not_computed(self) -> None:
        result = self.grade_ict((2023, "90"))
        assert (result.achievement_rate, result.expected_rate, result.expected_value) == (None, None, None)
        assert result.baseline_used == ICT_BASELINE

    def test_revised_observation_at_the_reference_year_wins_over_the_baseline(self) -> None:
        result = self.grade_ict((2021, "90.5"), (2023, "90"))
        assert result.status == "regressing"
        assert result.explanation.startswith("The FY2023 value 90 is below the FY2021 reference value 90.5.")

    def test_reference_observation_without_baseline(self) -> None:
        result = self.grade_ict((2021, "89.6"), (2024, "91.2"), baseline=None)
        assert result.status == "achieved"

    def test_no_reference_value_is_baseline_pending(self) -> None:
        result = grade(
            target=Target(2025, None, "increase_from_baseline", reference_fiscal_year=2022),
            observed=observations((2023, "95")),
            baseline=ICT_BASELINE,
        )
        assert result.status == "baseline_pending"
        assert result.explanation == "There is no FY2022 reference value to compare against."

    def test_unset_reference_year_uses_the_baseline(self) -> None:
        target = Target(2025, None, "increase_from_baseline")
        assert (
            grade(target=target, observed=observations((2023, "90")), baseline=ICT_BASELINE).status
            == "achieved"
        )
        assert (
            grade(target=target, observed=observations((2023, "89")), baseline=ICT_BASELINE).status
            == "regressing"
        )

    def test_unset_reference_year_and_no_baseline_is_baseline_pending(self) -> None:
        result = grade(
            target=Target(2025, None, "increase_from_baseline"), observed=observations((2023, "90"))
        )
        assert result.status == "baseline_pending"
        assert result.explanation == "There is no baseline to compare against."

    def test_cumulative_reference_is_the_implied_zero(self) -> None:
        result = grade(
            target=Target(2025, None, "increase_from_baseline"),
            observed=observations((2022, "1")),
            cumulative=True,
        )
        assert result.status == "achieved"
        assert result.explanation == "The FY2022 value 1 is above the FY2020 reference value 0."

    def test_target_value_is_ignored(self) -> None:
        target = Target(2025, d("1000"), "increase_from_baseline", reference_fiscal_year=2021)
        result = grade(target=target, observed=observations((2023, "90")), baseline=ICT_BASELINE)
        assert (result.status, result.achievement_rate) == ("achieved", None)

    @pytest.mark.parametrize(
        ("value", "status"), [("80", "achieved"), ("95", "regressing"), ("89.6", "behind")]
    )
    def test_decrease_indicator_reads_it_as_an_improvement(self, value: str, status: Status) -> None:
        result = grade(
            target=ICT_TARGET,
            observed=observations((2023, value)),
            baseline=ICT_BASELINE,
            direction="decrease",
        )
        assert result.status == status


class TestCumulativeWithoutBaseline:
    def test_zero_housing_agreements_on_track(self) -> None:
        # Implied 0 at FY2020 → 30 at FY2030. FY2023: expected 3/10, value 9; rate 10/30.
        result = grade(target=ZERO_HOUSING_TARGET, observed=observations((2023, "10")), cumulative=True)
        assert result.status == "on_track"
        assert (result.baseline_used, result.baseline_implied) == (Baseline(2020, d("0")), True)
        assert (result.achievement_rate, result.expected_rate) == (d("0.333333"), d("0.300000"))
        assert result.expected_value == d("9.000000")

    def test_sounding_surveys_behind(self) -> None:
        # Implied 0 at FY2020 → 15 at FY2025. FY2022: expected 2/5, value 6; rate 5/15 < 0.95 × 0.4.
        result = grade(target=SOUNDING_TARGET, observed=observations((2022, "5")), cumulative=True)
        assert result.status == "behind"
        assert (result.achievement_rate, result.expected_rate) == (d("0.333333"), d("0.400000"))
        assert result.expected_value == d("6.000000")

    def test_nothing_yet_in_the_first_year_is_behind(self) -> None:
        # FY2021: expected 1/5, rate 0.
        result = grade(target=SOUNDING_TARGET, observed=observations((2021, "0")), cumulative=True)
        assert (result.status, result.achievement_rate) == ("behind", d("0.000000"))

    def test_achieved(self) -> None:
        result = grade(target=SOUNDING_TARGET, observed=observations((2024, "15")), cumulative=True)
        assert (result.status, result.achievement_rate) == ("achieved", d("1.000000"))
        assert result.baseline_implied is True


class TestNonCumulativeWithoutBaseline:
    def test_not_met_is_baseline_pending(self) -> None:
        result = grade(target=HEALTH_POINTS_TARGET, observed=observations((2022, "80000")))
        assert result == Progress(
            status="baseline_pending",
            achievement_rate=None,
            expected_value=None,
            expected_rate=None,
            anticipated_value=None,
            anticipated_ratio=None,
            latest=Observation(2022, d("80000")),
            baseline_used=None,
            baseline_implied=False,
            method="linear_expected_v1",
            method_version="1.0",
            explanation=(
                "There is no baseline and the indicator is not cumulative, so no achievement rate can be computed."
            ),
            projection_unavailable="too_few_observations",
        )

    def test_met_is_achieved_without_rates(self) -> None:
        result = grade(target=HEALTH_POINTS_TARGET, observed=observations((2023, "120000")))
        assert result.status == "achieved"
        assert (result.achievement_rate, result.expected_rate, result.expected_value) == (None, None, None)


class TestTargetWithoutValue:
    @pytest.mark.parametrize("comparator", ["eq", "gte", "lte"])
    def test_value_comparator_without_value_is_baseline_pending(self, comparator: Comparator) -> None:
        result = grade(
            target=Target(2025, None, comparator),
            observed=observations((2023, "5")),
            baseline=Baseline(2020, d("1")),
        )
        assert result.status == "baseline_pending"
        assert result.achievement_rate is None
        assert result.explanation == "The target has no value, so no achievement rate can be computed."


class TestBaselineAlreadyMeetsTarget:
    """target == baseline, or a baseline already past the target: no gap to measure a rate against."""

    baseline = Baseline(2021, d("100"))
    target = Target(2025, d("100"), "eq")

    @pytest.mark.parametrize("value", ["100", "101"])
    def test_met_is_achieved_with_rate_one(self, value: str) -> None:
        result = grade(target=self.target, observed=observations((2023, value)), baseline=self.baseline)
        assert (result.status, result.achievement_rate) == ("achieved", d("1.000000"))
        # The line is flat: expected value stays 100.
        assert (result.expected_rate, result.expected_value) == (d("0.500000"), d("100.000000"))

    def test_not_met_is_regressing_without_rate(self) -> None:
        result = grade(target=self.target, observed=observations((2023, "99")), baseline=self.baseline)
        assert (result.status, result.achievement_rate) == ("regressing", None)
        assert result.explanation == (
            "The FY2023 value 99 no longer meets the target 100, which the FY2021 baseline 100 met."
        )

    def test_decrease_indicator_with_equal_target(self) -> None:
        result = grade(
            target=self.target,
            observed=observations((2023, "101")),
            baseline=self.baseline,
            direction="decrease",
        )
        assert (result.status, result.achievement_rate) == ("regressing", None)

    def test_baseline_past_an_at_least_target(self) -> None:
        # Baseline 97 already meets 95以上; the formula would give (94-97)/(95-97) = 1.5, which is meaningless.
        baseline = Baseline(2019, d("97"))
        dropped = grade(target=PUPILS_TARGET, observed=observations((2023, "94")), baseline=baseline)
        kept = grade(target=PUPILS_TARGET, observed=observations((2023, "96")), baseline=baseline)
        assert (dropped.status, dropped.achievement_rate) == ("regressing", None)
        assert (kept.status, kept.achievement_rate) == ("achieved", d("1.000000"))

    def test_anticipated_ratio_is_none(self) -> None:
        result = grade(
            target=self.target, observed=observations((2022, "100"), (2023, "110")), baseline=self.baseline
        )
        # CAGR 10% for two more years: 110 × 1.21 = 133.1
        assert (result.anticipated_value, result.anticipated_ratio) == (d("133.100000"), None)


class TestExpectedLine:
    def test_after_the_target_year_the_rate_is_clipped_but_the_value_is_not(self) -> None:
        # FY2024 against the FY2023 wage target: unclipped 5/4; value 4,316,000 + 1.25 × 184,000 = 4,546,000.
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2024, "4480000")), baseline=WAGE_BASELINE
        )
        assert (result.expected_rate, result.expected_value) == (d("1.000000"), d("4546000.000000"))
        # 164,000 / 184,000 = 0.89130434… < 0.95
        assert (result.status, result.achievement_rate) == ("behind", d("0.891304"))

    def test_after_the_target_year_95_percent_of_the_gap_is_on_track(self) -> None:
        # 0.95 × 184,000 = 174,800 → 4,490,800.
        on_track = grade(
            target=WAGE_TARGET_2023, observed=observations((2024, "4490800")), baseline=WAGE_BASELINE
        )
        behind = grade(
            target=WAGE_TARGET_2023, observed=observations((2024, "4490799")), baseline=WAGE_BASELINE
        )
        assert (on_track.status, on_track.achievement_rate) == ("on_track", d("0.950000"))
        assert behind.status == "behind"

    def test_before_the_baseline_year_the_rate_is_clipped_to_zero(self) -> None:
        # FY2018: unclipped -1/4; value 4,316,000 - 0.25 × 184,000 = 4,270,000.
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2018, "4316000")), baseline=WAGE_BASELINE
        )
        assert (result.expected_rate, result.expected_value) == (d("0.000000"), d("4270000.000000"))
        assert (result.status, result.achievement_rate) == ("on_track", d("0.000000"))

    def test_at_the_baseline_year(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2019, "4300000")), baseline=WAGE_BASELINE
        )
        assert (result.expected_rate, result.expected_value) == (d("0.000000"), d("4316000.000000"))
        assert result.status == "regressing"

    def test_target_year_equal_to_baseline_year_before_it(self) -> None:
        baseline = Baseline(2025, d("10"))
        result = grade(
            target=Target(2025, d("20"), "eq"), observed=observations((2024, "12")), baseline=baseline
        )
        assert (result.expected_rate, result.expected_value) == (d("0.000000"), d("10.000000"))
        assert (result.status, result.achievement_rate) == ("on_track", d("0.200000"))

    def test_target_year_equal_to_baseline_year_from_it_on(self) -> None:
        baseline = Baseline(2025, d("10"))
        result = grade(
            target=Target(2025, d("20"), "eq"), observed=observations((2025, "15")), baseline=baseline
        )
        assert (result.expected_rate, result.expected_value) == (d("1.000000"), d("20.000000"))
        assert (result.status, result.achievement_rate) == ("behind", d("0.500000"))

    def test_target_year_before_baseline_year(self) -> None:
        baseline = Baseline(2026, d("10"))
        result = grade(
            target=Target(2025, d("20"), "eq"), observed=observations((2025, "19.5")), baseline=baseline
        )
        assert (result.expected_rate, result.expected_value) == (d("1.000000"), d("20.000000"))
        assert (result.status, result.achievement_rate) == ("on_track", d("0.950000"))

    def test_thirds_are_rounded_half_up_to_six_places(self) -> None:
        # 0 (FY2020) → 1 (FY2023), FY2022: expected 2/3 = 0.6666…7; value 2/3.
        result = grade(
            target=Target(2023, d("1"), "eq"),
            observed=observations((2022, "0.5")),
            baseline=Baseline(2020, d("0")),
        )
        assert (result.expected_rate, result.expected_value) == (d("0.666667"), d("0.666667"))
        assert result.achievement_rate == d("0.500000")
        assert result.status == "behind"  # 0.5 < 0.95 × 2/3 = 0.6333…


class TestAnticipatedProgress:
    def test_compound_growth_to_the_target_year(self) -> None:
        # 100 → 121 over two years: r = 10%. Two more years: 121 × 1.1² = 146.41. Ratio (146.41 - 100) / 50.
        result = grade(
            target=Target(2025, d("150"), "eq"),
            observed=observations((2021, "100"), (2023, "121")),
            baseline=Baseline(2021, d("100")),
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (d("146.410000"), d("0.928200"))
        # The status still comes from the linear line: 21/50 = 0.42 < 0.95 × 0.5.
        assert result.status == "behind"
        assert result.explanation == (
            "Behind: achievement rate 42.0% against an expected 50.0% (below 95% of expected). "
            "Anticipated FY2025 value 146.41 by compound annual growth."
        )

    def test_only_the_earliest_and_latest_observations_count(self) -> None:
        result = grade(
            target=Target(2025, d("150"), "eq"),
            observed=observations((2021, "100"), (2022, "500"), (2023, "121")),
            baseline=Baseline(2021, d("100")),
        )
        assert result.anticipated_value == d("146.410000")

    def test_fractional_exponent(self) -> None:
        # 100 (FY2020) → 200 (FY2023): growth factor 2^(1/3) a year; seven more years: 200 × 2^(7/3)
        # = 1007.93683991589853… Ratio (1007.9368399… - 100) / 900 = 1.00881871…
        result = grade(
            target=Target(2030, d("1000"), "eq"),
            observed=observations((2020, "100"), (2023, "200")),
            baseline=Baseline(2020, d("100")),
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (d("1007.936840"), d("1.008819"))

    def test_decreasing_indicator(self) -> None:
        # 16,000 (FY2018) → 12,960 (FY2020): r = -10%. Ten more years: 12,960 × 0.9¹⁰ = 4,518.872583696.
        # Ratio (4,518.872583696 - 15,343) / (9,824 - 15,343) = 1.96124…
        result = grade(
            target=GHG_TARGET,
            observed=observations((2018, "16000"), (2020, "12960")),
            baseline=GHG_BASELINE,
            direction="decrease",
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (d("4518.872584"), d("1.961248"))

    def test_flat_series_projects_the_latest_value(self) -> None:
        result = grade(
            target=Target(2030, d("200"), "eq"),
            observed=observations((2021, "150"), (2024, "150")),
            baseline=Baseline(2020, d("100")),
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (d("150.000000"), d("0.500000"))

    def test_cumulative_count_starting_at_zero_is_projected_linearly(self) -> None:
        # 0 (FY2021) → 10 (FY2023): 5 a year; FY2025: 20. Ratio against implied 0 → 15: 20/15.
        result = grade(
            target=SOUNDING_TARGET, observed=observations((2021, "0"), (2023, "10")), cumulative=True
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (d("20.000000"), d("1.333333"))
        assert (result.anticipated_fit, result.projection_unavailable) == ("linear", None)
        assert result.explanation.endswith(
            "Anticipated FY2025 value 20 by a linear trend (the cumulative count's average yearly addition)."
        )

    def test_zero_latest_value_gives_no_projection(self) -> None:
        # UNSD's guard rail: compound growth needs a base above zero; no number is invented.
        result = grade(
            target=Target(2025, d("30"), "eq"),
            observed=observations((2021, "10"), (2023, "0")),
            baseline=Baseline(2020, d("5")),
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (None, None)
        assert (result.anticipated_fit, result.projection_unavailable) == (None, "non_positive_base")
        assert "Anticipated" not in result.explanation

    def test_negative_values_give_no_projection(self) -> None:
        result = grade(
            target=Target(2025, d("0"), "eq"),
            observed=observations((2020, "-10"), (2022, "-4")),
            baseline=Baseline(2020, d("-10")),
        )
        assert (result.anticipated_value, result.projection_unavailable) == (None, "non_positive_base")

    def test_small_cumulative_count_is_not_extrapolated_by_compound_growth(self) -> None:
        # The case: 5 (FY2021) and 12 (FY2022) against 31 by FY2025. Compound growth
        # (×2.4 a year) would project 12 × 2.4³ = 165.9; the running total's line projects
        # 12 + 7 × 3 = 33, which is what a reader would expect from "about 7 a year".
        result = grade(
            target=Target(2025, d("31"), "eq"),
            observed=observations((2021, "5"), (2022, "12")),
            cumulative=True,
        )
        assert result.anticipated_value == d("33.000000")
        assert result.anticipated_ratio == d("1.064516")  # 33 / 31
        assert result.anticipated_fit == "linear"

    def test_a_level_keeps_compound_growth(self) -> None:
        result = grade(
            target=Target(2025, d("31"), "eq"),
            observed=observations((2021, "5"), (2022, "12")),
            cumulative=False,
            baseline=Baseline(2020, d("1")),
        )
        assert result.anticipated_value == d("165.888000")
        assert result.anticipated_fit == "cagr"

    def test_one_observation_says_why_there_is_no_projection(self) -> None:
        result = grade(target=SOUNDING_TARGET, observed=observations((2022, "5")), cumulative=True)
        assert (result.anticipated_value, result.projection_unavailable) == (None, "too_few_observations")

    def test_one_observation_gives_no_anticipation(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023, observed=observations((2022, "4450000")), baseline=WAGE_BASELINE
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (None, None)
        assert "Anticipated" not in result.explanation

    def test_one_fiscal_year_twice_gives_no_anticipation(self) -> None:
        result = grade(
            target=WAGE_TARGET_2023,
            observed=observations((2022, "4400000"), (2022, "4450000")),
            baseline=WAGE_BASELINE,
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (None, None)

    def test_target_year_already_past_projects_the_latest_value(self) -> None:
        result = grade(
            target=Target(2025, d("300"), "eq"),
            observed=observations((2022, "100"), (2026, "200")),
            baseline=Baseline(2020, d("100")),
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (d("200.000000"), d("0.500000"))
        assert result.explanation.endswith("Anticipated FY2026 value 200 by compound annual growth.")

    def test_no_baseline_gives_a_value_but_no_ratio(self) -> None:
        result = grade(target=HEALTH_POINTS_TARGET, observed=observations((2021, "50000"), (2022, "100000")))
        # Doubling in a year; one more year: 200,000.
        assert (result.anticipated_value, result.anticipated_ratio) == (d("200000.000000"), None)
        assert result.status == "baseline_pending"

    def test_relative_target_gives_a_value_but_no_ratio(self) -> None:
        result = grade(
            target=ICT_TARGET, observed=observations((2021, "89.6"), (2023, "90")), baseline=ICT_BASELINE
        )
        assert result.anticipated_value is not None
        assert result.anticipated_ratio is None

    def test_achieved_status_still_reports_anticipation(self) -> None:
        result = grade(
            target=SOUNDING_TARGET, observed=observations((2021, "5"), (2023, "15")), cumulative=True
        )
        # 5 → 15 over two years: 5 a year (linear, a cumulative count); two more years: 25. Ratio 25 / 15.
        assert result.status == "achieved"
        assert (result.anticipated_value, result.anticipated_ratio) == (d("25.000000"), d("1.666667"))


class TestRobustness:
    def test_infinite_baseline_is_treated_as_missing(self) -> None:
        result = grade(
            target=HEALTH_POINTS_TARGET,
            observed=observations((2022, "80000")),
            baseline=Baseline(2019, d("Infinity")),
        )
        assert (result.status, result.baseline_used) == ("baseline_pending", None)

    def test_nan_baseline_of_a_cumulative_count_falls_back_to_zero(self) -> None:
        result = grade(
            target=SOUNDING_TARGET,
            observed=observations((2022, "5")),
            baseline=Baseline(2019, d("NaN")),
            cumulative=True,
        )
        assert (result.baseline_used, result.baseline_implied) == (Baseline(2020, d("0")), True)
        assert result.status == "behind"

    def test_nan_target_value_is_baseline_pending(self) -> None:
        result = grade(
            target=Target(2025, d("NaN"), "eq"), observed=observations((2022, "5")), baseline=WAGE_BASELINE
        )
        assert result.status == "baseline_pending"

    def test_values_too_large_to_round_are_reported_as_none(self) -> None:
        # Expected value 5E+29 cannot carry 6 decimal places in 28 digits; the rates still can.
        result = grade(
            target=Target(2030, d("1E+30"), "eq"),
            observed=observations((2025, "1E+29")),
            baseline=Baseline(2020, d("0")),
        )
        assert (result.status, result.achievement_rate, result.expected_rate) == (
            "behind",
            d("0.100000"),
            d("0.5"),
        )
        assert result.expected_value is None

    def test_overflowing_projection_is_reported_as_none(self) -> None:
        result = grade(
            target=Target(10**7, d("100"), "eq"),
            observed=observations((2020, "1"), (2021, "10")),
            baseline=Baseline(2020, d("1")),
        )
        assert (result.anticipated_value, result.anticipated_ratio) == (None, None)
        assert result.explanation.endswith(
            "Anticipated FY10000000 value out of range by compound annual growth."
        )

    def test_negative_zero_is_not_reported(self) -> None:
        # (0 - 0) / (-10 - 0) is -0 in Decimal.
        result = grade(
            target=Target(2030, d("-10"), "eq"),
            observed=observations((2025, "0")),
            baseline=Baseline(2020, d("0")),
            direction="decrease",
        )
        assert (result.status, str(result.achievement_rate)) == ("behind", "0.000000")


class TestAggregateStatus:
    @pytest.mark.parametrize(
        ("statuses", "expected"),
        [
            (["achieved", "on_track"], "on_track"),
            (["achieved", "behind", "on_track"], "behind"),
            (["on_track", "regressing", "achieved"], "regressing"),
            (["achieved", "achieved"], "achieved"),
            (["achieved", "no_data"], "achieved"),
            (["baseline_pending", "behind"], "behind"),
            (["no_data", "baseline_pending"], "baseline_pending"),
            (["no_data", "no_data"], "no_data"),
            (["baseline_pending"], "baseline_pending"),
            ([], "no_data"),
        ],
    )
    def test_worst_graded_status(self, statuses: list[Status], expected: Status) -> None:
        assert aggregate_status(statuses) == expected

    def test_wage_with_two_dated_targets(self) -> None:
        # FY2022 4,450,000 is on track for FY2023 but behind for FY2025.
        observed = observations((2022, "4450000"))
        per_target = [
            grade(target=target, observed=observed, baseline=WAGE_BASELINE).status
            for target in (WAGE_TARGET_2023, WAGE_TARGET_2025)
        ]
        assert per_target == ["on_track", "behind"]
        assert aggregate_status(per_target) == "behind"

    def test_breakdowns_with_their_own_baselines(self) -> None:
        # 再生利用率: 一般廃棄物 15.2% (FY2018) → 27.0%, 産業廃棄物 51.6% (FY2017) → 56.0%, both FY2025.
        general = grade(
            target=Target(2025, d("27.0"), "eq"),
            observed=observations((2022, "21")),
            baseline=Baseline(2018, d("15.2")),
        )
        industrial = grade(
            target=Target(2025, d("56.0"), "eq"),
            observed=observations((2022, "50")),
            baseline=Baseline(2017, d("51.6")),
        )
        # 一般: 5.8 / 11.8 = 0.4915… < 0.95 × 4/7 = 0.5428… → behind. 産業: -1.6 / 4.4 → regressing.
        assert (general.status, general.achievement_rate) == ("behind", d("0.491525"))
        assert (industrial.status, industrial.achievement_rate) == ("regressing", d("-0.363636"))
        assert aggregate_status([general.status, industrial.status]) == "regressing"


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

RANK: dict[Status, int] = {status: rank for rank, status in enumerate(GRADED_STATUS_ORDER)}
ALL_STATUSES: tuple[Status, ...] = (
    "achieved",
    "on_track",
    "behind",
    "regressing",
    "no_data",
    "baseline_pending",
)

any_decimals = st.decimals(allow_nan=True, allow_infinity=True)
sane_decimals = st.decimals(
    min_value=-(10**9), max_value=10**9, places=3, allow_nan=False, allow_infinity=False
)
any_years = st.integers(min_value=-(10**4), max_value=10**4)
plan_years = st.integers(min_value=2010, max_value=2040)
COMPARATORS: tuple[Comparator, ...] = ("eq", "gte", "lte", "increase_from_baseline")
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")
comparators = st.sampled_from(COMPARATORS)
directions = st.sampled_from(DIRECTIONS)


@st.composite
def targets(draw: st.DrawFn, values: st.SearchStrategy[Decimal], years: st.SearchStrategy[int]) -> Target:
    return Target(
        fiscal_year=draw(years),
        value=draw(st.none() | values),
        comparator=draw(comparators),
        reference_fiscal_year=draw(st.none() | years),
    )


def observation_lists(
    values: st.SearchStrategy[Decimal], years: st.SearchStrategy[int]
) -> st.SearchStrategy[list[Observation]]:
    return st.lists(st.builds(Observation, fiscal_year=years, value=values), max_size=6)


def baselines(
    values: st.SearchStrategy[Decimal], years: st.SearchStrategy[int]
) -> st.SearchStrategy[Baseline | None]:
    return st.none() | st.builds(Baseline, fiscal_year=years, value=values)


def assert_rounded(value: Decimal | None) -> None:
    if value is not None:
        assert value.is_finite()
        assert value.as_tuple().exponent == -6
        assert not (value.is_zero() and value.is_signed())


def assert_well_formed(result: Progress, target: Target, observed: Sequence[Observation]) -> None:
    assert result.status in ALL_STATUSES
    assert (result.method, result.method_version) == (METHOD, METHOD_VERSION)
    assert result.explanation
    for value in (
        result.achievement_rate,
        result.expected_value,
        result.expected_rate,
        result.anticipated_value,
        result.anticipated_ratio,
    ):
        assert_rounded(value)
    if result.expected_rate is not None:
        assert 0 <= result.expected_rate <= 1
    finite = [o for o in observed if o.value.is_finite()]
    assert (result.status == "no_data") == (not finite)
    if finite:
        assert result.latest is not None
        assert result.latest.fiscal_year == max(o.fiscal_year for o in finite)
    if result.status in ("on_track", "behind") and target.comparator != "increase_from_baseline":
        assert result.achievement_rate is not None
        assert result.achievement_rate >= 0


class TestProperties:
    @settings(max_examples=600, deadline=None)
    @given(
        direction=directions,
        cumulative=st.booleans(),
        baseline=baselines(any_decimals, any_years),
        target=targets(any_decimals, any_years),
        observed=observation_lists(any_decimals, any_years),
    )
    def test_never_raises_on_any_decimal_and_output_is_well_formed(
        self,
        direction: Direction,
        cumulative: bool,
        baseline: Baseline | None,
        target: Target,
        observed: list[Observation],
    ) -> None:
        # NaN, Infinity and absurd magnitudes, with the module's own (untrapped) context.
        result = grade(
            target=target,
            observed=observed,
            baseline=baseline,
            direction=direction,
            cumulative=cumulative,
            strict=False,
        )
        assert_well_formed(result, target, observed)

    @settings(max_examples=600, deadline=None)
    @given(
        direction=directions,
        cumulative=st.booleans(),
        baseline=baselines(sane_decimals | st.sampled_from([d("0"), d("-0")]), plan_years),
        target=targets(sane_decimals | st.just(d("0")), plan_years),
        observed=observation_lists(sane_decimals | st.just(d("0")), plan_years),
    )
    def test_never_divides_by_zero(
        self,
        direction: Direction,
        cumulative: bool,
        baseline: Baseline | None,
        target: Target,
        observed: list[Observation],
    ) -> None:
        # Realistic magnitudes, zeros made likely, DivisionByZero and InvalidOperation trapped.
        result = grade(
            target=target, observed=observed, baseline=baseline, direction=direction, cumulative=cumulative
        )
        assert_well_formed(result, target, observed)

    @settings(max_examples=300, deadline=None)
    @given(
        baseline_year=plan_years,
        target_year=plan_years,
        latest_year=plan_years,
        baseline_value=sane_decimals,
        gap=st.decimals(min_value="0.001", max_value=10**6, places=3),
        actual=sane_decimals,
        increment=st.decimals(min_value=0, max_value=10**6, places=3),
        comparator=st.sampled_from(["eq", "gte"]),
    )
    def test_a_larger_actual_never_gives_a_worse_status(
        self,
        baseline_year: int,
        target_year: int,
        latest_year: int,
        baseline_value: Decimal,
        gap: Decimal,
        actual: Decimal,
        increment: Decimal,
        comparator: Comparator,
    ) -> None:
        baseline = Baseline(baseline_year, baseline_value)
        target = Target(target_year, baseline_value + gap, comparator)

        def rank(value: Decimal) -> int:
            status = grade(
                target=target, observed=[Observation(latest_year, value)], baseline=baseline
            ).status
            return RANK[status]

        assert rank(actual) <= rank(actual + increment)

    @settings(max_examples=400, deadline=None)
    @given(
        baseline=baselines(sane_decimals, plan_years),
        target=targets(sane_decimals, plan_years),
        observed=observation_lists(sane_decimals, plan_years),
        cumulative=st.booleans(),
    )
    def test_mirrored_decrease_indicator_grades_like_the_increase_one(
        self,
        baseline: Baseline | None,
        target: Target,
        observed: list[Observation],
        cumulative: bool,
    ) -> None:
        mirrored_comparator: dict[Comparator, Comparator] = {
            "eq": "eq",
            "gte": "lte",
            "lte": "gte",
            "increase_from_baseline": "increase_from_baseline",
        }
        mirrored_target = Target(
            target.fiscal_year,
            None if target.value is None else -target.value,
            mirrored_comparator[target.comparator],
            target.reference_fiscal_year,
        )
        mirrored_baseline = None if baseline is None else Baseline(baseline.fiscal_year, -baseline.value)
        mirrored_observed = [Observation(o.fiscal_year, -o.value) for o in observed]

        up = grade(
            target=target, observed=observed, baseline=baseline, cumulative=cumulative, direction="increase"
        )
        down = grade(
            target=mirrored_target,
            observed=mirrored_observed,
            baseline=mirrored_baseline,
            cumulative=cumulative,
            direction="decrease",
        )
        assert down.status == up.status
        assert down.achievement_rate == up.achievement_rate
        assert down.expected_rate == up.expected_rate
        assert down.expected_value == (None if up.expected_value is None else -up.expected_value)

    @settings(max_examples=300, deadline=None)
    @given(
        direction=directions,
        baseline=baselines(sane_decimals, plan_years),
        target_year=plan_years,
        target_value=sane_decimals,
        comparator=st.sampled_from(["eq", "gte", "lte"]),
        observed=observation_lists(sane_decimals, plan_years).filter(bool),
    )
    def test_achieved_exactly_when_the_latest_value_meets_the_target(
        self,
        direction: Direction,
        baseline: Baseline | None,
        target_year: int,
        target_value: Decimal,
        comparator: Comparator,
        observed: list[Observation],
    ) -> None:
        result = grade(
            target=Target(target_year, target_value, comparator),
            observed=observed,
            baseline=baseline,
            direction=direction,
        )
        assert result.latest is not None
        actual = result.latest.value
        if comparator == "gte" or (comparator == "eq" and direction == "increase"):
            meets = actual >= target_value
        else:
            meets = actual <= target_value
        assert (result.status == "achieved") == meets

    @settings(max_examples=200, deadline=None)
    @given(
        baseline=baselines(sane_decimals, plan_years),
        target=targets(sane_decimals, plan_years),
        observed=st.lists(
            st.builds(Observation, fiscal_year=plan_years, value=sane_decimals),
            max_size=6,
            unique_by=lambda o: o.fiscal_year,
        ),
        rng=st.randoms(use_true_random=False),
    )
    def test_order_of_observations_does_not_matter(
        self,
        baseline: Baseline | None,
        target: Target,
        observed: list[Observation],
        rng: Random,
    ) -> None:
        shuffled = list(observed)
        rng.shuffle(shuffled)
        assert grade(target=target, observed=shuffled, baseline=baseline) == grade(
            target=target, observed=observed, baseline=baseline
        )

    @settings(max_examples=200, deadline=None)
    @given(
        earliest=st.decimals(min_value="0.001", max_value=10**6, places=3),
        ratio=st.decimals(min_value="0.5", max_value=2, places=3),
        years=st.integers(min_value=1, max_value=10),
        horizon=st.integers(min_value=0, max_value=10),
    )
    def test_compound_projection_matches_repeated_growth(
        self, earliest: Decimal, ratio: Decimal, years: int, horizon: int
    ) -> None:
        # Growth by `ratio` per year exactly: the projection is latest × ratio^horizon.
        latest = earliest * ratio**years
        result = grade(
            target=Target(2030 + years + horizon, d("1"), "eq"),
            observed=[Observation(2030, earliest), Observation(2030 + years, latest)],
            baseline=Baseline(2030, d("0")),
        )
        expected = latest * ratio**horizon
        assert result.anticipated_value is not None
        assert abs(result.anticipated_value - expected) <= d("0.000001") + expected * d("1E-20")

    @given(
        statuses=st.lists(st.sampled_from(ALL_STATUSES), max_size=8), rng=st.randoms(use_true_random=False)
    )
    def test_aggregate_is_the_worst_graded_and_order_free(self, statuses: list[Status], rng: Random) -> None:
        result = aggregate_status(statuses)
        graded = [s for s in statuses if s in RANK]
        if graded:
            assert result in graded
            assert all(RANK[result] <= RANK[s] for s in graded)
        else:
            assert result == ("baseline_pending" if "baseline_pending" in statuses else "no_data")
        shuffled = list(statuses)
        rng.shuffle(shuffled)
        assert aggregate_status(shuffled) == result


class TestRunningTotals:
    def test_yearly_counts_add_up_in_fiscal_year_order(self) -> None:
        counts = [Observation(2023, d("12")), Observation(2021, d("5")), Observation(2022, d("7"))]
        assert running_totals(counts) == [
            Observation(2021, d("5")),
            Observation(2022, d("12")),
            Observation(2023, d("24")),
        ]

    def test_a_repeated_year_keeps_its_later_entry_and_nan_is_skipped(self) -> None:
        counts = [Observation(2021, d("5")), Observation(2021, d("6")), Observation(2022, d("NaN"))]
        assert running_totals(counts) == [Observation(2021, d("6"))]


class TestBreakdownRollup:
    @pytest.mark.parametrize(
        ("statuses", "expected"),
        [
            (["achieved", "behind"], "behind"),
            (["achieved", "no_data"], "no_data"),  # never achieved while a part is unknown
            (["on_track", "baseline_pending"], "baseline_pending"),
            (["achieved", "achieved"], "achieved"),
            (["achieved", "on_track"], "on_track"),
            (["behind", "regressing", "achieved"], "regressing"),
            (["behind", "no_data"], "behind"),
            ([], "no_data"),
        ],
    )
    def test_the_worst_breakdown_decides(self, statuses: list[Status], expected: Status) -> None:
        assert aggregate_breakdowns(statuses) == expected
