"""Server errors that schemathesis found (issue 14, "done when": from outside against the running
platform, and in-process by tests/security/test_fuzz.py), each replayed here against the real app
and database and now answered without a 500.

- An indicator whose values differ below a float's resolution at their magnitude (10^23 and
  10^23 + 1, both valid 24-digit values) made its chart divide by zero: the scale had no height.
- A control character in an indicator's name (the API stores it) made every XLSX download that
  shows the name (the indicator's workbook on the progress site, the KPI progress report) fail in
  openpyxl (``IllegalCharacterError``); a plan's name did the same to the usage statistics.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.kpi_api.dashboard.charts import Point, Series, render_chart
from shared.xlsxtext import xlsx_row, xlsx_text
from tests.kpi_api.conftest import post_observation, restore_registry  # noqa: F401  (fixture)

HUGE = 10**23
#: The largest whole values the API takes (18 digits before the point): one float, 1e18, for both.
TOP = 10**18 - 2


def indicator(indicator_id: str, name_ja: str, *, cumulative: bool, baseline: Any) -> dict[str, Any]:
    return {
        "id": indicator_id,
        "name_ja": name_ja,
        "name_en": "Fuzz regression",
        "unit": "件",
        "aspect": "economy",
        "direction": "increase",
        "cumulative": cumulative,
        "sections": ["1.2(1)"],
        "sdg_targets": [{"code": "8.2", "determination": "inferred", "note": "growth"}],
        "baselines": [{"fiscal_year": 2021, "value": baseline}],
        "targets": [{"fiscal_year": 2025, "comparator": "gte", "value": baseline, "sections": ["1.2(1)"]}],
    }


class TestChartBeyondFloatResolution:
    @pytest.mark.parametrize("from_zero", [True, False])
    @pytest.mark.parametrize(
        "values",
        [
            (Decimal(HUGE), Decimal(HUGE + 1)),
            (Decimal(-HUGE - 1), Decimal(-HUGE)),
            (Decimal("999999999999999999.999999"), Decimal("999999999999999999.999998")),
            (Decimal(5), Decimal(5)),
        ],
    )
    def test_chart_has_a_scale(self, values: tuple[Decimal, Decimal], from_zero: bool) -> None:
        series = Series(
            observations=[Point(2021, values[0]), Point(2022, values[1])],
            baseline=None,
            baseline_implied=False,
            targets=[],
            from_zero=from_zero,
        )
        svg = render_chart(series, title="t", description="d", chart_id="c")
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        # A handful of horizontal grid lines, each at a finite position inside the plot.
        grid = [line for line in svg.split("<line ") if 'stroke="#d0d0d0"' in line]
        assert 2 <= len(grid) <= 12, len(grid)
        assert "nan" not in svg and "inf" not in svg

    async def test_indicator_page_of_a_huge_level_is_200(
        self,
        restore_registry,  # noqa: F811
        kpi_client,
        admin_headers,
        service_headers,
    ) -> None:
        body = indicator("fuzz-huge-level", "巨大な値", cumulative=False, baseline=TOP)
        r = await kpi_client.post("/v1/kpis", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
        r = await post_observation(kpi_client, service_headers, "fuzz-huge-level", 2022, str(TOP + 1))
        assert r.status_code in (200, 201), r.text
        for lang in ("ja", "en"):
            page = await kpi_client.get(f"/dashboard/kpis/fuzz-huge-level?lang={lang}")
            assert page.status_code == 200, page.text
            assert '<svg xmlns="http://www.w3.org/2000/svg"' in page.text
            assert "999,999,999,999,999,999" in page.text  # the data table keeps the exact value


class TestControlCharactersInXlsx:
    def test_helpers_drop_only_what_a_cell_cannot_hold(self) -> None:
        assert xlsx_text("A\x00B\x08C\x0bD\x0cE\x1fF") == "ABCDEF"
        assert xlsx_text("改行\nタブ\t復帰\r") == "改行\nタブ\t復帰\r"
        assert xlsx_row(["x\x12y", 3, Decimal("1.5"), None]) == ["xy", 3, Decimal("1.5"), None]

    async def test_downloads_with_a_control_character_in_a_name_are_200(
        self,
        restore_registry,  # noqa: F811
        kpi_client,
        admin_headers,
        service_headers,
    ) -> None:
        body = indicator("fuzz-control-chars", "制御\x12文字\x0cの名前", cumulative=True, baseline=10)
        r = await kpi_client.post("/v1/kpis", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
        r = await post_observation(kpi_client, service_headers, "fuzz-control-chars", 2022, 12)
        assert r.status_code in (200, 201), r.text

        page = await kpi_client.get("/dashboard/kpis/fuzz-control-chars.xlsx")
        assert page.status_code == 200, page.text
        sheet = load_workbook(io.BytesIO(page.content)).worksheets[0]
        assert sheet["B1"].value == "制御文字の名前"

        report = await kpi_client.get("/v1/reports/kpi-progress.xlsx?fiscal_year=2022", headers=admin_headers)
        assert report.status_code == 200, report.text
        book = load_workbook(io.BytesIO(report.content))
        names = {cell.value for ws in book.worksheets[1:] for cell in ws["C"]}
        assert "制御文字の名前" in names


async def test_usage_statistics_workbook_with_a_control_character_in_a_plan_name_is_200(
    netsugen_client: Any, admin_headers: dict[str, str], staff_headers: dict[str, str]
) -> None:
    """Found by tests/security/test_fuzz.py: a plan renamed with U+0003 broke ``/v1/usage-stats.xlsx``
    (the plan names are the members sheet's column headers)."""
    plan = (await netsugen_client.get("/v1/plans/individual_monthly", headers=admin_headers)).json()
    try:
        r = await netsugen_client.patch(
            "/v1/plans/individual_monthly", json={"name_ja": "個人\x03月額会員"}, headers=admin_headers
        )
        assert r.status_code == 200, r.text
        r = await netsugen_client.get(
            "/v1/usage-stats.xlsx", params={"month": "2026-11"}, headers=staff_headers
        )
        assert r.status_code == 200, r.text
        book = load_workbook(io.BytesIO(r.content))
        headers = [cell.value for cell in book["会員"][1]]
        assert "個人月額会員" in headers, headers
    finally:
        r = await netsugen_client.patch(
            "/v1/plans/individual_monthly", json={"name_ja": plan["name_ja"]}, headers=admin_headers
        )
        assert r.status_code == 200, r.text
