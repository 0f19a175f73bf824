"""Reading indicators in one query, whatever the page size.

Each indicator row carries its children (SDG links, breakdowns, baselines, targets, initiatives)
as JSON aggregated by correlated subqueries, and its stored progress by a join, so a page of 500
indicators is one SQL statement (no N+1). Decimal values travel as text inside the JSON and are
turned back into exact :class:`~decimal.Decimal` here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    any_,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.numbers import to_decimal
from services.kpi_api.core.vocab import Language, section_label, status_label, unit_label
from services.kpi_api.indicators.models import Baseline, Breakdown, Indicator, IndicatorSdgTarget, Target
from services.kpi_api.indicators.schemas import (
    BaselineOut,
    BreakdownOut,
    IndicatorDetail,
    IndicatorOut,
    InitiativeRef,
    SdgLinkOut,
    SectionLabelOut,
    TargetOut,
    TargetProgressSummary,
)
from services.kpi_api.initiatives.models import Initiative, InitiativeIndicator
from services.kpi_api.observations.models import Observation
from services.kpi_api.progress.models import IndicatorProgress
from services.kpi_api.sdgs.models import SdgTarget
from shared.pagination import paginate

EMPTY_JSON_ARRAY = literal_column("'[]'::jsonb", JSONB)


def _jsonb_agg(expression: Any, *order_by: Any) -> Any:
    return func.coalesce(
        func.jsonb_agg(aggregate_order_by(expression, *order_by), type_=JSONB), EMPTY_JSON_ARRAY
    )


def _children_columns(*, detail: bool) -> list[Any]:
    i = Indicator.__table__.c
    sdg_links = (
        select(
            _jsonb_agg(
                func.jsonb_build_object(
                    "code",
                    IndicatorSdgTarget.sdg_target_code,
                    "goal",
                    SdgTarget.goal_number,
                    "determination",
                    IndicatorSdgTarget.determination,
                    "note",
                    IndicatorSdgTarget.note,
                ),
                SdgTarget.goal_number,
                SdgTarget.position,
            )
        )
        .select_from(IndicatorSdgTarget)
        .join(SdgTarget, SdgTarget.code == IndicatorSdgTarget.sdg_target_code)
        .where(IndicatorSdgTarget.indicator_id == i.id)
        .scalar_subquery()
        .label("sdg_links")
    )
    breakdowns = (
        select(
            _jsonb_agg(
                func.jsonb_build_object(
                    "key", Breakdown.key, "name_ja", Breakdown.name_ja, "name_en", Breakdown.name_en
                ),
                Breakdown.position,
                Breakdown.key,
            )
        )
        .where(Breakdown.indicator_id == i.id)
        .scalar_subquery()
        .label("breakdowns")
    )
    baselines = (
        select(
            _jsonb_agg(
                func.jsonb_build_object(
                    "breakdown",
                    Baseline.breakdown_key,
                    "fiscal_year",
                    Baseline.fiscal_year,
                    "value",
                    cast(Baseline.value, Text),
                ),
                Breakdown.position.nulls_first(),
                Baseline.fiscal_year,
            )
        )
        .select_from(Baseline)
        .outerjoin(
            Breakdown,
            and_(Breakdown.indicator_id == Baseline.indicator_id, Breakdown.key == Baseline.breakdown_key),
        )
        .where(Baseline.indicator_id == i.id)
        .scalar_subquery()
        .label("baselines")
    )
    targets = (
        select(
            _jsonb_agg(
                func.jsonb_build_object(
                    "id",
                    Target.id,
                    "breakdown",
                    Target.breakdown_key,
                    "fiscal_year",
                    Target.fiscal_year,
                    "comparator",
                    Target.comparator,
                    "value",
                    cast(Target.value, Text),
                    "reference_fiscal_year",
                    Target.reference_fiscal_year,
                    "sections",
                    Target.sections,
                ),
                Breakdown.position.nulls_first(),
                Target.fiscal_year,
            )
        )
        .select_from(Target)
        .outerjoin(
            Breakdown,
            and_(Breakdown.indicator_id == Target.indicator_id, Breakdown.key == Target.breakdown_key),
        )
        .where(Target.indicator_id == i.id)
        .scalar_subquery()
        .label("targets")
    )
    columns: list[Any] = [sdg_links, breakdowns, baselines, targets]
    if detail:
        initiatives = (
            select(
                _jsonb_agg(
                    func.jsonb_build_object(
                        "id",
                        Initiative.id,
                        "name_ja",
                        Initiative.name_ja,
                        "name_en",
                        Initiative.name_en,
                        "section",
                        Initiative.section,
                    ),
                    Initiative.position,
                    Initiative.id,
                )
            )
            .select_from(InitiativeIndicator)
            .join(Initiative, Initiative.id == InitiativeIndicator.initiative_id)
            .where(InitiativeIndicator.indicator_id == i.id)
            .scalar_subquery()
            .label("initiatives")
        )
        observation_count = (
            (select(func.count()).select_from(Observation).where(Observation.indicator_id == i.id))
            .scalar_subquery()
            .label("observation_count")
        )
        columns += [initiatives, observation_count]
    return columns


STATUS = func.coalesce(IndicatorProgress.status, "no_data")


def indicator_query(*, detail: bool = False) -> Select[Any]:
    return select(
        Indicator,
        STATUS.label("status"),
        IndicatorProgress.doc.label("progress_doc"),
        *_children_columns(detail=detail),
    ).outerjoin(IndicatorProgress, IndicatorProgress.indicator_id == Indicator.id)


@dataclass(frozen=True)
class IndicatorFilters:
    sdg_goal: int | None = None
    sdg_target: str | None = None
    aspect: str | None = None
    status: str | None = None
    section: str | None = None
    q: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _nfkc(column: Any) -> Any:
    # 全角/半角 folded on both sides: "ＩＣＴ" finds "ICT", "（累計）" finds "(累計)".
    return func.normalize(column, literal_column("NFKC"), type_=String)


def filter_clauses(filters: IndicatorFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.sdg_goal is not None:
        clauses.append(
            exists()
            .where(IndicatorSdgTarget.indicator_id == Indicator.id)
            .where(IndicatorSdgTarget.sdg_target_code == SdgTarget.code)
            .where(SdgTarget.goal_number == filters.sdg_goal)
        )
    if filters.sdg_target is not None:
        clauses.append(
            exists()
            .where(IndicatorSdgTarget.indicator_id == Indicator.id)
            .where(IndicatorSdgTarget.sdg_target_code == filters.sdg_target)
        )
    if filters.aspect is not None:
        clauses.append(Indicator.aspect == filters.aspect)
    if filters.status is not None:
        clauses.append(STATUS == filters.status)
    if filters.section is not None:
        clauses.append(literal(filters.section, String) == any_(Indicator.sections))
    if filters.q:
        pattern = _like_pattern(unicodedata.normalize("NFKC", filters.q))
        clauses.append(
            or_(
                _nfkc(Indicator.name_ja).ilike(pattern, escape="\\"),
                _nfkc(Indicator.name_en).ilike(pattern, escape="\\"),
                Indicator.id.ilike(pattern, escape="\\"),
            )
        )
    return clauses


async def list_indicator_rows(
    session: AsyncSession, filters: IndicatorFilters, *, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    statement = indicator_query().where(*filter_clauses(filters))
    return await paginate(
        session,
        statement,
        (Indicator.position, Indicator.id),
        limit=limit,
        cursor=cursor,
        key=lambda row: (row.Indicator.position, row.Indicator.id),
    )


async def get_indicator_row(session: AsyncSession, indicator_id: str) -> Any | None:
    return (await session.execute(indicator_query(detail=True).where(Indicator.id == indicator_id))).first()


# ---- rows → API models ---------------------------------------------------------------------------
def _name(obj: dict[str, Any], lang: Language) -> str:
    return str(obj["name_ja"] if lang == "ja" else obj["name_en"])


def _num(text: str | None) -> Decimal | None:
    return to_decimal(text)


def progress_summary(
    doc: dict[str, Any] | None, targets: list[dict[str, Any]]
) -> list[TargetProgressSummary]:
    if doc is None:
        return [
            TargetProgressSummary(
                target_id=t["id"],
                breakdown=t["breakdown"],
                fiscal_year=t["fiscal_year"],
                status="no_data",
                achievement_rate=None,
            )
            for t in targets
        ]
    return [
        TargetProgressSummary(
            target_id=t["target_id"],
            breakdown=t["breakdown"],
            fiscal_year=t["fiscal_year"],
            status=t["status"],
            achievement_rate=_num(t["achievement_rate"]),
        )
        for t in doc["targets"]
    ]


def _fields(row: Any, lang: Language) -> dict[str, Any]:
    ind: Indicator = row.Indicator
    doc: dict[str, Any] | None = row.progress_doc
    return {
        "id": ind.id,
        "name": ind.name_ja if lang == "ja" else ind.name_en,
        "name_ja": ind.name_ja,
        "name_en": ind.name_en,
        "unit": ind.unit,
        "aspect": ind.aspect,
        "direction": ind.direction,
        "cumulative": ind.cumulative,
        "owner": ind.owner,
        "observation_basis": ind.observation_basis,
        "headline_total": ind.headline_total,
        "source": ind.source,
        "sections": list(ind.sections),
        "unit_label": unit_label(ind.unit, lang),
        "status_label": status_label(row.status, lang),
        "section_labels": [SectionLabelOut(section=s, label=section_label(s, lang)) for s in ind.sections],
        "sdg_targets": [link["code"] for link in row.sdg_links],
        "breakdowns": [
            BreakdownOut(key=b["key"], name=_name(b, lang), name_ja=b["name_ja"], name_en=b["name_en"])
            for b in row.breakdowns
        ],
        "baselines": [
            BaselineOut(breakdown=b["breakdown"], fiscal_year=b["fiscal_year"], value=Decimal(b["value"]))
            for b in row.baselines
        ],
        "targets": [
            TargetOut(
                id=t["id"],
                breakdown=t["breakdown"],
                fiscal_year=t["fiscal_year"],
                comparator=t["comparator"],
                value=_num(t["value"]),
                reference_fiscal_year=t["reference_fiscal_year"],
                sections=t["sections"],
            )
            for t in row.targets
        ],
        "status": row.status,
        "progress": progress_summary(doc, row.targets),
        "latest_fiscal_year": doc.get("latest_fiscal_year") if doc else None,
    }


def to_indicator(row: Any, lang: Language) -> IndicatorOut:
    return IndicatorOut(**_fields(row, lang))


def to_indicator_detail(row: Any, lang: Language) -> IndicatorDetail:
    ind: Indicator = row.Indicator
    return IndicatorDetail(
        **_fields(row, lang),
        sdg_links=[SdgLinkOut(**link) for link in row.sdg_links],
        initiatives=[
            InitiativeRef(id=x["id"], name=_name(x, lang), section=x["section"]) for x in row.initiatives
        ],
        observation_count=row.observation_count,
        created_at=ind.created_at,
        updated_at=ind.updated_at,
    )
