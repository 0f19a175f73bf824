"""JSON responses with exact decimal numbers (see ``numbers.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from pydantic import BaseModel

from services.kpi_api.core.numbers import dumps


def body(model: BaseModel) -> bytes:
    return dumps(model.model_dump(mode="python"))


def json_response(
    model: BaseModel, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        body(model), status_code=status_code, media_type="application/json", headers=dict(headers or {})
    )
