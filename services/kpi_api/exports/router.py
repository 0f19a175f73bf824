"""Exports (public): Open SDG data CSV and the registry as JSON, per indicator or for all.

Open SDG data format: one file per indicator, one row per value, columns ``Year``, then the
disaggregation column(s), then ``Units`` and ``Value``. Here the disaggregation column is
``Breakdown`` (present only for indicators that have breakdowns; values are breakdown names in the
requested language). The headline (total) rows come first, with an empty ``Breakdown`` cell: an
indicator with a plan-stated total (``headline_total``) exports its total there. ``Units`` is the
plan's unit in Japanese and its English label in English (年 → years). Years are fiscal years;
values are current revisions, written with their exact digits; a cumulative indicator reported per
fiscal year (``fiscal_year_count``) exports its running total (累計), the value its targets measure.

Every indicator at once: ``open-sdg.zip`` holds one such file per indicator
(``indicator_<id>.csv``), the layout of an Open SDG data repository. The older ``open-sdg.csv``
(with a non-standard ``Indicator`` column) is kept for existing clients and deprecated.
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.exceptions import IndicatorNotFound
from services.kpi_api.core.http import CSV, conditional_get, language
from services.kpi_api.core.numbers import Num, plain
from services.kpi_api.core.render import body
from services.kpi_api.core.vocab import Language, unit_label
from services.kpi_api.indicators import repository
from services.kpi_api.indicators.models import Breakdown, Indicator
from services.kpi_api.indicators.router import CACHED
from services.kpi_api.indicators.schemas import IndicatorDetail
from services.kpi_api.observations.models import Observation
from services.kpi_api.progress.router import to_progress
from services.kpi_api.progress.schemas import ProgressOut
from services.kpi_api.progress.service import compute_docs
from shared.csvsafe import csv_text
from shared.db import DbSession
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/exports", tags=["exports"])

EXPORT_FORMAT = "gunma-sdgs-kpi-registry/1"
LangQuery = Annotated[
    Literal["ja", "en"] | None,
    Query(description="Language of names and units; without it, Accept-Language decides (ja by default)."),
]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    **CACHED,
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "Year,Units,Value\n2019,千t-CO2,15343\n"}
        },
        "headers": CACHED[200]["headers"],
    },
}


async def _observation_rows(session: AsyncSession, indicator_id: str | None, lang: Language) -> list[Any]:
    name = Breakdown.name_ja if lang == "ja" else Breakdown.name_en
    statement = (
        select(
            Observation.indicator_id,
            Observation.fiscal_year,
            Observation.breakdown_key,
            Observation.value,
            Observation.revision,
            Indicator.unit,
            Indicator.cumulative,
            Indicator.observation_basis,
            name.label("breakdown_name"),
        )
        .join(Indicator, Indicator.id == Observation.indicator_id)
        .outerjoin(
            Breakdown,
            and_(
                Breakdown.indicator_id == Observation.indicator_id, Breakdown.key == Observation.breakdown_key
            ),
        )
        .order_by(Indicator.position, Indicator.id, Breakdown.position.nulls_first(), Observation.fiscal_year)
    )
    if indicator_id is not None:
        statement = statement.where(Observation.indicator_id == indicator_id)
    return list((await session.execute(statement)).all())


def open_sdg_csv(rows: list[Any], *, split: bool, lang: Language) -> bytes:
    """One indicator's Open SDG file from its observation rows (ordered by breakdown, then year)."""
    series: dict[str | None, list[Any]] = defaultdict(list)
    names: dict[str | None, str] = {}
    for r in rows:
        series[r.breakdown_key].append(r)
        names[r.breakdown_key] = r.breakdown_name or ""
    out: list[list[str]] = []
    for key in sorted(series, key=lambda k: k is not None):  # headline first, then breakdown order
        points = series[key]
        running = Decimal(0)
        for r in points:
            value = r.value
            if r.cumulative and r.observation_basis == "fiscal_year_count":
                running += r.value
                value = running
            unit = unit_label(r.unit, lang)
            cells = [str(r.fiscal_year), names[key] if key is not None else "", unit, plain(value)]
            out.append(cells if split else [cells[0], *cells[2:]])
    header = ["Year", "Breakdown", "Units", "Value"] if split else ["Year", "Units", "Value"]
    return _csv(header, out)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    return csv_text(header, rows, lineterminator="\n").encode()


