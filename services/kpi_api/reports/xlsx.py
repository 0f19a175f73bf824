"""The KPI progress report as an XLSX workbook (openpyxl): a summary sheet and one sheet per plan section."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

from services.kpi_api.core.vocab import STATUSES, Language
from services.kpi_api.reports.labels import DIRECTION_NAMES, PART_NAMES, STATUS_FILLS, STATUS_NAMES, t
from services.kpi_api.reports.service import KpiReport, ReportRow, exact
from services.kpi_api.reports.text import condition, implied_note
from shared.xlsxtext import xlsx_row, xlsx_text

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
PERCENT = "0.0%"
HEADER_ROW = 3

#: (label key, width) of the section sheets' columns, in order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("part", 14),
    ("indicator_id", 22),
    ("indicator", 40),
    ("breakdown", 14),
    ("unit", 10),
    ("direction", 14),
    ("baseline_year", 10),
    ("baseline", 16),
    ("latest_year", 10),
    ("latest", 16),
    ("target_year", 10),
    ("target", 16),
    ("condition", 16),
    ("achievement_rate", 11),
    ("expected_rate", 11),
    ("status", 12),
    ("indicator_status", 14),
    ("note", 22),
    ("comment", 40),
)


def number_format(value: int | Decimal | None) -> str:
    """Integers with thousands separators; decimals with exactly their own digits."""
    if value is None or isinstance(value, int):
        return "#,##0"
    places = max(0, -int(value.normalize().as_tuple().exponent))
    return "#,##0." + "0" * places if places else "#,##0"


def _print_setup(ws: Worksheet, title_rows: str) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows
    ws.print_options.gridLines = False


def _header(ws: Worksheet, row: int, labels: Sequence[str]) -> None:
    for col, label in enumerate(labels, start=1):
        cell = ws.cell(row, col, label)
        cell.fill, cell.font, cell.border = HEADER_FILL, HEADER_FONT, BORDER
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def _row_values(row: ReportRow, lang: Language) -> list[Any]:
    target = row.target
    baseline, latest = target.baseline, target.latest
    return [
        PART_NAMES.get(row.part, {}).get(lang, row.part),
        row.indicator_id,
        row.indicator_name,
        row.breakdown_name or "",
        row.unit,
        DIRECTION_NAMES[row.direction][lang],
        baseline.fiscal_year if baseline else None,
        exact(baseline.value) if baseline else None,
        latest.fiscal_year if latest else None,
        exact(latest.value) if latest else None,
        target.fiscal_year,
        exact(target.target_value),
        condition(target, lang),
        target.achievement_rate,
        target.expected_rate,
        STATUS_NAMES[target.status][lang],
        STATUS_NAMES[row.indicator_status][lang],
        implied_note(target, lang),
        "",
    ]


def _section_sheet(wb: Workbook, report: KpiReport, index: int) -> None:
    lang = report.lang
    section = report.sections[index]
    ws = wb.create_sheet(section.section.key)
    ws.cell(1, 1, xlsx_text(f"{section.section.key} {section.section.title(lang)}")).font = Font(
        bold=True, size=13
    )
    ws.cell(2, 1, t("as_of", lang).format(fy=report.fiscal_year, method=report.method))
    _header(ws, HEADER_ROW, [t(key, lang) for key, _ in COLUMNS])
    for r, row in enumerate(section.rows, start=HEADER_ROW + 1):
        for c, value in enumerate(xlsx_row(_row_values(row, lang)), start=1):
            cell = ws.cell(r, c, float(value) if isinstance(value, Decimal) and c in (14, 15) else value)
            cell.border = BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=c in (3, 18, 19))
            if c in (8, 10, 12):
                cell.number_format = number_format(value)
            elif c in (14, 15):
                cell.number_format = PERCENT
        for c, status in ((16, row.target.status), (17, row.indicator_status)):
            ws.cell(r, c).fill = PatternFill("solid", fgColor=STATUS_FILLS[status])
    for c, (_, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    last_row = HEADER_ROW + max(len(section.rows), 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(COLUMNS))}{last_row}"
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 4)  # header rows and the indicator columns stay in view
    _print_setup(ws, f"{HEADER_ROW}:{HEADER_ROW}")


def _summary_sheet(wb: Workbook, report: KpiReport) -> None:
    lang = report.lang
    ws = wb.active
    ws.title = t("summary", lang)
    ws.cell(1, 1, t("title", lang)).font = Font(bold=True, size=14)
    ws.cell(2, 1, f"{t('fiscal_year', lang)}: {report.fiscal_year}")
    ws.cell(3, 1, t("as_of", lang).format(fy=report.fiscal_year, method=report.method))
    ws.cell(4, 1, f"{t('generated_at', lang)}: {report.generated_at.strftime('%Y-%m-%d %H:%M')} JST")
    row = 6
    header = ["", t("indicators", lang), *[STATUS_NAMES[s][lang] for s in STATUSES]]
    for caption, groups in (
        (t("total", lang), [report.total]),
        (t("by_aspect", lang), report.by_aspect),
        (t("by_goal", lang), report.by_goal),
        (t("by_section", lang), report.by_section),
    ):
        ws.cell(row, 1, caption).font = Font(bold=True)
        row += 1
        _header(ws, row, header)
        row += 1
        for group in groups:
            values = [xlsx_text(group.label), group.indicators, *[group.counts[s] for s in STATUSES]]
            for c, value in enumerate(values, start=1):
                cell = ws.cell(row, c, value)
                cell.border = BORDER
                if c > 1:
                    cell.number_format = "#,##0"
            row += 1
        row += 1
    ws.cell(row, 1, t("rules", lang)).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(header))
    ws.row_dimensions[row].height = 75
    ws.column_dimensions["A"].width = 48
    for c in range(2, len(header) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 13
    ws.freeze_panes = "A6"
    _print_setup(ws, "1:1")


def build_workbook(report: KpiReport) -> bytes:
    wb = Workbook()
    _summary_sheet(wb, report)
    for index in range(len(report.sections)):
        _section_sheet(wb, report, index)
    wb.properties.title = t("title", report.lang)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
