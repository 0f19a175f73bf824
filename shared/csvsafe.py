"""The one CSV writer of the platform: every CSV export goes through it.

Spreadsheet programs run a cell that begins with ``=``, ``+``, ``-``, ``@``, TAB or CR as a formula
(CSV/formula injection: ``=HYPERLINK(...)`` in a member's name, say). As OWASP recommends, such a
text cell is written with a leading single quote, which spreadsheets show as text. Numbers stay
numbers: ``int``, ``float`` and ``Decimal`` values, and text that is a plain decimal number (a
negative KPI value such as ``-3.5``), are written as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")

Cell = str | int | float | Decimal | date | datetime | bool | None


def safe_cell(value: Cell) -> str | int | float | Decimal:
    """The value as it must be written: formula-like text neutralised, numbers untouched."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_TRIGGERS) and not _NUMBER.match(text):
        return "'" + text
    return text


class CsvWriter:
    """Writes rows to an in-memory buffer; ``take()`` returns what was written since the last call.

    Streaming exports write a partition of rows, ``take()`` it and yield it, so memory stays flat.
    """

    def __init__(self, *, lineterminator: str = "\r\n") -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator=lineterminator)

    def row(self, values: Iterable[Cell]) -> None:
        self._writer.writerow([safe_cell(v) for v in values])

    def rows(self, rows: Iterable[Iterable[Cell]]) -> None:
        for values in rows:
            self.row(values)

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Cell]], *, lineterminator: str = "\r\n") -> str:
    """A whole CSV document (header + rows) as text, every cell through ``safe_cell``."""
    writer = CsvWriter(lineterminator=lineterminator)
    writer.row(header)
    writer.rows(rows)
    return writer.take()
