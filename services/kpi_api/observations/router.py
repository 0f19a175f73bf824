"""Observations: history with revisions (public), recording and CSV import (service or admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.datastructures import UploadFile

from services.kpi_api.core.http import conditional_get, language
from services.kpi_api.core.render import body, json_response
from services.kpi_api.core.vocab import MAX_FISCAL_YEAR, MIN_FISCAL_YEAR, Language
from services.kpi_api.indicators.router import CACHED
from services.kpi_api.observations import csv_import, service
from services.kpi_api.observations.schemas import (
    ImportResult,
    ObservationIn,
    ObservationPage,
    ObservationRecorded,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import Unprocessable, problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, require

router = APIRouter(prefix="/v1", tags=["observations"])

IndicatorPath = Annotated[str, Path(description="Indicator id (slug).", examples=["ghg-emissions"])]


@router.get(
    "/kpis/{indicator_id}/observations",
    summary="Observation history of an indicator",
    description="Every fiscal year's current value with all its revisions (corrections never overwrite).",
    response_model=ObservationPage,
    responses={**CACHED, **problem_responses(404, 422)},
)
async def list_observations(
    request: Request,
    session: DbSession,
    indicator_id: IndicatorPath,
    breakdown: Annotated[str | None, Query(max_length=50)] = None,
    fiscal_year: Annotated[int | None, Query(ge=MIN_FISCAL_YEAR, le=MAX_FISCAL_YEAR)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    async def build(lang: Language) -> bytes:
        items, next_cursor = await service.list_observations(
            session, indicator_id, breakdown=breakdown, fiscal_year=fiscal_year, limit=limit, cursor=cursor
        )
        return body(ObservationPage(items=items, next_cursor=next_cursor))

    return await conditional_get(request, session, build)


@router.post(
    "/kpis/{indicator_id}/observations",
    summary="Record an observation (service or admin)",
    description=(
        "Records one fiscal year's value. A different value for a fiscal year and breakdown that already has one "
        'is 409 unless sent with `"correction": true` (a new revision; the history is kept). Sending exactly '
        "what is recorded again (value, source, note) changes nothing and answers 200 `unchanged`. "
        "201 when a new fiscal year was recorded, 200 otherwise. The indicator's progress is recomputed in the "
        "same transaction; `kpi.observation_recorded` and, if the status changed, `kpi.status_changed` are emitted."
    ),
    status_code=201,
    response_model=ObservationRecorded,
    responses={
        200: {"model": ObservationRecorded, "description": "Corrected, or unchanged"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def record_observation(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require(P.OBSERVATIONS_WRITE)],
    indicator_id: IndicatorPath,
    payload: ObservationIn,
) -> Response:
    recorded = await service.record_observation(session, indicator_id, payload, principal)
    observation = await service.get_observation(session, recorded.observation_id)
    result = ObservationRecorded(
        outcome=recorded.outcome,
        observation=observation,
        status=recorded.status.current,  # type: ignore[arg-type]
        previous_status=recorded.status.previous,  # type: ignore[arg-type]
        status_changed=recorded.status.changed,
    )
    return json_response(result, status_code=201 if recorded.outcome == "created" else 200)


CSV_EXAMPLE = (
    "indicator_id,fiscal_year,value,breakdown,source,note,correction\n"
    "ghg-emissions,2021,13500,,環境白書,,\n"
    "healthy-life-expectancy,2022,72.5,male,,,\n"
)


class MissingCsv(Unprocessable):
    slug, title = "csv-missing", "No CSV file"


async def _csv_bytes(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise MissingCsv(
                "Send the CSV as the form field 'file', or as the request body with Content-Type: text/csv.",
                detail_ja="CSV はフォームの 'file' 項目、または Content-Type: text/csv の本文で送ってください。",
            )
        return await upload.read()
    if content_type.startswith(("text/csv", "application/csv", "text/plain")):
        return await request.body()
    raise MissingCsv(
        "Send the CSV as the request body with Content-Type: text/csv (or multipart/form-data field 'file').",
        detail_ja="CSV は Content-Type: text/csv の本文(または multipart/form-data の 'file' 項目)で送ってください。",
    )


@router.post(
    "/imports/observations",
    tags=["imports"],
    summary="Import observations from CSV (service or admin)",
    description=(
        "Columns: `indicator_id`, `fiscal_year`, `value` (required) and `breakdown`, `source`, `note`, "
        "`correction` (optional), header on line 1, any order; UTF-8 (BOM allowed) or Shift_JIS. The whole file is "
        "validated first: any error → 422 with every error and its line number, and nothing is written. Rows equal "
        "to what is recorded are skipped, so re-importing a file is harmless. A row for a fiscal year that has a "
        "different value needs `correction` = true. Body: `text/csv`, or `multipart/form-data` with field `file`."
    ),
    response_model=ImportResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
    responses=problem_responses(401, 403, 413, 422),
)
async def import_observations(
    request: Request, session: DbSession, principal: Annotated[Principal, require(P.OBSERVATIONS_WRITE)]
) -> Response:
    data = await _csv_bytes(request)
    result = await csv_import.import_observations(session, data, principal, language(request))
    return json_response(result)
