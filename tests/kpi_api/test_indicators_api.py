"""Public reads of indicators: pagination, filters, languages, ETag/304 and a constant number of queries."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from services.kpi_api.core.http import bump_version
from services.kpi_api.indicators.seed import SEED_DIR
from shared.db import session_scope
from tests.kpi_api.conftest import assert_problem, post_observation

INDICATORS: list[dict[str, Any]] = yaml.safe_load((SEED_DIR / "kpis.yaml").read_text(encoding="utf-8"))[
    "indicators"
]
ALL_IDS = [i["id"] for i in INDICATORS]


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def expected(predicate: Any) -> list[str]:
    return [i["id"] for i in INDICATORS if predicate(i)]


class TestPagination:
    async def test_default_page_holds_every_indicator(self, kpi_client) -> None:
        body = (await kpi_client.get("/v1/kpis")).json()
        assert [i["id"] for i in body["items"]] == ALL_IDS and body["next_cursor"] is None

    async def test_walking_pages_of_five_visits_each_indicator_once(self, kpi_client) -> None:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            body = (await kpi_client.get("/v1/kpis", params=params)).json()
            seen += [i["id"] for i in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == ALL_IDS and pages == 7

    async def test_cursor_combines_with_filters(self, kpi_client) -> None:
        first = (await kpi_client.get("/v1/kpis", params={"aspect": "society", "limit": 10})).json()
        rest = (
            await kpi_client.get(
                "/v1/kpis", params={"aspect": "society", "limit": 10, "cursor": first["next_cursor"]}
            )
        ).json()
        assert [i["id"] for i in first["items"] + rest["items"]] == expected(
            lambda i: i["aspect"] == "society"
        )
        assert rest["next_cursor"] is None

    @pytest.mark.parametrize("params", [{"limit": 501}, {"limit": 0}, {"limit": "x"}])
    async def test_bad_limit_is_422(self, kpi_client, params) -> None:
        assert_problem(await kpi_client.get("/v1/kpis", params=params), 422, "validation-error")

    @pytest.mark.parametrize("cursor", ["nonsense!!", "WzFd", "eyJhIjoxfQ"])
    async def test_forged_cursor_is_422(self, kpi_client, cursor) -> None:
        assert_problem(await kpi_client.get("/v1/kpis", params={"cursor": cursor}), 422, "invalid-cursor")


class TestFilters:
    async def test_by_sdg_goal(self, kpi_client) -> None:
        got = ids(await kpi_client.get("/v1/kpis", params={"sdg_goal": 13}))
        assert got == [
            "renewable-energy-installed",
            "flood-risk-reduced-houses",
            "zero-declaration-housing-group-agreements",
            "ghg-emissions",
        ]

    async def test_by_lettered_sdg_target(self, kpi_client) -> None:
        got = ids(await kpi_client.get("/v1/kpis", params={"sdg_target": "4.a"}))
        assert got == [
            "students-self-directed-problem-solving",
            "ict-literacy-students-ratio",
            "self-paced-learning-students-ratio",
        ]
        assert ids(await kpi_client.get("/v1/kpis", params={"sdg_target": "17.17"})) == [
            "regional-vision-co-creation-cases",
            "business-community-school-collaborations",
        ]

    async def test_by_aspect_and_section(self, kpi_client) -> None:
        assert ids(await kpi_client.get("/v1/kpis", params={"aspect": "environment"})) == expected(
            lambda i: i["aspect"] == "environment"
        )
        synergy = ids(await kpi_client.get("/v1/kpis", params={"section": "2(3)-2"}))
        assert synergy == expected(lambda i: "2(3)-2" in i["sections"])
        assert "per-capita-wage" in synergy and "ghg-emissions" in synergy

    async def test_filters_combine(self, kpi_client) -> None:
        got = ids(await kpi_client.get("/v1/kpis", params={"aspect": "economy", "sdg_target": "8.9"}))
        assert got == [
            "gross-prefectural-product",
            "per-capita-prefectural-income",
            "per-capita-wage",
            "5g-technology-support-cases",
            "tourism-spend-per-overnight-guest",
        ]

    @pytest.mark.parametrize(
        ("q", "found"),
        [
            ("賃金", ["per-capita-wage"]),
            ("wage", ["per-capita-wage"]),
            ("ＩＣＴ", ["ict-literacy-students-ratio"]),  # full-width finds half-width
            ("（累計）", expected(lambda i: "(累計)" in i["name_ja"])),
            ("100%", []),  # LIKE wildcards are literal
            ("ghg-emi", ["ghg-emissions"]),
        ],
    )
    async def test_name_search(self, kpi_client, q, found) -> None:
        assert ids(await kpi_client.get("/v1/kpis", params={"q": q})) == found

    async def test_by_status(self, kpi_client, service_headers) -> None:
        assert (
            await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        ).status_code == 201
        assert ids(await kpi_client.get("/v1/kpis", params={"status": "on_track"})) == ["ghg-emissions"]
        assert len(ids(await kpi_client.get("/v1/kpis", params={"status": "no_data"}))) == 31
        assert ids(await kpi_client.get("/v1/kpis", params={"status": "achieved"})) == []

    @pytest.mark.parametrize(
        "params",
        [
            {"sdg_goal": 18},
            {"sdg_goal": 0},
            {"sdg_target": "99.1"},
            {"sdg_target": "8"},
            {"aspect": "culture"},
            {"status": "great"},
            {"section": "9(9)"},
            {"q": ""},
            {"q": "x" * 101},
        ],
    )
    async def test_bad_filters_are_422(self, kpi_client, params) -> None:
        assert_problem(await kpi_client.get("/v1/kpis", params=params), 422, "validation-error")

    async def test_well_formed_but_unknown_sdg_target_is_422(self, kpi_client) -> None:
        body = assert_problem(
            await kpi_client.get("/v1/kpis", params={"sdg_target": "1.9"}), 422, "unknown-sdg-target"
        )
        assert "1.9" in body["detail"]


class TestLanguages:
    async def test_japanese_by_default_english_on_request(self, kpi_client) -> None:
        ja = await kpi_client.get("/v1/kpis/healthy-life-expectancy")
        en = await kpi_client.get(
            "/v1/kpis/healthy-life-expectancy", headers={"accept-language": "en-GB,en;q=0.9"}
        )
        assert (ja.json()["name"], en.json()["name"]) == ("健康寿命", "Healthy life expectancy")
        assert [b["name"] for b in ja.json()["breakdowns"]] == ["男性", "女性"]
        assert [b["name"] for b in en.json()["breakdowns"]] == ["Male", "Female"]
        assert (ja.headers["content-language"], en.headers["content-language"]) == ("ja", "en")
        assert ja.headers["vary"] == "Accept-Language"
        assert ja.headers["etag"] != en.headers["etag"]

    async def test_errors_follow_accept_language(self, kpi_client) -> None:
        ja = assert_problem(await kpi_client.get("/v1/kpis/no-such-kpi"), 404, "indicator-not-found")
        en = assert_problem(
            await kpi_client.get("/v1/kpis/no-such-kpi", headers={"accept-language": "en"}),
            404,
            "indicator-not-found",
        )
        assert ja["detail"] == "指標 'no-such-kpi' は存在しません。"
        assert en["detail"] == "No indicator with id 'no-such-kpi'."


class TestDetail:
    async def test_detail_adds_links_initiatives_and_counts(self, kpi_client, service_headers) -> None:
        # 4,480,000 in FY2021: (4480000 − 4316000) / (4500000 − 4316000) = 0.891 ≥ 0.95 × 2/4 for FY2023 and
        # 164000 / 484000 = 0.339 ≥ 0.95 × 2/6 = 0.317 for FY2025.
        await post_observation(kpi_client, service_headers, "per-capita-wage", 2021, 4480000)
        item = (await kpi_client.get("/v1/kpis/per-capita-wage")).json()
        assert item["observation_count"] == 1 and item["latest_fiscal_year"] == 2021
        assert [i["id"] for i in item["initiatives"]] == ["public-private-co-creation-platform"]
        assert [link["code"] for link in item["sdg_links"]] == ["8.1", "8.2", "8.5", "8.9"]
        assert [(p["fiscal_year"], p["status"]) for p in item["progress"]] == [
            (2023, "on_track"),
            (2025, "on_track"),
        ]

    async def test_unknown_indicator_is_404(self, kpi_client) -> None:
        for path in (
            "/v1/kpis/nope",
            "/v1/kpis/nope/progress",
            "/v1/kpis/nope/observations",
            "/v1/kpis/nope/targets",
            "/v1/kpis/Not%20A%20Slug",
            "/v1/kpis/" + "x" * 300,
            "/v1/exports/open-sdg/nope.csv",
        ):
            assert_problem(await kpi_client.get(path), 404, "indicator-not-found")


class TestConditionalGet:
    async def test_etag_and_304(self, kpi_client) -> None:
        first = await kpi_client.get("/v1/kpis?limit=500")
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
        again = await kpi_client.get("/v1/kpis?limit=500")
        assert again.headers["etag"] == etag and again.content == first.content
        cached = await kpi_client.get("/v1/kpis?limit=500", headers={"if-none-match": etag})
        assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
        for header in (f'"other", {etag}', f"W/{etag}", "*"):
            assert (
                await kpi_client.get("/v1/kpis?limit=500", headers={"if-none-match": header})
            ).status_code == 304
        stale = await kpi_client.get("/v1/kpis?limit=500", headers={"if-none-match": '"something-else"'})
        assert stale.status_code == 200

    async def test_etag_depends_on_query_but_not_parameter_order(self, kpi_client) -> None:
        a = await kpi_client.get("/v1/kpis?aspect=economy&limit=5")
        b = await kpi_client.get("/v1/kpis?limit=5&aspect=economy")
        c = await kpi_client.get("/v1/kpis?limit=6&aspect=economy")
        assert a.headers["etag"] == b.headers["etag"] != c.headers["etag"]

    async def test_a_write_changes_every_etag(self, kpi_client, service_headers) -> None:
        paths = [
            "/v1/kpis",
            "/v1/kpis/ghg-emissions",
            "/v1/kpis/ghg-emissions/progress",
            "/v1/rollups",
            "/v1/kpis/ghg-emissions/observations",
            "/v1/exports/open-sdg.csv",
        ]
        before = {p: (await kpi_client.get(p)).headers["etag"] for p in paths}
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        for path in paths:
            response = await kpi_client.get(path, headers={"if-none-match": before[path]})
            assert response.status_code == 200, path
            assert response.headers["etag"] != before[path]
        listed = {i["id"]: i for i in (await kpi_client.get("/v1/kpis")).json()["items"]}
        assert listed["ghg-emissions"]["status"] == "on_track"

    async def test_errors_have_no_etag(self, kpi_client) -> None:
        assert "etag" not in (await kpi_client.get("/v1/kpis/nope")).headers


async def settle(app) -> None:
    """Let the trigger's notification of the last write arrive before counting queries.

    The committing process invalidates its caches at once and again when its own notification
    arrives (a moment later): one extra version read, which would land in the next count.
    """
    await app.state.pg_watcher.barrier()


def forget_caches(app) -> None:
    """Drop a process's KPI caches (the response LRU, the version and the fast path's index)."""
    app.state.kpi_response_cache = None
    app.state.kpi_registry_state = None


class TestQueryCounts:
    async def test_list_of_500_is_a_constant_number_of_queries(
        self, kpi_client, kpi_app, count_queries, sessionmaker
    ) -> None:
        async with session_scope(sessionmaker) as session:
            await bump_version(session)  # as after `gunma seed`: the version row exists
        await settle(kpi_app)
        forget_caches(kpi_app)  # cold
        with count_queries() as cold:
            response = await kpi_client.get("/v1/kpis?limit=500")
        assert response.status_code == 200 and len(response.json()["items"]) == 32
        assert cold.count == 2, cold.statements  # registry version + one query for everything
        # Warm, and the 304 path: answered from memory while the LISTEN connection vouches for
        # the version (shared/pgnotify.py) — no SQL at all.
        with count_queries() as warm:
            again = await kpi_client.get("/v1/kpis?limit=500")
        assert again.status_code == 200 and again.content == response.content
        assert warm.count == 0, warm.statements
        with count_queries() as revalidated:
            r = await kpi_client.get(
                "/v1/kpis?limit=500", headers={"if-none-match": response.headers["etag"]}
            )
        assert r.status_code == 304 and revalidated.count == 0

    async def test_without_the_listener_every_read_asks_the_database(
        self, kpi_client, kpi_app, count_queries, sessionmaker
    ) -> None:
        async with session_scope(sessionmaker) as session:
            await bump_version(session)
        await settle(kpi_app)
        watcher = kpi_app.state.pg_watcher
        kpi_app.state.pg_watcher = None  # as while PostgreSQL's LISTEN connection is down
        try:
            first = await kpi_client.get("/v1/kpis?limit=500")
            with count_queries() as warm:
                again = await kpi_client.get("/v1/kpis?limit=500")
            assert again.content == first.content and warm.count == 1  # the version, every time
            with count_queries() as revalidated:
                r = await kpi_client.get(
                    "/v1/kpis?limit=500", headers={"if-none-match": first.headers["etag"]}
                )
            assert r.status_code == 304 and revalidated.count == 1
        finally:
            kpi_app.state.pg_watcher = watcher

    async def test_query_count_does_not_grow_with_data(
        self, kpi_client, kpi_app, service_headers, count_queries
    ) -> None:
        for fiscal_year, value in ((2020, 9000000000000), (2021, 9100000000000), (2022, 9200000000000)):
            await post_observation(
                kpi_client, service_headers, "gross-prefectural-product", fiscal_year, value
            )
        for key, life in (("male", 72.5), ("female", 75.5)):
            await post_observation(
                kpi_client, service_headers, "healthy-life-expectancy", 2022, life, breakdown=key
            )
        await settle(kpi_app)
        forget_caches(kpi_app)
        with count_queries() as counter:
            assert (await kpi_client.get("/v1/kpis?limit=500")).status_code == 200
        assert counter.count == 2

    async def test_progress_and_detail_are_two_queries(
        self, kpi_client, kpi_app, service_headers, count_queries
    ) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        await settle(kpi_app)
        forget_caches(kpi_app)
        with count_queries() as progress:
            assert (await kpi_client.get("/v1/kpis/ghg-emissions/progress")).status_code == 200
        with count_queries() as detail:
            assert (await kpi_client.get("/v1/kpis/ghg-emissions")).status_code == 200
        # The version is read once per change (then kept while the listener vouches for it).
        assert (progress.count, detail.count) == (2, 1)
