"""API shapes of indicators, breakdowns, baselines, targets and SDG links (separate from the ORM)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.kpi_api.core.numbers import Num, Value
from services.kpi_api.core.vocab import (
    BREAKDOWN_KEY_PATTERN,
    MAX_FISCAL_YEAR,
    MIN_FISCAL_YEAR,
    SDG_CODE_PATTERN,
    SLUG_PATTERN,
    Aspect,
    Determination,
    ObservationBasis,
    Section,
)
from services.kpi_api.progress.rules import Comparator, Direction, Status
from shared.jst import JstDatetime

FiscalYear = Annotated[
    int,
    Field(ge=MIN_FISCAL_YEAR, le=MAX_FISCAL_YEAR, description="Fiscal year (年度, April–March), 1990–2100."),
]
BreakdownKey = Annotated[str, Field(pattern=BREAKDOWN_KEY_PATTERN, max_length=50, examples=["male"])]
SdgCode = Annotated[str, Field(pattern=SDG_CODE_PATTERN, max_length=8, examples=["8.1", "4.a"])]
IndicatorId = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=100, examples=["per-capita-wage"])]

WAGE_EXAMPLE: dict[str, Any] = {
    "id": "per-capita-wage",
    "name": "1人あたり賃金",
    "name_ja": "1人あたり賃金",
    "name_en": "Wage per capita",
    "unit": "円",
    "aspect": "economy",
    "direction": "increase",
    "cumulative": False,
    "owner": None,
    "observation_basis": "running_total",
    "headline_total": False,
    "source": None,
    "sections": ["1.1(3)", "2(3)-2"],
    "unit_label": "円",
    "status_label": "遅れ",
    "section_labels": [
        {"section": "1.1(3)", "label": "2030年のあるべき姿の実現に向けた優先的なゴール、ターゲット"},
        {"section": "2(3)-2", "label": "三側面をつなぐ統合的取組による相乗効果等(新たに創出される価値)"},
    ],
    "sdg_targets": ["8.1", "8.2", "8.5", "8.9"],
    "breakdowns": [],
    "baselines": [{"breakdown": None, "fiscal_year": 2019, "value": 4316000}],
    "targets": [
        {
            "id": 3,
            "breakdown": None,
            "fiscal_year": 2023,
            "comparator": "eq",
            "value": 4500000,
            "reference_fiscal_year": None,
            "sections": ["2(3)-2"],
        },
        {
            "id": 4,
            "breakdown": None,
            "fiscal_year": 2025,
            "comparator": "eq",
            "value": 4800000,
            "reference_fiscal_year": None,
            "sections": ["1.1(3)"],
        },
    ],
    "status": "on_track",
    "progress": [
        {
            "target_id": 3,
            "breakdown": None,
            "fiscal_year": 2023,
            "status": "on_track",
            "achievement_rate": 0.8,
        },
        {
            "target_id": 4,
            "breakdown": None,
            "fiscal_year": 2025,
            "status": "on_track",
            "achievement_rate": 0.31,
        },
    ],
    "latest_fiscal_year": 2021,
}


# ---- responses ----------------------------------------------------------------------------------
class BreakdownOut(BaseModel):
    key: str = Field(examples=["male"])
    name: str = Field(description="Name in the requested language.", examples=["男性"])
    name_ja: str
    name_en: str


class BaselineOut(BaseModel):
    breakdown: str | None = Field(description="Breakdown key; null when the indicator has none.")
    fiscal_year: int
    value: Num


class TargetOut(BaseModel):
    id: int
    breakdown: str | None
    fiscal_year: int
    comparator: Comparator = Field(
        description="eq: reach the value in the indicator's direction; gte: 以上; lte: 以下; "
        "increase_from_baseline: …年度より増加 (no value)."
    )
    value: Num | None
    reference_fiscal_year: int | None = Field(
        description="For increase_from_baseline: the year compared with."
    )
    sections: list[str] = Field(description="Plan sections stating this target.")


class TargetList(BaseModel):
    items: list[TargetOut]
    next_cursor: str | None = Field(description="Always null: an indicator's targets fit in one page.")


class SdgLinkOut(BaseModel):
    code: str = Field(examples=["8.1"])
    goal: int = Field(examples=[8])
    determination: Determination
    note: str


class SectionLabelOut(BaseModel):
    section: str = Field(examples=["1.2(1)"])
    label: str = Field(examples=["自治体SDGsの推進に資する取組"])


class TargetProgressSummary(BaseModel):
    target_id: int | None
    breakdown: str | None
    fiscal_year: int
    status: Status
    achievement_rate: Num | None


class InitiativeRef(BaseModel):
    id: str
    name: str
    section: str


class IndicatorOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [WAGE_EXAMPLE]})

    id: str
    name: str = Field(description="Name in the requested language (Accept-Language; Japanese by default).")
    name_ja: str
    name_en: str
    unit: str = Field(description="As the plan writes it, scale included (千kWh/年, 千t-CO2, 円).")
    aspect: Aspect
    direction: Direction
    cumulative: bool = Field(description="累計: a running total since the plan started.")
    owner: str | None = Field(description="所管: the responsible department, where the plan states it.")
    observation_basis: ObservationBasis = Field(
        description="running_total, or fiscal_year_count (each value is the year's own count; "
        "progress uses the running total)."
    )
    headline_total: bool = Field(description="Values without a breakdown are the plan-stated total.")
    source: str | None
    sections: list[str]
    unit_label: str = Field(description="The unit in the requested language (年 → years in English).")
    status_label: str = Field(description="The status in the requested language (達成 / Achieved …).")
    section_labels: list[SectionLabelOut] = Field(description="Each plan section with its heading.")
    sdg_targets: list[str] = Field(description="Codes of the linked SDG targets.", examples=[["8.1", "8.2"]])
    breakdowns: list[BreakdownOut]
    baselines: list[BaselineOut]
    targets: list[TargetOut]
    status: Status = Field(description="Latest status: the worst graded status over the indicator's targets.")
    progress: list[TargetProgressSummary] = Field(description="Status per target (details: /progress).")
    latest_fiscal_year: int | None = Field(description="Fiscal year of the latest observation.")


class IndicatorPage(BaseModel):
    items: list[IndicatorOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class IndicatorDetail(IndicatorOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **WAGE_EXAMPLE,
                    "sdg_links": [
                        {
                            "code": "8.1",
                            "goal": 8,
                            "determination": "inferred",
                            "note": "1.1(3) goal cell empty; merged with '8 働きがいも経済成長も 1, 2, 5, 9' above",
                        }
                    ],
                    "initiatives": [
                        {
                            "id": "public-private-co-creation-platform",
                            "name": "デジタルとアイデアが融合する「官民共創プラットフォーム」(群馬モデル)の構築",
                            "section": "2(3)-1",
                        }
                    ],
                    "observation_count": 1,
                    "created_at": "2026-11-29T11:39:38+09:00",
                    "updated_at": "2026-11-29T11:39:38+09:00",
                }
            ]
        }
    )

    sdg_links: list[SdgLinkOut] = Field(description="Each SDG link with how it was determined.")
    initiatives: list[InitiativeRef]
    observation_count: int
    created_at: JstDatetime
    updated_at: JstDatetime


# ---- requests -----------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BreakdownIn(_Body):
    key: BreakdownKey
    name_ja: str = Field(min_length=1, max_length=100, examples=["男性"])
    name_en: str = Field(min_length=1, max_length=100, examples=["Male"])


class SdgLinkIn(_Body):
    code: SdgCode
    determination: Determination
    note: str = Field(min_length=1, max_length=500, description="How the link was determined.")


class BaselineIn(_Body):
    breakdown: BreakdownKey | None = None
    fiscal_year: FiscalYear
    value: Value


class TargetIn(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "breakdown": None,
                    "fiscal_year": 2025,
                    "comparator": "eq",
                    "value": 4800000,
                    "sections": ["1.1(3)"],
                },
                {
                    "fiscal_year": 2025,
                    "comparator": "increase_from_baseline",
                    "reference_fiscal_year": 2021,
                    "sections": ["1.2(1)"],
                },
            ]
        }
    )

    breakdown: BreakdownKey | None = None
    fiscal_year: FiscalYear
    comparator: Comparator
    value: Value | None = Field(
        default=None, description="Required, except for increase_from_baseline (none)."
    )
    reference_fiscal_year: FiscalYear | None = Field(
        default=None, description="Only for increase_from_baseline: the year to increase from."
    )
    sections: list[Section] = Field(min_length=1, max_length=7)

    @model_validator(mode="after")
    def _value_matches_comparator(self) -> TargetIn:
        if self.comparator == "increase_from_baseline":
            if self.value is not None:
                raise ValueError("an increase_from_baseline target has no value")
        else:
            if self.value is None:
                raise ValueError(f"a {self.comparator} target needs a value")
            if self.reference_fiscal_year is not None:
                raise ValueError("reference_fiscal_year is only for increase_from_baseline targets")
        if len(set(self.sections)) != len(self.sections):
            raise ValueError("sections must not repeat")
        return self


def _unique(values: list[Any], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat")


class IndicatorCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "ev-charging-points",
                    "name_ja": "EV充電設備数",
                    "name_en": "EV charging points",
                    "unit": "基",
                    "aspect": "environment",
                    "direction": "increase",
                    "cumulative": False,
                    "sections": ["1.2(1)"],
                    "sdg_targets": [{"code": "7.2", "determination": "inferred", "note": "renewable energy"}],
                    "baselines": [{"fiscal_year": 2021, "value": 120}],
                    "targets": [
                        {"fiscal_year": 2025, "comparator": "gte", "value": 300, "sections": ["1.2(1)"]}
                    ],
                }
            ]
        }
    )

    id: IndicatorId
    name_ja: str = Field(min_length=1, max_length=300)
    name_en: str = Field(min_length=1, max_length=300)
    unit: str = Field(min_length=1, max_length=50)
    aspect: Aspect
    direction: Direction = Field(description="Required: never defaulted.")
    cumulative: bool = Field(description="Required: 累計 or per period.")
    owner: str | None = Field(default=None, max_length=200, description="所管: the responsible department.")
    observation_basis: ObservationBasis = Field(
        default="running_total",
        description="running_total: each value is the 累計 itself; fiscal_year_count: each value is the "
        "fiscal year's own count, added up by the registry for a cumulative indicator.",
    )
    headline_total: bool = Field(
        default=False,
        description="The plan states a total beside the breakdowns: values, baselines and targets "
        "without a breakdown are allowed and form the headline series.",
    )
    source: str | None = Field(default=None, max_length=500)
    sections: list[Section] = Field(min_length=1, max_length=7)
    sdg_targets: list[SdgLinkIn] = Field(default_factory=list, max_length=169)
    breakdowns: list[BreakdownIn] = Field(default_factory=list, max_length=50)
    baselines: list[BaselineIn] = Field(default_factory=list, max_length=50)
    targets: list[TargetIn] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _no_duplicates(self) -> IndicatorCreate:
        _unique(self.sections, "sections")
        _unique([s.code for s in self.sdg_targets], "sdg_targets codes")
        _unique([b.key for b in self.breakdowns], "breakdown keys")
        _unique([b.breakdown for b in self.baselines], "baselines (one per breakdown)")
        _unique(
            [(t.breakdown, t.fiscal_year) for t in self.targets],
            "targets (one per breakdown and fiscal year)",
        )
        return self


class IndicatorUpdate(_Body):
    """Fields to change. Lists given here replace the whole list (sdg_targets, breakdowns, baselines)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"owner": "産業経済部", "baselines": [{"fiscal_year": 2019, "value": 4316000}]}]
        },
    )

    name_ja: str | None = Field(default=None, min_length=1, max_length=300)
    name_en: str | None = Field(default=None, min_length=1, max_length=300)
    unit: str | None = Field(default=None, min_length=1, max_length=50)
    aspect: Aspect | None = None
    direction: Direction | None = None
    cumulative: bool | None = None
    owner: str | None = Field(default=None, max_length=200, description="所管; null clears it.")
    observation_basis: ObservationBasis | None = None
    headline_total: bool | None = None
    source: str | None = Field(default=None, max_length=500, description="null clears it.")
    sections: list[Section] | None = Field(default=None, min_length=1, max_length=7)
    sdg_targets: list[SdgLinkIn] | None = Field(default=None, max_length=169)
    breakdowns: list[BreakdownIn] | None = Field(default=None, max_length=50)
    baselines: list[BaselineIn] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _checks(self) -> IndicatorUpdate:
        nullable = {"owner", "source"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.sections is not None:
            _unique(self.sections, "sections")
        if self.sdg_targets is not None:
            _unique([s.code for s in self.sdg_targets], "sdg_targets codes")
        if self.breakdowns is not None:
            _unique([b.key for b in self.breakdowns], "breakdown keys")
        if self.baselines is not None:
            _unique([b.breakdown for b in self.baselines], "baselines (one per breakdown)")
        return self
