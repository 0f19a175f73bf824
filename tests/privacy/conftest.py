"""Personal-data fixtures: a real notifier HTTP server for netsugen_booking to read from, the NETSUGEN
clock, a member with data of every kind, and a scan of every table of the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.netsugen_booking.frontdesk_common.clock import get_now
from services.netsugen_booking.resources.seed import resource_id
from tests.conftest import StackInfo, TokenFactory, bearer, settings_overrides
from tests.netsugen_booking.conftest import Clock, jst
from tests.netsugen_booking.test_kpi_reporting import ServerThread, free_port

SCHEMAS = ("auth", "kpi", "netsugen", "notifier")


async def scan_database(engine: AsyncEngine, needle: str) -> dict[str, int]:
    """Rows of every table whose text form contains ``needle`` (case-insensitive), by table."""
    found: dict[str, int] = {}
    async with engine.connect() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE'"
                ),
                {"schemas": list(SCHEMAS)},
            )
        ).all()
        for schema, table in tables:
            n = await conn.scalar(
                text(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text ILIKE :pattern'),
                {"pattern": f"%{needle}%"},
            )
            if n:
                found[f"{schema}.{table}"] = int(n)
    return found


@pytest.fixture
def clock(netsugen_app: FastAPI) -> Iterator[Clock]:
    c = Clock(netsugen_app)
    c.set(c.now)
    yield c
    netsugen_app.dependency_overrides.pop(get_now, None)


@pytest.fixture
def notifier_server(stack: StackInfo, netsugen_app: FastAPI) -> Iterator[str]:
    """The notifier app served by uvicorn on a free port, and netsugen_booking pointed at it."""
    from services.notifier.main import create_app
    from services.notifier.settings import NotifierSettings

    port = free_port()
    app = create_app(NotifierSettings(**settings_overrides(stack)))
    settings = netsugen_app.state.settings
    original = settings.notifier_url
    settings.notifier_url = f"http://127.0.0.1:{port}"
    try:
        with ServerThread(app, port, lifespan="on"):
            yield settings.notifier_url
    finally:
        settings.notifier_url = original


@dataclass
class Person:
    """A member with data of every kind, and the personal values used for it."""

    id: str
    number: str
    name: str
    email: str
    card_token: str
    user_name: str
    user_email: str
    user_card_token: str
    guest_name: str
    token: str
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def personal_values(self) -> list[str]:
        return [
            self.name,
            self.email,
            self.card_token,
            self.user_name,
            self.user_email,
            self.user_card_token,
            self.guest_name,
        ]


def ok(r: httpx.Response, what: str) -> dict[str, Any]:
    assert r.status_code in (200, 201, 202), f"{what}: {r.status_code} {r.text[:400]}"
    return dict(r.json())


@pytest.fixture
async def person(
    netsugen_client: httpx.AsyncClient,
    notifier_client: httpx.AsyncClient,
    clock: Clock,
    admin_headers: dict[str, str],
    make_token: TokenFactory,
) -> Person:
    """A corporate member with a named user, a visit, an issued invoice, a booking, a registration as
    a member and one as a guest (same email), a consultation, preferences and a feed token."""
    client, admin = netsugen_client, admin_headers
    clock.set(jst(2026, 9, 1, 10))
    email = "hanako.akagi@example.jp"
    created = ok(
        await client.post(
            "/v1/members",
            json={
                "kind": "corporate",
                "name": "赤城ものづくり株式会社",
                "email": email,
                "language": "ja",
                "plan": "corporate_monthly",
                "plan_start": "2026-09-01",
            },
            headers={**admin, "Idempotency-Key": "privacy-member-1"},
        ),
        "member",
    )
    user = ok(
        await client.post(
            f"/v1/members/{created['id']}/users",
            json={
                "name": "赤城 花子",
                "email": "hanako.private@example.net",
            },
            headers=admin,
        ),
        "user",
    )
    p = Person(
        id=created["id"],
        number=created["member_number"],
        name="赤城ものづくり株式会社",
        email=email,
        card_token=created["card_token"],
        user_name="赤城 花子",
        user_email="hanako.private@example.net",
        user_card_token=user["card_token"],
        guest_name="榛名 次郎",
        token="",
    )
    p.ids["user_id"] = user["id"]
    clock.set(jst(2026, 10, 5, 10, 30))
    visit = ok(
        await client.post("/v1/visits", json={"card_token": p.user_card_token}, headers=admin), "check in"
    )
    clock.set(jst(2026, 10, 5, 12, 0))
    ok(await client.post(f"/v1/visits/{visit['id']}/check-out", headers=admin), "check out")
    p.ids["visit_id"] = visit["id"]
    clock.set(jst(2026, 11, 2, 10))
    ok(
        await client.post("/v1/invoice-runs", json={"period": "2026-10", "issue": True}, headers=admin),
        "invoices",
    )
    clock.set(jst(2026, 12, 1, 9))
    program = ok(
        await client.post(
            "/v1/programs",
            json={
                "title_ja": "個人情報テスト",
                "title_en": "Privacy test",
                "description_ja": "説明",
                "description_en": "About",
                "category": "seminar",
                "resource_id": str(resource_id("event-space")),
                "start": "2026-12-10T18:00:00+09:00",
                "end": "2026-12-10T20:00:00+09:00",
                "capacity": 10,
                "registration_closes_at": "2026-12-10T12:00:00+09:00",
            },
            headers=admin,
        ),
        "event",
    )
    ok(
        await client.post(
            f"/v1/programs/{program['id']}/registrations", json={"member_id": p.id}, headers=admin
        ),
        "registration",
    )
    second = ok(
        await client.post(
            "/v1/programs",
            json={
                "title_ja": "ゲスト登録",
                "title_en": "Guest",
                "description_ja": "説明",
                "description_en": "About",
                "category": "workshop",
                "resource_id": None,
                "start": "2026-12-11T18:00:00+09:00",
                "end": "2026-12-11T20:00:00+09:00",
                "capacity": 10,
                "registration_closes_at": None,
            },
            headers=admin,
        ),
        "second event",
    )
    ok(
        await client.post(
            f"/v1/programs/{second['id']}/registrations",
            json={
                "guest": {"name": p.guest_name, "email": email.upper(), "language": "ja"},
            },
        ),
        "guest registration",
    )
    ok(
        await client.post(
            "/v1/bookings",
            json={
                "resource_id": str(resource_id("meeting-room-a")),
                "member_id": p.id,
                "start": "2026-12-15T10:00:00+09:00",
                "end": "2026-12-15T11:00:00+09:00",
            },
            headers=admin,
        ),
        "booking",
    )
    coordinator = ok(
        await client.post(
            "/v1/coordinators",
            json={
                "name": "相談 員",
                "name_en": "Coordinator",
                "title": "診断士",
                "expertise": ["funding"],
                "bio": "資金",
            },
            headers=admin,
        ),
        "coordinator",
    )
    ok(
        await client.post(
            f"/v1/coordinators/{coordinator['id']}/availability",
            json={"weekday": 2, "starts_at": "13:00", "ends_at": "17:00", "slot_minutes": 60},
            headers=admin,
        ),
        "window",
    )
    slots = ok(
        await client.get("/v1/consultation-slots", params={"coordinator_id": coordinator["id"]}), "slots"
    )
    ok(
        await client.post(
            "/v1/consultations",
            json={
                "slot_id": slots["items"][0]["id"],
                "member_id": p.id,
                "topic": "赤城 花子の資金調達の相談",
            },
            headers=admin,
        ),
        "consultation",
    )
    ok(await client.post(f"/v1/feeds/members/{p.id}/token", headers=admin), "feed token")
    ok(
        await notifier_client.put(f"/v1/preferences/{p.id}", json={"activity": False}, headers=admin),
        "preferences",
    )
    p.token = await make_token("member", subject=p.id, name="member app")
    return p


def member_headers(p: Person) -> dict[str, str]:
    return bearer(p.token)
