"""One indicator as a small XLSX workbook (openpyxl): the same facts as its page.

Sheet 1 (指標 / Indicator): the metadata. Sheet 2 (データ / Data): one row per fiscal year and
series with the observed value (the running total for a cumulative count), the count reported
for the year when the indicator is reported per year, the expected value on the straight line and
the target. Sheet 3 (目標 / Targets): each target with status, rates and the projection. Numbers
are written as numbers; text cells that look like formulas are written as text (openpyxl never
evaluates them, and the cell type is forced to string).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]  # no stubs published
from openpyxl.styles import Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from services.kpi_api.dashboard.i18n import t
from services.kpi_api.dashboard.service import IndicatorView
from shared.xlsxtext import xlsx_row

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(value: str | None) -> str:
    return "" if value is None else value


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def indicator_xlsx(view: IndicatorView) -> bytes:
    lang = view.lang
    book = Workbook()
    meta = book.active
    assert meta is not None
    meta.title = "指標" if lang == "ja" else "Indicator"
    rows: list[tuple[str, str]] = [
        (t("name", lang), view.name),
        ("ID", view.id),
        (t("unit", lang), view.unit),
        (t("direction", lang), view.direction),
        (t("owner", lang), view.owner or t("owner_unknown", lang)),
        (t("cumulative", lang), t("cumulative_yes", lang) if view.cumulative else t("cumulative_no", lang)),
        (t("status", lang), view.status.label),
        (t("sdg_targets", lang), ", ".join(s.code for s in view.sdg_targets)),
        (t("plan_sections", lang), ", ".join(f"{key} {label}" for key, label in view.sections)),
        (t("source", lang), view.source or t("no_source", lang)),
    ]
    for label, value in rows:
        meta.append(xlsx_row([label, value]))
    for cell in meta["A"]:
        cell.font = Font(bold=True)
    meta.column_dimensions["A"].width = 24
    meta.column_dimensions["B"].width = 80

    data = book.create_sheet("データ" if lang == "ja" else "Data")
    header = [t("fiscal_year", lang), t("breakdowns", lang), t("observed", lang)]
    if view.per_year_counts:
        header.append(t("reported", lang))
    header += [t("expected_value", lang), t("target_value", lang)]
    data.append(header)
    for series in view.series:
        observed = {p.fiscal_year: p.value for p in series.chart.observations}
        targets = {p.fiscal_year: p.value for p in series.chart.targets}
        for row in series.rows:
            line: list[object] = [row.fiscal_year, series.name, _number(observed.get(row.fiscal_year))]
            if view.per_year_counts:
                line.append(row.reported)
            line += [row.expected, _number(targets.get(row.fiscal_year))]
            data.append(xlsx_row(line))

    sheet = book.create_sheet("目標" if lang == "ja" else "Targets")
    sheet.append(
        [
            t("breakdowns", lang),
            t("fiscal_year", lang),
            t("target", lang),
            t("status", lang),
            t("achievement_rate", lang),
            t("expected_rate", lang),
            t("projection_value", lang),
            t("explanation", lang),
        ]
    )
    for series in view.series:
        for target in series.targets:
            sheet.append(
                xlsx_row(
                    [
                        series.name,
                        target.fiscal_year,
                        target.target_text,
                        target.status.label,
                        target.achievement_rate,
                        target.expected_rate,
                        target.projection,
                        target.explanation,
                    ]
                )
            )
    for ws in (data, sheet):
        ws.freeze_panes = "A2"
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for n in range(1, ws.max_column + 1):
            ws.column_dimensions[get_column_letter(n)].width = 18
    # Text cells are data, never formulas: a value beginning with "=" stays a string.
    for ws in book.worksheets:
        for line in ws.iter_rows():
            cells: Any = line
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
