"""Every timestamp the API returns is in JST (+09:00), in all three services.

The test makes some data (a member, visits, an invoice run, a payment, a refund, a reminder, a
booking; a paused notifier event type; the KPI service's seeded catalogue), then walks the answers
of every parameterless GET endpoint of each service's OpenAPI document, plus the detail endpoints of
what it made, and checks the offset of every date-time string found anywhere in them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.reminders import send_overdue_reminders
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.settings import NetsugenSettings
from shared.db import session_scope
from tests.netsugen_booking.conftest import Clock, jst

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def datetimes(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from datetimes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from datetimes(item, f"{path}[{n}]")
    elif isinstance(value, str) and DATETIME.match(value):
        yield path, value


async def walk(
    client: httpx.AsyncClient, headers: dict[str, str], extra: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """GET every parameterless path of the OpenAPI document and ``extra``; date-times per path."""
    spec = (await client.get("/openapi.json")).json()
    paths = [p for p, ops in spec["paths"].items() if "get" in ops and "{" not in p]
    found: dict[str, list[tuple[str, str]]] = {}
    for path in paths + extra:
        r = await client.get(path, headers=headers)
        if r.status_code != 200 or not r.headers.get("content-type", "").startswith("application/json"):
            continue
        found[path] = list(datetimes(r.json()))
    return found


async def test_every_timestamp_in_every_answer_is_jst(
    netsugen_client: httpx.AsyncClient,
    kpi_client: httpx.AsyncClient,
    notifier_client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    staff_headers: dict[str, str],
    clock: Clock,
    db: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock.set(jst(2026, 10, 5, 10))
    member = (
        await netsugen_client.post(
            "/v1/members",
            json={
                "kind": "individual",
                "name": "時刻 確認",
                "email": "jst@example.jp",
                "language": "ja",
                "plan": "dropin",
                "plan_start": "2026-01-01",
            },
            headers=staff_headers,
        )
    ).json()
    visit = (
        await netsugen_client.post("/v1/visits", json={"member_id": member["id"]}, headers=staff_headers)
    ).json()
    clock.set(jst(2026, 10, 5, 13))
    await netsugen_client.post(f"/v1/visits/{visit['id']}/check-out", headers=staff_headers)
    room = (await netsugen_client.get("/v1/resources", headers=staff_headers)).json()["items"][0]
    booking = Booking(
        resource_id=room["id"],
        member_id=member["id"],
        start_at=jst(2026, 10, 20, 10),
        end_at=jst(2026, 10, 20, 11),
        price_yen=1000,
        created_by="test",
    )
    db.add(booking)
    await db.commit()
    clock.set(jst(2026, 11, 1, 0, 30))
    run = (
        await netsugen_client.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers)
    ).json()
    [invoice] = (await netsugen_client.get("/v1/invoices", headers=staff_headers)).json()["items"]
    clock.set(jst(2026, 11, 5, 12))
    payment = await netsugen_client.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"method": "cash", "amount_yen": 500, "paid_on": "2026-11-05"},
        headers=staff_headers,
    )
    assert payment.status_code == 201, payment.text
    async with session_scope(sessionmaker) as session:
        assert await send_overdue_reminders(session, NetsugenSettings(), today=date(2026, 12, 8)) == 1
    paused = await notifier_client.put(
        "/v1/event-types/visit.checked_in/pause", json={"reason": "test"}, headers=admin_headers
    )
    assert paused.status_code == 200, paused.text

    answers = {
        "netsugen_booking": await walk(
            netsugen_client,
            admin_headers,
            [
                f"/v1/members/{member['id']}",
                f"/v1/members/{member['id']}/plans",
                f"/v1/visits/{visit['id']}",
                f"/v1/visits/{visit['id']}/audit",
                f"/v1/invoices/{invoice['id']}",
                f"/v1/bookings/{booking.id}",
                f"/v1/invoice-runs?limit=5&_={run['id']}",
                "/v1/visits?from=2026-10-01&to=2026-10-31",
            ],
        ),
        "kpi_api": await walk(
            kpi_client,
            admin_headers,
            [f"/v1/kpis/{i['id']}" for i in (await kpi_client.get("/v1/kpis")).json()["items"][:3]],
        ),
        "notifier": await walk(notifier_client, admin_headers, []),
    }
    not_jst = [
        (service, path, where, value)
        for service, found in answers.items()
        for path, stamps in found.items()
        for where, value in stamps
        if "T" in value and not value.endswith("+09:00")
    ]
    assert not_jst == []
    checked = {service: sum(len(s) for s in found.values()) for service, found in answers.items()}
    # The walk really saw timestamps (payments, runs, visits, audit, reminders, the paused type …).
    assert checked["netsugen_booking"] >= 20 and checked["notifier"] >= 1 and checked["kpi_api"] >= 6, checked
    stamped = {path for found in answers.values() for path, stamps in found.items() if stamps}
    assert {"/v1/invoice-reminders", f"/v1/invoices/{invoice['id']}", "/v1/invoice-runs"} <= stamped
