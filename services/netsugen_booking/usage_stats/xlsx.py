"""The usage statistics as an XLSX workbook (openpyxl): one sheet per section, same figures as the JSON."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.formatting.rule import ColorScaleRule  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

from services.netsugen_booking.usage_stats.labels import WEEKDAY_NAMES, Language, t
from services.netsugen_booking.usage_stats.schemas import UsageStatsOut
from shared.xlsxtext import xlsx_row

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
YEN = '#,##0"円"'
COUNT = "#,##0"
HOURS = "#,##0.00"
PERCENT = "0.0%"


def _table(
    ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Any]], formats: Sequence[str | None]
) -> None:
    """A header row (frozen, filtered) and data rows with number formats per column."""
    ws.append(xlsx_row(headers))
    for cell in ws[1]:
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        ws.append(xlsx_row(row))
    for index, fmt in enumerate(formats, start=1):
        letter = get_column_letter(index)
        width = max(len(str(headers[index - 1])) * 2, 10)
        ws.column_dimensions[letter].width = min(width + 2, 40)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def build_workbook(stats: UsageStatsOut, lang: Language) -> bytes:
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = t("summary", lang)
    v, m, r, e, c = stats.visits, stats.members, stats.revenue, stats.events, stats.consultations
    # (label, value, number format) of the summary's rows
    lines: list[tuple[str, Any, str | None]] = [
        (t("period", lang), f"{stats.period.start.isoformat()} – {stats.period.end.isoformat()}", None),
        (t("visits", lang), v.visits, COUNT),
        (t("unique_visitors", lang), v.unique_visitors, COUNT),
        (t("unique_members", lang), v.unique_members, COUNT),
        (t("visitor_hours", lang), v.visitor_hours, HOURS),
        (t("new_members", lang), m.new_members, COUNT),
        (t("leaving_members", lang), m.leaving_members, COUNT),
        (t("events", lang) + " " + t("held", lang), e.held, COUNT),
        (t("events", lang) + " " + t("attendance", lang), e.attendance, COUNT),
        (t("consultations", lang) + " " + t("consultations_held", lang), c.held, COUNT),
        (t("invoiced_yen", lang), r.invoiced_yen, YEN),
        (t("credited_yen", lang), r.credited_yen, YEN),
        (t("net_yen", lang), r.net_yen, YEN),
        (t("generated_at", lang), stats.generated_at.isoformat(), None),
    ]
    _table(
        summary, [t("summary", lang), stats.period.key], [(label, value) for label, value, _ in lines], [None]
    )
    for number, (_, _, fmt) in enumerate(lines, start=2):
        if fmt:
            summary.cell(number, 2).number_format = fmt
    summary.column_dimensions["A"].width = 36
    summary.column_dimensions["B"].width = 28

    ws = wb.create_sheet(t("visits", lang))
    _table(
        ws,
        [t("month", lang), t("visits", lang), t("unique_visitors", lang)],
        [(x.month, x.visits, x.unique_visitors) for x in v.by_month],
        [None, COUNT, COUNT],
    )
    ws.append([])
    ws.append([t("visits_by_plan", lang)])
    for p in v.by_plan:
        ws.append(xlsx_row([p.name, p.count]))

    ws = wb.create_sheet(t("members", lang))
    codes = [p.plan_code for p in m.by_month[0].by_plan] if m.by_month else []
    names = [p.name for p in m.by_month[0].by_plan] if m.by_month else []
    _table(
        ws,
        [
            t("month", lang),
            t("as_of", lang),
            *names,
            t("total", lang),
            t("new_members", lang),
            t("leaving_members", lang),
        ],
        [
            (
                x.month,
                x.as_of,
                *[{p.plan_code: p.count for p in x.by_plan}[c] for c in codes],
                x.total,
                x.new_members,
                x.leaving_members,
            )
            for x in m.by_month
        ],
        [None, "yyyy-mm-dd", *[COUNT] * len(codes), COUNT, COUNT, COUNT],
    )

    ws = wb.create_sheet(t("occupancy", lang)[:31].split("(")[0])
    hours = stats.occupancy.hours
    _table(
        ws,
        [t("weekday", lang), *[f"{h}{t('hour', lang) if lang == 'ja' else ':00'}" for h in hours]],
        [(WEEKDAY_NAMES[lang][i], *row) for i, row in enumerate(stats.occupancy.average_present)],
        [None, *["0.00"] * len(hours)],
    )
    last = get_column_letter(len(hours) + 1)
    ws.conditional_formatting.add(
        f"B2:{last}8",
        ColorScaleRule(
            start_type="num", start_value=0, start_color="FFFFFF", end_type="max", end_color="1F4E79"
        ),
    )
    ws.append([])
    ws.append([t("person_minutes", lang)])
    for i, row in enumerate(stats.occupancy.person_minutes):
        ws.append([WEEKDAY_NAMES[lang][i], *row])
    ws.append([])
    ws.append([t("occupancy_note", lang)])
    for col in range(2, len(hours) + 2):
        ws.column_dimensions[get_column_letter(col)].width = 7

    ws = wb.create_sheet(t("rooms", lang)[:31])
    _table(
        ws,
        [
            t("resource", lang),
            t("bookings", lang),
            t("booked_hours", lang),
            t("event_hours", lang),
            t("open_hours", lang),
            t("utilisation", lang),
        ],
        [
            (x.name, x.bookings, x.booked_hours, x.event_hours, x.open_hours, x.utilisation)
            for x in stats.rooms
        ],
        [None, COUNT, HOURS, HOURS, HOURS, PERCENT],
    )

    ws = wb.create_sheet(t("events", lang)[:31])
    _table(
        ws,
        [t("category", lang), t("held", lang), t("attendance", lang)],
        [(x.name, x.held, x.attendance) for x in e.by_category] + [(t("total", lang), e.held, e.attendance)],
        [None, COUNT, COUNT],
    )

    ws = wb.create_sheet(t("consultations", lang)[:31])
    _table(
        ws,
        [t("consultations", lang), t("total", lang)],
        [
            (t("consultations_held", lang), c.held),
            (t("no_show", lang), c.no_show),
            (t("cancelled", lang), c.cancelled),
            (t("booked", lang), c.booked),
        ],
        [None, COUNT],
    )

    ws = wb.create_sheet(t("revenue_by_kind", lang)[:31])
    money = [t("invoiced_yen", lang), t("credited_yen", lang), t("net_yen", lang)]
    _table(
        ws,
        [t("kind", lang), *money],
        [(x.name, x.invoiced_yen, x.credited_yen, x.net_yen) for x in r.by_kind]
        + [(t("total", lang), r.invoiced_yen, r.credited_yen, r.net_yen)],
        [None, YEN, YEN, YEN],
    )
    ws = wb.create_sheet(t("revenue_by_plan", lang)[:31])
    _table(
        ws,
        [t("plan", lang), *money],
        [(x.name, x.invoiced_yen, x.credited_yen, x.net_yen) for x in r.by_plan],
        [None, YEN, YEN, YEN],
    )
    ws = wb.create_sheet(t("revenue_by_month", lang)[:31])
    _table(
        ws,
        [t("month", lang), *money],
        [(x.month, x.invoiced_yen, x.credited_yen, x.net_yen) for x in r.by_month],
        [None, YEN, YEN, YEN],
    )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
