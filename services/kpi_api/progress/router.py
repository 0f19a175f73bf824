"""Progress of one indicator, and rollups of statuses by SDG goal, aspect and plan section (public)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from sqlalchemy import func, select

from services.kpi_api.core.exceptions import IndicatorNotFound
from services.kpi_api.core.http import conditional_get
from services.kpi_api.core.numbers import to_decimal
from services.kpi_api.core.render import body
from services.kpi_api.core.vocab import (
    ASPECT_NAMES,
    ASPECTS,
    SECTIONS,
    STATUSES,
    Language,
    section_label,
    status_label,
    unit_label,
)
from services.kpi_api.indicators.models import Breakdown, Indicator, IndicatorSdgTarget
from services.kpi_api.indicators.repository import _jsonb_agg
from services.kpi_api.indicators.router import CACHED
from services.kpi_api.progress.models import IndicatorProgress
from services.kpi_api.progress.schemas import (
    BreakdownStatusOut,
    PointOut,
    ProgressOut,
    RollupGroup,
    RollupsOut,
    TargetProgressOut,
)
from services.kpi_api.progress.service import compute_docs
from services.kpi_api.sdgs.models import SdgGoal, SdgTarget
from shared.db import DbSession
from shared.errors import problem_responses

router = APIRouter(prefix="/v1", tags=["progress"])


def _point(point: dict[str, Any] | None) -> PointOut | None:
    if point is None:
        return None
    return PointOut(fiscal_year=point["fiscal_year"], value=Decimal(point["value"]))


def to_progress(
    *,
    indicator: Any,
    status: str,
    doc: dict[str, Any],
    computed_at: Any,
    breakdowns: list[dict[str, Any]],
    lang: Language,
) -> ProgressOut:
    names = {b["key"]: (b["name_ja"] if lang == "ja" else b["name_en"]) for b in breakdowns}
    return ProgressOut(
        indicator_id=indicator.id,
        name=indicator.name_ja if lang == "ja" else indicator.name_en,
        unit=indicator.unit,
        unit_label=unit_label(indicator.unit, lang),
        direction=indicator.direction,
        cumulative=indicator.cumulative,
        observation_basis=doc.get("observation_basis", "running_total"),
        status=status,  # type: ignore[arg-type]
        status_label=status_label(status, lang),
        status_rule=doc.get("status_rule", "worst_target"),
        method=doc["method"],
        method_version=doc["method_version"],
        anticipated_method=doc["anticipated_method"],
        observation_count=doc["observation_count"],
        latest_fiscal_year=doc["latest_fiscal_year"],
        computed_at=computed_at,
        breakdowns=[
            BreakdownStatusOut(
                breakdown=b["breakdown"],
                name=names.get(b["breakdown"], b["breakdown"]),
                status=b["status"],
                status_label=status_label(b["status"], lang),
            )
            for b in doc["breakdowns"]
        ],
        targets=[
            TargetProgressOut(
                target_id=t["target_id"],
                breakdown=t["breakdown"],
                breakdown_name=names.get(t["breakdown"]) if t["breakdown"] else None,
                fiscal_year=t["fiscal_year"],
                comparator=t["comparator"],
                target_value=to_decimal(t["target_value"]),
                reference_fiscal_year=t["reference_fiscal_year"],
                status=t["status"],
                status_label=status_label(t["status"], lang),
                achievement_rate=to_decimal(t["achievement_rate"]),
                expected_value=to_decimal(t["expected_value"]),
                expected_rate=to_decimal(t["expected_rate"]),
                anticipated_value=to_decimal(t["anticipated_value"]),
                anticipated_ratio=to_decimal(t["anticipated_ratio"]),
                anticipated_fit=t.get("anticipated_fit"),
                projection_unavailable=t.get("projection_unavailable"),
                latest=_point(t["latest"]),
                baseline=_point(t["baseline"]),
                baseline_implied=t["baseline_implied"],
                explanation=t["explanation"][lang],
            )
            for t in doc["targets"]
        ],
    )


@router.get(
    "/kpis/{indicator_id}/progress",
    summary="Progress of one indicator",
    description=(
        "For every target (and breakdown): achievement rate, expected value and rate on the straight line from "
        "baseline to target, UNSD-style anticipated progress (two or more observations) and the status, with "
        "`method` and `method_version`. Read from stored progress, recomputed on every change (no work here)."
    ),
    response_model=ProgressOut,
    responses={**CACHED, **problem_responses(404)},
)
async def get_progress(
    request: Request,
    session: DbSession,
    indicator_id: Annotated[
        str, Path(description="Indicator id (slug); unknown ids are 404.", examples=["ghg-emissions"])
    ],
) -> Response:
    async def build(lang: Language) -> bytes:
        breakdowns = (
            select(
                _jsonb_agg(
                    func.jsonb_build_object(
                        "key", Breakdown.key, "name_ja", Breakdown.name_ja, "name_en", Breakdown.name_en
                    ),
                    Breakdown.position,
                )
            )
            .where(Breakdown.indicator_id == Indicator.id)
            .scalar_subquery()
            .label("breakdowns")
        )
        row = (
            await session.execute(
                select(
                    Indicator.id,
                    Indicator.name_ja,
                    Indicator.name_en,
                    Indicator.unit,
                    Indicator.direction,
                    Indicator.cumulative,
                    Indicator.observation_basis,
                    IndicatorProgress.status,
                    IndicatorProgress.doc,
                    IndicatorProgress.computed_at,
                    breakdowns,
                )
                .outerjoin(IndicatorProgress, IndicatorProgress.indicator_id == Indicator.id)
                .where(Indicator.id == indicator_id)
            )
        ).first()
        if row is None:
            raise IndicatorNotFound(indicator_id)
        status, doc, computed_at = row.status, row.doc, row.computed_at
        if doc is None:  # never stored (e.g. no observation was ever recorded): compute, don't store
            status, doc = (await compute_docs(session, [indicator_id]))[indicator_id]
        return body(
            to_progress(
                indicator=row,
                status=status,
                doc=doc,
                computed_at=computed_at,
                breakdowns=row.breakdowns,
                lang=lang,
            )
        )

    return await conditional_get(request, session, build)


def _group(key: str, name: str | None, statuses: list[str]) -> RollupGroup:
    counts = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] += 1  # type: ignore[index]
    return RollupGroup(key=key, name=name, indicators=len(statuses), counts=counts)


@router.get(
    "/rollups",
    summary="Status counts by SDG goal, aspect and plan section",
    description=(
        "How many indicators are in each status: overall, for each of the 17 SDG goals (an indicator linked to "
        "several targets of one goal counts once for it), for each aspect and for each plan section."
    ),
    response_model=RollupsOut,
    responses=CACHED,
)
async def rollups(request: Request, session: DbSession) -> Response:
    async def build(lang: Language) -> bytes:
        goals_of = (
            select(func.array_agg(SdgTarget.goal_number.distinct()))
            .select_from(IndicatorSdgTarget)
            .join(SdgTarget, SdgTarget.code == IndicatorSdgTarget.sdg_target_code)
            .where(IndicatorSdgTarget.indicator_id == Indicator.id)
            .scalar_subquery()
        )
        rows = (
            await session.execute(
                select(
                    Indicator.id,
                    Indicator.aspect,
                    Indicator.sections,
                    func.coalesce(IndicatorProgress.status, "no_data").label("status"),
                    goals_of.label("goals"),
                ).outerjoin(IndicatorProgress, IndicatorProgress.indicator_id == Indicator.id)
            )
        ).all()
        goals = (
            await session.execute(
                select(SdgGoal.number, SdgGoal.name_ja, SdgGoal.name_en).order_by(SdgGoal.number)
            )
        ).all()
        result = RollupsOut(
            total=_group("all", None, [r.status for r in rows]),
            by_sdg_goal=[
                _group(
                    str(g.number),
                    g.name_ja if lang == "ja" else g.name_en,
                    [r.status for r in rows if g.number in (r.goals or [])],
                )
                for g in goals
            ],
            by_aspect=[
                _group(a, ASPECT_NAMES[a][lang], [r.status for r in rows if r.aspect == a]) for a in ASPECTS
            ],
            by_section=[
                _group(s, section_label(s, lang), [r.status for r in rows if s in r.sections])
                for s in SECTIONS
            ],
            status_labels={s: status_label(s, lang) for s in STATUSES},
        )
        return body(result)

    return await conditional_get(request, session, build)
