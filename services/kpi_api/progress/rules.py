"""KPI progress rules: how far an indicator has come towards one dated target.

Pure functions of their inputs, with no I/O. All arithmetic is `Decimal` in a fixed context
(28 significant digits); every rate and value in the result is rounded half-up (四捨五入) to
6 decimal places. A result that cannot be represented that way (for example from absurdly large
inputs) is reported as `None`, never as an error.

## Inputs

- **Observations** are the current revision of the value for each fiscal year. The latest
  observation is the one with the greatest `fiscal_year`. If a fiscal year appears twice, the
  later entry in the sequence wins. Values that are not finite (NaN, Infinity) are ignored.
- **Baseline** (基準値) is optional. The plan writes "現在: —" when there is none.
- **Effective baseline.** A cumulative count (累計) with no baseline starts from zero when the
  plan starts: the baseline is taken as 0 at the end of FY2020, the year before the plan's first
  fiscal year (FY2021; first edition 2021-09), and `baseline_implied` is true. A non-cumulative
  indicator with no baseline has none.
- **Target** (目標値) is one dated target. Its comparator says what "met" means:

  | comparator               | met when (latest value `a`, target value `T`)                      |
  |--------------------------|--------------------------------------------------------------------|
  | `eq`                     | `a >= T` for an increase indicator, `a <= T` for a decrease one    |
  | `gte` (95%以上)          | `a >= T`                                                           |
  | `lte`                    | `a <= T`                                                           |
  | `increase_from_baseline` | `a > R` (2021年度より増加); `a < R` for a decrease indicator       |

  For `gte` and `lte` the comparator, not the indicator's direction, decides. For
  `increase_from_baseline` the target value is ignored and `R` is the reference value: the
  observation at `reference_fiscal_year` if there is one, otherwise the baseline if its fiscal
  year is `reference_fiscal_year` (or if `reference_fiscal_year` is unset). The plan only uses
  this comparator for increase indicators; for a decrease indicator it is read as "improved on
  the reference year", so a mirrored indicator grades the same.

## Rates (method `linear_expected_v1`, version 1.0)

- **Achievement rate** (達成率) = `(a - baseline) / (T - baseline)`. The sign of
  `T - baseline` carries the direction, so the same formula serves both directions. It is only
  defined when the target lies beyond the baseline. When the baseline already meets the target
  (this includes `T == baseline`), the rate is 1 if the latest value meets the target too and
  `None` otherwise. It is `None` without a baseline, and for `increase_from_baseline`.
- **Expected rate** (期待値の進捗) = `(latest FY - baseline FY) / (target FY - baseline FY)`,
  clipped to [0, 1]. **Expected value** (期待値) reads the straight line from
  (baseline FY, baseline) to (target FY, T) at the latest observation's fiscal year, without
  clipping. If the target year is not after the baseline year the line is degenerate: the whole
  gap is expected from the target year on (rate 1, value `T`) and none before (rate 0, value
  baseline).

## Status

The checks run in this order; the first that applies decides.

1. `no_data`: there is no observation.
2. `achieved`: the latest value meets the target (table above). A baseline is not needed.
3. `increase_from_baseline` targets that are not achieved:
   - `baseline_pending` if there is no reference value, or no observation after the reference
     year yet (the only value is the reference itself, or an earlier one);
   - `regressing` if the latest value is worse than the reference (lower, for an increase
     indicator);
   - `behind` if it equals the reference: measured, unchanged, not yet increased.
4. `baseline_pending`: the target has no value, or there is no (effective) baseline, so no
   achievement rate can be computed.
5. `regressing`: the baseline already met the target and the latest value no longer does.
6. `on_track`: achievement rate ≥ 0.95 × expected rate. From the target year on the expected
   rate is 1, so a value within 95% of the gap still counts as on track; before the baseline
   year it is 0, so any value not worse than the baseline does.
7. `behind`: achievement rate ≥ 0.
8. `regressing`: achievement rate < 0 (the value has moved away from the target).

Classification uses the unrounded rates; only the reported numbers are rounded.

## Anticipated progress (`unsd_v2`)

Informational, in the style of the UN Statistics Division's Progress Chart; it does not change
the status. The UNSD method's own guard rails apply: no projection is made, and
`projection_unavailable` says why, when

- there are observations in fewer than two fiscal years (`too_few_observations`), or
- compound growth is asked of a non-positive base (`non_positive_base`): the earliest or the
  latest value is zero or negative, so a growth rate is undefined.

Two fits are used:

- **Compound annual growth** (`cagr`) for a level (not cumulative): `r = (latest / earliest) **
  (1 / years) - 1` extrapolated to the target year, `anticipated_value = latest * (1 + r) **
  (target FY - latest FY)` (computed as `exp(ln(latest / earliest) * horizon / years)`).
- **A straight line** (`linear`) for a cumulative count (累計): a running total grows by the
  year's own flow, so its natural trend is linear (the average yearly addition continued),
  while compound growth from a small early total extrapolates absurdly: 5 in FY2021 and 12 in
  FY2022 project 165.9 by FY2025 (12 × 2.4³) against a target of 31; the line projects 33. The
  slope is `(latest - earliest) / years`.

If the target year is already observed or past, the horizon is 0 and the anticipated value is
the latest value. `anticipated_ratio = (anticipated_value - baseline) / (T - baseline)`; it is
`None` without a baseline or a target value, or when `T == baseline`.

## Indicator-level status

`aggregate_status` rolls the statuses of the targets of one series (an indicator without
breakdowns, one breakdown, or the headline total)
up into one: the worst graded status, in the order
`regressing` < `behind` < `on_track` < `achieved`. `no_data` and `baseline_pending` are ignored
unless every status is one of them; then the result is `baseline_pending` if any is, else
`no_data` (also for an empty list).

An indicator with breakdowns (男性/女性, 小6/中3) takes the worst of its series' own statuses with
`aggregate_breakdowns`, where an ungraded series counts as worse than `on_track`: the indicator
is achieved only when every breakdown is.

No input of the declared types makes these functions raise, and no division by zero is ever
attempted: every divisor is checked first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    getcontext,
    localcontext,
)
from typing import Final, Literal

Direction = Literal["increase", "decrease"]
Comparator = Literal["eq", "gte", "lte", "increase_from_baseline"]
Status = Literal["achieved", "on_track", "behind", "regressing", "no_data", "baseline_pending"]

METHOD: Final = "linear_expected_v1"
METHOD_VERSION: Final = "1.0"
ANTICIPATED_METHOD: Final = "unsd_v2"
PLAN_START_FISCAL_YEAR: Final = 2021  # first edition 2021-09
ON_TRACK_FACTOR: Final = Decimal("0.95")
DECIMAL_PLACES: Final = 6

# Worst first. no_data and baseline_pending are not graded.
GRADED_STATUS_ORDER: Final[tuple[Status, ...]] = ("regressing", "behind", "on_track", "achieved")

# No traps: an absurdly large intermediate overflows to Infinity and is reported as None instead
# of raising. Divisions are guarded explicitly, so a zero divisor never reaches Decimal; the tests
# run with DivisionByZero and InvalidOperation trapped to prove it.
_CONTEXT: Final = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[])
_ONE: Final = Decimal(1)
_ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class Observation:
    fiscal_year: int
    value: Decimal


@dataclass(frozen=True)
class Baseline:
    fiscal_year: int
    value: Decimal


@dataclass(frozen=True)
class Target:
    fiscal_year: int
    value: Decimal | None
    comparator: Comparator
    reference_fiscal_year: int | None = None


@dataclass(frozen=True)
class Progress:
    status: Status
    achievement_rate: Decimal | None
    expected_value: Decimal | None
    expected_rate: Decimal | None
    anticipated_value: Decimal | None
    anticipated_ratio: Decimal | None
    latest: Observation | None
    baseline_used: Baseline | None
    baseline_implied: bool
    method: str
    method_version: str
    explanation: str
    #: How the anticipated value was projected: "cagr", "linear", or None (none projected).
    anticipated_fit: str | None = None
    #: Why no projection is shown: "too_few_observations", "non_positive_base", or None.
    projection_unavailable: str | None = None


def effective_baseline(baseline: Baseline | None, cumulative: bool) -> tuple[Baseline | None, bool]:
    """The baseline to measure from, and whether it was implied rather than given."""
    if baseline is not None:
        return baseline, False
    if cumulative:
        # 累計 counts start from zero at the end of the year before the plan's first year.
        return Baseline(fiscal_year=PLAN_START_FISCAL_YEAR - 1, value=_ZERO), True
    return None, False


def aggregate_status(statuses: Sequence[Status]) -> Status:
    """The worst graded status; no_data/baseline_pending only when nothing is graded."""
    graded = [status for status in statuses if status in GRADED_STATUS_ORDER]
    if graded:
        return min(graded, key=GRADED_STATUS_ORDER.index)
    if "baseline_pending" in statuses:
        return "baseline_pending"
    return "no_data"


def compute_progress(
    *,
    direction: Direction,
    cumulative: bool,
    baseline: Baseline | None,
    target: Target,
    observations: Sequence[Observation],
) -> Progress:
    """Grade the latest observation against one target. See the module docstring for the rules."""
    with localcontext(_CONTEXT):
        return _compute(
            direction=direction,
            cumulative=cumulative,
            baseline=baseline,
            target=target,
            observations=observations,
        )


def _compute(
    *,
    direction: Direction,
    cumulative: bool,
    baseline: Baseline | None,
    target: Target,
    observations: Sequence[Observation],
) -> Progress:
    by_year: dict[int, Observation] = {}
    for observation in observations:
        if observation.value.is_finite():
            by_year[observation.fiscal_year] = observation
    history = [by_year[fiscal_year] for fiscal_year in sorted(by_year)]

    given = baseline if baseline is not None and baseline.value.is_finite() else None
    baseline_used, baseline_implied = effective_baseline(given, cumulative)
    relative = target.comparator == "increase_from_baseline"
    target_value = None if relative else target.value
    if target_value is not None and not target_value.is_finite():
        target_value = None

    def result(
        status: Status,
        explanation: str,
        *,
        latest: Observation | None = None,
        achievement_rate: Decimal | None = None,
        expected: tuple[Decimal, Decimal] | None = None,
        anticipated: _Anticipated | None = None,
    ) -> Progress:
        expected_rate, expected_value = expected if expected is not None else (None, None)
        if anticipated is not None and anticipated.fit is not None:
            # Why no projection is shown is reported in projection_unavailable, not in the status text.
            explanation = f"{explanation} {anticipated.note}"
        return Progress(
            status=status,
            achievement_rate=_round(achievement_rate),
            expected_value=_round(expected_value),
            expected_rate=_round(expected_rate),
            anticipated_value=anticipated.value if anticipated is not None else None,
            anticipated_ratio=anticipated.ratio if anticipated is not None else None,
            anticipated_fit=anticipated.fit if anticipated is not None else None,
            projection_unavailable=anticipated.unavailable if anticipated is not None else None,
            latest=latest,
            baseline_used=baseline_used,
            baseline_implied=baseline_implied,
            method=METHOD,
            method_version=METHOD_VERSION,
            explanation=explanation,
        )

    if not history:
        return result("no_data", "No observation has been recorded, so progress cannot be graded.")

    latest = history[-1]
    anticipated = _anticipate(history, target.fiscal_year, target_value, baseline_used, cumulative)
    at = f"The FY{latest.fiscal_year} value {_fmt(latest.value)}"

    if relative:
        graded, reason = _grade_relative(direction, target, latest, by_year, baseline_used)
        return result(graded, reason, latest=latest, anticipated=anticipated)

    if target_value is not None and _meets(latest.value, target_value, target.comparator, direction):
        rate: Decimal | None = None
        expected: tuple[Decimal, Decimal] | None = None
        if baseline_used is not None:
            expected = _expected(baseline_used, target.fiscal_year, target_value, latest.fiscal_year)
            if _meets(baseline_used.value, target_value, target.comparator, direction):
                rate = _ONE
            else:
                rate = (latest.value - baseline_used.value) / (target_value - baseline_used.value)
        return result(
            "achieved",
            f"{at} meets the FY{target.fiscal_year} target of "
            f"{_wording(target.comparator, direction)} {_fmt(target_value)}.",
            latest=latest,
            achievement_rate=rate,
            expected=expected,
            anticipated=anticipated,
        )

    if target_value is None:
        return result(
            "baseline_pending",
            "The target has no value, so no achievement rate can be computed.",
            latest=latest,
            anticipated=anticipated,
        )
    if baseline_used is None:
        return result(
            "baseline_pending",
            "There is no baseline and the indicator is not cumulative, "
            "so no achievement rate can be computed.",
            latest=latest,
            anticipated=anticipated,
        )

    expected = _expected(baseline_used, target.fiscal_year, target_value, latest.fiscal_year)
    if _meets(baseline_used.value, target_value, target.comparator, direction):
        return result(
            "regressing",
            f"{at} no longer meets the target {_fmt(target_value)}, "
            f"which the FY{baseline_used.fiscal_year} baseline {_fmt(baseline_used.value)} met.",
            latest=latest,
            expected=expected,
            anticipated=anticipated,
        )

    # Not met, and the baseline does not meet it either, so target - baseline is non-zero.
    rate = (latest.value - baseline_used.value) / (target_value - baseline_used.value)
    expected_rate = expected[0]
    rates = f"achievement rate {_pct(rate)} against an expected {_pct(expected_rate)}"
    status: Status
    if rate >= ON_TRACK_FACTOR * expected_rate:
        status, text = "on_track", f"On track: {rates} (at least 95% of expected)."
    elif rate >= 0:
        status, text = "behind", f"Behind: {rates} (below 95% of expected)."
    else:
        status, text = "regressing", f"Regressing: {rates}; the value has moved away from the target."
    return result(
        status,
        text,
        latest=latest,
        achievement_rate=rate,
        expected=expected,
        anticipated=anticipated,
    )


def _meets(value: Decimal, target_value: Decimal, comparator: Comparator, direction: Direction) -> bool:
    if comparator == "gte":
        return value >= target_value
    if comparator == "lte":
        return value <= target_value
    return value >= target_value if direction == "increase" else value <= target_value


def _wording(comparator: Comparator, direction: Direction) -> str:
    if comparator == "gte" or (comparator == "eq" and direction == "increase"):
        return "at least"
    return "at most"


def _grade_relative(
    direction: Direction,
    target: Target,
    latest: Observation,
    by_year: dict[int, Observation],
    baseline_used: Baseline | None,
) -> tuple[Status, str]:
    reference_year = target.reference_fiscal_year
    if reference_year is None and baseline_used is not None:
        reference_year = baseline_used.fiscal_year
    if reference_year is None:
        return "baseline_pending", "There is no baseline to compare against."

    reference: Decimal | None = None
    if reference_year in by_year:
        reference = by_year[reference_year].value
    elif baseline_used is not None and baseline_used.fiscal_year == reference_year:
        reference = baseline_used.value
    if reference is None:
        return "baseline_pending", f"There is no FY{reference_year} reference value to compare against."
    if latest.fiscal_year <= reference_year:
        return (
            "baseline_pending",
            f"No value after the FY{reference_year} reference year has been recorded yet.",
        )

    at = f"The FY{latest.fiscal_year} value {_fmt(latest.value)}"
    against = f"the FY{reference_year} reference value {_fmt(reference)}"
    if latest.value == reference:
        return "behind", f"{at} is unchanged from {against}."
    higher = latest.value > reference
    word = "above" if higher else "below"
    improved = higher if direction == "increase" else not higher
    return ("achieved" if improved else "regressing"), f"{at} is {word} {against}."


def _expected(
    baseline: Baseline, target_year: int, target_value: Decimal, latest_year: int
) -> tuple[Decimal, Decimal]:
    """(expected rate clipped to [0, 1], expected value on the unclipped line)."""
    span = target_year - baseline.fiscal_year
    if span <= 0:
        if latest_year >= target_year:
            return _ONE, target_value
        return _ZERO, baseline.value
    unclipped = Decimal(latest_year - baseline.fiscal_year) / Decimal(span)
    value = baseline.value + unclipped * (target_value - baseline.value)
    return min(max(unclipped, _ZERO), _ONE), value


@dataclass(frozen=True)
class _Anticipated:
    value: Decimal | None
    ratio: Decimal | None
    note: str
    fit: str | None = None
    unavailable: str | None = None


def _anticipate(
    history: Sequence[Observation],
    target_year: int,
    target_value: Decimal | None,
    baseline: Baseline | None,
    cumulative: bool = False,
) -> _Anticipated | None:
    if len(history) < 2:
        return _Anticipated(
            None,
            None,
            "No projection: it needs observations in at least two fiscal years.",
            unavailable="too_few_observations",
        )
    earliest, latest = history[0], history[-1]
    years = latest.fiscal_year - earliest.fiscal_year
    if years <= 0:  # unreachable with one observation per year; kept so no divisor is ever zero
        return None
    horizon = max(target_year - latest.fiscal_year, 0)
    if cumulative:
        slope = (latest.value - earliest.value) / years
        projected = latest.value + slope * horizon
        fit, how = "linear", "by a linear trend (the cumulative count's average yearly addition)"
    elif earliest.value > 0 and latest.value > 0:
        growth = ((latest.value / earliest.value).ln() * horizon / years).exp()
        projected = latest.value * growth
        fit, how = "cagr", "by compound annual growth"
    else:
        return _Anticipated(
            None,
            None,
            "No projection: compound growth needs a base above zero.",
            unavailable="non_positive_base",
        )
    ratio: Decimal | None = None
    if target_value is not None and baseline is not None and target_value != baseline.value:
        ratio = (projected - baseline.value) / (target_value - baseline.value)
    value = _round(projected)
    shown = _fmt(value) if value is not None else "out of range"
    return _Anticipated(
        value=value,
        ratio=_round(ratio),
        note=f"Anticipated FY{max(target_year, latest.fiscal_year)} value {shown} {how}.",
        fit=fit,
    )


def running_totals(observations: Sequence[Observation]) -> list[Observation]:
    """Each fiscal year's own count (``fiscal_year_count``) turned into the running total (累計).

    The total at FY y is the sum of the counts of every fiscal year up to y. Non-finite values are
    skipped; a fiscal year given twice keeps its later entry (as everywhere in this module).
    """
    by_year: dict[int, Decimal] = {}
    for observation in observations:
        if observation.value.is_finite():
            by_year[observation.fiscal_year] = observation.value
    total = _ZERO
    result = []
    with localcontext(_CONTEXT):
        for fiscal_year in sorted(by_year):
            total += by_year[fiscal_year]
            result.append(Observation(fiscal_year, total))
    return result


#: Worst first, for an indicator's breakdowns: a breakdown that cannot be graded ranks below
#: on_track, so an indicator is never achieved or on track while one of its parts is unknown.
BREAKDOWN_STATUS_ORDER: Final[tuple[Status, ...]] = (
    "regressing",
    "behind",
    "baseline_pending",
    "no_data",
    "on_track",
    "achieved",
)


def aggregate_breakdowns(statuses: Sequence[Status]) -> Status:
    """The indicator's status from its breakdowns' (and headline's) own statuses: the worst.

    Order (worst first): regressing, behind, baseline_pending, no_data, on_track, achieved. So
    男性 achieved and 女性 behind is behind; 男性 achieved and 女性 without data is no_data, never
    achieved. An empty list is no_data.
    """
    if not statuses:
        return "no_data"
    return min(statuses, key=BREAKDOWN_STATUS_ORDER.index)


def _round(value: Decimal | None, places: int = DECIMAL_PLACES) -> Decimal | None:
    """Half-up to `places` decimals; None when that needs more digits than the context holds."""
    if value is None or not value.is_finite():
        return None
    if not value.is_zero() and value.adjusted() + 1 + places > getcontext().prec:
        return None
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # no "-0.000000"


def _fmt(value: Decimal) -> str:
    """A value as people write it: 89.6, 15343, 146.41."""
    if not value.is_finite():
        return str(value)
    if value.is_zero():
        return "0"
    normal = value.normalize()
    if abs(normal.adjusted()) > 20:  # keep absurd magnitudes short
        return str(normal)
    return format(normal, "f")


def _pct(rate: Decimal) -> str:
    percent = _round(rate * 100, places=1)
    return "n/a" if percent is None else f"{percent}%"