def _attachment(filename: str) -> tuple[tuple[str, str], ...]:
    return (("Content-Disposition", f'attachment; filename="{filename}"'),)


@router.get(
    "/open-sdg.zip",
    summary="Every indicator in Open SDG data format (one CSV per indicator, zipped)",
    description=(
        "`indicator_<id>.csv` for every indicator, each exactly as `/v1/exports/open-sdg/{id}.csv` "
        "(headline rows first, `Breakdown` only for indicators with breakdowns): the layout of an Open SDG "
        "data repository."
    ),
    response_class=Response,
    responses={
        **CACHED,
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
    },
)
async def open_sdg_zip(request: Request, session: DbSession) -> Response:
    async def build(lang: Language) -> bytes:
        indicators = (
            await session.execute(
                select(
                    Indicator.id,
                    select(Breakdown.key)
                    .where(Breakdown.indicator_id == Indicator.id)
                    .limit(1)
                    .exists()
                    .label("split"),
                ).order_by(Indicator.position, Indicator.id)
            )
        ).all()
        by_indicator: dict[str, list[Any]] = defaultdict(list)
        for r in await _observation_rows(session, None, lang):
            by_indicator[r.indicator_id].append(r)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for ind in indicators:
                info = zipfile.ZipInfo(f"indicator_{ind.id}.csv", date_time=(2021, 4, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, open_sdg_csv(by_indicator.get(ind.id, []), split=ind.split, lang=lang))
        return buffer.getvalue()

    return await conditional_get(
        request, session, build, media_type="application/zip", headers=_attachment("kpis-open-sdg.zip")
    )


@router.get(
    "/open-sdg.csv",
    summary="All observations in one CSV (deprecated: use open-sdg.zip)",
    description=(
        "Columns `Year`, `Indicator`, `Breakdown`, `Units`, `Value`. The `Indicator` column is not part of the "
        "Open SDG format; `/v1/exports/open-sdg.zip` gives one standard file per indicator."
    ),
    response_class=Response,
    responses=CSV_RESPONSE,
    deprecated=True,
)
async def open_sdg_all(request: Request, session: DbSession) -> Response:
    async def build(lang: Language) -> bytes:
        rows = await _observation_rows(session, None, lang)
        return _csv(
            ["Year", "Indicator", "Breakdown", "Units", "Value"],
            [
                [
                    str(r.fiscal_year),
                    r.indicator_id,
                    r.breakdown_name or "",
                    unit_label(r.unit, lang),
                    plain(r.value),
                ]
                for r in rows
            ],
        )

    return await conditional_get(
        request, session, build, media_type=CSV, headers=_attachment("kpis-open-sdg.csv")
    )


@router.get(
    "/open-sdg/{indicator_id}.csv",
    summary="One indicator in Open SDG data format (CSV)",
    description=(
        "Columns `Year`, `Breakdown` (only if the indicator has breakdowns), `Units`, `Value`; headline (total) "
        "rows first with an empty `Breakdown`."
    ),
    response_class=Response,
    responses={**CSV_RESPONSE, **problem_responses(404)},
)
async def open_sdg_one(
    request: Request,
    session: DbSession,
    indicator_id: Annotated[
        str, Path(description="Indicator id (slug); unknown ids are 404.", examples=["ghg-emissions"])
    ],
    lang: LangQuery = None,
) -> Response:
    chosen: Language = lang or language(request)

    async def build(_: Language) -> bytes:
        has_breakdowns = (
            await session.execute(
                select(
                    Indicator.id,
                    select(Breakdown.key)
                    .where(Breakdown.indicator_id == Indicator.id)
                    .limit(1)
                    .exists()
                    .label("split"),
                ).where(Indicator.id == indicator_id)
            )
        ).first()
        if has_breakdowns is None:
            raise IndicatorNotFound(indicator_id)
        rows = await _observation_rows(session, indicator_id, chosen)
        return open_sdg_csv(rows, split=has_breakdowns.split, lang=chosen)

    return await conditional_get(
        request,
        session,
        build,
        media_type=CSV,
        headers=_attachment(f"{indicator_id}-open-sdg.csv"),
        content_language=chosen,
    )


class ExportObservation(BaseModel):
    fiscal_year: int
    breakdown: str | None
    value: Num
    revision: int


class ExportIndicator(IndicatorDetail):
    observations: list[ExportObservation] = Field(description="Current value per fiscal year and breakdown.")
    progress_detail: ProgressOut


class RegistryExport(BaseModel):
    format: str = Field(examples=[EXPORT_FORMAT])
    indicators: list[ExportIndicator]


async def _export(session: AsyncSession, indicator_id: str | None, lang: Language) -> list[ExportIndicator]:
    statement = repository.indicator_query(detail=True).order_by(Indicator.position, Indicator.id)
    if indicator_id is not None:
        statement = statement.where(Indicator.id == indicator_id)
    rows = list((await session.execute(statement)).all())
    if indicator_id is not None and not rows:
        raise IndicatorNotFound(indicator_id)
    observed: dict[str, list[ExportObservation]] = defaultdict(list)
    for r in await _observation_rows(session, indicator_id, lang):
        observed[r.indicator_id].append(
            ExportObservation(
                fiscal_year=r.fiscal_year,
                breakdown=r.breakdown_key,
                value=Decimal(r.value),
                revision=r.revision,
            )
        )
    missing = [r.Indicator.id for r in rows if r.progress_doc is None]
    computed = await compute_docs(session, missing) if missing else {}
    result = []
    for row in rows:
        ind = row.Indicator
        status, doc = (row.status, row.progress_doc) if row.progress_doc is not None else computed[ind.id]
        progress = to_progress(
            indicator=ind, status=status, doc=doc, computed_at=None, breakdowns=row.breakdowns, lang=lang
        )
        detail = repository.to_indicator_detail(row, lang)
        result.append(
            ExportIndicator(**dict(detail), observations=observed.get(ind.id, []), progress_detail=progress)
        )
    return result


@router.get(
    "/kpis.json",
    summary="The whole registry as JSON",
    description="Every indicator with its targets, baselines, SDG links, current observations and progress.",
    response_model=RegistryExport,
    responses=CACHED,
)
async def export_all(request: Request, session: DbSession) -> Response:
    async def build(lang: Language) -> bytes:
        return body(RegistryExport(format=EXPORT_FORMAT, indicators=await _export(session, None, lang)))

    return await conditional_get(request, session, build, headers=_attachment("kpis.json"))


@router.get(
    "/kpis/{indicator_id}.json",
    summary="One indicator as JSON",
    response_model=RegistryExport,
    responses={**CACHED, **problem_responses(404)},
)
async def export_one(
    request: Request,
    session: DbSession,
    indicator_id: Annotated[
        str, Path(description="Indicator id (slug); unknown ids are 404.", examples=["ghg-emissions"])
    ],
    lang: LangQuery = None,
) -> Response:
    chosen: Language = lang or language(request)

    async def build(_: Language) -> bytes:
        return body(
            RegistryExport(format=EXPORT_FORMAT, indicators=await _export(session, indicator_id, chosen))
        )

    return await conditional_get(
        request, session, build, headers=_attachment(f"{indicator_id}.json"), content_language=chosen
    )
