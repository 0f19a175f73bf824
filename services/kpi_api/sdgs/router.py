"""`/v1/sdg-goals`: the 17 goals and 169 targets, with the plan's indicators linked to each (public)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.http import conditional_get
from services.kpi_api.core.numbers import dumps
from services.kpi_api.core.vocab import Language
from services.kpi_api.indicators.models import Indicator, IndicatorSdgTarget
from services.kpi_api.indicators.router import CACHED
from services.kpi_api.sdgs.models import SdgGoal, SdgTarget
from services.kpi_api.sdgs.schemas import SdgGoalOut, SdgGoalPage, SdgTargetOut
from shared.db import DbSession
from shared.errors import NotFound, problem_responses

router = APIRouter(prefix="/v1/sdg-goals", tags=["sdgs"])


class SdgGoalNotFound(NotFound):
    slug, title = "sdg-goal-not-found", "SDG goal not found"


async def _goals(session: AsyncSession, lang: Language, number: int | None = None) -> list[SdgGoalOut]:
    goals_query = select(SdgGoal).order_by(SdgGoal.number)
    targets_query = (
        select(
            SdgTarget.code,
            SdgTarget.goal_number,
            func.array_remove(
                func.array_agg(aggregate_order_by(IndicatorSdgTarget.indicator_id, Indicator.position)), None
            ).label("indicator_ids"),
        )
        .outerjoin(IndicatorSdgTarget, IndicatorSdgTarget.sdg_target_code == SdgTarget.code)
        .outerjoin(Indicator, Indicator.id == IndicatorSdgTarget.indicator_id)
        .group_by(SdgTarget.code, SdgTarget.goal_number, SdgTarget.position)
        .order_by(SdgTarget.goal_number, SdgTarget.position)
    )
    if number is not None:
        goals_query = goals_query.where(SdgGoal.number == number)
        targets_query = targets_query.where(SdgTarget.goal_number == number)
    goals = (await session.scalars(goals_query)).all()
    targets: dict[int, list[SdgTargetOut]] = defaultdict(list)
    for row in await session.execute(targets_query):
        targets[row.goal_number].append(
            SdgTargetOut(code=row.code, indicator_ids=list(row.indicator_ids or []))
        )
    return [
        SdgGoalOut(
            number=g.number,
            name=g.name_ja if lang == "ja" else g.name_en,
            name_ja=g.name_ja,
            name_en=g.name_en,
            indicator_count=len({i for t in targets[g.number] for i in t.indicator_ids}),
            targets=targets[g.number],
        )
        for g in goals
    ]


@router.get(
    "",
    summary="The 17 SDGs with their targets",
    description="Every goal with all its targets (lettered ones included) and the plan's indicators linked to each.",
    response_model=SdgGoalPage,
    responses=CACHED,
)
async def list_goals(request: Request, session: DbSession) -> Response:
    async def build(lang: Language) -> bytes:
        page = SdgGoalPage(items=await _goals(session, lang), next_cursor=None)
        return dumps(page.model_dump(mode="python"))

    return await conditional_get(request, session, build)


@router.get(
    "/{number}",
    summary="One SDG with its targets",
    response_model=SdgGoalOut,
    responses={**CACHED, **problem_responses(404)},
)
async def get_goal(
    request: Request, session: DbSession, number: Annotated[int, Path(description="Goal number 1–17.")]
) -> Response:
    async def build(lang: Language) -> bytes:
        # Out of the column's range (smallint) is simply no such goal: never a database error.
        goals = await _goals(session, lang, number) if 1 <= number <= 17 else []
        if not goals:
            raise SdgGoalNotFound(
                f"There is no SDG goal {number}.", detail_ja=f"SDGゴール {number} はありません。"
            )
        return dumps(goals[0].model_dump(mode="python"))

    return await conditional_get(request, session, build)
