"""Progress and status through the API, for observations posted through the API, in both directions.

Every expected rate is computed here from the plan's figures with the issue's formulas:
achievement_rate = (actual − baseline) / (target − baseline), expected_rate = elapsed / total years,
on_track when achievement_rate ≥ 0.95 × expected_rate.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests.kpi_api.conftest import outbox_events, post_observation

Q = Decimal("0.000001")


def rate(actual: int | str, baseline: int | str, target: int | str) -> float:
    value = (Decimal(actual) - Decimal(baseline)) / (Decimal(target) - Decimal(baseline))
    return float(value.quantize(Q, rounding=ROUND_HALF_UP))


async def progress(client: Any, indicator_id: str, **headers: str) -> dict[str, Any]:
    response = await client.get(f"/v1/kpis/{indicator_id}/progress", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def record(
    client: Any, headers: dict[str, str], indicator_id: str, fiscal_year: int, value: Any, **kw: Any
) -> None:
    response = await post_observation(client, headers, indicator_id, fiscal_year, value, **kw)
    assert response.status_code in (200, 201), response.text


class TestIncreasingIndicator:
    """県内総生産: 8兆9,704億円 (FY2019) → 9兆5,000億円 (FY2025); six years."""

    BASE, TARGET = 8970400000000, 9500000000000

    @pytest.mark.parametrize(
        ("value", "status"),
        [
            (9200000000000, "on_track"),  # 0.4335 ≥ 0.95 × 2/6 = 0.3167
            (9100000000000, "behind"),  # 0.2447: moving the right way, too slowly
            (8900000000000, "regressing"),  # below the baseline
            (9500000000000, "achieved"),  # the target itself
        ],
    )
    async def test_status(self, kpi_client, service_headers, value, status) -> None:
        await record(kpi_client, service_headers, "gross-prefectural-product", 2021, value)
        body = await progress(kpi_client, "gross-prefectural-product")
        [target] = body["targets"]
        assert (body["status"], target["status"]) == (status, status)
        assert target["achievement_rate"] == rate(value, self.BASE, self.TARGET)
        assert target["expected_rate"] == 0.333333
        # The straight line read at FY2021: 8970400000000 + 2/6 × 529600000000.
        assert target["expected_value"] == 9146933333333.333333
        assert target["latest"] == {"fiscal_year": 2021, "value": value}
        assert target["baseline"] == {"fiscal_year": 2019, "value": self.BASE}
        assert (body["method"], body["method_version"]) == ("linear_expected_v1", "1.0")

    async def test_on_track_threshold_is_95_percent_of_expected(self, kpi_client, service_headers) -> None:
        # Expected rate 2/6; 95% of it is 0.316667 of the 529.6 billion gap.
        threshold = self.BASE + math.ceil(Decimal(529600000000) * Decimal("0.95") / 3)
        await record(kpi_client, service_headers, "gross-prefectural-product", 2021, threshold)
        assert (await progress(kpi_client, "gross-prefectural-product"))["status"] == "on_track"
        await record(
            kpi_client, service_headers, "gross-prefectural-product", 2021, threshold - 1, correction=True
        )
        assert (await progress(kpi_client, "gross-prefectural-product"))["status"] == "behind"


class TestDecreasingIndicator:
    """温室効果ガス排出量: 15,343 (FY2017) → 9,824 千t-CO2 (FY2030); lower is better."""

    @pytest.mark.parametrize(
        ("value", "status"),
        [
            (13600, "on_track"),  # (13600 − 15343) / (9824 − 15343) = 0.3158 ≥ 0.95 × 4/13 = 0.2923
            (14500, "behind"),  # 0.1527
            (15343, "behind"),  # unchanged: rate 0
            (16000, "regressing"),  # emissions went up
            (9824, "achieved"),
            (9000, "achieved"),
        ],
    )
    async def test_status(self, kpi_client, service_headers, value, status) -> None:
        await record(kpi_client, service_headers, "ghg-emissions", 2021, value)
        body = await progress(kpi_client, "ghg-emissions")
        [target] = body["targets"]
        assert (body["status"], body["direction"]) == (status, "decrease")
        assert target["achievement_rate"] == rate(value, 15343, 9824)
        assert target["expected_rate"] == 0.307692  # 4 / 13

    async def test_anticipated_progress_from_two_observations(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, "ghg-emissions", 2019, 15000)
        await record(kpi_client, service_headers, "ghg-emissions", 2021, 14000)
        [target] = (await progress(kpi_client, "ghg-emissions"))["targets"]
        projected = 14000 * (14000 / 15000) ** (9 / 2)  # CAGR over 2 years, extrapolated 9 years to FY2030
        assert target["anticipated_value"] == pytest.approx(projected, abs=1e-6)
        assert target["anticipated_ratio"] == pytest.approx((projected - 15343) / (9824 - 15343), abs=1e-6)

    async def test_one_observation_has_no_anticipation(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, "ghg-emissions", 2021, 14000)
        [target] = (await progress(kpi_client, "ghg-emissions"))["targets"]
        assert (target["anticipated_value"], target["anticipated_ratio"]) == (None, None)

    async def test_zero_base_gives_no_projection_and_says_why(self, kpi_client, service_headers) -> None:
        # UNSD's guard rail: a growth rate from a base of zero is undefined; no number is shown.
        await record(kpi_client, service_headers, "ghg-emissions", 2020, 0)
        await record(kpi_client, service_headers, "ghg-emissions", 2021, 1000)
        body = await progress(kpi_client, "ghg-emissions", **{"accept-language": "en"})
        [target] = body["targets"]
        assert (target["anticipated_value"], target["anticipated_ratio"]) == (None, None)
        assert target["projection_unavailable"] == "non_positive_base"
        assert target["status"] == "achieved"


class TestTargetKinds:
    async def test_cumulative_without_baseline_starts_from_zero_in_fiscal_2020(
        self, kpi_client, service_headers
    ) -> None:
        # 5G適用可能技術導入支援件数(累計): 現在 —; 10 by FY2023, 31 by FY2025.
        await record(kpi_client, service_headers, "5g-technology-support-cases", 2021, 5)
        body = await progress(kpi_client, "5g-technology-support-cases")
        by_year = {t["fiscal_year"]: t for t in body["targets"]}
        for target in by_year.values():
            assert target["baseline"] == {"fiscal_year": 2020, "value": 0}
            assert target["baseline_implied"] is True
        assert (by_year[2023]["achievement_rate"], by_year[2023]["expected_rate"]) == (0.5, 0.333333)
        assert by_year[2023]["status"] == "on_track"
        # 5/31 = 0.161 < 0.95 × 1/5 = 0.19: the FY2025 target is behind, and so is the indicator.
        assert (by_year[2025]["status"], body["status"]) == ("behind", "behind")

    async def test_no_baseline_and_not_cumulative_is_baseline_pending(
        self, kpi_client, service_headers
    ) -> None:
        await record(kpi_client, service_headers, "health-point-participants", 2022, 100000)
        body = await progress(kpi_client, "health-point-participants")
        assert body["status"] == "baseline_pending"
        assert body["targets"][0]["baseline"] is None and body["targets"][0]["achievement_rate"] is None
        await record(kpi_client, service_headers, "health-point-participants", 2023, 120000)
        assert (await progress(kpi_client, "health-point-participants"))["status"] == "achieved"

    @pytest.mark.parametrize(
        ("observations", "status"),
        [
            ([(2021, "89.6")], "baseline_pending"),  # only the reference year itself
            ([(2022, "90.1")], "achieved"),  # 2021年度より増加
            ([(2022, "89.6")], "behind"),  # unchanged
            ([(2022, "88.0")], "regressing"),
        ],
    )
    async def test_increase_from_baseline(self, kpi_client, service_headers, observations, status) -> None:
        for fiscal_year, value in observations:
            await record(kpi_client, service_headers, "ict-literacy-students-ratio", fiscal_year, value)
        body = await progress(kpi_client, "ict-literacy-students-ratio")
        [target] = body["targets"]
        assert (target["comparator"], target["target_value"], target["reference_fiscal_year"]) == (
            "increase_from_baseline",
            None,
            2021,
        )
        assert (target["status"], body["status"]) == (status, status)

    async def test_at_least_comparator(self, kpi_client, service_headers) -> None:
        # 95%以上 for 小6: 96 meets it; 中3 has no data, so the indicator as a whole cannot be
        # called achieved: it is only as far as its least-known breakdown (no_data).
        await record(
            kpi_client,
            service_headers,
            "students-self-directed-problem-solving",
            2022,
            96,
            breakdown="grade6",
        )
        body = await progress(kpi_client, "students-self-directed-problem-solving")
        assert [(b["breakdown"], b["name"], b["status"]) for b in body["breakdowns"]] == [
            ("grade6", "小6", "achieved"),
            ("grade9", "中3", "no_data"),
        ]
        assert (body["status"], body["status_rule"]) == ("no_data", "worst_breakdown")
        assert [b["status_label"] for b in body["breakdowns"]] == ["達成", "データなし"]

    async def test_breakdowns_roll_up_to_the_worst(self, kpi_client, service_headers, engine) -> None:
        await record(kpi_client, service_headers, "healthy-life-expectancy", 2022, "73.3", breakdown="male")
        await record(kpi_client, service_headers, "healthy-life-expectancy", 2022, "75.0", breakdown="female")
        body = await progress(kpi_client, "healthy-life-expectancy", **{"accept-language": "en"})
        assert [(b["breakdown"], b["name"], b["status"]) for b in body["breakdowns"]] == [
            ("male", "Male", "achieved"),
            ("female", "Female", "regressing"),
        ]
        assert body["status"] == "regressing"
        female = next(t for t in body["targets"] if t["breakdown"] == "female")
        assert female["achievement_rate"] == rate("75.0", "75.20", "76.3")
        changes = [p["data"] for t, p in await outbox_events(engine) if t == "kpi.status_changed"]
        # Male alone achieved leaves the indicator no_data (female unknown): no change, no event.
        assert [(c["previous_status"], c["status"]) for c in changes] == [("no_data", "regressing")]

    async def test_two_dated_targets_are_both_graded(self, kpi_client, service_headers) -> None:
        # 1人あたり賃金 4,600,000 in FY2023: meets 450万円 (FY2023), and for 480万円 (FY2025)
        # 284000 / 484000 = 0.587 < 0.95 × 4/6 = 0.633 → behind; the indicator is behind.
        await record(kpi_client, service_headers, "per-capita-wage", 2023, 4600000)
        body = await progress(kpi_client, "per-capita-wage")
        assert [(t["fiscal_year"], t["target_value"], t["status"]) for t in body["targets"]] == [
            (2023, 4500000, "achieved"),
            (2025, 4800000, "behind"),
        ]
        assert body["status"] == "behind"
        assert body["targets"][1]["achievement_rate"] == rate(4600000, 4316000, 4800000)


class TestExplanations:
    async def test_explanation_follows_accept_language(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, "ghg-emissions", 2021, 14500)
        ja = (await progress(kpi_client, "ghg-emissions"))["targets"][0]["explanation"]
        en = (await progress(kpi_client, "ghg-emissions", **{"accept-language": "en"}))["targets"][0][
            "explanation"
        ]
        assert ja == "遅れ: 達成率 15.3%、期待される進捗 30.8%(期待の95%未満)。"
        assert en.startswith("Behind: achievement rate 15.3% against an expected 30.8%")

    async def test_no_data(self, kpi_client) -> None:
        body = await progress(kpi_client, "ghg-emissions")
        assert body["status"] == "no_data" and body["observation_count"] == 0
        assert body["targets"][0]["explanation"] == "実績値が記録されていないため、進捗を評価できません。"


class TestRollups:
    async def test_counts_by_goal_aspect_and_section(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, "ghg-emissions", 2021, 13600)  # on_track
        await record(kpi_client, service_headers, "renewable-energy-installed", 2021, 5000000)  # regressing
        await record(kpi_client, service_headers, "health-point-participants", 2022, 1)  # baseline_pending
        body = (await kpi_client.get("/v1/rollups")).json()
        assert body["total"]["indicators"] == 32
        assert body["total"]["counts"] == {
            "achieved": 0,
            "on_track": 1,
            "behind": 0,
            "regressing": 1,
            "baseline_pending": 1,
            "no_data": 29,
        }
        goals = {g["key"]: g for g in body["by_sdg_goal"]}
        assert list(goals) == [str(n) for n in range(1, 18)]
        # Goal 13: renewable energy (13.2), flood risk (13.1), zero-declaration housing (13.1, 13.2 → once), GHG.
        assert goals["13"]["indicators"] == 4 and goals["13"]["name"] == "気候変動に具体的な対策を"
        assert goals["13"]["counts"] | {} == {
            "achieved": 0,
            "on_track": 1,
            "behind": 0,
            "regressing": 1,
            "baseline_pending": 0,
            "no_data": 2,
        }
        assert goals["3"]["counts"]["baseline_pending"] == 1
        assert goals["1"]["indicators"] == 0
        aspects = {a["key"]: a for a in body["by_aspect"]}
        assert {k: a["indicators"] for k, a in aspects.items()} == {
            "economy": 9,
            "society": 14,
            "environment": 9,
        }
        assert aspects["environment"]["counts"]["on_track"] == 1 and aspects["environment"]["name"] == "環境"
        sections = {s["key"]: s for s in body["by_section"]}
        assert sections["2(3)-2"]["counts"]["on_track"] == 1
        assert sections["2(2)③"]["counts"]["regressing"] == 1

    async def test_rollup_names_in_english(self, kpi_client) -> None:
        body = (await kpi_client.get("/v1/rollups", headers={"accept-language": "en"})).json()
        assert body["by_aspect"][0]["name"] == "Economy"
        assert body["by_sdg_goal"][12]["name"] == "Climate action"
