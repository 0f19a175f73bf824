"""Keyset pagination: the one cursor codec, page-size type and page loop of every list endpoint.

Lists answer ``{"items": [...], "next_cursor": "..." | null}``. A route takes ``limit: Limit = DEFAULT_LIMIT``
and ``cursor: Cursor = None``; the service builds a ``select`` (filters only, no ``order_by``/``limit``)
and calls :func:`paginate` with the columns of its sort key, for example::

    items, next_cursor = await paginate(
        session, select(Booking).where(...), (Booking.start_at, Booking.id), limit=limit, cursor=cursor, scalars=True
    )

The helper orders by the key (all ascending, or all descending with ``descending=True``), continues after
the cursor with a row comparison (``(a, b) > (x, y)``, which PostgreSQL answers from an index on ``(a, b)``),
fetches ``limit + 1`` rows and returns ``(items, next_cursor)``; ``next_cursor`` is ``None`` on the last page.

Page-size policy: default 50, at most 200 (:data:`Limit`). The one exception is the KPI registry's indicator
list (``GET /v1/kpis``, :data:`WideLimit`, at most 500): the whole registry (about 300 indicators) fits one
page there, and the registry's cached ETag fast path and its clients read it so.

The cursor is opaque to clients: URL-safe base64 of a JSON array of the key's values (times as ISO-8601
with offset, UUIDs as strings). Anything else (tampered, truncated, another list's cursor) is the one
422 problem :class:`InvalidCursor`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import Query
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from shared.errors import Unprocessable

#: A column of a sort key: a mapped attribute or a SQL expression (``func.coalesce(...)``).
KeyColumn = QueryableAttribute[Any] | ColumnElement[Any]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
WIDE_MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (default 50, at most 200).")]
WideLimit = Annotated[
    int,
    Query(ge=1, le=WIDE_MAX_LIMIT, description="Page size (default 50, at most 500: the whole registry)."),
]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="`next_cursor` of the previous page; omit for the first page."),
]


class InvalidCursor(Unprocessable):
    """The one problem for a cursor this API did not issue."""

    slug, title = "invalid-cursor", "Invalid cursor"

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this API returned. Start again without it.",
            detail_ja="カーソルが不正です。cursor を付けずに最初のページからやり直してください。",
        )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(*values: Any) -> str:
    """Encode the sort key of the last item of a page (str, int, datetime, date, UUID, None)."""
    return base64.urlsafe_b64encode(orjson.dumps([_plain(v) for v in values])).decode().rstrip("=")


def _typed(value: Any, kind: type | None) -> Any:
    """``value`` read back from JSON as ``kind``; ValueError when it is not one."""
    if kind is None:
        if isinstance(value, list | dict):
            raise ValueError("not a scalar")
        return value
    if kind is datetime:
        if not isinstance(value, str):
            raise ValueError("not a time")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("a time without offset")
        return parsed
    if kind is date:
        if not isinstance(value, str):
            raise ValueError("not a date")
        return date.fromisoformat(value)
    if kind is uuid.UUID:
        if not isinstance(value, str):
            raise ValueError("not a uuid")
        return uuid.UUID(value)
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("not an integer")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError("not a string")
        return value
    raise ValueError(f"unsupported key type {kind!r}")


def decode_cursor(cursor: str, *kinds: type | None) -> list[Any]:
    """Decode a cursor of ``len(kinds)`` values, each read back as its kind (``None``: any scalar).

    Raises :class:`InvalidCursor` (422) for anything :func:`encode_cursor` did not make with that shape.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        return [_typed(v, k) for v, k in zip(values, kinds, strict=True)]
    except (binascii.Error, ValueError, UnicodeError, orjson.JSONDecodeError):
        raise InvalidCursor() from None


def key_kind(column: KeyColumn) -> type | None:
    """The Python type a key column's cursor value is read back as."""
    try:
        kind = column.type.python_type
    except NotImplementedError:  # SQLAlchemy's answer for types without a Python type (e.g. ARRAY of enums)
        return None  # such a key is read back as JSON gave it
    return kind if kind in (datetime, date, uuid.UUID, int, str) else None


def key_of(item: Any, keys: Sequence[KeyColumn]) -> tuple[Any, ...]:
    """The sort key of an ORM object or a result row whose first entity holds the key columns."""
    return tuple(getattr(item, str(getattr(k, "key", ""))) for k in keys)


async def paginate(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    keys: Sequence[KeyColumn],
    *,
    limit: int,
    cursor: str | None,
    key: Callable[[Any], Sequence[Any]] | None = None,
    descending: bool = False,
    scalars: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``statement`` in ``keys`` order after ``cursor``: ``(items, next_cursor)``.

    ``keys`` must identify a row (end with the primary key). ``key`` returns the key values of an item
    (default: the attributes named like the key columns, for ``scalars=True`` ORM objects). ``scalars``
    returns the first column of each row (ORM objects) instead of rows.
    """
    if cursor:
        after = tuple_(*keys)
        values = tuple_(*decode_cursor(cursor, *(key_kind(k) for k in keys)))
        statement = statement.where(after < values if descending else after > values)
    order = [k.desc() for k in keys] if descending else list(keys)
    statement = statement.order_by(*order).limit(limit + 1)
    result = await session.execute(statement)
    items: list[Any] = list(result.scalars().all() if scalars else result.all())
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    last = items[-1]
    return items, encode_cursor(*(key(last) if key is not None else key_of(last, keys)))
