"""The KPI progress report (issue 19): XLSX read back with openpyxl, printable HTML, CLI, access, 422.

Observations go in through the API; the report's figures are compared with the progress API's and
every indicator and target of the seeded plan must be in it."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kpi_api.reports.labels import REPORT_SECTIONS
from tests.conftest import bearer
from tests.kpi_api.conftest import assert_problem, post_observation

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROW = 3
#: Registry section → report sheet (2(2)①②③ are one section of the plan).
SHEET_OF = {part: s.key for s in REPORT_SECTIONS for part in s.parts}

OBSERVATIONS: list[tuple[str, int, Any, str | None]] = [
    ("gross-prefectural-product", 2021, 9200000000000, None),  # on track
    ("ghg-emissions", 2021, 14343, None),  # behind (decreasing)
    ("per-capita-wage", 2023, 4600000, None),  # meets 450万 (FY2023), behind 480万 (FY2025)
    ("healthy-life-expectancy", 2019, 72.71, "male"),
    ("healthy-life-expectancy", 2019, 75.0, "female"),  # below its baseline: regressing
    ("5g-technology-support-cases", 2021, 5, None),  # cumulative, implied baseline (FY2020, 0)
    ("5g-technology-support-cases", 2023, 12, None),  # achieves the FY2023 target of 10
]


def seeded_rows() -> int:
    """Rows of a complete report: each seeded target once per report section that states it."""
    seed = yaml.safe_load(Path("services/kpi_api/seed/kpis.yaml").read_text(encoding="utf-8"))
    return sum(len({SHEET_OF[s] for s in t["sections"]}) for i in seed["indicators"] for t in i["targets"])


@pytest.fixture
async def auditor_headers(make_token: Any) -> dict[str, str]:
    return bearer(await make_token("auditor"))


@pytest.fixture
async def observed(kpi_client: httpx.AsyncClient, service_headers: dict[str, str]) -> None:
    for indicator, year, value, breakdown in OBSERVATIONS:
        extra = {"breakdown": breakdown} if breakdown else {}
        r = await post_observation(kpi_client, service_headers, indicator, year, value, **extra)
        assert r.status_code == 201, r.text


async def workbook(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    r = await client.get(
        "/v1/reports/kpi-progress.xlsx", params={"fiscal_year": 2025, **params}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    return load_workbook(io.BytesIO(r.content))


def rows_of(ws: Any) -> list[dict[str, Any]]:
    header = [c.value for c in ws[HEADER_ROW]]
    return [
        dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)
    ]


async def progress(client: httpx.AsyncClient, indicator_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/kpis/{indicator_id}/progress")
    assert r.status_code == 200, r.text
    return dict(r.json())


class TestWorkbook:
    async def test_every_indicator_and_target_of_the_plan(
        self,
        kpi_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        engine: AsyncEngine,
        observed: None,
    ) -> None:
        wb = await workbook(kpi_client, admin_headers)
        assert wb.sheetnames == ["概要", "1.1(3)", "1.2(1)", "2(2)", "2(3)-2"]
        async with engine.connect() as conn:
            indicators = {r.id: r for r in await conn.execute(text("SELECT id, sections FROM kpi.indicator"))}
            targets = (await conn.execute(text("SELECT indicator_id, sections FROM kpi.target"))).all()
        assert len(indicators) == 32
        seen: Counter[tuple[str, str]] = Counter()
        for sheet in wb.sheetnames[1:]:
            for row in rows_of(wb[sheet]):
                seen[(sheet, row["指標ID"])] += 1
        # Each target appears once in each report section that states it.
        expected: Counter[tuple[str, str]] = Counter()
        for t in targets:
            for sheet in {SHEET_OF[s] for s in t.sections}:
                expected[(sheet, t.indicator_id)] += 1
        assert seen == expected
        assert {i for _, i in seen} == set(indicators)
        # Every indicator sits in the sheets of exactly the sections that cite it.
        for indicator_id, row in indicators.items():
            assert {s for s, i in seen if i == indicator_id} == {SHEET_OF[s] for s in row.sections}

    async def test_figures_match_the_progress_api(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], observed: None
    ) -> None:
        wb = await workbook(kpi_client, admin_headers)
        rows = rows_of(wb["1.1(3)"]) + rows_of(wb["1.2(1)"]) + rows_of(wb["2(2)"]) + rows_of(wb["2(3)-2"])
        names = {
            "achieved": "達成",
            "on_track": "順調",
            "behind": "遅れ",
            "regressing": "後退",
            "baseline_pending": "基準値待ち",
            "no_data": "データなし",
        }
        for indicator_id in (
            "gross-prefectural-product",
            "ghg-emissions",
            "per-capita-wage",
            "healthy-life-expectancy",
            "5g-technology-support-cases",
        ):
            api = await progress(kpi_client, indicator_id)
            for target in api["targets"]:
                [row] = {
                    (r["目標年度"], r["内訳"]): r
                    for r in rows
                    if r["指標ID"] == indicator_id
                    and r["目標年度"] == target["fiscal_year"]
                    and r["内訳"] == target["breakdown_name"]  # empty cells read back as None
                }.values()
                assert row["目標値"] == target["target_value"]
                assert row["基準値"] == target["baseline"]["value"]
                assert row["基準年度"] == target["baseline"]["fiscal_year"]
                assert (row["最新年度"], row["最新値"]) == (
                    target["latest"]["fiscal_year"],
                    target["latest"]["value"],
                )
                assert row["達成率"] == pytest.approx(target["achievement_rate"])
                assert row["期待進捗率"] == pytest.approx(target["expected_rate"])
                assert row["評価"] == names[target["status"]]
                assert row["指標全体の評価"] == names[api["status"]]
                assert row["コメント"] is None

        by_key = {(r["指標ID"], r["目標年度"], r["内訳"] or ""): r for r in rows}
        gdp = by_key[("gross-prefectural-product", 2025, "")]
        assert (gdp["基準値"], gdp["最新値"], gdp["目標値"], gdp["評価"]) == (
            8970400000000,
            9200000000000,
            9500000000000,
            "順調",
        )
        wage_2023, wage_2025 = by_key[("per-capita-wage", 2023, "")], by_key[("per-capita-wage", 2025, "")]
        assert (wage_2023["評価"], wage_2025["評価"], wage_2025["指標全体の評価"]) == ("達成", "遅れ", "遅れ")
        female = by_key[("healthy-life-expectancy", 2025, "女性")]
        assert (female["基準値"], female["最新値"], female["評価"]) == (75.2, 75.0, "後退")
        five_g = by_key[("5g-technology-support-cases", 2023, "")]
        assert (five_g["基準年度"], five_g["基準値"], five_g["備考"]) == (2020, 0, "(累計: 2020年度=0)")
        assert (five_g["最新値"], five_g["評価"]) == (12, "達成")

    async def test_formatting_and_print_settings(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], observed: None
    ) -> None:
        wb = await workbook(kpi_client, admin_headers)
        ws = wb["1.1(3)"]
        assert ws["A1"].value == "1.1(3) 2030年のあるべき姿の実現に向けた優先的なゴール、ターゲット"
        assert ws.freeze_panes == "D4"
        assert ws.auto_filter.ref.startswith("A3:S")
        assert (ws.page_setup.orientation, ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (
            "landscape",
            1,
            0,
        )
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert ws.print_title_rows == "$3:$3"
        header = [c.value for c in ws[HEADER_ROW]]
        gdp_row = next(r for r in ws.iter_rows(min_row=4) if r[1].value == "gross-prefectural-product")
        assert gdp_row[header.index("達成率")].number_format == "0.0%"
        assert gdp_row[header.index("基準値")].number_format == "#,##0"
        assert ws[HEADER_ROW][0].font.bold is True
        assert wb["2(2)"]["A1"].value == "2(2) 三側面の取組"
        assert wb["2(3)-2"]["A1"].value.startswith("2(3)-2 三側面をつなぐ統合的取組による相乗効果等")

    async def test_summary_counts_by_status_aspect_and_goal(
        self, kpi_client: httpx.AsyncClient, auditor_headers: dict[str, str], observed: None
    ) -> None:
        wb = await workbook(kpi_client, auditor_headers)
        ws = wb["概要"]
        cells = {row[0]: row[1:] for row in ws.iter_rows(min_row=6, values_only=True) if row[0]}
        rollups = (await kpi_client.get("/v1/rollups")).json()
        total = rollups["total"]
        order = ["achieved", "on_track", "behind", "regressing", "baseline_pending", "no_data"]
        assert cells["全体"][:7] == (32, *[total["counts"][s] for s in order])
        assert cells["経済"][0] == next(
            a["indicators"] for a in rollups["by_aspect"] if a["key"] == "economy"
        )
        goal8 = next(g for g in rollups["by_sdg_goal"] if g["key"] == "8")
        [label] = [k for k in cells if str(k).startswith("8. ")]
        assert cells[label][:7] == (goal8["indicators"], *[goal8["counts"][s] for s in order])

    async def test_a_past_year_uses_the_values_up_to_it(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], observed: None
    ) -> None:
        wb = await workbook(kpi_client, admin_headers, fiscal_year=2022)
        rows = {(r["指標ID"], r["目標年度"]): r for r in rows_of(wb["2(2)"])}
        five_g = rows[("5g-technology-support-cases", 2023)]  # stated in 2(2)①
        # FY2023's 12 (achieved) is not known in FY2022: 5 of 10, expected 1/3 at FY2021, is on track.
        assert (five_g["最新年度"], five_g["最新値"], five_g["達成率"], five_g["評価"]) == (
            2021,
            5,
            0.5,
            "順調",
        )
        # … and 5 of 31 with an expected 1/5 is behind, so the indicator is behind (not achieved) in FY2022.
        later = {(r["指標ID"], r["目標年度"]): r for r in rows_of(wb["1.2(1)"])}[
            ("5g-technology-support-cases", 2025)
        ]
        assert (later["評価"], later["指標全体の評価"]) == ("遅れ", "遅れ")
        wage = {(r["指標ID"], r["目標年度"]): r for r in rows_of(wb["1.1(3)"])}[("per-capita-wage", 2025)]
        assert (wage["最新値"], wage["評価"]) == (None, "データなし")

    async def test_english(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], observed: None
    ) -> None:
        wb = await workbook(kpi_client, {**admin_headers, "Accept-Language": "en"})
        assert wb.sheetnames[0] == "Summary"
        rows = rows_of(wb["1.1(3)"])
        gdp = next(r for r in rows if r["Indicator id"] == "gross-prefectural-product")
        assert (gdp["Indicator"], gdp["Status"]) == ("Gross prefectural product (nominal)", "On track")
        wb = await workbook(kpi_client, admin_headers, lang="en")
        assert wb.sheetnames[0] == "Summary"


class TestHtml:
    async def test_printable_page(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], observed: None
    ) -> None:
        r = await kpi_client.get(
            "/v1/reports/kpi-progress", params={"fiscal_year": 2025}, headers=admin_headers
        )
        assert r.status_code == 200, r.text
        csp = r.headers["content-security-policy"]
        assert csp.startswith("default-src 'none'; style-src 'sha256-") and "unsafe" not in csp
        html = r.text
        assert '<html lang="ja">' in html and "<script" not in html and 'style="' not in html
        for section in REPORT_SECTIONS:
            if section.key != "2(3)-1":
                assert f"{section.key} {section.title_ja}" in html
        assert "@page { size: A4 landscape" in html
        assert "8,970,400,000,000 (2019)" in html and "9,200,000,000,000 (2021)" in html
        assert 'class="status status-on_track">順調<' in html
        assert html.count('<td class="comment"></td>') == seeded_rows()  # one empty comment cell per row

    async def test_english_by_query_and_header(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], observed: None
    ) -> None:
        for params, headers in (
            ({"lang": "en"}, admin_headers),
            ({}, {**admin_headers, "Accept-Language": "en"}),
        ):
            r = await kpi_client.get(
                "/v1/reports/kpi-progress", params={"fiscal_year": 2025, **params}, headers=headers
            )
            assert '<html lang="en">' in r.text and "KPI progress report" in r.text
            assert "Gross prefectural product (nominal)" in r.text


class TestAccess:
    @pytest.mark.parametrize(
        "role", ["staff", "member", "service", "kpi_editor", "accountant", "coordinator"]
    )
    async def test_other_roles_are_403(
        self, kpi_client: httpx.AsyncClient, make_token: Any, role: str
    ) -> None:
        headers = bearer(await make_token(role, subject="m-1" if role == "member" else None))
        for path in ("/v1/reports/kpi-progress.xlsx", "/v1/reports/kpi-progress"):
            assert_problem(
                await kpi_client.get(path, params={"fiscal_year": 2025}, headers=headers), 403, "forbidden"
            )

    async def test_anonymous_is_401(self, kpi_client: httpx.AsyncClient) -> None:
        r = await kpi_client.get("/v1/reports/kpi-progress", params={"fiscal_year": 2025})
        assert_problem(r, 401, "unauthorized")

    @pytest.mark.parametrize("year", [2019, 2101, 1990])
    async def test_out_of_range_is_422(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], year: int
    ) -> None:
        for path in ("/v1/reports/kpi-progress.xlsx", "/v1/reports/kpi-progress"):
            body = assert_problem(
                await kpi_client.get(path, params={"fiscal_year": year}, headers=admin_headers),
                422,
                "invalid-fiscal-year",
            )
            assert "2020" in body["detail"]

    @pytest.mark.parametrize("params", [{}, {"fiscal_year": "abc"}, {"fiscal_year": 2025, "lang": "fr"}])
    async def test_bad_parameters_are_422(
        self, kpi_client: httpx.AsyncClient, admin_headers: dict[str, str], params: dict[str, Any]
    ) -> None:
        r = await kpi_client.get("/v1/reports/kpi-progress.xlsx", params=params, headers=admin_headers)
        assert_problem(r, 422)


class TestCli:
    def test_gunma_kpi_report(self, clean_db: None, stack: Any, tmp_path: Any, monkeypatch: Any) -> None:
        from typer.testing import CliRunner

        from services.kpi_api.cli import app

        monkeypatch.setenv("DATABASE_URL", stack.database_url)
        out = tmp_path / "fy2025.xlsx"
        result = CliRunner().invoke(app, ["report", "--fiscal-year", "2025", "--output", str(out)])
        assert result.exit_code == 0, result.output
        wb = load_workbook(out)
        assert wb.sheetnames == ["概要", "1.1(3)", "1.2(1)", "2(2)", "2(3)-2"]
        assert sum(len(rows_of(wb[s])) for s in wb.sheetnames[1:]) == seeded_rows()
        html = tmp_path / "fy2025.html"
        result = CliRunner().invoke(
            app, ["report", "--fiscal-year", "2025", "-o", str(html), "--format", "html", "--lang", "en"]
        )
        assert result.exit_code == 0, result.output
        assert '<html lang="en">' in html.read_text(encoding="utf-8")
        result = CliRunner().invoke(app, ["report", "--fiscal-year", "2019"])
        assert result.exit_code == 2 and "2020" in result.output
