"""Japanese explanations of a progress result (``rules.py`` writes the English ones).

The wording follows the same checks as ``rules.compute_progress``; it reads the result and the
inputs, and never decides a status itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from services.kpi_api.core.numbers import plain
from services.kpi_api.progress.rules import Direction, Observation, Progress, Target


def _pct(rate: Decimal) -> str:
    percent = (rate * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent.copy_abs() if percent.is_zero() else percent}%"


def _fy(year: int) -> str:
    return f"{year}年度"


def _anticipation(progress: Progress, target: Target, history: Sequence[Observation]) -> str:
    if progress.anticipated_value is None or len(history) < 2 or progress.latest is None:
        return ""
    year = max(target.fiscal_year, progress.latest.fiscal_year)
    how = (
        "年平均成長率(CAGR)を延長した"
        if progress.anticipated_fit == "cagr"
        else "累計の年平均増加数を直線で延長した"
    )
    return f"{how}{_fy(year)}の見込み値は {plain(progress.anticipated_value)} です。"


def explain_ja(
    progress: Progress, *, target: Target, direction: Direction, observations: Sequence[Observation]
) -> str:
    by_year = {o.fiscal_year: o for o in observations if o.value.is_finite()}
    history = [by_year[y] for y in sorted(by_year)]
    latest = progress.latest
    if progress.status == "no_data" or latest is None:
        return "実績値が記録されていないため、進捗を評価できません。"
    at = f"{_fy(latest.fiscal_year)}の実績値 {plain(latest.value)}"
    extra = _anticipation(progress, target, history)
    baseline = progress.baseline_used

    if target.comparator == "increase_from_baseline":
        reference_year = target.reference_fiscal_year
        if reference_year is None and baseline is not None:
            reference_year = baseline.fiscal_year
        if reference_year is None:
            return "比較する基準値がありません。" + extra
        reference: Decimal | None = None
        if reference_year in by_year:
            reference = by_year[reference_year].value
        elif baseline is not None and baseline.fiscal_year == reference_year:
            reference = baseline.value
        if reference is None:
            return f"比較する{_fy(reference_year)}の基準値がありません。" + extra
        if progress.status == "baseline_pending":
            return f"基準年度({_fy(reference_year)})より後の実績値がまだ記録されていません。" + extra
        against = f"基準年度({_fy(reference_year)})の値 {plain(reference)}"
        if progress.status == "behind":
            return f"{at} は{against} から変わっていません。" + extra
        word = "上回って" if latest.value > reference else "下回って"
        if progress.status == "achieved":
            goal = "増加" if direction == "increase" else "減少"
            return f"{at} は{against} を{word}います(目標: {_fy(reference_year)}より{goal})。" + extra
        return f"{at} は{against} を{word}おり、悪化しています。" + extra

    if progress.status == "achieved":
        bound = (
            "以上"
            if target.comparator == "gte" or (target.comparator == "eq" and direction == "increase")
            else "以下"
        )
        value = plain(target.value) if target.value is not None else "—"
        return f"{at} は{_fy(target.fiscal_year)}の目標({value}{bound})を満たしています。" + extra
    if progress.status == "baseline_pending":
        if target.value is None:
            return "目標値がないため、達成率を計算できません。" + extra
        return "基準値がなく累計指標でもないため、達成率を計算できません。" + extra
    rate = progress.achievement_rate
    expected = progress.expected_rate
    if rate is None or expected is None:
        # Only "regressing" gets here: the baseline met the target and the latest value does not.
        base = f"基準値 {plain(baseline.value)}({_fy(baseline.fiscal_year)})" if baseline else "基準値"
        target_value = plain(target.value) if target.value is not None else "—"
        return f"{base}は目標 {target_value} を満たしていましたが、{at} は満たしていません。" + extra
    rates = f"達成率 {_pct(rate)}、期待される進捗 {_pct(expected)}"
    if progress.status == "on_track":
        return f"順調: {rates}(期待の95%以上)。" + extra
    if progress.status == "behind":
        return f"遅れ: {rates}(期待の95%未満)。" + extra
    return f"後退: {rates}。値が目標と逆の方向に動いています。" + extra
