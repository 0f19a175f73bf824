"""Exact decimal values in and out.

Values are stored as PostgreSQL ``NUMERIC`` and handled as :class:`~decimal.Decimal`. Responses
write them as JSON *numbers* carrying their exact digits (never strings, never rounded through a
binary float): ``8970400000000`` for 8兆9,704億円, ``72.07`` for 72.07年. Trailing zeros are
dropped (``75.20`` → ``75.2``) and integral values have no decimal point.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Final

import orjson
from pydantic import Field, WithJsonSchema

#: Input values: finite, at most 24 digits of which at most 6 after the decimal point. JSON numbers
#: and numeric strings ("8970400000000") are accepted; NaN, Infinity and non-numbers are refused.
MAX_DIGITS: Final = 24
MAX_DECIMAL_PLACES: Final = 6

Value = Annotated[
    Decimal,
    Field(
        allow_inf_nan=False,
        max_digits=MAX_DIGITS,
        decimal_places=MAX_DECIMAL_PLACES,
        description="A finite number (JSON number or numeric string), at most 24 digits, 6 after the point.",
        examples=[4500000],
    ),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "maxLength": 40}]}
    ),
]

#: Output values: rendered by :func:`dumps` as exact JSON numbers.
Num = Annotated[Decimal, WithJsonSchema({"type": "number"})]


def normalized(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation: 75.20 → 75.2, 9.5E+12 stays exact."""
    if value.is_zero():
        return Decimal(0)
    return value.normalize()


def plain(value: Decimal) -> str:
    """The exact digits of a finite decimal, as a JSON number literal."""
    return format(normalized(value), "f")


def json_number(value: Decimal) -> int | float:
    """For problem bodies rendered by the standard JSON encoder: exact when integral."""
    value = normalized(value)
    return int(value) if value == value.to_integral_value() else float(value)


def to_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            return None
        return orjson.Fragment(plain(obj))
    if isinstance(obj, uuid.UUID):  # asyncpg's own UUID subclass, which orjson does not know
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(data: Any) -> bytes:
    """JSON bytes; decimals become exact JSON numbers (see the module docstring)."""
    return orjson.dumps(data, default=_default)
