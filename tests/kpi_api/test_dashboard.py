"""The public progress site (/dashboard): content, languages, caching (no SQL warm), XLSX, CSP."""

from __future__ import annotations

import io
import re
from decimal import Decimal

from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.kpi_api.core.http import bump_version
from services.kpi_api.dashboard.charts import Point, Series, render_chart
from services.kpi_api.dashboard.i18n import SDG_COLOURS, contrast, text_on
from shared.db import session_scope
from tests.kpi_api.test_indicators_api import forget_caches, settle
from tests.kpi_api.test_progress_api import record

FIVE_G = "5g-technology-support-cases"
HEALTH = "healthy-life-expectancy"
GHG = "ghg-emissions"
CREATOR_LAB = "creator-laboratory-participants"


async def page(client, path: str, **headers: str):
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    return r


def text_of(html: str) -> str:
    """Visible text, roughly: tags removed, whitespace folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestHome:
    async def test_japanese_by_default(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        r = await page(kpi_client, "/dashboard")
        html = r.text
        assert '<html lang="ja">' in html and r.headers["content-language"] == "ja"
        body = text_of(html)
        for aspect in ("経済", "社会", "環境"):
            assert aspect in body
        # 17 goals, each with its official colour and number.
        for number, colour in SDG_COLOURS.items():
            assert f'fill="{colour}"' in html, number
            assert f'<span class="goal-number">{number}</span>' in html
        # Plan sections with the plan's Japanese titles.
        for key, title in (
            ("1.1(3)", "2030年のあるべき姿の実現に向けた優先的なゴール、ターゲット"),
            ("1.2(1)", "自治体SDGsの推進に資する取組"),
            ("2(2)", "三側面の取組"),
            ("2(3)-2", "三側面をつなぐ統合的取組による相乗効果等(新たに創出される価値)"),
        ):
            assert f'<span class="section-key">{key}</span> {title}' in html
        # Counts by status: 32 indicators, one behind (5 of 10 by FY2023 against an expected 1/3… and 5/31).
        assert '<p class="big-number">32 <span>指標</span></p>' in html
        overall = html.split('aria-label="全体の状況"')[1].split("</ul>")[0]
        assert re.search(r"遅れ</span> <span class=\"count-n\">1</span>", overall)
        assert re.search(r"データなし</span> <span class=\"count-n\">31</span>", overall)
        assert f'href="/dashboard/kpis/{FIVE_G}?lang=ja"' in html

    async def test_english_by_query_or_header(self, kpi_client) -> None:
        by_query = await page(kpi_client, "/dashboard?lang=en")
        by_header = await page(kpi_client, "/dashboard", **{"accept-language": "en-GB,en;q=0.9"})
        for r in (by_query, by_header):
            assert '<html lang="en">' in r.text and r.headers["content-language"] == "en"
            assert "The 17 Sustainable Development Goals" in r.text
            assert "Economy" in r.text and "Society" in r.text and "Environment" in r.text
            # English page, Japanese title kept beside it and marked as Japanese.
            assert '<span lang="ja" class="ja-title">自治体SDGsの推進に資する取組</span>' in r.text
        forced = await page(kpi_client, "/dashboard?lang=ja", **{"accept-language": "en"})
        assert '<html lang="ja">' in forced.text and forced.headers["content-language"] == "ja"

    async def test_unknown_language_is_a_clear_422(self, kpi_client) -> None:
        r = await kpi_client.get("/dashboard?lang=fr")
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"

    async def test_strict_csp_and_no_script(self, kpi_client) -> None:
        r = await page(kpi_client, "/dashboard")
        policies = r.headers.get_list("content-security-policy")
        assert any("default-src 'none'" in p and "script-src" not in p for p in policies), policies
        assert "<script" not in r.text and " style=" not in r.text and "<style" not in r.text
        css = await kpi_client.get("/dashboard/static/dashboard.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert ":focus-visible" in css.text and "@media print" in css.text

    async def test_accessibility_structure(self, kpi_client) -> None:
        html = (await page(kpi_client, "/dashboard")).text
        assert '<a class="skip-link" href="#main">' in html
        assert '<main id="main"' in html and "<header" in html and "<footer" in html and "<nav" in html
        assert html.count("<h1>") == 1
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


class TestCaching:
    async def test_etag_304_and_no_sql_on_a_warm_hit(
        self, kpi_client, kpi_app, count_queries, sessionmaker
    ) -> None:
        async with session_scope(sessionmaker) as session:
            await bump_version(session)
        await settle(kpi_app)
        forget_caches(kpi_app)
        for path in ("/dashboard", f"/dashboard/kpis/{HEALTH}", "/dashboard?lang=en"):
            with count_queries() as cold:
                first = await page(kpi_client, path)
            assert cold.count >= 1
            with count_queries() as warm:
                again = await page(kpi_client, path)
            assert warm.count == 0, warm.statements
            assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
            assert again.headers.get_list("content-security-policy") == first.headers.get_list(
                "content-security-policy"
            )
            with count_queries() as revalidated:
                r = await kpi_client.get(path, headers={"if-none-match": first.headers["etag"]})
            assert r.status_code == 304 and revalidated.count == 0

    async def test_a_new_observation_changes_the_page(self, kpi_client, kpi_app, service_headers) -> None:
        before = await page(kpi_client, f"/dashboard/kpis/{FIVE_G}")
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        await settle(kpi_app)
        after = await page(kpi_client, f"/dashboard/kpis/{FIVE_G}")
        assert after.headers["etag"] != before.headers["etag"]
        assert "実績値はまだありません" in before.text and "2021年度" in after.text


class TestIndicatorPage:
    async def test_cumulative_indicator(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        await record(kpi_client, service_headers, FIVE_G, 2022, 12)
        html = (await page(kpi_client, f"/dashboard/kpis/{FIVE_G}")).text
        body = text_of(html)
        assert "<h1>5G適用可能技術導入支援件数(累計)</h1>" in html
        assert "単位 件" in body and "増加が望ましい" in body and "累計(計画開始からの合計)" in body
        assert "計画に記載なし" in body  # no owner in the plan for this one
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 1 and 'role="img"' in html
        # Chart marks: observations, implied baseline (hollow square), both targets, the expected
        # lines and the linear projection.
        assert html.count('class="target"') == 2 and html.count('class="expected"') == 2
        assert 'class="observed"' in html and 'class="projection"' in html
        # The same facts as text: the data table and the targets table.
        assert "2022年度 12件" in body
        assert "2025年度 31件 " in body
        assert "2025年度: 33件 (累計の年平均増加数を直線で延長)" in body
        assert "達成率" in body and "順調" in body
        assert f'href="/v1/exports/open-sdg/{FIVE_G}.csv?lang=ja"' in html
        assert f'href="/dashboard/kpis/{FIVE_G}.xlsx?lang=ja"' in html
        assert f'href="/v1/exports/kpis/{FIVE_G}.json?lang=ja"' in html

    async def test_breakdowns_each_with_their_status(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, HEALTH, 2022, "73.3", breakdown="male")
        html = (await page(kpi_client, f"/dashboard/kpis/{HEALTH}?lang=en")).text
        body = text_of(html)
        assert "Status: ◎ Achieved" not in body
        assert "Status: － No data" in body  # worst breakdown decides: female has no data
        assert "Male: ◎ Achieved" in body and "Female: － No data" in body
        assert "never on track or achieved while one breakdown cannot be assessed" in body
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2  # one chart per breakdown
        assert "Unit years" in body

    async def test_decreasing_indicator(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, GHG, 2020, 14500)
        await record(kpi_client, service_headers, GHG, 2021, 14343)
        body = text_of((await page(kpi_client, f"/dashboard/kpis/{GHG}?lang=en")).text)
        assert "Lower is better" in body and "thousand t-CO2" in body
        assert "FY2017 15,343 thousand t-CO2 (Baseline)" in body
        assert "FY2030 9,824 thousand t-CO2" in body

    async def test_per_year_counts_show_the_running_total(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, CREATOR_LAB, 2021, 300)
        await record(kpi_client, service_headers, CREATOR_LAB, 2022, 250)
        body = text_of((await page(kpi_client, f"/dashboard/kpis/{CREATOR_LAB}")).text)
        assert "知事戦略部デジタルトランスフォーメーション戦略課" in body
        assert "2022年度 550人 250人" in body  # running total, then the year's own count
        assert "状況: ○ 順調" in body

    async def test_one_observation_explains_the_missing_projection(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, GHG, 2021, 14343)
        body = text_of((await page(kpi_client, f"/dashboard/kpis/{GHG}")).text)
        assert "見込み値なし: 2年度以上の実績値が必要です。" in body

    async def test_unknown_indicator_is_404(self, kpi_client) -> None:
        r = await kpi_client.get("/dashboard/kpis/no-such-kpi")
        assert r.status_code == 404 and r.json()["type"] == "urn:gunma-sdgs:problem:indicator-not-found"

    async def test_notes_are_shown_and_escaped(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, GHG, 2021, 14343, source="<b>環境白書</b>", note="速報値")
        html = (await page(kpi_client, f"/dashboard/kpis/{GHG}")).text
        assert "&lt;b&gt;環境白書&lt;/b&gt;" in html and "<b>環境白書</b>" not in html
        assert "速報値" in html


class TestWorkbook:
    async def test_xlsx_holds_the_page_facts(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, CREATOR_LAB, 2021, 300)
        await record(kpi_client, service_headers, CREATOR_LAB, 2022, 250, note="=HYPERLINK(1)")
        r = await kpi_client.get(f"/dashboard/kpis/{CREATOR_LAB}.xlsx?lang=en")
        assert r.status_code == 200
        assert (
            r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        book = load_workbook(io.BytesIO(r.content))
        assert book.sheetnames == ["Indicator", "Data", "Targets"]
        meta = {row[0]: row[1] for row in book["Indicator"].iter_rows(values_only=True)}
        assert meta["Unit"] == "people" and meta["Status"] == "On track"
        assert meta["Responsible department"] == "知事戦略部デジタルトランスフォーメーション戦略課"
        data = list(book["Data"].iter_rows(values_only=True))
        assert data[0] == (
            "Fiscal year",
            "Breakdowns",
            "Observed",
            "Reported for the year",
            "Expected (straight line)",
            "Target value",
        )
        assert data[1][:4] == (2020, None, None, None)  # the implied baseline year
        assert data[2][:4] == (2021, None, 300, "300 people")
        assert data[3][:4] == (2022, None, 550, "250 people")
        assert data[4][0] == 2023 and data[4][5] == 750
        targets = list(book["Targets"].iter_rows(values_only=True))
        assert targets[1][1:4] == (2023, "750 people", "On track")


class TestChartAndColours:
    def test_text_on_sdg_colours_meets_aa_where_it_can(self) -> None:
        for number, colour in SDG_COLOURS.items():
            ink = text_on(colour)
            # Large bold numbers (>= 24px bold) need 3:1 (WCAG 1.4.3); every goal colour reaches it.
            assert contrast(ink, colour) >= 3.0, (number, colour, ink)

    def test_chart_escapes_text_and_draws_every_mark(self) -> None:
        svg = render_chart(
            Series(
                observations=[Point(2021, Decimal(5)), Point(2022, Decimal(12))],
                baseline=Point(2020, Decimal(0)),
                baseline_implied=True,
                targets=[Point(2025, Decimal(31))],
                projection=Point(2025, Decimal(33)),
                labels={"target": "<T>", "x_axis": "FY", "empty": ""},
            ),
            title="a <title>",
            description="d & e",
            chart_id="c",
        )
        assert '<title id="c-t">a &lt;title&gt;</title>' in svg and "d &amp; e" in svg
        assert "&lt;T&gt; 31" in svg
        assert 'class="baseline"' in svg and 'fill="#ffffff"' in svg  # implied: hollow
        assert svg.count("<circle") == 3  # two observations, one projection

    def test_empty_series_says_so(self) -> None:
        svg = render_chart(
            Series(
                observations=[],
                baseline=None,
                baseline_implied=False,
                targets=[],
                labels={"empty": "No data"},
            ),
            title="t",
            description="d",
            chart_id="c",
        )
        assert "No data" in svg
