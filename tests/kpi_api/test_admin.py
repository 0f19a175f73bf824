"""Administrators' CRUD of indicators, targets and initiatives; roles; bad input writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import bearer
from tests.kpi_api.conftest import assert_problem, outbox_events, post_observation, scalar

NEW: dict[str, Any] = {
    "id": "ev-charging-points",
    "name_ja": "EV充電設備数",
    "name_en": "EV charging points",
    "unit": "基",
    "aspect": "environment",
    "direction": "increase",
    "cumulative": False,
    "sections": ["1.2(1)"],
    "sdg_targets": [{"code": "7.a", "determination": "inferred", "note": "clean energy infrastructure"}],
    "breakdowns": [
        {"key": "public", "name_ja": "公共", "name_en": "Public"},
        {"key": "private", "name_ja": "民間", "name_en": "Private"},
    ],
    "baselines": [
        {"breakdown": "public", "fiscal_year": 2021, "value": 100},
        {"breakdown": "private", "fiscal_year": 2021, "value": "50.5"},
    ],
    "targets": [
        {
            "breakdown": "public",
            "fiscal_year": 2025,
            "comparator": "gte",
            "value": 300,
            "sections": ["1.2(1)"],
        },
        {
            "breakdown": "private",
            "fiscal_year": 2025,
            "comparator": "eq",
            "value": 200,
            "sections": ["1.2(1)"],
        },
    ],
}


async def indicator_count(engine: Any) -> int:
    return int(await scalar(engine, "SELECT count(*) FROM kpi.indicator"))


class TestIndicators:
    async def test_create(self, restore_registry, kpi_client, admin_headers, service_headers) -> None:
        etag = (await kpi_client.get("/v1/kpis")).headers["etag"]
        r = await kpi_client.post("/v1/kpis", json=NEW, headers=admin_headers)
        assert r.status_code == 201, r.text
        assert r.headers["location"] == "/v1/kpis/ev-charging-points"
        body = r.json()
        assert (body["name"], body["status"], body["sdg_targets"]) == ("EV充電設備数", "no_data", ["7.a"])
        assert [(b["breakdown"], b["value"]) for b in body["baselines"]] == [
            ("public", 100),
            ("private", 50.5),
        ]
        listed = (await kpi_client.get("/v1/kpis", headers={"if-none-match": etag})).json()["items"]
        assert listed[-1]["id"] == "ev-charging-points" and len(listed) == 33
        await post_observation(
            kpi_client, service_headers, "ev-charging-points", 2022, 350, breakdown="public"
        )
        progress = (await kpi_client.get("/v1/kpis/ev-charging-points/progress")).json()
        assert [(b["breakdown"], b["status"]) for b in progress["breakdowns"]] == [
            ("public", "achieved"),
            ("private", "no_data"),
        ]

    @pytest.mark.parametrize(
        ("change", "slug"),
        [
            ({"direction": None}, "validation-error"),
            ({"cumulative": None}, "validation-error"),
            ({"direction": "up"}, "validation-error"),
            ({"id": "Not A Slug"}, "validation-error"),
            ({"aspect": "culture"}, "validation-error"),
            ({"sections": ["9.9"]}, "validation-error"),
            ({"sections": []}, "validation-error"),
            (
                {"sdg_targets": [{"code": "1.9", "determination": "inferred", "note": "x"}]},
                "unknown-sdg-target",
            ),
            (
                {"sdg_targets": [{"code": "18.1", "determination": "inferred", "note": "x"}]},
                "validation-error",
            ),
            ({"sdg_targets": [{"code": "7.2", "determination": "guessed", "note": "x"}]}, "validation-error"),
            ({"baselines": [{"breakdown": "other", "fiscal_year": 2021, "value": 1}]}, "unknown-breakdown"),
            ({"baselines": [{"fiscal_year": 2021, "value": 1}]}, "unknown-breakdown"),
            ({"baselines": [{"breakdown": "public", "fiscal_year": 1900, "value": 1}]}, "validation-error"),
            (
                {"baselines": [{"breakdown": "public", "fiscal_year": 2021, "value": "NaN"}]},
                "validation-error",
            ),
            (
                {
                    "targets": [
                        {
                            "breakdown": "public",
                            "fiscal_year": 2025,
                            "comparator": "increase_from_baseline",
                            "value": 3,
                            "sections": ["1.2(1)"],
                        }
                    ]
                },
                "validation-error",
            ),
            (
                {
                    "targets": [
                        {
                            "breakdown": "public",
                            "fiscal_year": 2025,
                            "comparator": "eq",
                            "sections": ["1.2(1)"],
                        }
                    ]
                },
                "validation-error",
            ),
            (
                {
                    "targets": [
                        {
                            "breakdown": "public",
                            "fiscal_year": 2025,
                            "comparator": "eq",
                            "value": 1,
                            "sections": ["1.2(1)"],
                        }
                    ]
                    * 2
                },
                "validation-error",
            ),
            ({"extra": 1}, "validation-error"),
        ],
    )
    async def test_bad_input_is_422_and_writes_nothing(
        self, kpi_client, admin_headers, engine, change, slug
    ) -> None:
        payload = {**NEW, **change}
        payload = {k: v for k, v in payload.items() if not (k in ("direction", "cumulative") and v is None)}
        assert_problem(await kpi_client.post("/v1/kpis", json=payload, headers=admin_headers), 422, slug)
        assert await indicator_count(engine) == 32

    async def test_duplicate_id_is_409(self, kpi_client, admin_headers, engine) -> None:
        r = await kpi_client.post("/v1/kpis", json={**NEW, "id": "ghg-emissions"}, headers=admin_headers)
        assert_problem(r, 409, "registry-conflict")
        assert (
            await scalar(engine, "SELECT name_ja FROM kpi.indicator WHERE id = 'ghg-emissions'")
            == "温室効果ガス排出量"
        )

    async def test_patch_recomputes_progress(
        self, restore_registry, kpi_client, admin_headers, service_headers, engine
    ) -> None:
        await post_observation(kpi_client, service_headers, "health-point-participants", 2022, 100000)
        assert (await kpi_client.get("/v1/kpis/health-point-participants")).json()[
            "status"
        ] == "baseline_pending"
        r = await kpi_client.patch(
            "/v1/kpis/health-point-participants",
            json={"owner": "健康福祉部", "baselines": [{"fiscal_year": 2020, "value": 80000}]},
            headers=admin_headers,
        )
        assert r.status_code == 200, r.text
        # (100000 − 80000) / (120000 − 80000) = 0.5 < 0.95 × 2/3
        assert (r.json()["owner"], r.json()["status"]) == ("健康福祉部", "behind")
        changes = [p["data"] for t, p in await outbox_events(engine) if t == "kpi.status_changed"]
        assert changes[-1] | {} == {
            "indicator_id": "health-point-participants",
            "previous_status": "baseline_pending",
            "status": "behind",
        }
        r = await kpi_client.patch(
            "/v1/kpis/health-point-participants",
            json={"owner": None, "direction": "decrease"},
            headers=admin_headers,
        )
        # Lower is now better, and 100000 is at most the target of 120000.
        assert (r.json()["owner"], r.json()["direction"], r.json()["status"]) == (
            None,
            "decrease",
            "achieved",
        )
        name = (await kpi_client.get("/v1/kpis/health-point-participants")).json()["name_ja"]
        assert name == "健康ポイント制度参加者数"

    async def test_patch_bad_input(self, kpi_client, admin_headers) -> None:
        for change, status, slug in (
            ({"direction": None}, 422, "validation-error"),
            ({"name_ja": None}, 422, "validation-error"),
            (
                {"sdg_targets": [{"code": "4.z", "determination": "inferred", "note": "x"}]},
                422,
                "unknown-sdg-target",
            ),
            ({"breakdowns": []}, 409, "registry-conflict"),  # baselines and targets still use them
            ({"baselines": [{"fiscal_year": 2016, "value": 72}]}, 422, "unknown-breakdown"),
            ({"id": "renamed"}, 422, "validation-error"),
        ):
            r = await kpi_client.patch("/v1/kpis/healthy-life-expectancy", json=change, headers=admin_headers)
            assert_problem(r, status, slug)
        detail = (await kpi_client.get("/v1/kpis/healthy-life-expectancy")).json()
        assert [b["key"] for b in detail["breakdowns"]] == ["male", "female"] and len(
            detail["baselines"]
        ) == 2
        assert_problem(
            await kpi_client.patch("/v1/kpis/nope", json={"owner": "x"}, headers=admin_headers), 404
        )
        split = {"breakdowns": [{"key": "industry", "name_ja": "産業", "name_en": "Industry"}]}
        assert_problem(
            await kpi_client.patch("/v1/kpis/ghg-emissions", json=split, headers=admin_headers), 409
        )

    async def test_delete(self, restore_registry, kpi_client, admin_headers, service_headers) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 14000)
        assert_problem(
            await kpi_client.delete("/v1/kpis/ghg-emissions", headers=admin_headers), 409, "registry-conflict"
        )
        assert (await kpi_client.delete("/v1/kpis/in-migrants", headers=admin_headers)).status_code == 204
        assert_problem(await kpi_client.get("/v1/kpis/in-migrants"), 404)
        workcation = (await kpi_client.get("/v1/initiatives/workcation")).json()
        assert workcation["kpis"] == []
        assert_problem(await kpi_client.delete("/v1/kpis/in-migrants", headers=admin_headers), 404)


class TestTargets:
    async def test_crud_recomputes_progress(
        self, restore_registry, kpi_client, admin_headers, service_headers
    ) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        r = await kpi_client.post(
            "/v1/kpis/ghg-emissions/targets",
            json={"fiscal_year": 2025, "comparator": "lte", "value": 13700, "sections": ["2(3)-2"]},
            headers=admin_headers,
        )
        assert r.status_code == 201, r.text
        target_id = r.json()["id"]
        assert r.headers["location"] == f"/v1/kpis/ghg-emissions/targets/{target_id}"
        progress = (await kpi_client.get("/v1/kpis/ghg-emissions/progress")).json()
        assert [(t["fiscal_year"], t["status"]) for t in progress["targets"]] == [
            (2025, "achieved"),
            (2030, "on_track"),
        ]
        r = await kpi_client.put(
            f"/v1/kpis/ghg-emissions/targets/{target_id}",
            json={"fiscal_year": 2025, "comparator": "lte", "value": 11000, "sections": ["2(3)-2"]},
            headers=admin_headers,
        )
        assert r.status_code == 200 and r.json()["value"] == 11000
        # (13600 − 15343) / (11000 − 15343) = 0.401 < 0.95 × 4/8
        assert (await kpi_client.get("/v1/kpis/ghg-emissions")).json()["status"] == "behind"
        targets = (await kpi_client.get("/v1/kpis/ghg-emissions/targets")).json()["items"]
        assert [(t["fiscal_year"], t["comparator"], t["value"]) for t in targets] == [
            (2025, "lte", 11000),
            (2030, "eq", 9824),
        ]
        assert (
            await kpi_client.delete(f"/v1/kpis/ghg-emissions/targets/{target_id}", headers=admin_headers)
        ).status_code == 204
        assert (await kpi_client.get("/v1/kpis/ghg-emissions")).json()["status"] == "on_track"

    async def test_target_errors(self, kpi_client, admin_headers, engine) -> None:
        existing = {"fiscal_year": 2030, "comparator": "eq", "value": 9000, "sections": ["2(3)-2"]}
        assert_problem(
            await kpi_client.post("/v1/kpis/ghg-emissions/targets", json=existing, headers=admin_headers), 409
        )
        for body, slug in (
            ({**existing, "fiscal_year": 2031, "breakdown": "male"}, "unknown-breakdown"),
            ({**existing, "fiscal_year": 2101}, "validation-error"),
            ({**existing, "fiscal_year": 2031, "comparator": "increase_from_baseline"}, "validation-error"),
            ({**existing, "fiscal_year": 2031, "value": None}, "validation-error"),
            (
                {
                    "fiscal_year": 2031,
                    "comparator": "increase_from_baseline",
                    "reference_fiscal_year": 2031,
                    "sections": ["2(3)-2"],
                },
                "invalid-registry-data",
            ),
            ({**existing, "fiscal_year": 2031, "reference_fiscal_year": 2021}, "validation-error"),
        ):
            assert_problem(
                await kpi_client.post("/v1/kpis/ghg-emissions/targets", json=body, headers=admin_headers),
                422,
                slug,
            )
        assert_problem(
            await kpi_client.post("/v1/kpis/nope/targets", json=existing, headers=admin_headers), 404
        )
        wage_target = (await kpi_client.get("/v1/kpis/per-capita-wage/targets")).json()["items"][0]["id"]
        assert_problem(
            await kpi_client.put(
                f"/v1/kpis/ghg-emissions/targets/{wage_target}", json=existing, headers=admin_headers
            ),
            404,
            "target-not-found",
        )
        assert_problem(
            await kpi_client.delete("/v1/kpis/ghg-emissions/targets/999999", headers=admin_headers), 404
        )
        assert await scalar(engine, "SELECT count(*) FROM kpi.target") == 41


class TestInitiatives:
    async def test_crud(self, restore_registry, kpi_client, admin_headers) -> None:
        body = {
            "id": "hydrogen-buses",
            "name_ja": "水素バスの導入",
            "name_en": "Introducing hydrogen buses",
            "section": "1.2(1)",
            "kpis": ["ghg-emissions"],
        }
        r = await kpi_client.post("/v1/initiatives", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
        assert r.json()["kpis"] == [{"id": "ghg-emissions", "name": "温室効果ガス排出量"}]
        assert_problem(await kpi_client.post("/v1/initiatives", json=body, headers=admin_headers), 409)
        r = await kpi_client.patch(
            "/v1/initiatives/hydrogen-buses",
            json={"kpis": ["renewable-energy-installed", "ghg-emissions"]},
            headers={**admin_headers, "accept-language": "en"},
        )
        assert [k["name"] for k in r.json()["kpis"]] == [
            "Installed renewable energy (annual generation)",
            "Greenhouse gas emissions",
        ]
        ghg = (await kpi_client.get("/v1/kpis/ghg-emissions")).json()
        assert "hydrogen-buses" in [i["id"] for i in ghg["initiatives"]]
        by_kpi = (
            await kpi_client.get("/v1/initiatives", params={"kpi": "renewable-energy-installed"})
        ).json()
        assert [i["id"] for i in by_kpi["items"]] == [
            "uenomura-microgrid",
            "distributed-energy-system",
            "hydrogen-buses",
        ]
        assert (
            await kpi_client.delete("/v1/initiatives/hydrogen-buses", headers=admin_headers)
        ).status_code == 204
        assert_problem(await kpi_client.get("/v1/initiatives/hydrogen-buses"), 404, "initiative-not-found")

    async def test_errors(self, kpi_client, admin_headers, engine) -> None:
        body = {"id": "x-initiative", "name_ja": "x", "name_en": "x", "section": "1.2(1)", "kpis": ["nope"]}
        assert_problem(
            await kpi_client.post("/v1/initiatives", json=body, headers=admin_headers),
            422,
            "unknown-indicator",
        )
        assert_problem(
            await kpi_client.post(
                "/v1/initiatives", json={**body, "kpis": [], "section": "3"}, headers=admin_headers
            ),
            422,
        )
        assert_problem(
            await kpi_client.patch(
                "/v1/initiatives/workcation", json={"kpis": ["nope"]}, headers=admin_headers
            ),
            422,
        )
        assert_problem(
            await kpi_client.patch("/v1/initiatives/nope", json={"name_ja": "x"}, headers=admin_headers), 404
        )
        assert await scalar(engine, "SELECT count(*) FROM kpi.initiative") == 24
        workcation = (await kpi_client.get("/v1/initiatives/workcation")).json()
        assert [k["id"] for k in workcation["kpis"]] == ["in-migrants"]

    async def test_list_filters_and_pages(self, kpi_client) -> None:
        first = (await kpi_client.get("/v1/initiatives", params={"section": "2(2)①", "limit": 2})).json()
        rest = (
            await kpi_client.get(
                "/v1/initiatives", params={"section": "2(2)①", "limit": 2, "cursor": first["next_cursor"]}
            )
        ).json()
        assert [i["id"] for i in first["items"] + rest["items"]] == [
            "flagship-manufacturing-dx",
            "flagship-startup-support",
            "creative-hub",
        ]


WRITES = [
    ("POST", "/v1/kpis", NEW),
    ("PATCH", "/v1/kpis/ghg-emissions", {"owner": "x"}),
    ("DELETE", "/v1/kpis/in-migrants", None),
    (
        "POST",
        "/v1/kpis/ghg-emissions/targets",
        {"fiscal_year": 2025, "comparator": "eq", "value": 1, "sections": ["2(3)-2"]},
    ),
    (
        "PUT",
        "/v1/kpis/ghg-emissions/targets/1",
        {"fiscal_year": 2025, "comparator": "eq", "value": 1, "sections": ["2(3)-2"]},
    ),
    ("DELETE", "/v1/kpis/ghg-emissions/targets/1", None),
    ("POST", "/v1/initiatives", {"id": "x", "name_ja": "x", "name_en": "x", "section": "1.2(1)"}),
    ("PATCH", "/v1/initiatives/workcation", {"name_ja": "x"}),
    ("DELETE", "/v1/initiatives/workcation", None),
]


class TestRoles:
    async def test_admin_writes_refuse_other_roles(self, kpi_client, make_token, engine) -> None:
        tokens = {
            role: bearer(await make_token(role, subject="m-1" if role == "member" else None))
            for role in ("staff", "member", "service")
        }
        version = await scalar(engine, "SELECT version FROM kpi.registry_version")
        for method, path, body in WRITES:
            r = await kpi_client.request(method, path, json=body)
            assert_problem(r, 401, "unauthorized")
            for role, headers in tokens.items():
                r = await kpi_client.request(method, path, json=body, headers=headers)
                assert r.status_code == 403, (method, path, role, r.text)
        assert await indicator_count(engine) == 32
        assert await scalar(engine, "SELECT count(*) FROM kpi.target") == 41
        assert await scalar(engine, "SELECT count(*) FROM kpi.initiative") == 24
        assert await scalar(engine, "SELECT version FROM kpi.registry_version") == version
