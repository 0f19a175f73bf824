"""Recording observations: revisions, 409 without correction, bad input, events, roles."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import BOOTSTRAP_TOKEN, bearer
from tests.kpi_api.conftest import assert_problem, outbox_events, post_observation, scalar


async def observation_rows(engine: AsyncEngine) -> tuple[int, int]:
    return (
        int(await scalar(engine, "SELECT count(*) FROM kpi.observation")),
        int(await scalar(engine, "SELECT count(*) FROM kpi.observation_revision")),
    )


class TestRecording:
    async def test_first_value_is_created(self, kpi_client, make_token, engine) -> None:
        headers = bearer(await make_token("service", name="statistics-import"))
        r = await post_observation(
            kpi_client, headers, "ghg-emissions", 2021, 13600, source="環境白書", note="速報値"
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["outcome"] == "created"
        assert (body["status"], body["previous_status"], body["status_changed"]) == (
            "on_track",
            "no_data",
            True,
        )
        obs = body["observation"]
        assert (obs["indicator_id"], obs["fiscal_year"], obs["breakdown"], obs["value"], obs["revision"]) == (
            "ghg-emissions",
            2021,
            None,
            13600,
            1,
        )
        [rev] = obs["revisions"]
        assert rev | {"recorded_at": None} == {
            "revision": 1,
            "value": 13600,
            "source": "環境白書",
            "note": "速報値",
            "correction": False,
            "recorded_by": "statistics-import",
            "recorded_by_role": "service",
            "recorded_at": None,
        }
        token_id = await scalar(
            engine, "SELECT id::text FROM auth.api_token WHERE name = 'statistics-import'"
        )
        assert (
            await scalar(engine, "SELECT recorded_by_token_id::text FROM kpi.observation_revision")
            == token_id
        )

    async def test_exact_decimals_round_trip(self, kpi_client, service_headers) -> None:
        r = await post_observation(
            kpi_client, service_headers, "healthy-life-expectancy", 2022, "72.070", breakdown="male"
        )
        assert r.status_code == 201
        assert '"value":72.07,' in r.text
        big = await post_observation(
            kpi_client, service_headers, "gross-prefectural-product", 2021, "9123456789012"
        )
        assert '"value":9123456789012,' in big.text

    async def test_second_different_value_is_409_and_writes_nothing(
        self, kpi_client, service_headers, engine
    ) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        events_before = await outbox_events(engine)
        r = await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13000)
        body = assert_problem(r, 409, "observation-exists")
        assert body["current_value"] == 13600 and body["current_revision"] == 1
        assert '"correction": true' in body["detail"]
        assert await observation_rows(engine) == (1, 1)
        assert await outbox_events(engine) == events_before

    async def test_correction_adds_a_revision_and_keeps_history(
        self, kpi_client, service_headers, admin_headers
    ) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600, note="速報値")
        r = await post_observation(
            kpi_client, admin_headers, "ghg-emissions", 2021, 16000, note="確報値", correction=True
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["outcome"] == "corrected"
        assert (body["previous_status"], body["status"]) == ("on_track", "regressing")
        assert (body["observation"]["value"], body["observation"]["revision"]) == (16000, 2)
        history = (await kpi_client.get("/v1/kpis/ghg-emissions/observations")).json()["items"]
        assert len(history) == 1
        assert [
            (rv["revision"], rv["value"], rv["note"], rv["correction"], rv["recorded_by_role"])
            for rv in history[0]["revisions"]
        ] == [
            (1, 13600, "速報値", False, "service"),
            (2, 16000, "確報値", True, "admin"),
        ]

    async def test_same_value_again_is_unchanged(self, kpi_client, service_headers, engine) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600, source="環境白書")
        events = await outbox_events(engine)
        for correction in (False, True):
            r = await post_observation(
                kpi_client,
                service_headers,
                "ghg-emissions",
                2021,
                "13600.0",
                source="環境白書",
                correction=correction,
            )
            assert r.status_code == 200 and r.json()["outcome"] == "unchanged"
            assert r.json()["status_changed"] is False and r.json()["status"] == "on_track"
        assert await observation_rows(engine) == (1, 1)
        assert await outbox_events(engine) == events

    async def test_correction_of_a_new_year_simply_creates_it(self, kpi_client, service_headers) -> None:
        r = await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600, correction=True)
        assert r.status_code == 201 and r.json()["outcome"] == "created"
        assert r.json()["observation"]["revisions"][0]["correction"] is False

    async def test_each_breakdown_has_its_own_years(self, kpi_client, service_headers) -> None:
        for key, value in (("male", 72.5), ("female", 75.9)):
            r = await post_observation(
                kpi_client, service_headers, "healthy-life-expectancy", 2022, value, breakdown=key
            )
            assert r.status_code == 201, r.text
        items = (await kpi_client.get("/v1/kpis/healthy-life-expectancy/observations")).json()["items"]
        assert [(i["breakdown"], i["value"]) for i in items] == [("female", 75.9), ("male", 72.5)]
        only_male = (
            await kpi_client.get(
                "/v1/kpis/healthy-life-expectancy/observations", params={"breakdown": "male"}
            )
        ).json()["items"]
        assert [i["value"] for i in only_male] == [72.5]

    async def test_history_is_paginated(self, kpi_client, service_headers) -> None:
        for year in range(2015, 2023):
            await post_observation(kpi_client, service_headers, "in-migrants", year, 900 + year - 2015)
        first = (await kpi_client.get("/v1/kpis/in-migrants/observations", params={"limit": 5})).json()
        rest = (
            await kpi_client.get(
                "/v1/kpis/in-migrants/observations", params={"limit": 5, "cursor": first["next_cursor"]}
            )
        ).json()
        assert [i["fiscal_year"] for i in first["items"] + rest["items"]] == list(range(2015, 2023))
        assert rest["next_cursor"] is None
        one = (await kpi_client.get("/v1/kpis/in-migrants/observations", params={"fiscal_year": 2019})).json()
        assert [i["value"] for i in one["items"]] == [904]

    async def test_revisions_are_append_only_in_the_database(
        self, kpi_client, service_headers, engine
    ) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        for statement in (
            "UPDATE kpi.observation_revision SET value = 1",
            "DELETE FROM kpi.observation_revision",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))


class TestConcurrency:
    async def test_concurrent_writes_to_one_indicator_are_serialised(
        self, kpi_client, service_headers
    ) -> None:
        same_year = await asyncio.gather(
            *(
                post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13000 + n)
                for n in range(4)
            )
        )
        assert sorted(r.status_code for r in same_year) == [201, 409, 409, 409]
        years = await asyncio.gather(
            *(
                post_observation(kpi_client, service_headers, "ghg-emissions", 2022 + n, 13000)
                for n in range(4)
            )
        )
        assert [r.status_code for r in years] == [201] * 4
        progress = (await kpi_client.get("/v1/kpis/ghg-emissions/progress")).json()
        assert (progress["observation_count"], progress["latest_fiscal_year"]) == (5, 2025)


class TestEvents:
    async def test_every_observation_and_status_change_is_in_the_outbox(
        self, kpi_client, service_headers, engine
    ) -> None:
        first = (await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)).json()
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2022, 13000)  # still on track
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2023, 16000)  # regressing
        events = await outbox_events(engine)
        recorded = [p for t, p in events if t == "kpi.observation_recorded"]
        changed = [p for t, p in events if t == "kpi.status_changed"]
        assert [
            (p["data"]["indicator_id"], p["data"]["fiscal_year"], p["data"]["breakdown"]) for p in recorded
        ] == [
            ("ghg-emissions", 2021, None),
            ("ghg-emissions", 2022, None),
            ("ghg-emissions", 2023, None),
        ]
        assert recorded[0]["data"]["observation_id"] == first["observation"]["id"]
        assert all(p["source"] == "kpi_api" for p in recorded)
        assert [(p["data"]["previous_status"], p["data"]["status"]) for p in changed] == [
            ("no_data", "on_track"),
            ("on_track", "regressing"),
        ]
        assert len(events) == 5


BAD_BODIES = [
    ("ghg-emissions", {"fiscal_year": 1989, "value": 1}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2101, "value": 1}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": "2021年度", "value": 1}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021.5, "value": 1}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "abc"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "1,200"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": True}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": None}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "NaN"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "Infinity"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "-inf"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "1e400"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": "0.1234567"}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": 1, "unexpected": 1}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": 1, "source": "x" * 501}, "validation-error"),
    ("ghg-emissions", {"fiscal_year": 2021, "value": 1, "breakdown": "male"}, "unknown-breakdown"),
    ("healthy-life-expectancy", {"fiscal_year": 2021, "value": 72}, "unknown-breakdown"),
    (
        "healthy-life-expectancy",
        {"fiscal_year": 2021, "value": 72, "breakdown": "other"},
        "unknown-breakdown",
    ),
    (
        "healthy-life-expectancy",
        {"fiscal_year": 2021, "value": 72, "breakdown": "grade6"},
        "unknown-breakdown",
    ),
]
RAW_BODIES = [
    b'{"fiscal_year": 2021, "value": NaN}',
    b'{"fiscal_year": 2021, "value": Infinity}',
    b'{"fiscal_year": 2021, "value": -Infinity}',
    b'{"fiscal_year": 2021, "value": 1e999}',
    b"{not json",
    b"[]",
]


class TestBadInput:
    async def test_every_bad_body_is_422_and_writes_nothing(
        self, kpi_client, service_headers, engine
    ) -> None:
        for indicator, body, slug in BAD_BODIES:
            r = await kpi_client.post(
                f"/v1/kpis/{indicator}/observations", json=body, headers=service_headers
            )
            assert r.status_code == 422, (body, r.text)
            assert_problem(r, 422, slug)
        for raw in RAW_BODIES:
            r = await kpi_client.post(
                "/v1/kpis/ghg-emissions/observations",
                content=raw,
                headers={**service_headers, "content-type": "application/json"},
            )
            assert r.status_code == 422, (raw, r.text)
            assert_problem(r, 422, "validation-error")
        assert await observation_rows(engine) == (0, 0)
        assert await outbox_events(engine) == []

    async def test_unknown_breakdown_message_is_localised(self, kpi_client, service_headers) -> None:
        body = {"fiscal_year": 2021, "value": 72, "breakdown": "other"}
        ja = assert_problem(
            await kpi_client.post(
                "/v1/kpis/healthy-life-expectancy/observations", json=body, headers=service_headers
            ),
            422,
        )
        en = assert_problem(
            await kpi_client.post(
                "/v1/kpis/healthy-life-expectancy/observations",
                json=body,
                headers={**service_headers, "accept-language": "en"},
            ),
            422,
        )
        assert "内訳 'other' はありません" in ja["detail"]
        assert "has no breakdown 'other' (known: male, female)" in en["detail"]

    async def test_unknown_indicator_in_path_is_404(self, kpi_client, service_headers, engine) -> None:
        r = await post_observation(kpi_client, service_headers, "no-such-kpi", 2021, 1)
        assert_problem(r, 404, "indicator-not-found")
        assert await observation_rows(engine) == (0, 0)


class TestRoles:
    async def test_no_token_is_401(self, kpi_client, engine) -> None:
        r = await kpi_client.post(
            "/v1/kpis/ghg-emissions/observations", json={"fiscal_year": 2021, "value": 1}
        )
        assert_problem(r, 401, "unauthorized")
        assert await observation_rows(engine) == (0, 0)

    @pytest.mark.parametrize("role", ["staff", "member"])
    async def test_wrong_role_is_403(self, kpi_client, make_token, engine, role) -> None:
        headers = bearer(await make_token(role, subject="m-1" if role == "member" else None))
        r = await post_observation(kpi_client, headers, "ghg-emissions", 2021, 1)
        assert_problem(r, 403, "forbidden")
        assert await observation_rows(engine) == (0, 0)

    async def test_admin_and_bootstrap_admin_may_record(self, kpi_client, admin_headers) -> None:
        assert (
            await post_observation(kpi_client, admin_headers, "ghg-emissions", 2021, 1)
        ).status_code == 201
        r = await post_observation(kpi_client, bearer(BOOTSTRAP_TOKEN), "ghg-emissions", 2022, 2)
        assert r.status_code == 201
        assert r.json()["observation"]["revisions"][0]["recorded_by"] == "bootstrap-admin"
