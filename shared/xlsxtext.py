"""Text for XLSX cells: the characters XML 1.0 cannot carry are dropped.

A spreadsheet cell cannot hold the C0 control characters other than TAB, LF and CR (U+0000–U+0008,
U+000B, U+000C, U+000E–U+001F): openpyxl raises ``IllegalCharacterError`` on them. The text of
a workbook comes from data people and programs entered (a KPI's name, a plan's name, a note), so a
stray control character must not turn a download into a 500: every XLSX writer passes its values
through :func:`xlsx_row` (or :func:`xlsx_text`). Numbers, dates and ``None`` are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]  # no stubs published


def xlsx_text(value: str) -> str:
    """``value`` without the characters a worksheet cannot hold."""
    return str(ILLEGAL_CHARACTERS_RE.sub("", value))


def xlsx_value(value: Any) -> Any:
    """A cell value: text cleaned by :func:`xlsx_text`, anything else unchanged."""
    return xlsx_text(value) if isinstance(value, str) else value


def xlsx_row(values: Iterable[Any]) -> list[Any]:
    """A row for ``Worksheet.append``: every text value cleaned."""
    return [xlsx_value(v) for v in values]
