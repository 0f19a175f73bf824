"""KPI semantics found wrong when the registry was tried as a dashboard team would (issue 19).

Each class proves what a person reading the figures would expect: English units, display labels,
cumulative counts reported per year by NETSUGEN, projections on small counts, the status of an
indicator with breakdowns, a cumulative value going down, headline totals in the Open SDG export,
and the responsible department (所管).
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text

from services.kpi_api.core.vocab import UNIT_LABELS_EN
from services.kpi_api.indicators.seed import SEED_DIR
from services.netsugen_booking.settings import NetsugenSettings
from tests.conftest import settings_overrides
from tests.kpi_api.conftest import assert_problem, post_observation
from tests.kpi_api.test_progress_api import progress, record
from tests.netsugen_booking.conftest import clock, jst  # noqa: F401  (the clock fixture)
from tests.netsugen_booking.test_kpi_reporting import ServerThread, closed_event, free_port

CREATOR_LAB = "creator-laboratory-participants"
FIVE_G = "5g-technology-support-cases"  # 累計, no baseline; 10 by FY2023, 31 by FY2025


async def all_indicators(client: Any, lang: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/kpis?limit=500", headers={"accept-language": lang})
    assert r.status_code == 200
    items: list[dict[str, Any]] = r.json()["items"]
    return items


class TestEnglishUnits:
    async def test_every_seeded_unit_has_an_english_label(self, kpi_client) -> None:
        en = await all_indicators(kpi_client, "en")
        assert len(en) == 32
        for item in en:
            assert item["unit"] in UNIT_LABELS_EN, item["unit"]
            assert item["unit_label"] == UNIT_LABELS_EN[item["unit"]]
            assert not any("\u3040" <= ch <= "\u9fff" for ch in item["unit_label"]), item["unit_label"]
        by_id = {i["id"]: i for i in en}
        assert by_id["healthy-life-expectancy"]["unit_label"] == "years"
        assert by_id["5g-technology-support-cases"]["unit_label"] == "cases"
        assert by_id["renewable-energy-installed"]["unit_label"] == "thousand kWh/year"

    async def test_japanese_keeps_the_plan_unit(self, kpi_client) -> None:
        ja = {i["id"]: i for i in await all_indicators(kpi_client, "ja")}
        assert (ja["healthy-life-expectancy"]["unit"], ja["healthy-life-expectancy"]["unit_label"]) == (
            "年",
            "年",
        )

    async def test_english_progress_and_csv_use_english_units(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        body = await progress(kpi_client, FIVE_G, **{"accept-language": "en"})
        assert (body["unit"], body["unit_label"]) == ("件", "cases")
        r = await kpi_client.get(f"/v1/exports/open-sdg/{FIVE_G}.csv", headers={"accept-language": "en"})
        assert r.text == "Year,Units,Value\n2021,cases,5\n"
        by_query = await kpi_client.get(f"/v1/exports/open-sdg/{FIVE_G}.csv?lang=en")
        assert by_query.text == r.text and by_query.headers["content-language"] == "en"
        exported = await kpi_client.get(f"/v1/exports/kpis/{FIVE_G}.json?lang=en")
        assert exported.json()["indicators"][0]["unit_label"] == "cases"


class TestLabels:
    async def test_status_and_section_labels_in_both_languages(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        ja = {i["id"]: i for i in await all_indicators(kpi_client, "ja")}
        en = {i["id"]: i for i in await all_indicators(kpi_client, "en")}
        assert (ja[FIVE_G]["status"], ja[FIVE_G]["status_label"], en[FIVE_G]["status_label"]) == (
            "behind",
            "遅れ",
            "Behind",
        )
        assert ja["gross-prefectural-product"]["status_label"] == "データなし"
        assert en["gross-prefectural-product"]["status_label"] == "No data"
        assert ja["gross-prefectural-product"]["section_labels"] == [
            {"section": "1.1(3)", "label": "2030年のあるべき姿の実現に向けた優先的なゴール、ターゲット"}
        ]
        assert en["gross-prefectural-product"]["section_labels"] == [
            {"section": "1.1(3)", "label": "Priority goals and targets towards the 2030 vision"}
        ]

    async def test_rollups_name_sections_and_statuses(self, kpi_client) -> None:
        ja = (await kpi_client.get("/v1/rollups")).json()
        en = (await kpi_client.get("/v1/rollups", headers={"accept-language": "en"})).json()
        sections = {s["key"]: s["name"] for s in ja["by_section"]}
        assert sections["1.2(1)"] == "自治体SDGsの推進に資する取組"
        assert sections["2(3)-2"] == "三側面をつなぐ統合的取組による相乗効果等(新たに創出される価値)"
        assert {s["key"]: s["name"] for s in en["by_section"]}["2(2)①"] == "Flagship initiatives: economy"
        assert ja["status_labels"]["on_track"] == "順調" and en["status_labels"]["on_track"] == "On track"


class TestCumulativeFedPerYear:
    """クリエイターラボラトリー参加者数(累計): 750 by FY2023, reported by NETSUGEN as each year's count."""

    async def test_yearly_counts_add_up_to_the_running_total(self, kpi_client, service_headers) -> None:
        # 300 people in FY2021 and 250 in FY2022: 550 since the plan started. The straight line from
        # 0 (FY2020) to 750 (FY2023) expects 500 by FY2022, so the programme is on track. Read as a
        # running total, 250 would have been "behind" (the complaint).
        await record(kpi_client, service_headers, CREATOR_LAB, 2021, 300)
        await record(kpi_client, service_headers, CREATOR_LAB, 2022, 250)
        body = await progress(kpi_client, CREATOR_LAB)
        assert body["observation_basis"] == "fiscal_year_count"
        [target] = body["targets"]
        assert target["latest"] == {"fiscal_year": 2022, "value": 550}
        assert target["expected_value"] == 500
        assert target["achievement_rate"] == round(550 / 750, 6)
        assert (target["status"], body["status"]) == ("on_track", "on_track")
        observations = (await kpi_client.get(f"/v1/kpis/{CREATOR_LAB}/observations")).json()["items"]
        assert [(o["fiscal_year"], o["value"]) for o in observations] == [(2021, 300), (2022, 250)]
        csv_text = (await kpi_client.get(f"/v1/exports/open-sdg/{CREATOR_LAB}.csv")).text
        assert csv_text == "Year,Units,Value\n2021,人,300\n2022,人,550\n"  # the running total

    async def test_a_negative_yearly_count_is_refused(self, kpi_client, service_headers) -> None:
        r = await post_observation(kpi_client, service_headers, CREATOR_LAB, 2022, -3)
        assert_problem(r, 422, "negative-count")

    async def test_netsugen_events_reach_the_running_total(
        self,
        netsugen_client,
        kpi_client,
        kpi_app,
        staff_headers,
        service_headers,
        make_token,
        clock,  # noqa: F811
        sessionmaker,
        stack,
    ) -> None:
        """The real sender (NETSUGEN kpi_reporting) against the real registry over HTTP."""
        from services.kpi_api.main import create_app
        from services.kpi_api.settings import KpiSettings
        from services.netsugen_booking.kpi_reporting.service import send_due

        await record(kpi_client, service_headers, CREATOR_LAB, 2025, 40)  # last fiscal year's report
        port = free_port()
        token = await make_token("service", name="netsugen_booking")
        settings = NetsugenSettings(
            **settings_overrides(stack),
            kpi_api_url=f"http://127.0.0.1:{port}",
            service_token=SecretStr(token),
        )
        with ServerThread(create_app(KpiSettings(**settings_overrides(stack))), port, lifespan="on"):
            await closed_event(
                netsugen_client, staff_headers, clock, category="creator_lab", day=10, attendees=2
            )
            await send_due(sessionmaker, settings, now=jst(2026, 12, 31))
            await closed_event(
                netsugen_client, staff_headers, clock, category="creator_lab", day=11, attendees=3
            )
            await send_due(sessionmaker, settings, now=jst(2026, 12, 31))
        body = await progress(kpi_client, CREATOR_LAB)
        [target] = body["targets"]
        # FY2026 holds the year's own 5 (2 + 3); the running total is 40 + 5 = 45 people since FY2021.
        assert target["latest"] == {"fiscal_year": 2026, "value": 45}
        assert target["achievement_rate"] == 0.06  # 45 / 750: the FY2023 target is past and not met
        assert target["status"] == "behind"


