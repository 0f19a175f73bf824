"""`/v1/initiatives`: the plan's initiatives (取組) and their KPIs; public reads, admin CRUD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.exceptions import RegistryConflict, UnknownIndicator
from services.kpi_api.core.http import bump_version, conditional_get, language
from services.kpi_api.core.render import body, json_response
from services.kpi_api.core.vocab import Language, Section
from services.kpi_api.indicators.models import Indicator
from services.kpi_api.indicators.repository import EMPTY_JSON_ARRAY
from services.kpi_api.indicators.router import CACHED
from services.kpi_api.initiatives.models import Initiative, InitiativeIndicator
from services.kpi_api.initiatives.schemas import (
    InitiativeCreate,
    InitiativeKpi,
    InitiativeOut,
    InitiativePage,
    InitiativeUpdate,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import NotFound, problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit, paginate
from shared.permissions import P, require

router = APIRouter(prefix="/v1/initiatives", tags=["initiatives"])

InitiativePath = Annotated[str, Path(description="Initiative id (slug).", examples=["manufacturing-dx"])]


class InitiativeNotFound(NotFound):
    slug, title = "initiative-not-found", "Initiative not found"

    def __init__(self, initiative_id: str) -> None:
        super().__init__(
            f"No initiative with id '{initiative_id}'.", detail_ja=f"取組 '{initiative_id}' は存在しません。"
        )


def _kpis_json() -> Any:
    return (
        select(
            func.coalesce(
                func.jsonb_agg(
                    aggregate_order_by(
                        func.jsonb_build_object(
                            "id", Indicator.id, "name_ja", Indicator.name_ja, "name_en", Indicator.name_en
                        ),
                        InitiativeIndicator.position,
                    ),
                    type_=JSONB,
                ),
                EMPTY_JSON_ARRAY,
            )
        )
        .select_from(InitiativeIndicator)
        .join(Indicator, Indicator.id == InitiativeIndicator.indicator_id)
        .where(InitiativeIndicator.initiative_id == Initiative.id)
        .scalar_subquery()
        .label("kpis")
    )


def _to_out(row: Any, lang: Language) -> InitiativeOut:
    ini: Initiative = row.Initiative
    return InitiativeOut(
        id=ini.id,
        name=ini.name_ja if lang == "ja" else ini.name_en,
        name_ja=ini.name_ja,
        name_en=ini.name_en,
        section=ini.section,
        kpis=[
            InitiativeKpi(id=k["id"], name=k["name_ja"] if lang == "ja" else k["name_en"]) for k in row.kpis
        ],
    )


async def _get(session: AsyncSession, initiative_id: str, lang: Language) -> InitiativeOut:
    row = (
        await session.execute(select(Initiative, _kpis_json()).where(Initiative.id == initiative_id))
    ).first()
    if row is None:
        raise InitiativeNotFound(initiative_id)
    return _to_out(row, lang)


@router.get(
    "",
    summary="List initiatives",
    response_model=InitiativePage,
    responses={**CACHED, **problem_responses(422)},
)
async def list_initiatives(
    request: Request,
    session: DbSession,
    section: Section | None = None,
    kpi: Annotated[
        str | None, Query(max_length=100, description="Only initiatives measured by this indicator.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    async def build(lang: Language) -> bytes:
        statement = select(Initiative, _kpis_json())
        if section is not None:
            statement = statement.where(Initiative.section == section)
        if kpi is not None:
            statement = statement.where(
                exists().where(
                    InitiativeIndicator.initiative_id == Initiative.id,
                    InitiativeIndicator.indicator_id == kpi,
                )
            )
        rows, next_cursor = await paginate(
            session,
            statement,
            (Initiative.position, Initiative.id),
            limit=limit,
            cursor=cursor,
            key=lambda row: (row.Initiative.position, row.Initiative.id),
        )
        return body(InitiativePage(items=[_to_out(r, lang) for r in rows], next_cursor=next_cursor))

    return await conditional_get(request, session, build)


@router.get(
    "/{initiative_id}",
    summary="Get one initiative",
    response_model=InitiativeOut,
    responses={**CACHED, **problem_responses(404)},
)
async def get_initiative(request: Request, session: DbSession, initiative_id: InitiativePath) -> Response:
    async def build(lang: Language) -> bytes:
        return body(await _get(session, initiative_id, lang))

    return await conditional_get(request, session, build)


async def _check_kpis(session: AsyncSession, kpis: Sequence[str]) -> None:
    if not kpis:
        return
    found = set((await session.scalars(select(Indicator.id).where(Indicator.id.in_(list(kpis))))).all())
    missing = set(kpis) - found
    if missing:
        raise UnknownIndicator(missing, field="kpis")


async def _replace_kpis(session: AsyncSession, initiative_id: str, kpis: Sequence[str]) -> None:
    await session.execute(
        delete(InitiativeIndicator).where(InitiativeIndicator.initiative_id == initiative_id)
    )
    if kpis:
        await session.execute(
            insert(InitiativeIndicator).values(
                [
                    {"initiative_id": initiative_id, "indicator_id": k, "position": n}
                    for n, k in enumerate(kpis, start=1)
                ]
            )
        )


@router.post(
    "",
    status_code=201,
    summary="Create an initiative (admin)",
    response_model=InitiativeOut,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_initiative(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    payload: InitiativeCreate,
) -> Response:
    await _check_kpis(session, payload.kpis)
    statement = (
        insert(Initiative)
        .values(
            id=payload.id,
            position=select(func.coalesce(func.max(Initiative.position), 0) + 1).scalar_subquery(),
            name_ja=payload.name_ja,
            name_en=payload.name_en,
            section=payload.section,
        )
        .on_conflict_do_nothing(index_elements=[Initiative.id])
        .returning(Initiative.id)
    )
    if (await session.execute(statement)).first() is None:
        raise RegistryConflict(
            f"An initiative with id '{payload.id}' already exists.",
            detail_ja=f"取組 '{payload.id}' は既に存在します。",
        )
    await _replace_kpis(session, payload.id, payload.kpis)
    await bump_version(session)
    out = await _get(session, payload.id, language(request))
    return json_response(out, status_code=201, headers={"Location": f"/v1/initiatives/{payload.id}"})


@router.patch(
    "/{initiative_id}",
    summary="Change an initiative (admin)",
    response_model=InitiativeOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def update_initiative(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.KPI_WRITE)],
    initiative_id: InitiativePath,
    payload: InitiativeUpdate,
) -> Response:
    values = {
        k: getattr(payload, k) for k in ("name_ja", "name_en", "section") if k in payload.model_fields_set
    }
    result = await session.execute(
        update(Initiative)
        .where(Initiative.id == initiative_id)
        .values(**values, updated_at=func.now())
        .returning(Initiative.id)
    )
    if result.first() is None:
        raise InitiativeNotFound(initiative_id)
    if payload.kpis is not None:
        await _check_kpis(session, payload.kpis)
        await _replace_kpis(session, initiative_id, payload.kpis)
    await bump_version(session)
    return json_response(await _get(session, initiative_id, language(request)))


@router.delete(
    "/{initiative_id}",
    status_code=204,
    summary="Delete an initiative (admin)",
    responses=problem_responses(401, 403, 404),
)
async def delete_initiative(
    session: DbSession, principal: Annotated[Principal, require(P.KPI_WRITE)], initiative_id: InitiativePath
) -> Response:
    result = await session.execute(
        delete(Initiative).where(Initiative.id == initiative_id).returning(Initiative.id)
    )
    if result.first() is None:
        raise InitiativeNotFound(initiative_id)
    await bump_version(session)
    return Response(status_code=204)
