"""Opaque cursors for keyset pagination: ``{"items": [...], "next_cursor": "..." | null}``."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import Query

from shared.errors import Unprocessable

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (default 50, at most 200).")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="`next_cursor` of the previous page; omit for the first page."),
]


class InvalidCursor(Unprocessable):
    slug, title = "invalid-cursor", "Invalid cursor"


def encode_cursor(*values: Any) -> str:
    """Encode the sort key of the last item of a page (strings, numbers, None)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """Decode a cursor made by :func:`encode_cursor` with ``size`` values; 422 when it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor(
            "The cursor is not one this API returned.", detail_ja="カーソルが不正です。"
        ) from exc
    if not isinstance(values, list) or len(values) != size:
        raise InvalidCursor("The cursor is not one this API returned.", detail_ja="カーソルが不正です。")
    return values