class TestProjectionOnSmallCounts:
    async def test_a_small_cumulative_count_is_projected_linearly(self, kpi_client, service_headers) -> None:
        # 5 support cases in FY2021, 12 by FY2022. Compound growth would say 165.9 by FY2025
        # against a target of 31; the running total's line (7 a year) says 33.
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        await record(kpi_client, service_headers, FIVE_G, 2022, 12)
        body = await progress(kpi_client, FIVE_G, **{"accept-language": "en"})
        by_year = {t["fiscal_year"]: t for t in body["targets"]}
        assert by_year[2025]["anticipated_value"] == 33
        assert by_year[2025]["anticipated_fit"] == "linear"
        assert by_year[2023]["anticipated_value"] == 19  # 12 + 7
        assert "linear trend" in by_year[2025]["explanation"]

    async def test_one_observation_says_why_no_projection(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        body = await progress(kpi_client, FIVE_G)
        assert {t["projection_unavailable"] for t in body["targets"]} == {"too_few_observations"}
        assert {t["anticipated_value"] for t in body["targets"]} == {None}


class TestCumulativeGoingDown:
    async def test_a_lower_running_total_is_refused_without_a_reason(
        self, kpi_client, service_headers
    ) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        r = await post_observation(kpi_client, service_headers, FIVE_G, 2022, 4)
        body = assert_problem(r, 409, "cumulative-decrease")
        assert (body["other_fiscal_year"], body["other_value"]) == (2021, 5)
        # A correction flag alone is not enough: the reason must be recorded.
        r = await post_observation(kpi_client, service_headers, FIVE_G, 2022, 4, correction=True)
        assert_problem(r, 409, "cumulative-decrease")
        r = await post_observation(
            kpi_client,
            service_headers,
            FIVE_G,
            2022,
            4,
            correction=True,
            note="FY2021 double-counted one case",
        )
        assert r.status_code == 201, r.text
        assert r.json()["observation"]["revisions"][0]["note"] == "FY2021 double-counted one case"

    async def test_an_earlier_year_above_a_later_one_is_refused(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, FIVE_G, 2023, 10)
        r = await post_observation(kpi_client, service_headers, FIVE_G, 2022, 12)
        assert_problem(r, 409, "cumulative-decrease")
        await record(kpi_client, service_headers, FIVE_G, 2022, 9)  # consistent: accepted

    async def test_a_non_cumulative_indicator_may_go_down(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, "ghg-emissions", 2020, 15000)
        await record(kpi_client, service_headers, "ghg-emissions", 2021, 14000)

    async def test_csv_import_applies_the_same_rule(self, kpi_client, service_headers) -> None:
        data = f"indicator_id,fiscal_year,value\n{FIVE_G},2021,5\n{FIVE_G},2022,4\n"
        r = await kpi_client.post(
            "/v1/imports/observations",
            content=data.encode(),
            headers={**service_headers, "content-type": "text/csv"},
        )
        body = assert_problem(r, 422, "csv-invalid")
        assert [(e["line"], e["code"]) for e in body["errors"]] == [(3, "cumulative_decrease")]
        ok = (
            "indicator_id,fiscal_year,value,note,correction\n"
            f"{FIVE_G},2021,5,,\n"
            f"{FIVE_G},2022,4,revised: one case was withdrawn,true\n"
        )
        r = await kpi_client.post(
            "/v1/imports/observations",
            content=ok.encode(),
            headers={**service_headers, "content-type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 2


class TestHeadlineTotals:
    async def _create(self, client: Any, headers: dict[str, str], *, headline: bool) -> None:
        r = await client.post(
            "/v1/kpis",
            json={
                "id": "visitors-by-gender",
                "name_ja": "来訪者数",
                "name_en": "Visitors",
                "unit": "人",
                "aspect": "society",
                "direction": "increase",
                "cumulative": False,
                "headline_total": headline,
                "sections": ["1.2(1)"],
                "breakdowns": [
                    {"key": "male", "name_ja": "男性", "name_en": "Male"},
                    {"key": "female", "name_ja": "女性", "name_en": "Female"},
                ],
                "baselines": [{"fiscal_year": 2020, "value": 100}] if headline else [],
                "targets": [{"fiscal_year": 2025, "comparator": "eq", "value": 200, "sections": ["1.2(1)"]}]
                if headline
                else [],
            },
            headers=headers,
        )
        assert r.status_code == 201, r.text

    async def test_a_stated_total_is_the_headline_row(
        self, restore_registry, kpi_client, admin_headers, service_headers
    ) -> None:
        await self._create(kpi_client, admin_headers, headline=True)
        await record(kpi_client, service_headers, "visitors-by-gender", 2022, 150)
        await record(kpi_client, service_headers, "visitors-by-gender", 2022, 70, breakdown="male")
        await record(kpi_client, service_headers, "visitors-by-gender", 2022, 80, breakdown="female")
        r = await kpi_client.get("/v1/exports/open-sdg/visitors-by-gender.csv")
        assert r.text == "Year,Breakdown,Units,Value\n2022,,人,150\n2022,男性,人,70\n2022,女性,人,80\n"
        body = await progress(kpi_client, "visitors-by-gender")
        [total] = body["targets"]
        assert (total["breakdown"], total["status"]) == (None, "on_track")  # 50 of 100 by 2/5 of the way
        # The breakdowns have no targets: no_data each, so the indicator is no better than no_data.
        assert [b["status"] for b in body["breakdowns"]] == ["no_data", "no_data"]
        assert body["status"] == "no_data"

    async def test_without_a_stated_total_a_value_needs_a_breakdown(
        self, restore_registry, kpi_client, admin_headers, service_headers
    ) -> None:
        await self._create(kpi_client, admin_headers, headline=False)
        r = await post_observation(kpi_client, service_headers, "visitors-by-gender", 2022, 150)
        assert_problem(r, 422, "unknown-breakdown")

    async def test_zip_holds_one_standard_file_per_indicator(self, kpi_client, service_headers) -> None:
        await record(kpi_client, service_headers, "healthy-life-expectancy", 2022, "72.5", breakdown="male")
        await record(kpi_client, service_headers, FIVE_G, 2021, 5)
        r = await kpi_client.get("/v1/exports/open-sdg.zip", headers={"accept-language": "en"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(r.content))
        names = archive.namelist()
        assert len(names) == 32 and f"indicator_{FIVE_G}.csv" in names
        for name in names:
            header = next(csv.reader(io.StringIO(archive.read(name).decode())))
            assert header in (["Year", "Units", "Value"], ["Year", "Breakdown", "Units", "Value"]), name
            assert "Indicator" not in header
        assert archive.read("indicator_healthy-life-expectancy.csv").decode() == (
            "Year,Breakdown,Units,Value\n2022,Male,years,72.5\n"
        )
        single = await kpi_client.get(f"/v1/exports/open-sdg/{FIVE_G}.csv", headers={"accept-language": "en"})
        assert archive.read(f"indicator_{FIVE_G}.csv") == single.content


class TestOwner:
    async def test_the_plan_states_netsugen_s_department(self, kpi_client) -> None:
        by_id = {i["id"]: i for i in await all_indicators(kpi_client, "ja")}
        owned = {i: v["owner"] for i, v in by_id.items() if v["owner"]}
        assert owned == {
            "startup-supported-entrepreneurs": "知事戦略部デジタルトランスフォーメーション戦略課",
            CREATOR_LAB: "知事戦略部デジタルトランスフォーメーション戦略課",
        }
        assert (SEED_DIR / "kpis.yaml").read_text(encoding="utf-8").count("owner: 知事戦略部") == 2

    async def test_admins_edit_it_and_others_cannot(
        self, restore_registry, kpi_client, admin_headers, staff_headers, engine
    ) -> None:
        r = await kpi_client.patch(
            "/v1/kpis/ghg-emissions", json={"owner": "環境森林部"}, headers=staff_headers
        )
        assert_problem(r, 403)
        r = await kpi_client.patch(
            "/v1/kpis/ghg-emissions", json={"owner": "環境森林部"}, headers=admin_headers
        )
        assert r.status_code == 200 and r.json()["owner"] == "環境森林部"
        async with engine.connect() as conn:
            stored = (
                await conn.execute(text("SELECT owner FROM kpi.indicator WHERE id = 'ghg-emissions'"))
            ).scalar()
        assert stored == "環境森林部"


class TestUpgrade:
    async def test_the_seed_recomputes_progress_stored_by_the_old_rules(
        self, kpi_client, service_headers, engine, sessionmaker
    ) -> None:
        from services.kpi_api.seeder import run_seed
        from shared.db import session_scope

        await record(kpi_client, service_headers, "healthy-life-expectancy", 2022, "73.3", breakdown="male")
        # As stored before this change: the old projection method, no status rule, and the old
        # roll-up's answer (male achieved, female without data → "achieved").
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE kpi.indicator_progress SET status = 'achieved', doc = (doc - 'status_rule') "
                    '|| \'{"anticipated_method": "unsd_cagr_v1"}\'::jsonb '
                    "WHERE indicator_id = 'healthy-life-expectancy'"
                )
            )
        async with session_scope(sessionmaker) as session:
            await run_seed(session, lambda *_: None)
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT status, doc->>'status_rule' AS rule, doc->>'anticipated_method' AS method "
                        "FROM kpi.indicator_progress WHERE indicator_id = 'healthy-life-expectancy'"
                    )
                )
            ).one()
        assert (row.status, row.rule, row.method) == ("no_data", "worst_breakdown", "unsd_v2")
