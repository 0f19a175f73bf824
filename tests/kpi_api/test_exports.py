"""Exports: Open SDG data CSV (per indicator and all) and JSON."""

from __future__ import annotations

from tests.kpi_api.conftest import assert_problem, post_observation


async def seed_values(client, headers) -> None:
    for year, value in ((2021, "9123456789012"), (2020, "9000000000000")):
        assert (
            await post_observation(client, headers, "gross-prefectural-product", year, value)
        ).status_code == 201
    for key, value in (("female", "75.90"), ("male", "72.070")):
        r = await post_observation(client, headers, "healthy-life-expectancy", 2022, value, breakdown=key)
        assert r.status_code == 201
    await post_observation(
        client, headers, "healthy-life-expectancy", 2022, "72.5", breakdown="male", correction=True
    )


class TestOpenSdgCsv:
    async def test_indicator_without_breakdowns(self, kpi_client, service_headers) -> None:
        await seed_values(kpi_client, service_headers)
        r = await kpi_client.get("/v1/exports/open-sdg/gross-prefectural-product.csv")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert (
            r.headers["content-disposition"]
            == 'attachment; filename="gross-prefectural-product-open-sdg.csv"'
        )
        assert r.text == "Year,Units,Value\n2020,円,9000000000000\n2021,円,9123456789012\n"

    async def test_indicator_with_breakdowns_uses_current_revisions(
        self, kpi_client, service_headers
    ) -> None:
        await seed_values(kpi_client, service_headers)
        ja = await kpi_client.get("/v1/exports/open-sdg/healthy-life-expectancy.csv")
        assert ja.text == "Year,Breakdown,Units,Value\n2022,男性,年,72.5\n2022,女性,年,75.9\n"
        en = await kpi_client.get(
            "/v1/exports/open-sdg/healthy-life-expectancy.csv", headers={"accept-language": "en"}
        )
        assert en.text == "Year,Breakdown,Units,Value\n2022,Male,years,72.5\n2022,Female,years,75.9\n"

    async def test_indicator_without_data_is_just_the_header(self, kpi_client) -> None:
        r = await kpi_client.get("/v1/exports/open-sdg/renewable-energy-installed.csv")
        assert r.text == "Year,Units,Value\n"

    async def test_all_indicators(self, kpi_client, service_headers) -> None:
        await seed_values(kpi_client, service_headers)
        r = await kpi_client.get("/v1/exports/open-sdg.csv")
        assert r.text == (
            "Year,Indicator,Breakdown,Units,Value\n"
            "2020,gross-prefectural-product,,円,9000000000000\n"
            "2021,gross-prefectural-product,,円,9123456789012\n"
            "2022,healthy-life-expectancy,男性,年,72.5\n"
            "2022,healthy-life-expectancy,女性,年,75.9\n"
        )

    async def test_csv_is_cacheable(self, kpi_client) -> None:
        first = await kpi_client.get("/v1/exports/open-sdg.csv")
        again = await kpi_client.get(
            "/v1/exports/open-sdg.csv", headers={"if-none-match": first.headers["etag"]}
        )
        assert again.status_code == 304

    async def test_unknown_indicator_is_404(self, kpi_client) -> None:
        assert_problem(await kpi_client.get("/v1/exports/open-sdg/nope.csv"), 404, "indicator-not-found")
        assert_problem(await kpi_client.get("/v1/exports/kpis/nope.json"), 404, "indicator-not-found")


class TestJson:
    async def test_whole_registry(self, kpi_client, service_headers) -> None:
        await seed_values(kpi_client, service_headers)
        r = await kpi_client.get("/v1/exports/kpis.json")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["format"] == "gunma-sdgs-kpi-registry/1"
        assert len(body["indicators"]) == 32
        gdp = body["indicators"][0]
        assert gdp["id"] == "gross-prefectural-product"
        assert gdp["observations"] == [
            {"fiscal_year": 2020, "breakdown": None, "value": 9000000000000, "revision": 1},
            {"fiscal_year": 2021, "breakdown": None, "value": 9123456789012, "revision": 1},
        ]
        # (9123456789012 − 8970400000000) / 529600000000 = 0.289 < 0.95 × 2/6
        assert gdp["progress_detail"]["status"] == gdp["status"] == "behind"
        assert gdp["progress_detail"]["targets"][0]["anticipated_value"] is not None
        assert '"value":8970400000000' in r.text

    async def test_one_indicator(self, kpi_client, service_headers) -> None:
        await seed_values(kpi_client, service_headers)
        body = (await kpi_client.get("/v1/exports/kpis/healthy-life-expectancy.json")).json()
        [life] = body["indicators"]
        assert [(o["breakdown"], o["value"], o["revision"]) for o in life["observations"]] == [
            ("male", 72.5, 2),
            ("female", 75.9, 1),
        ]
        # 男性 (72.5 − 72.07) / 1.13 = 0.381, 女性 (75.9 − 75.2) / 1.1 = 0.636, against 0.95 × 6/9 = 0.633.
        assert [b["status"] for b in life["progress_detail"]["breakdowns"]] == ["behind", "on_track"]
