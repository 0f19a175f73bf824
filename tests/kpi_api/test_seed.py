"""The seed: every indicator of the plan's KPI tables, exactly as the reviewed YAML writes it; idempotent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.kpi_api.db import Base
from services.kpi_api.indicators.seed import SEED_DIR, SeedIndicator, load_seed_files, sdg_target_position
from services.kpi_api.seeder import run_seed
from shared.db import session_scope
from tests.kpi_api.conftest import post_observation, scalar

KPIS = yaml.safe_load((SEED_DIR / "kpis.yaml").read_text(encoding="utf-8"))
INDICATORS: list[dict[str, Any]] = KPIS["indicators"]
REFERENCE_TABLES = {
    "sdg_goal",
    "sdg_target",
    "indicator",
    "breakdown",
    "indicator_sdg_target",
    "baseline",
    "target",
    "initiative",
    "initiative_indicator",
    "seed_record",
}
MUTABLE_TABLES = {"observation", "observation_revision", "indicator_progress", "registry_version", "outbox"}


def exact(response_text: str) -> Any:
    """JSON with every non-integer number as an exact Decimal (integers stay int)."""
    return json.loads(response_text, parse_float=Decimal)


async def count(engine: AsyncEngine, table: str) -> int:
    return int(await scalar(engine, f"SELECT count(*) FROM kpi.{table}"))


class TestCounts:
    @pytest.mark.parametrize(
        ("table", "expected"),
        [
            ("sdg_goal", 17),
            ("sdg_target", 169),
            ("indicator", 32),
            ("breakdown", 6),
            ("baseline", 24),
            ("target", 41),
            ("indicator_sdg_target", 65),
            ("initiative", 24),
        ],
    )
    async def test_table_counts(self, engine: AsyncEngine, table: str, expected: int) -> None:
        assert await count(engine, table) == expected

    async def test_lettered_sdg_targets_exist_in_un_order(self, engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            goal4 = (
                (
                    await conn.execute(
                        text("SELECT code FROM kpi.sdg_target WHERE goal_number = 4 ORDER BY position")
                    )
                )
                .scalars()
                .all()
            )
            goal17 = (
                await conn.execute(text("SELECT count(*) FROM kpi.sdg_target WHERE goal_number = 17"))
            ).scalar()
        assert goal4 == ["4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.a", "4.b", "4.c"]
        assert goal17 == 19
        assert sdg_target_position("9.b") == 101 and sdg_target_position("17.17") == 17

    async def test_goal_names_in_both_languages(self, kpi_client) -> None:
        goal = (await kpi_client.get("/v1/sdg-goals/13")).json()
        assert (goal["name_ja"], goal["name_en"]) == ("気候変動に具体的な対策を", "Climate action")
        assert [t["code"] for t in goal["targets"]] == ["13.1", "13.2", "13.3", "13.a", "13.b"]

    async def test_initiatives_link_their_kpis(self, kpi_client) -> None:
        body = (await kpi_client.get("/v1/initiatives/public-private-co-creation-platform")).json()
        assert [k["id"] for k in body["kpis"]] == [
            "ghg-emissions",
            "regional-vision-co-creation-cases",
            "job-cafe-youth-employment",
            "per-capita-wage",
            "business-community-school-collaborations",
            "in-migrants",
        ]
        assert body["section"] == "2(3)-1"


class TestEveryIndicatorOfThePlan:
    async def test_list_has_every_indicator_with_all_targets_and_baselines(self, kpi_client) -> None:
        response = await kpi_client.get("/v1/kpis?limit=500")
        assert response.status_code == 200
        items = {item["id"]: item for item in exact(response.text)["items"]}
        assert list(items) == [i["id"] for i in INDICATORS]  # the plan's order
        for entry in INDICATORS:
            item = items[entry["id"]]
            for field in ("name_ja", "name_en", "unit", "aspect", "direction", "cumulative", "sections"):
                assert item[field] == entry[field], (entry["id"], field)
            assert item["sdg_targets"] == [link["code"] for link in entry["sdg_targets"]]
            assert [b["key"] for b in item["breakdowns"]] == [b["key"] for b in entry["breakdowns"]]
            assert sorted(
                (b["breakdown"] or "", b["fiscal_year"], Decimal(str(b["value"]))) for b in item["baselines"]
            ) == sorted(
                (b["breakdown"] or "", b["fiscal_year"], Decimal(str(b["value"]))) for b in entry["baselines"]
            )
            assert sorted(
                (
                    t["breakdown"] or "",
                    t["fiscal_year"],
                    t["comparator"],
                    None if t["value"] is None else Decimal(str(t["value"])),
                    t["reference_fiscal_year"],
                    t["sections"],
                )
                for t in item["targets"]
            ) == sorted(
                (
                    t["breakdown"] or "",
                    t["fiscal_year"],
                    t["comparator"],
                    None if t["value"] is None else Decimal(str(t["value"])),
                    t.get("reference_fiscal_year"),
                    t["sections"],
                )
                for t in entry["targets"]
            ), entry["id"]
            assert item["status"] == "no_data"

    async def test_wage_has_both_dated_targets(self, kpi_client) -> None:
        item = (await kpi_client.get("/v1/kpis/per-capita-wage")).json()
        assert [(t["fiscal_year"], t["value"], t["comparator"]) for t in item["targets"]] == [
            (2023, 4500000, "eq"),
            (2025, 4800000, "eq"),
        ]
        assert item["sections"] == ["1.1(3)", "2(3)-2"]
        assert item["baselines"] == [{"breakdown": None, "fiscal_year": 2019, "value": 4316000}]

    async def test_money_is_exact_yen(self, kpi_client) -> None:
        response = await kpi_client.get("/v1/kpis/gross-prefectural-product")
        assert '"baselines":[{"breakdown":null,"fiscal_year":2019,"value":8970400000000}]' in response.text
        assert '"value":9500000000000' in response.text
        assert response.json()["unit"] == "円"

    async def test_renewable_energy_keeps_its_scale_and_two_targets(self, kpi_client) -> None:
        item = (await kpi_client.get("/v1/kpis/renewable-energy-installed")).json()
        assert item["unit"] == "千kWh/年"
        assert [(t["fiscal_year"], t["value"]) for t in item["targets"]] == [(2023, 6669293), (2025, 7059000)]
        assert item["sections"] == ["1.1(3)", "1.2(1)", "2(2)③"]

    async def test_ghg_emissions_decrease(self, kpi_client) -> None:
        item = (await kpi_client.get("/v1/kpis/ghg-emissions")).json()
        assert (item["direction"], item["unit"]) == ("decrease", "千t-CO2")
        assert item["baselines"] == [{"breakdown": None, "fiscal_year": 2017, "value": 15343}]
        assert [(t["fiscal_year"], t["value"]) for t in item["targets"]] == [(2030, 9824)]
        others = (await kpi_client.get("/v1/kpis?limit=500")).json()["items"]
        assert [i["id"] for i in others if i["direction"] == "decrease"] == ["ghg-emissions"]

    async def test_breakdowns_have_their_own_baselines_and_targets(self, kpi_client) -> None:
        life = exact((await kpi_client.get("/v1/kpis/healthy-life-expectancy")).text)
        assert [(b["key"], b["name_ja"]) for b in life["breakdowns"]] == [
            ("male", "男性"),
            ("female", "女性"),
        ]
        assert [(b["breakdown"], b["fiscal_year"], b["value"]) for b in life["baselines"]] == [
            ("male", 2016, Decimal("72.07")),
            ("female", 2016, Decimal("75.2")),
        ]
        waste = (await kpi_client.get("/v1/kpis/waste-recycling-rate")).json()
        assert [(b["breakdown"], b["fiscal_year"]) for b in waste["baselines"]] == [
            ("general_waste", 2018),
            ("industrial_waste", 2017),
        ]
        pupils = (await kpi_client.get("/v1/kpis/students-self-directed-problem-solving")).json()
        assert [(t["breakdown"], t["comparator"], t["value"]) for t in pupils["targets"]] == [
            ("grade6", "gte", 95),
            ("grade9", "gte", 95),
        ]

    async def test_relative_target_has_no_value(self, kpi_client) -> None:
        item = (await kpi_client.get("/v1/kpis/ict-literacy-students-ratio")).json()
        assert item["targets"][0] | {"id": None} == {
            "id": None,
            "breakdown": None,
            "fiscal_year": 2025,
            "comparator": "increase_from_baseline",
            "value": None,
            "reference_fiscal_year": 2021,
            "sections": ["1.2(1)"],
        }

    async def test_missing_baselines_and_the_unitless_target(self, kpi_client) -> None:
        items = {i["id"]: i for i in (await kpi_client.get("/v1/kpis?limit=500")).json()["items"]}
        assert sum(1 for i in items.values() if not i["baselines"]) == 11
        housing = items["zero-declaration-housing-group-agreements"]
        assert housing["baselines"] == [] and housing["cumulative"] is True
        assert [(t["fiscal_year"], t["value"]) for t in housing["targets"]] == [(2030, 30)]

    async def test_sdg_links_record_how_they_were_determined(self, kpi_client) -> None:
        gdp = (await kpi_client.get("/v1/kpis/gross-prefectural-product")).json()
        assert {(link["code"], link["determination"]) for link in gdp["sdg_links"]} == {
            ("8.1", "as_written"),
            ("8.2", "as_written"),
            ("8.5", "as_written"),
            ("8.9", "as_written"),
        }
        assert all(link["note"] for link in gdp["sdg_links"])
        engineers = (await kpi_client.get("/v1/kpis/digital-engineer-training-completers")).json()
        assert [(link["code"], link["goal"], link["determination"]) for link in engineers["sdg_links"]] == [
            ("9.2", 9, "inferred"),
            ("9.b", 9, "inferred"),
        ]


class TestIdempotence:
    async def _snapshot(self, engine: AsyncEngine) -> dict[str, list[Any]]:
        snapshot = {}
        async with engine.connect() as conn:
            for table in sorted(REFERENCE_TABLES | {"indicator_progress", "registry_version"}):
                rows = await conn.execute(text(f"SELECT * FROM kpi.{table} ORDER BY 1, 2"))
                snapshot[table] = [tuple(row) for row in rows]
        return snapshot

    async def test_running_the_seed_again_changes_nothing(
        self, clean_db: None, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        before = await self._snapshot(engine)
        async with session_scope(sessionmaker) as session:
            counts = await run_seed(session, lambda *_: None)
        assert counts == {
            "sdg_goals": 17,
            "sdg_targets": 169,
            "indicators": 32,
            "breakdowns": 6,
            "baselines": 24,
            "targets": 41,
            "sdg_links": 65,
            "initiatives": 24,
            "entries_applied": 0,
            "progress_recomputed": 0,
        }
        assert await self._snapshot(engine) == before

    async def test_a_changed_entry_is_applied_again(
        self, restore_registry: None, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE kpi.indicator SET name_en = 'edited' WHERE id = 'ghg-emissions'"))
            await conn.execute(text("DELETE FROM kpi.target WHERE indicator_id = 'ghg-emissions'"))
            # As if the reviewed YAML entry had changed since it was applied.
            await conn.execute(
                text(
                    "UPDATE kpi.seed_record SET digest = 'old' WHERE kind = 'indicator' AND key = 'ghg-emissions'"
                )
            )
        async with session_scope(sessionmaker) as session:
            counts = await run_seed(session, lambda *_: None)
        assert counts["entries_applied"] == 1
        assert await scalar(engine, "SELECT name_en FROM kpi.indicator WHERE id = 'ghg-emissions'") == (
            "Greenhouse gas emissions"
        )
        assert (
            await scalar(engine, "SELECT value FROM kpi.target WHERE indicator_id = 'ghg-emissions'") == 9824
        )

    async def test_an_administrators_edit_survives_a_reseed(
        self, restore_registry: None, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE kpi.indicator SET owner = '環境森林部' WHERE id = 'ghg-emissions'")
            )
        async with session_scope(sessionmaker) as session:
            assert (await run_seed(session, lambda *_: None))["entries_applied"] == 0
        assert (
            await scalar(engine, "SELECT owner FROM kpi.indicator WHERE id = 'ghg-emissions'") == "環境森林部"
        )

    async def test_progress_from_another_rules_version_is_recomputed(
        self, kpi_client, service_headers, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        await post_observation(kpi_client, service_headers, "ghg-emissions", 2021, 13600)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE kpi.indicator_progress SET status = 'behind', "
                    "doc = jsonb_set(doc, '{method_version}', '\"0.9\"') WHERE indicator_id = 'ghg-emissions'"
                )
            )
        async with session_scope(sessionmaker) as session:
            counts = await run_seed(session, lambda *_: None)
        assert (counts["entries_applied"], counts["progress_recomputed"]) == (0, 1)
        assert (await kpi_client.get("/v1/kpis/ghg-emissions/progress")).json()["method_version"] == "1.0"
        assert await scalar(
            engine, "SELECT status FROM kpi.indicator_progress WHERE indicator_id = 'ghg-emissions'"
        ) == ("on_track")


class TestSchema:
    def test_seeded_tables_are_reference_data_and_observations_are_not(self) -> None:
        tables = {t.name: t for t in Base.metadata.tables.values()}
        assert {name for name, t in tables.items() if t.info.get("reference")} == REFERENCE_TABLES
        assert MUTABLE_TABLES <= {name for name, t in tables.items() if not t.info.get("reference")}

    async def test_direction_and_cumulative_are_never_defaulted(self, engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT column_name, column_default, is_nullable FROM information_schema.columns "
                        "WHERE table_schema = 'kpi' AND table_name = 'indicator' AND column_name IN ('direction', 'cumulative')"
                    )
                )
            ).all()
        assert sorted(tuple(r) for r in rows) == [("cumulative", None, "NO"), ("direction", None, "NO")]
        entry = dict(INDICATORS[0])
        del entry["direction"]
        with pytest.raises(ValueError, match="direction"):
            SeedIndicator.model_validate(entry)

    def test_seed_files_parse(self) -> None:
        goals, indicators, initiatives = load_seed_files()
        assert (len(goals), len(indicators), len(initiatives)) == (17, 32, 24)
        wage = next(i for i, _ in indicators if i.id == "per-capita-wage")
        assert [(t.fiscal_year, t.value) for t in wage.targets] == [
            (2023, Decimal(4500000)),
            (2025, Decimal(4800000)),
        ]
