"""API shapes of progress and rollups."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.kpi_api.core.numbers import Num
from services.kpi_api.progress.rules import Comparator, Direction, Status
from shared.jst import JstDatetime


class PointOut(BaseModel):
    fiscal_year: int
    value: Num


class TargetProgressOut(BaseModel):
    target_id: int | None
    breakdown: str | None
    breakdown_name: str | None
    fiscal_year: int
    comparator: Comparator
    target_value: Num | None
    reference_fiscal_year: int | None
    status: Status
    status_label: str = Field(default="", description="The status in the requested language.")
    achievement_rate: Num | None = Field(
        description="(actual − baseline) / (target − baseline), latest observation."
    )
    expected_value: Num | None = Field(description="Straight line baseline → target, read at the latest FY.")
    expected_rate: Num | None = Field(description="Elapsed years / total years, clipped to [0, 1].")
    anticipated_value: Num | None = Field(
        description="UNSD-style: observed CAGR extrapolated to the target year."
    )
    anticipated_ratio: Num | None = Field(description="(anticipated − baseline) / (target − baseline).")
    anticipated_fit: str | None = Field(
        default=None, description="cagr (a level) or linear (a cumulative count); null when none."
    )
    projection_unavailable: str | None = Field(
        default=None,
        description="Why no projection is shown: too_few_observations or non_positive_base (UNSD guard rails).",
    )
    latest: PointOut | None
    baseline: PointOut | None = Field(description="The baseline used (possibly implied).")
    baseline_implied: bool = Field(
        description="True when a cumulative count without baseline starts from 0 at FY2020."
    )
    explanation: str = Field(description="Why this status, in the requested language.")


class BreakdownStatusOut(BaseModel):
    breakdown: str
    name: str
    status: Status
    status_label: str = ""


class ProgressOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "indicator_id": "ghg-emissions",
                    "name": "温室効果ガス排出量",
                    "unit": "千t-CO2",
                    "direction": "decrease",
                    "cumulative": False,
                    "status": "behind",
                    "method": "linear_expected_v1",
                    "method_version": "1.0",
                    "anticipated_method": "unsd_cagr_v1",
                    "observation_count": 1,
                    "latest_fiscal_year": 2021,
                    "computed_at": "2026-11-29T12:00:00+09:00",
                    "breakdowns": [],
                    "targets": [
                        {
                            "target_id": 38,
                            "breakdown": None,
                            "breakdown_name": None,
                            "fiscal_year": 2030,
                            "comparator": "eq",
                            "target_value": 9824,
                            "reference_fiscal_year": None,
                            "status": "behind",
                            "achievement_rate": 0.18119,
                            "expected_value": 13645.0,
                            "expected_rate": 0.307692,
                            "anticipated_value": None,
                            "anticipated_ratio": None,
                            "latest": {"fiscal_year": 2021, "value": 14343},
                            "baseline": {"fiscal_year": 2017, "value": 15343},
                            "baseline_implied": False,
                            "explanation": "遅れ: 達成率 18.1%、期待される進捗 30.8%(期待の95%未満)。",
                        }
                    ],
                }
            ]
        }
    )

    indicator_id: str
    name: str
    unit: str
    unit_label: str = Field(default="", description="The unit in the requested language.")
    direction: Direction
    cumulative: bool
    observation_basis: str = Field(default="running_total", description="running_total or fiscal_year_count.")
    status: Status = Field(
        description="Worst graded status over the targets; with breakdowns, the worst breakdown (see README)."
    )
    status_label: str = Field(default="", description="The status in the requested language.")
    status_rule: str = Field(
        default="worst_target",
        description="worst_target (no breakdowns) or worst_breakdown (the worst of the breakdowns' own statuses).",
    )
    method: str = Field(examples=["linear_expected_v1"])
    method_version: str = Field(examples=["1.0"])
    anticipated_method: str = Field(examples=["unsd_cagr_v1"])
    observation_count: int
    latest_fiscal_year: int | None
    computed_at: JstDatetime | None = Field(description="When the stored progress last changed.")
    breakdowns: list[BreakdownStatusOut]
    targets: list[TargetProgressOut]


StatusCounts = dict[Status, int]


class RollupGroup(BaseModel):
    key: str = Field(description="Goal number, aspect or section.", examples=["8"])
    name: str | None
    indicators: int = Field(description="Distinct indicators in the group.")
    counts: StatusCounts = Field(description="Indicators per status (every status present, zeros included).")


class RollupsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": {
                        "key": "all",
                        "name": None,
                        "indicators": 32,
                        "counts": {
                            "achieved": 0,
                            "on_track": 1,
                            "behind": 0,
                            "regressing": 0,
                            "baseline_pending": 0,
                            "no_data": 31,
                        },
                    },
                    "by_sdg_goal": [],
                    "by_aspect": [],
                    "by_section": [],
                    "status_labels": {
                        "achieved": "達成",
                        "on_track": "順調",
                        "behind": "遅れ",
                        "regressing": "後退",
                        "baseline_pending": "判定保留",
                        "no_data": "データなし",
                    },
                }
            ]
        }
    )

    total: RollupGroup
    by_sdg_goal: list[RollupGroup] = Field(
        description="All 17 goals; an indicator counts once per goal it links to."
    )
    by_aspect: list[RollupGroup]
    by_section: list[RollupGroup] = Field(
        description="Every plan section citing KPIs; `name` is the plan's heading in the requested language."
    )
    status_labels: dict[Status, str] = Field(
        default_factory=dict, description="Display label of each status in the requested language."
    )
