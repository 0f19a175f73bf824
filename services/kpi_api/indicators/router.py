"""`/v1/kpis`: the indicator list and detail (public) and administrators' CRUD of indicators and targets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select

from services.kpi_api.core.exceptions import IndicatorNotFound, UnknownSdgTarget
from services.kpi_api.core.http import conditional_get, language
from services.kpi_api.core.render import body, json_response
from services.kpi_api.core.vocab import SDG_CODE_PATTERN, Aspect, Language, Section
from services.kpi_api.indicators import repository, service
from services.kpi_api.indicators.models import Indicator, Target
from services.kpi_api.indicators.schemas import (
    IndicatorCreate,
    IndicatorDetail,
    IndicatorPage,
    IndicatorUpdate,
    TargetIn,
    TargetList,
    TargetOut,
)
from services.kpi_api.progress.rules import Status
from services.kpi_api.sdgs.models import SdgTarget
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, WideLimit
from shared.permissions import P, require

router = APIRouter(prefix="/v1/kpis", tags=["indicators"])

IndicatorPath = Annotated[str, Path(description="Indicator id (slug).", examples=["per-capita-wage"])]
CACHED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "ETag": {
                "description": "Strong validator; send it back in If-None-Match.",
                "schema": {"type": "string"},
            }
        }
    },
    304: {"description": "Not modified: the If-None-Match ETag is current."},
}


@router.get(
    "",
    summary="List indicators (KPIs)",
    description=(
        "Every indicator of the plan with its SDG targets, breakdowns, baselines, targets and latest status. "
        "Filters combine with AND. Cursor pagination: pass `next_cursor` back as `cursor`. Names follow "
        "`Accept-Language` (ja default, en). Answers `If-None-Match` with 304."
    ),
    response_model=IndicatorPage,
    responses={**CACHED, **problem_responses(422)},
)
async def list_indicators(
    request: Request,
    session: DbSession,
    sdg_goal: Annotated[int | None, Query(ge=1, le=17, description="SDG goal number.")] = None,
    sdg_target: Annotated[
        str | None, Query(pattern=SDG_CODE_PATTERN, max_length=8, description="SDG target code, e.g. 4.a.")
    ] = None,
    aspect: Aspect | None = None,
    status: Annotated[Status | None, Query(description="Latest status.")] = None,
    section: Annotated[
        Section | None, Query(description="Plan section citing the indicator, e.g. 1.2(1).")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Search in Japanese and English names and ids (全角/半角 folded).",
        ),
    ] = None,
    limit: WideLimit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    filters = repository.IndicatorFilters(
        sdg_goal=sdg_goal, sdg_target=sdg_target, aspect=aspect, status=status, section=section, q=q
    )

    async def build(lang: Language) -> bytes:
        if sdg_target is not None:
            known = await session.scalar(select(SdgTarget.code).where(SdgTarget.code == sdg_target))
            if known is None:
                raise UnknownSdgTarget([sdg_target], loc=["query", "sdg_target"])
        rows, next_cursor = await repository.list_indicator_rows(session, filters, limit=limit, cursor=cursor)
        return body(
            IndicatorPage(items=[repository.to_indicator(r, lang) for r in rows], next_cursor=next_cursor)
        )

    return await conditional_get(request, session, build)


@router.get(
    "/{indicator_id}",
    summary="Get one indicator",
    description="The indicator with its SDG links (and how each was determined), initiatives and latest status.",
    response_model=IndicatorDetail,
    responses={**CACHED, **problem_responses(404)},
)
async def get_indicator(request: Request, session: DbSession, indicator_id: IndicatorPath) -> Response:
    async def build(lang: Language) -> bytes:
        row = await repository.get_indicator_row(session, indicator_id)
        if row is None:
            raise IndicatorNotFound(indicator_id)
        return body(repository.to_indicator_detail(row, lang))

    return await conditional_get(request, session, build)


async def _detail(session: DbSession, request: Request, indicator_id: str) -> IndicatorDetail:
    row = await repository.get_indicator_row(session, indicator_id)
    if row is None:
        raise IndicatorNotFound(indicator_id)
    return repository.to_indicator_detail(row, language(request))


@router.post(
    "",
    status_code=201,
    summary="Create an indicator (admin)",
    description=(
        "`direction` and `cumulative` are required (never defaulted). SDG target codes must exist (422 otherwise); "
        "baselines and targets must name one of the indicator's breakdowns, or none if it has none."
    ),
    response_model=IndicatorDetail,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_indicator(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    payload: IndicatorCreate,
) -> Response:
    await service.create_indicator(session, payload)
    detail = await _detail(session, request, payload.id)
    return json_response(detail, status_code=201, headers={"Location": f"/v1/kpis/{payload.id}"})


@router.patch(
    "/{indicator_id}",
    summary="Change an indicator (admin)",
    description=(
        "Only the fields sent change. `sdg_targets`, `breakdowns` and `baselines`, when sent, replace the whole "
        'list (send `baselines: []` for "現在: —"). Progress is recomputed in the same transaction.'
    ),
    response_model=IndicatorDetail,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_indicator(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    indicator_id: IndicatorPath,
    payload: IndicatorUpdate,
) -> Response:
    await service.update_indicator(session, indicator_id, payload)
    return json_response(await _detail(session, request, indicator_id))


@router.delete(
    "/{indicator_id}",
    status_code=204,
    summary="Delete an indicator (admin)",
    description="Refused with 409 once observations exist: recorded data is never thrown away.",
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_indicator(
    session: DbSession, principal: Annotated[Principal, require(P.KPI_WRITE)], indicator_id: IndicatorPath
) -> Response:
    await service.delete_indicator(session, indicator_id)
    return Response(status_code=204)


# ---- targets ------------------------------------------------------------------------------------
def _target_out(target: Target) -> TargetOut:
    return TargetOut(
        id=target.id,
        breakdown=target.breakdown_key,
        fiscal_year=target.fiscal_year,
        comparator=target.comparator,  # type: ignore[arg-type]
        value=target.value,
        reference_fiscal_year=target.reference_fiscal_year,
        sections=list(target.sections),
    )


@router.get(
    "/{indicator_id}/targets",
    summary="List an indicator's targets",
    description="Every dated target of the indicator (all breakdowns), with the ids used to change them.",
    response_model=TargetList,
    responses={**CACHED, **problem_responses(404)},
)
async def list_targets(request: Request, session: DbSession, indicator_id: IndicatorPath) -> Response:
    async def build(lang: Language) -> bytes:
        if await session.scalar(select(Indicator.id).where(Indicator.id == indicator_id)) is None:
            raise IndicatorNotFound(indicator_id)
        targets = (
            await session.scalars(
                select(Target)
                .where(Target.indicator_id == indicator_id)
                .order_by(Target.breakdown_key.nulls_first(), Target.fiscal_year)
            )
        ).all()
        return body(TargetList(items=[_target_out(t) for t in targets], next_cursor=None))

    return await conditional_get(request, session, build)


@router.post(
    "/{indicator_id}/targets",
    status_code=201,
    summary="Add a target (admin)",
    description="One target per breakdown and fiscal year (409 for a second). Progress is recomputed.",
    response_model=TargetOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_target(
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    indicator_id: IndicatorPath,
    payload: TargetIn,
) -> Response:
    target, _ = await service.create_target(session, indicator_id, payload)
    return json_response(
        _target_out(target),
        status_code=201,
        headers={"Location": f"/v1/kpis/{indicator_id}/targets/{target.id}"},
    )


@router.put(
    "/{indicator_id}/targets/{target_id}",
    summary="Replace a target (admin)",
    response_model=TargetOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def replace_target(
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    indicator_id: IndicatorPath,
    target_id: int,
    payload: TargetIn,
) -> Response:
    target, _ = await service.replace_target(session, indicator_id, target_id, payload)
    return json_response(_target_out(target))


@router.delete(
    "/{indicator_id}/targets/{target_id}",
    status_code=204,
    summary="Delete a target (admin)",
    responses=problem_responses(401, 403, 404),
)
async def delete_target(
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    indicator_id: IndicatorPath,
    target_id: int,
) -> Response:
    await service.delete_target(session, indicator_id, target_id)
    return Response(status_code=204)
