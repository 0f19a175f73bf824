"""The one CSV writer: formula-like text is neutralised (OWASP), numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from shared.csvsafe import CsvWriter, csv_text, safe_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd", "'+1+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcalc", "'\tcalc"),
        ("\rcalc", "'\rcalc"),
        ("群馬 太郎", "群馬 太郎"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_text_cells(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


def test_numbers_stay_numbers() -> None:
    assert safe_cell(-5) == -5
    assert safe_cell(Decimal("-3.5")) == Decimal("-3.5")
    assert safe_cell(-0.25) == -0.25
    assert safe_cell("-3.5") == "-3.5"  # text that is a plain number (KPI values)
    assert safe_cell("-12") == "-12"
    assert safe_cell(None) == ""
    assert safe_cell(True) == "true"
    assert safe_cell(date(2026, 12, 3)) == "2026-12-03"


def test_document_round_trips_through_a_csv_reader() -> None:
    text = csv_text(["name", "amount"], [["=1+1", -100], ["ok", 250]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "amount"], ["'=1+1", "-100"], ["ok", "250"]]


def test_streaming_take_returns_only_new_rows() -> None:
    writer = CsvWriter(lineterminator="\n")
    writer.row(["a"])
    assert writer.take() == "a\n"
    writer.row(["@b"])
    assert writer.take() == "'@b\n"
