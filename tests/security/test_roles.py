"""Each narrow role's row of the README's role table, with real data: what the role may do works,
and the rest (another coordinator's schedule, another department's indicators, member changes,
personal-data exports, any write of the auditor) is a 403 problem that changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.netsugen_booking.frontdesk_common.clock import get_now
from shared.jst import JST
from tests.conftest import TokenFactory, bearer
from tests.security.test_authz_matrix import ADMIN, World, assert_problem
from tests.security.test_authz_matrix import world as world  # noqa: F401 (the fixture of the matrix)


# ---- coordinator -------------------------------------------------------------------------------------
async def test_coordinator_reaches_only_its_own_schedule_and_reads_member_names(
    netsugen_app: FastAPI,
    netsugen_client: httpx.AsyncClient,
    world: World,  # noqa: F811
    make_token: TokenFactory,
    staff_headers: dict[str, str],
) -> None:
    client = netsugen_client
    mine = (await client.get(f"/v1/consultations/{world.a.ids['consultation_id']}", headers=ADMIN)).json()
    own_id = mine["coordinator_id"]
    # A second coordinator with a consultation of member A.
    netsugen_app.dependency_overrides[get_now] = lambda: datetime(2026, 12, 1, 9, 0, tzinfo=JST)
    other = (
        await client.post(
            "/v1/coordinators",
            json={
                "name": "別の 相談員",
                "name_en": "Other",
                "title": "税理士",
                "expertise": ["tax"],
                "bio": "税務",
            },
            headers=staff_headers,
        )
    ).json()["id"]
    assert (
        await client.post(
            f"/v1/coordinators/{other}/availability",
            json={"weekday": 3, "starts_at": "10:00", "ends_at": "12:00", "slot_minutes": 60},
            headers=staff_headers,
        )
    ).status_code == 201
    slot = (await client.get("/v1/consultation-slots", params={"coordinator_id": other})).json()["items"][0][
        "id"
    ]
    foreign = (
        await client.post(
            "/v1/consultations",
            json={"slot_id": slot, "member_id": world.a.id, "topic": "税"},
            headers=staff_headers,
        )
    ).json()["id"]

    coordinator = bearer(await make_token("coordinator", subject=own_id, name="相談員 本人"))
    listed = (await client.get("/v1/consultations", headers=coordinator)).json()["items"]
    assert {c["id"] for c in listed} == {world.a.ids["consultation_id"], world.b.ids["consultation_id"]}
    assert_problem(
        await client.get("/v1/consultations", params={"coordinator_id": other}, headers=coordinator),
        403,
        "another coordinator's list",
    )
    assert (
        await client.get(f"/v1/consultations/{world.a.ids['consultation_id']}", headers=coordinator)
    ).status_code == 200
    assert_problem(
        await client.get(f"/v1/consultations/{foreign}", headers=coordinator), 403, "another's consultation"
    )

    # Records its own consultation once it has started; not another's.
    netsugen_app.dependency_overrides[get_now] = lambda: datetime(2026, 12, 31, 9, 0, tzinfo=JST)
    record = {"note": "販路開拓の相談", "outcome": "referred_to_business_matching"}
    r = await client.post(
        f"/v1/consultations/{world.a.ids['consultation_id']}/record", json=record, headers=coordinator
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "referred_to_business_matching"
    assert_problem(
        await client.post(f"/v1/consultations/{foreign}/record", json=record, headers=coordinator),
        403,
        "recording another's consultation",
    )
    assert (await client.get(f"/v1/consultations/{foreign}", headers=ADMIN)).json()["recorded_at"] is None

    # Its own weekly hours, not another's; no new coordinators.
    window = {"weekday": 4, "starts_at": "13:00", "ends_at": "15:00", "slot_minutes": 60}
    assert (
        await client.post(f"/v1/coordinators/{own_id}/availability", json=window, headers=coordinator)
    ).status_code == 201
    assert_problem(
        await client.post(f"/v1/coordinators/{other}/availability", json=window, headers=coordinator),
        403,
        "another's hours",
    )
    assert_problem(
        await client.patch(f"/v1/coordinators/{other}", json={"active": False}, headers=coordinator),
        403,
        "another's profile",
    )
    assert_problem(
        await client.post(
            "/v1/coordinators",
            json={"name": "x", "name_en": "x", "title": "x", "expertise": [], "bio": "x"},
            headers=coordinator,
        ),
        403,
        "creating coordinators",
    )

    # Member names read-only.
    r = await client.get(f"/v1/members/{world.a.id}", headers=coordinator)
    assert r.status_code == 200 and r.json()["name"] == world.a.name
    assert_problem(
        await client.patch(f"/v1/members/{world.a.id}", json={"language": "en"}, headers=coordinator),
        403,
        "changing a member",
    )
    assert_problem(await client.get("/v1/members", headers=coordinator), 403, "the member list")
    assert_problem(await client.get("/v1/visits", headers=coordinator), 403, "visits")


# ---- kpi_editor ----------------------------------------------------------------------------------------
OWN, OTHER = "環境森林部", "健康福祉部"


@pytest.fixture
async def departments(engine: AsyncEngine, kpi_client: httpx.AsyncClient) -> AsyncIterator[tuple[str, str]]:
    """Two indicators owned by two departments (the seeded owners are restored afterwards: the
    indicators are reference data kept between tests)."""
    items = (await kpi_client.get("/v1/kpis", params={"limit": 2})).json()["items"]
    mine, theirs = items[0]["id"], items[1]["id"]
    async with engine.begin() as conn:
        saved = dict(
            (
                await conn.execute(
                    text("SELECT id, owner FROM kpi.indicator WHERE id IN (:a, :b)"), {"a": mine, "b": theirs}
                )
            ).all()
        )
        await conn.execute(text("UPDATE kpi.indicator SET owner = :o WHERE id = :i"), {"o": OWN, "i": mine})
        await conn.execute(
            text("UPDATE kpi.indicator SET owner = :o WHERE id = :i"), {"o": OTHER, "i": theirs}
        )
    try:
        yield mine, theirs
    finally:
        async with engine.begin() as conn:
            for indicator, owner in saved.items():
                await conn.execute(
                    text("UPDATE kpi.indicator SET owner = :o WHERE id = :i"), {"o": owner, "i": indicator}
                )


async def _years(client: httpx.AsyncClient, indicator: str) -> set[int]:
    r = await client.get(f"/v1/kpis/{indicator}/observations", params={"limit": 200})
    assert r.status_code == 200, r.text
    return {o["fiscal_year"] for o in r.json()["items"]}


async def test_kpi_editor_writes_only_its_departments_indicators(
    kpi_client: httpx.AsyncClient,
    netsugen_client: httpx.AsyncClient,
    departments: tuple[str, str],
    make_token: TokenFactory,
) -> None:
    mine, theirs = departments
    editor = bearer(await make_token("kpi_editor", subject=OWN, name="環境森林部 入力担当"))
    before_theirs = await _years(kpi_client, theirs)

    r = await kpi_client.post(
        f"/v1/kpis/{mine}/observations", json={"fiscal_year": 2031, "value": 10}, headers=editor
    )
    assert r.status_code == 201, r.text
    assert_problem(
        await kpi_client.post(
            f"/v1/kpis/{theirs}/observations", json={"fiscal_year": 2031, "value": 10}, headers=editor
        ),
        403,
        "another department's indicator",
    )

    csv_headers = {**editor, "content-type": "text/csv"}
    mixed = f"indicator_id,fiscal_year,value\n{mine},2032,11\n{theirs},2032,12\n"
    assert_problem(
        await kpi_client.post("/v1/imports/observations", content=mixed.encode(), headers=csv_headers),
        403,
        "a CSV with another department's row",
    )
    assert 2032 not in await _years(kpi_client, mine)  # the whole file refused: nothing written
    own_only = f"indicator_id,fiscal_year,value\n{mine},2032,11\n"
    r = await kpi_client.post("/v1/imports/observations", content=own_only.encode(), headers=csv_headers)
    assert r.status_code == 200, r.text
    assert {2031, 2032} <= await _years(kpi_client, mine)
    assert await _years(kpi_client, theirs) == before_theirs

    # A department without indicators, and the definitions themselves, are out of reach.
    stranger = bearer(await make_token("kpi_editor", subject="観光魅力創出課"))
    assert_problem(
        await kpi_client.post(
            f"/v1/kpis/{mine}/observations", json={"fiscal_year": 2033, "value": 1}, headers=stranger
        ),
        403,
        "a department owning nothing",
    )
    assert_problem(
        await kpi_client.patch(f"/v1/kpis/{mine}", json={"unit": "t"}, headers=editor), 403, "definitions"
    )
    auditor = bearer(await make_token("auditor"))
    trail = (
        await netsugen_client.get("/v1/audit", params={"who": "環境森林部 入力担当"}, headers=auditor)
    ).json()
    assert {e["role"] for e in trail["items"]} == {"kpi_editor"}
    assert {e["after"]["fiscal_year"] for e in trail["items"]} == {2031, 2032}


# ---- accountant ----------------------------------------------------------------------------------------
async def test_accountant_reads_and_runs_billing_but_changes_no_member(
    netsugen_client: httpx.AsyncClient,
    world: World,  # noqa: F811
    make_token: TokenFactory,
) -> None:
    client = netsugen_client
    accountant = bearer(await make_token("accountant"))
    invoices = (await client.get("/v1/invoices", params={"limit": 200}, headers=accountant)).json()["items"]
    assert {world.a.id, world.b.id} <= {i["member_id"] for i in invoices}
    assert (
        await client.get(f"/v1/invoices/{world.a.ids['invoice_id']}/document", headers=accountant)
    ).status_code == 200
    assert (await client.get("/v1/invoice-runs", headers=accountant)).status_code == 200
    r = await client.get(
        "/v1/invoices/export.csv", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=accountant
    )
    assert r.status_code == 200, r.text
    before = (await client.get(f"/v1/members/{world.a.id}", headers=ADMIN)).json()
    assert_problem(
        await client.patch(f"/v1/members/{world.a.id}", json={"language": "en"}, headers=accountant),
        403,
        "member change",
    )
    assert_problem(
        await client.post(f"/v1/members/{world.a.id}/suspend", json={}, headers=accountant), 403, "suspend"
    )
    assert_problem(await client.get("/v1/members", headers=accountant), 403, "member list")
    assert_problem(await client.get("/v1/visits", headers=accountant), 403, "visits")
    assert (await client.get(f"/v1/members/{world.a.id}", headers=ADMIN)).json() == before


# ---- auditor -------------------------------------------------------------------------------------------
async def test_auditor_reads_everything_exports_no_personal_data_and_writes_nothing(
    clients: dict[str, httpx.AsyncClient],
    world: World,  # noqa: F811
    make_token: TokenFactory,
) -> None:
    client = clients["netsugen_booking"]
    auditor = bearer(await make_token("auditor"))
    for url in ("/v1/members", "/v1/visits", "/v1/bookings", "/v1/consultations", "/v1/invoices"):
        r = await client.get(url, params={"limit": 200}, headers=auditor)
        assert r.status_code == 200, (url, r.text)
        assert world.a.id in r.text and world.b.id in r.text, f"{url}: the auditor sees every member"
    assert (
        await client.get(f"/v1/visits/{world.b.ids['visit_id']}/audit", headers=auditor)
    ).status_code == 200
    assert (
        await clients["notifier"].get(f"/v1/preferences/{world.b.id}", headers=auditor)
    ).status_code == 200
    assert (await clients["notifier"].get("/v1/webhook-endpoints", headers=auditor)).status_code == 200
    assert (await client.get("/v1/audit", headers=auditor)).status_code == 200
    # No personal-data export.
    assert_problem(await client.get(f"/v1/members/{world.a.id}/export", headers=auditor), 403, "APPI export")
    assert_problem(
        await client.get(
            "/v1/invoices/export.csv", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=auditor
        ),
        403,
        "invoice CSV",
    )
    # No writes, also where guests need no token at all.
    assert_problem(
        await client.post(
            f"/v1/programs/{world.program_id}/registrations", json={"member_id": world.a.id}, headers=auditor
        ),
        403,
        "registration",
    )
    assert_problem(
        await client.post(
            f"/v1/event-registrations/{world.a.ids['registration_id']}/cancel", headers=auditor
        ),
        403,
        "cancelling a registration",
    )
    assert_problem(
        await client.post(f"/v1/members/{world.a.id}/suspend", json={}, headers=auditor), 403, "suspend"
    )
    assert (
        await client.get(f"/v1/event-registrations/{world.a.ids['registration_id']}", headers=ADMIN)
    ).json()["status"] != "cancelled"
