"""The authorization matrix, over every operation of every OpenAPI document.

A new endpoint is covered the moment it exists:

- anonymous callers get a 401 problem (with ``WWW-Authenticate: Bearer``) everywhere except on the
  operations listed in ``PUBLIC`` (with the reason they are public);
- a ``member`` token gets a 403 problem on every operation that is neither public nor listed in
  ``MEMBER`` (the operations a member may use for itself);
- for every operation in ``MEMBER``, a member aiming at another member's visits, invoices,
  bookings, registrations, consultations, plans, users, feeds or notification preferences gets a
  403/404 (never their data), and the other member's data is unchanged afterwards; aimed at its
  own data, the same operation works (so the refusals are not an artefact of a broken token).

Every role (admin, staff, member, service, coordinator, kpi_editor, accountant, auditor) is walked
against every operation: each authenticated operation carries the permission its route declares
(``x-permission``, shared/permissions.py); a role without it gets a 403 problem, a role with it is
not refused; the README's role table is the same table as the code's ``ROLE_PERMISSIONS``.

Failed authentication is rate-limited per client address and per credential (429 +
``Retry-After``; a valid token is always answered), and the check-in per token.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.netsugen_booking.frontdesk_common.clock import get_now
from services.netsugen_booking.resources.seed import resource_id
from shared.auth import ROLES, Role
from shared.jst import JST
from shared.permissions import ROLE_PERMISSIONS, Permission, allows, roles_with
from tests.conftest import BOOTSTRAP_TOKEN, TokenFactory, bearer
from tests.security.openapi_walk import (
    SERVICES,
    Operation,
    all_operations,
    openapi_document,
    resolve,
    sample_path,
)

ADMIN = bearer(BOOTSTRAP_TOKEN)

#: (service, "METHOD /path" pattern) → why anonymous callers may use it.
PUBLIC: dict[tuple[str, str], str] = {
    ("*", "GET /healthz"): "liveness probe",
    ("*", "GET /readyz"): "readiness probe",
    ("*", "GET /metrics"): "Prometheus scrape (no personal data; restrict at the ingress)",
    ("kpi_api", "GET /v1/*"): "every KPI read is public: the plan's progress is open data",
    ("kpi_api", "GET /dashboard*"): "the public progress site (issue 19): the same open data as GET /v1/*",
    ("netsugen_booking", "GET /v1/calendar"): "opening calendar",
    ("netsugen_booking", "GET /v1/plans"): "plans and prices",
    ("netsugen_booking", "GET /v1/plans/{code}"): "plans and prices",
    ("netsugen_booking", "GET /v1/resources"): "rooms and their prices",
    ("netsugen_booking", "GET /v1/resources/{resource_id}"): "rooms and their prices",
    ("netsugen_booking", "GET /v1/resources/{resource_id}/availability"): "free intervals (no names)",
    ("netsugen_booking", "GET /v1/programs"): "events are public",
    ("netsugen_booking", "GET /v1/programs/{program_id}"): "events are public",
    ("netsugen_booking", "POST /v1/programs/{program_id}/registrations"): (
        "a guest registers without an account (a member_id needs that member's token: checked below)"
    ),
    ("netsugen_booking", "POST /v1/event-registrations/{registration_id}/cancel"): (
        "a guest cancels with the cancel_token shown once; without it the registration is 404"
    ),
    ("netsugen_booking", "POST /v1/event-registrations/{registration_id}/confirm"): (
        "a guest confirms with the one-time secret of the emailed link; without it the registration is 404"
    ),
    ("netsugen_booking", "GET /v1/coordinators"): "coordinators and their weekly hours",
    ("netsugen_booking", "GET /v1/coordinators/{coordinator_id}"): "coordinators and their weekly hours",
    ("netsugen_booking", "GET /v1/consultation-slots"): "free consultation slots (no names)",
    ("netsugen_booking", "GET /v1/feeds/events.ics"): "iCalendar feed of public events",
    ("netsugen_booking", "POST /v1/billing/quote"): "price calculator: no stored data",
    (
        "netsugen_booking",
        "GET /frontdesk",
    ): "the front-desk page shell; every API call it makes needs a staff token",
    # Sign-in (services/netsugen_booking/accounts): what a person does before having a token. (Login,
    # refresh and TOTP enrolment answer an anonymous caller 401 with WWW-Authenticate, like the rest.)
    (
        "netsugen_booking",
        "POST /v1/auth/logout",
    ): "revokes the session of the refresh token given; unknown ones change nothing",
    (
        "netsugen_booking",
        "POST /v1/auth/email-link",
    ): "asks for a sign-in email; always 202 (no account discovery)",
    (
        "netsugen_booking",
        "POST /v1/auth/email-link/verify",
    ): "the emailed one-time token or code is the credential",
    ("netsugen_booking", "POST /v1/auth/password-reset"): "asks for a reset email; always 202",
    (
        "netsugen_booking",
        "POST /v1/auth/password-reset/confirm",
    ): "the emailed one-time token is the credential",
    (
        "netsugen_booking",
        "POST /v1/auth/email-change/confirm",
    ): "the one-time token sent to the new address is the credential",
    (
        "netsugen_booking",
        "POST /frontdesk/session/logout",
    ): "clears the console's cookie and revokes its session",
}

#: Sign-in operations whose credential is in the request (email + password, a refresh token or the
#: console's cookie): anyone may call them; a wrong or missing credential is a 401 with
#: ``WWW-Authenticate: Bearer`` whatever bearer token comes along, so they are not in the member check.
CREDENTIAL_IN_REQUEST: set[tuple[str, str]] = {
    ("netsugen_booking", "POST /v1/auth/login"),
    ("netsugen_booking", "POST /v1/auth/refresh"),
    ("netsugen_booking", "POST /v1/auth/totp/enrol"),
    ("netsugen_booking", "POST /frontdesk/session"),
    ("netsugen_booking", "POST /frontdesk/session/refresh"),
}

#: Operations that need more than their permission: the caller's own sign-in session (an API token
#: has no account), or the notifier's service token itself. A permitted API token gets a 403 here.
SESSION_OR_SERVICE_ONLY: set[tuple[str, str]] = {
    ("netsugen_booking", "GET /v1/auth/me"),
    ("netsugen_booking", "PATCH /v1/auth/me"),
    ("netsugen_booking", "POST /v1/auth/email-change"),
    ("netsugen_booking", "GET /v1/auth/sessions"),
    ("netsugen_booking", "DELETE /v1/auth/sessions/{session_id}"),
    ("netsugen_booking", "GET /v1/auth/messages/{message_id}/contact"),
}

#: Exceptions to the patterns above: these need a token although a PUBLIC pattern covers them.
NOT_PUBLIC: set[tuple[str, str]] = {
    ("kpi_api", "GET /v1/reports/kpi-progress"),  # the annual review's report: admin and auditor
    ("kpi_api", "GET /v1/reports/kpi-progress.xlsx"),
}

#: Operations a ``member`` token may call, for its own data only. Everything else that is not
#: public is staff, admin or service only, and a member gets 403 there.
MEMBER: set[tuple[str, str]] = {
    ("netsugen_booking", "GET /v1/members/{member_id}"),
    ("netsugen_booking", "GET /v1/members/{member_id}/plans"),
    ("netsugen_booking", "GET /v1/members/{member_id}/users"),
    ("netsugen_booking", "GET /v1/visits"),
    ("netsugen_booking", "GET /v1/visits/{visit_id}"),
    ("netsugen_booking", "POST /v1/visits/{visit_id}/check-out"),
    ("netsugen_booking", "POST /v1/bookings"),
    ("netsugen_booking", "GET /v1/bookings"),
    ("netsugen_booking", "GET /v1/bookings/{booking_id}"),
    ("netsugen_booking", "POST /v1/bookings/{booking_id}/cancel"),
    ("netsugen_booking", "GET /v1/event-registrations/{registration_id}"),
    ("netsugen_booking", "POST /v1/consultations"),
    ("netsugen_booking", "GET /v1/consultations"),
    ("netsugen_booking", "GET /v1/consultations/{consultation_id}"),
    ("netsugen_booking", "POST /v1/consultations/{consultation_id}/cancel"),
    ("netsugen_booking", "GET /v1/feeds/members/{member_id}.ics"),
    ("netsugen_booking", "POST /v1/feeds/members/{member_id}/token"),
    ("netsugen_booking", "GET /v1/invoices"),
    ("netsugen_booking", "GET /v1/invoices/{invoice_id}"),
    ("netsugen_booking", "GET /v1/invoices/{invoice_id}/document"),
    ("netsugen_booking", "GET /v1/payments/{payment_id}/receipt"),
    ("notifier", "GET /v1/preferences/{member_id}"),
    ("notifier", "PUT /v1/preferences/{member_id}"),
    ("notifier", "PATCH /v1/preferences/{member_id}"),
    # A corporate member's own administrator manages its named users (the portal); staff for anyone.
    ("netsugen_booking", "POST /v1/members/{member_id}/users"),
    ("netsugen_booking", "PATCH /v1/members/{member_id}/users/{user_id}"),
    ("netsugen_booking", "POST /v1/members/{member_id}/users/{user_id}/card-token"),
}


def public_reason(op: Operation) -> str | None:
    if (op.service, op.key) in NOT_PUBLIC:
        return None
    for (service, pattern), reason in PUBLIC.items():
        if service in ("*", op.service) and fnmatch.fnmatchcase(op.key, pattern):
            return reason
    return None


def is_member_operation(op: Operation) -> bool:
    return (op.service, op.key) in MEMBER


def example_body(op: Operation) -> Any:
    """The documented example of the JSON body (a well-formed request), or ``{}``."""
    body = op.request_body
    if not body:
        return None
    doc = openapi_document(op.service)
    content = resolve(doc, body).get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    if "example" in media:
        return media["example"]
    schema = resolve(doc, media.get("schema", {}))
    if schema.get("anyOf"):
        schema = resolve(doc, schema["anyOf"][0])
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    return {}


#: Bodies an anonymous caller would send where the documented example is a member's request.
ANONYMOUS_BODIES: dict[str, Any] = {
    "POST /v1/programs/{program_id}/registrations": {
        "guest": {"name": "匿名 ゲスト", "email": "guest@example.jp", "language": "ja"}
    },
}


async def send(
    client: httpx.AsyncClient, op: Operation, headers: dict[str, str], **path: str
) -> httpx.Response:
    body = ANONYMOUS_BODIES.get(op.key) if not headers and op.key in ANONYMOUS_BODIES else example_body(op)
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    elif op.request_body:  # CSV import: a raw body
        kwargs["content"] = b"indicator_id,fiscal_year,value\n"
        kwargs["headers"] = {**headers, "content-type": "text/csv"}
    return await client.request(op.method, sample_path(op, path), **kwargs)


def assert_problem(r: httpx.Response, status: int, what: str) -> None:
    assert r.status_code == status, f"{what}: expected {status}, got {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith("application/problem+json"), what


# ---- the static lists stay true to the documents -----------------------------------------------
def test_allow_lists_name_real_operations() -> None:
    keys = {(op.service, op.key) for op in all_operations()}
    assert MEMBER <= keys, sorted(MEMBER - keys)
    assert NOT_PUBLIC <= keys, sorted(NOT_PUBLIC - keys)
    for service, pattern in PUBLIC:
        assert any(service in ("*", s) and fnmatch.fnmatchcase(k, pattern) for s, k in keys), (
            service,
            pattern,
        )
    assert not [op for op in all_operations() if is_member_operation(op) and public_reason(op)]


# ---- anonymous ---------------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
async def test_anonymous_gets_401_except_on_public_operations(
    clients: dict[str, httpx.AsyncClient], service: str
) -> None:
    client = clients[service]
    wrong: list[str] = []
    checked = 0
    for op in all_operations():
        if op.service != service:
            continue
        r = await send(client, op, {})
        checked += 1
        if public_reason(op):
            if r.status_code in (401, 403):
                wrong.append(f"{op.key}: public, but anonymous got {r.status_code}")
        elif r.status_code != 401:
            wrong.append(f"{op.key}: anonymous got {r.status_code} {r.text[:160]}")
        elif r.headers.get("www-authenticate", "").split(" ")[0] != "Bearer":
            wrong.append(f"{op.key}: 401 without WWW-Authenticate: Bearer")
    assert checked > 0
    assert wrong == [], "\n".join(wrong)


# ---- the world of two members ------------------------------------------------------------------
MEETING_ROOM = str(resource_id("meeting-room-a"))


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


class Clock:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def set(self, when: datetime) -> None:
        self.app.dependency_overrides[get_now] = lambda: when


@dataclass
class Member:
    id: str
    number: str
    name: str
    token: str = ""
    ids: dict[str, str] = field(default_factory=dict)  # path parameter name → this member's object

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class World:
    a: Member
    b: Member
    program_id: str
    free_slots: list[str]


def ok(r: httpx.Response, what: str) -> dict[str, Any]:
    assert r.status_code in (200, 201), f"{what}: {r.status_code} {r.text[:400]}"
    return dict(r.json())


async def _member(client: httpx.AsyncClient, staff: dict[str, str], n: int, kind: str) -> Member:
    body = {
        "kind": kind,
        "name": f"認可 テスト{n}",
        "email": f"authz{n}@example.jp",
        "language": "ja",
        "plan": "dropin" if kind == "individual" else "corporate_monthly",
        "plan_start": "2026-09-01",
    }
    m = ok(await client.post("/v1/members", json=body, headers=staff), "create member")
    member = Member(id=m["id"], number=m["member_number"], name=body["name"])
    member.ids["member_id"] = member.id
    return member


@pytest.fixture
async def world(
    netsugen_app: FastAPI,
    netsugen_client: httpx.AsyncClient,
    notifier_client: httpx.AsyncClient,
    staff_headers: dict[str, str],
    make_token: TokenFactory,
) -> AsyncIterator[World]:
    client, staff = netsugen_client, staff_headers
    clock = Clock(netsugen_app)
    try:
        a = await _member(client, staff, 1, "individual")
        b = await _member(client, staff, 2, "corporate")
        for m in (a, b):
            if m is b:
                user = ok(
                    await client.post(
                        f"/v1/members/{m.id}/users", json={"name": "認可 利用者"}, headers=staff
                    ),
                    "user",
                )
                m.ids["user_id"] = user["id"]
                who: dict[str, str] = {"member_id": m.id, "member_user_id": user["id"]}
            else:
                who = {"member_id": m.id}
            # A visit on Monday 2026-10-05, 10:30-12:00.
            clock.set(jst(2026, 10, 5, 10, 30))
            v = ok(await client.post("/v1/visits", json=who, headers=staff), "check in")
            clock.set(jst(2026, 10, 5, 12, 0))
            ok(await client.post(f"/v1/visits/{v['id']}/check-out", headers=staff), "check out")
            m.ids["visit_id"] = v["id"]
        # October's invoices, issued.
        clock.set(jst(2026, 11, 2, 10, 0))
        ok(
            await client.post("/v1/invoice-runs", json={"period": "2026-10", "issue": True}, headers=ADMIN),
            "invoice run",
        )
        for m in (a, b):
            items = ok(
                await client.get("/v1/invoices", params={"member_id": m.id}, headers=staff), "invoices"
            )["items"]
            assert items, f"no invoice for {m.name}"
            m.ids["invoice_id"] = items[0]["id"]
            paid = ok(
                await client.post(
                    f"/v1/invoices/{items[0]['id']}/payments",
                    json={"method": "cash", "amount_yen": 1, "paid_on": "2026-11-02"},
                    headers=staff,
                ),
                "payment",
            )
            m.ids["payment_id"] = paid["id"]
        # December: an event, a booking and a consultation each.
        clock.set(jst(2026, 12, 1, 9, 0))
        event = {
            "title_ja": "認可テスト",
            "title_en": "Authz test",
            "description_ja": "説明",
            "description_en": "About",
            "category": "seminar",
            "resource_id": str(resource_id("event-space")),
            "start": "2026-12-10T18:00:00+09:00",
            "end": "2026-12-10T20:00:00+09:00",
            "capacity": 10,
            "registration_closes_at": "2026-12-10T12:00:00+09:00",
        }
        program = ok(await client.post("/v1/programs", json=event, headers=staff), "event")
        coordinator = ok(
            await client.post(
                "/v1/coordinators",
                json={
                    "name": "相談 員",
                    "name_en": "Coordinator",
                    "title": "中小企業診断士",
                    "expertise": ["funding"],
                    "bio": "資金",
                },
                headers=staff,
            ),
            "coordinator",
        )
        ok(
            await client.post(
                f"/v1/coordinators/{coordinator['id']}/availability",
                json={
                    "weekday": 2,
                    "starts_at": "13:00",
                    "ends_at": "17:00",
                    "slot_minutes": 60,
                },
                headers=staff,
            ),
            "window",
        )
        slots = ok(
            await client.get(
                "/v1/consultation-slots", params={"coordinator_id": coordinator["id"], "limit": 50}
            ),
            "slots",
        )["items"]
        free = [s["id"] for s in slots]
        for i, m in enumerate((a, b)):
            reg = ok(
                await client.post(
                    f"/v1/programs/{program['id']}/registrations", json={"member_id": m.id}, headers=staff
                ),
                "registration",
            )
            m.ids["registration_id"] = reg["id"]
            start = f"2026-12-1{5 + i}T10:00:00+09:00"
            booking = ok(
                await client.post(
                    "/v1/bookings",
                    json={
                        "resource_id": MEETING_ROOM,
                        "member_id": m.id,
                        "start": start,
                        "end": start.replace("T10", "T11"),
                    },
                    headers=staff,
                ),
                "booking",
            )
            m.ids["booking_id"] = booking["id"]
            consultation = ok(
                await client.post(
                    "/v1/consultations",
                    json={
                        "slot_id": free.pop(0),
                        "member_id": m.id,
                        "topic": "資金調達の相談",
                    },
                    headers=staff,
                ),
                "consultation",
            )
            m.ids["consultation_id"] = consultation["id"]
            ok(
                await notifier_client.put(f"/v1/preferences/{m.id}", json={"activity": False}, headers=staff),
                "preferences",
            )
            ok(await client.post(f"/v1/feeds/members/{m.id}/token", headers=staff), "feed token")
            m.token = await make_token("member", subject=m.id)
        yield World(a, b, program["id"], free)
    finally:
        netsugen_app.dependency_overrides.pop(get_now, None)


def member_request(op: Operation, world: World, target: Member) -> tuple[str, dict[str, Any]]:
    """The request for ``op`` aimed at ``target``'s data: path ids, a body naming ``target``, and a
    ``member_id`` filter for lists."""
    missing = [p for p in op.path_params if p not in target.ids]
    assert not missing, f"{op}: add a {missing} of each member to the world fixture"
    path = sample_path(op, target.ids)
    kwargs: dict[str, Any] = {}
    body = MEMBER_BODIES.get(op.key)
    if op.request_body is not None and op.key not in MEMBER_BODIES:
        pytest.fail(f"{op}: add the body a member would send to MEMBER_BODIES")
    if body is not None:
        kwargs["json"] = body(world, target)
    if op.method == "GET" and not op.path_params and any(p["name"] == "member_id" for p in op.query_params):
        kwargs["params"] = {"member_id": target.id}
    return path, kwargs


def _future_booking(world: World, m: Member) -> dict[str, Any]:
    return {
        "resource_id": MEETING_ROOM,
        "member_id": m.id,
        "start": "2026-12-22T14:00:00+09:00",
        "end": "2026-12-22T15:00:00+09:00",
    }


MEMBER_BODIES: dict[str, Any] = {
    "POST /v1/bookings": _future_booking,
    "POST /v1/bookings/{booking_id}/cancel": lambda w, m: {},
    "POST /v1/consultations": lambda w, m: {"slot_id": w.free_slots[0], "member_id": m.id, "topic": "相談"},
    "POST /v1/consultations/{consultation_id}/cancel": lambda w, m: {},
    "PUT /v1/preferences/{member_id}": lambda w, m: {"activity": True, "reminders": False},
    "PATCH /v1/preferences/{member_id}": lambda w, m: {"activity": True},
    "POST /v1/members/{member_id}/users": lambda w, m: {"name": "前橋 花子"},
    "PATCH /v1/members/{member_id}/users/{user_id}": lambda w, m: {"active": True},
    "POST /v1/members/{member_id}/users/{user_id}/card-token": lambda w, m: {},
    "POST /v1/programs/{program_id}/registrations": lambda w, m: {"member_id": m.id},
}


def _member_operations() -> list[Operation]:
    return [op for op in all_operations() if is_member_operation(op)]


def _staff_operations() -> list[Operation]:
    return [
        op
        for op in all_operations()
        if not is_member_operation(op)
        and not public_reason(op)
        and (op.service, op.key) not in CREDENTIAL_IN_REQUEST
    ]


async def test_member_token_gets_403_on_staff_and_admin_operations(
    clients: dict[str, httpx.AsyncClient], world: World
) -> None:
    wrong = []
    for op in _staff_operations():
        r = await send(clients[op.service], op, world.a.headers, **world.a.ids)
        if r.status_code != 403:
            wrong.append(f"{op}: member got {r.status_code} {r.text[:160]}")
        elif not r.headers["content-type"].startswith("application/problem+json"):
            wrong.append(f"{op}: 403 is not problem+json")
    assert wrong == [], "\n".join(wrong)


async def _snapshot(clients: dict[str, httpx.AsyncClient], m: Member) -> dict[str, Any]:
    """What staff see of a member's data (to prove nothing changed)."""
    n, staff = clients["netsugen_booking"], ADMIN
    out: dict[str, Any] = {}
    for name, url in {
        "visit": f"/v1/visits/{m.ids['visit_id']}",
        "booking": f"/v1/bookings/{m.ids['booking_id']}",
        "consultation": f"/v1/consultations/{m.ids['consultation_id']}",
        "registration": f"/v1/event-registrations/{m.ids['registration_id']}",
        "invoice": f"/v1/invoices/{m.ids['invoice_id']}",
        "member": f"/v1/members/{m.id}",
    }.items():
        r = await n.get(url, headers=staff)
        assert r.status_code == 200, (url, r.text)
        out[name] = r.json()
    r = await clients["notifier"].get(f"/v1/preferences/{m.id}", headers=staff)
    out["preferences"] = r.json()
    out["bookings"] = (await n.get("/v1/bookings", params={"member_id": m.id}, headers=staff)).json()
    out["consultations"] = (
        await n.get("/v1/consultations", params={"member_id": m.id}, headers=staff)
    ).json()
    return out


def _mentions(body: str, m: Member) -> bool:
    return m.id in body or m.name in body or m.number in body


async def test_member_cannot_reach_another_members_data(
    clients: dict[str, httpx.AsyncClient], world: World
) -> None:
    a, b = world.a, world.b
    before = await _snapshot(clients, b)
    wrong = []
    for op in _member_operations():
        path, kwargs = member_request(op, world, b)
        r = await clients[op.service].request(op.method, path, headers=a.headers, **kwargs)
        if r.status_code < 400:
            lists_own_only = op.method == "GET" and not op.path_params and not _mentions(r.text, b)
            if not lists_own_only:
                wrong.append(f"{op}: member A aimed at B got {r.status_code} {r.text[:200]}")
        elif r.status_code not in (403, 404):
            wrong.append(f"{op}: member A aimed at B got {r.status_code} (expected 403/404) {r.text[:200]}")
        elif _mentions(r.text, b) and b.id not in path:
            wrong.append(f"{op}: the refusal reveals B's data: {r.text[:200]}")
    assert wrong == [], "\n".join(wrong)
    after = await _snapshot(clients, b)
    assert after == before, "member A changed member B's data"


async def test_member_can_use_the_same_operations_for_itself(
    clients: dict[str, httpx.AsyncClient], world: World
) -> None:
    """The refusals above come from ownership, not from a broken token: aimed at A's own data, A gets
    through (reads first, then the writes that change state)."""
    ops = sorted(_member_operations(), key=lambda op: (op.method != "GET", op.key))
    wrong = []
    for op in ops:
        # Named users belong to corporate members: B (corporate, with a user) acts on its own there.
        a = world.b if "/users" in op.path else world.a
        path, kwargs = member_request(op, world, a)
        r = await clients[op.service].request(op.method, path, headers=a.headers, **kwargs)
        if r.status_code >= 400 and r.status_code != 409:  # 409: e.g. the visit is closed already
            wrong.append(f"{op}: A on its own data got {r.status_code} {r.text[:200]}")
        if op.method == "GET" and r.status_code == 200 and not op.path_params:
            assert a.id in r.text, f"{op}: A's own list does not show A's data"
    assert wrong == [], "\n".join(wrong)


async def test_member_lists_never_show_others(clients: dict[str, httpx.AsyncClient], world: World) -> None:
    a, b = world.a, world.b
    for op in _member_operations():
        if op.method != "GET" or op.path_params:
            continue
        r = await clients[op.service].get(op.path, headers=a.headers)
        assert r.status_code == 200, (str(op), r.text)
        assert not _mentions(r.text, b), f"{op}: A's list shows B's data"


async def test_member_cannot_register_another_member(
    netsugen_client: httpx.AsyncClient, world: World
) -> None:
    r = await netsugen_client.post(
        f"/v1/programs/{world.program_id}/registrations",
        json={"member_id": world.b.id},
        headers=world.a.headers,
    )
    assert r.status_code in (403, 409), r.text  # 409: B is registered already; never a new registration
    r = await netsugen_client.post(
        f"/v1/programs/{world.program_id}/registrations",
        json={"member_id": str(uuid.uuid4())},
        headers=world.a.headers,
    )
    assert_problem(r, 403, "member registering an unknown other member")


async def test_anonymous_cannot_register_a_member(netsugen_client: httpx.AsyncClient, world: World) -> None:
    r = await netsugen_client.post(
        f"/v1/programs/{world.program_id}/registrations", json={"member_id": world.a.id}
    )
    assert r.status_code in (401, 403), r.text


# ---- rate limits -------------------------------------------------------------------------------
def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


@pytest.mark.parametrize("service", SERVICES)
async def test_failed_authentication_is_rate_limited_per_client(
    request: pytest.FixtureRequest, clean_db: None, service: str
) -> None:
    app: FastAPI = request.getfixturevalue(
        {"kpi_api": "kpi_app", "netsugen_booking": "netsugen_app", "notifier": "notifier_app"}[service]
    )
    limiter = app.state.auth_limiter
    # Operations that read the token (the KPI reads are public and never look at one).
    url = {"kpi_api": "/v1/initiatives", "netsugen_booking": "/v1/members", "notifier": "/v1/deliveries"}[
        service
    ]
    method = "POST" if service == "kpi_api" else "GET"
    # Addresses of this run only: the counters live in Redis for a minute.
    run = uuid.uuid4().int
    attacker_ip = f"198.18.{run % 250}.{run // 250 % 250 + 1}"
    bystander_ip = f"198.19.{run % 250}.{run // 250 % 250 + 1}"
    async with _from(app, attacker_ip) as attacker, _from(app, bystander_ip) as bystander:
        for i in range(limiter.limit):
            r = await attacker.request(method, url, headers=bearer(f"gsk_guessed-{run}-{i}"))
            assert_problem(r, 401, "wrong token")
        r = await attacker.request(method, url, headers=bearer(f"gsk_guessed-{run}-last"))
        assert_problem(r, 429, "over the limit")
        assert int(r.headers["retry-after"]) >= 1
        # Only failures are limited: the right token from the same address is answered.
        assert (await attacker.request(method, url, headers=ADMIN)).status_code in (200, 422)
        # Another client is not affected.
        r = await bystander.request(method, url, headers=bearer(f"gsk_other-guess-{run}"))
        assert_problem(r, 401, "another client")
        assert (await bystander.request(method, url, headers=ADMIN)).status_code in (200, 422)


async def test_check_in_is_rate_limited_per_token(
    netsugen_app: FastAPI, netsugen_client: httpx.AsyncClient, make_token: TokenFactory
) -> None:
    """A front-desk token that checks in faster than any desk can (a script, a leaked kiosk token) is
    slowed down with 429 + Retry-After; another token is not affected."""
    settings = netsugen_app.state.settings
    limit = int(settings.checkin_rate_limit_per_minute)
    kiosk = bearer(await make_token("staff", name="kiosk"))
    desk = bearer(await make_token("staff", name="desk"))
    statuses = []
    for _ in range(limit):
        r = await netsugen_client.post("/v1/visits", json={"member_number": "M999999"}, headers=kiosk)
        statuses.append(r.status_code)
    assert 429 not in statuses  # (404: unknown member; the limit counts attempts)
    r = await netsugen_client.post("/v1/visits", json={"member_number": "M999999"}, headers=kiosk)
    assert_problem(r, 429, "check-in over the per-token limit")
    assert int(r.headers["retry-after"]) >= 1
    r = await netsugen_client.post("/v1/visits", json={"member_number": "M999999"}, headers=desk)
    assert r.status_code == 404, r.text


# ---- every role against the policy table ---------------------------------------------------------
#: Operations that read a token without requiring one (public with extras for staff, or a member's
#: feed that also accepts the feed's own token): no ``x-permission``.
OPTIONAL_TOKEN: set[tuple[str, str]] = {
    ("netsugen_booking", "GET /v1/programs"),
    ("netsugen_booking", "GET /v1/programs/{program_id}"),
    ("netsugen_booking", "GET /v1/coordinators"),
    ("netsugen_booking", "GET /v1/feeds/members/{member_id}.ics"),
}
#: Roles whose allowed reads are narrowed to their own objects (tested with their own data in
#: tests/security/test_roles.py); here a path naming another's object may be 403.
SCOPED_PATH_PARAMS = {"coordinator": {"coordinator_id", "consultation_id"}}
DEPARTMENT = "環境森林部"


def readme_role_table() -> dict[str, set[str] | None]:
    """The README's role table: role → permission values (``None`` for "every permission")."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text.split("<!-- role-table:start -->")[1].split("<!-- role-table:end -->")[0]
    table: dict[str, set[str] | None] = {}
    for line in block.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        role = cells[0].strip("`")
        table[role] = None if cells[2] == "every permission" else set(re.findall(r"`([^`]+)`", cells[2]))
    return table


def test_readme_role_table_is_the_policy() -> None:
    table = readme_role_table()
    assert list(table) == list(ROLES)
    for role in ROLES:
        expected = {p.value for p in ROLE_PERMISSIONS[role]}
        if table[role] is None:
            assert expected == {p.value for p in Permission}, role
        else:
            assert table[role] == expected, f"README row of {role} differs from ROLE_PERMISSIONS"


def test_every_authenticated_operation_declares_a_permission() -> None:
    wrong = []
    for op in all_operations():
        if public_reason(op) or (op.service, op.key) in OPTIONAL_TOKEN | CREDENTIAL_IN_REQUEST:
            continue
        permission = op.spec.get("x-permission")
        if permission is None:
            wrong.append(f"{op}: no x-permission (declare require(P.X))")
        elif op.spec.get("x-roles") != roles_with(Permission(permission)):
            wrong.append(f"{op}: x-roles {op.spec.get('x-roles')} is not the table's")
    assert wrong == [], "\n".join(wrong)
    # The member list above is exactly the operations a member's row allows.
    member_ops = {
        (op.service, op.key)
        for op in all_operations()
        if "member" in op.spec.get("x-roles", []) and not public_reason(op)
    }
    # One's own sign-in session (GET /v1/auth/me …) is a member's too, but needs a session, not a
    # member token: tested with real sessions in tests/netsugen_booking/test_signin.py.
    assert member_ops - SESSION_OR_SERVICE_ONLY == MEMBER - OPTIONAL_TOKEN


async def _role_headers(role: Role, world: World, make_token: TokenFactory) -> dict[str, str]:
    if role == "member":
        return world.a.headers
    subject = {"coordinator": str(uuid.uuid4()), "kpi_editor": DEPARTMENT}.get(role)
    return bearer(await make_token(role, subject=subject, name=f"matrix {role}"))


@pytest.mark.parametrize("role", ROLES)
async def test_role_gets_exactly_what_its_row_allows(
    clients: dict[str, httpx.AsyncClient], world: World, make_token: TokenFactory, role: Role
) -> None:
    """For every operation that needs a token: a role without the permission gets a 403 problem
    (and nothing runs); a role with it is not refused (reads are sent, aimed at member A's data;
    writes are exercised with real data in tests/security/test_roles.py and the service tests)."""
    headers = await _role_headers(role, world, make_token)
    wrong: list[str] = []
    refused = allowed = 0
    for op in all_operations():
        permission = op.spec.get("x-permission")
        if permission is None:
            continue
        may = allows(role, Permission(permission))
        if may and op.method != "GET":
            continue
        if may and set(op.path_params) & SCOPED_PATH_PARAMS.get(role, set()):
            continue
        r = await send(clients[op.service], op, headers, **world.a.ids)
        if may and (op.service, op.key) in SESSION_OR_SERVICE_ONLY and r.status_code == 403:
            # Holds the permission, but the operation also needs what an API token is not: a
            # signed-in person's session (own profile, own sessions), or the notifier itself
            # (a one-time sign-in secret that even an admin must not read). A 403 problem here is right.
            assert r.headers["content-type"].startswith("application/problem+json"), r.text[:160]
            allowed += 1
            continue
        if not may:
            refused += 1
            if r.status_code != 403 or not r.headers["content-type"].startswith("application/problem+json"):
                wrong.append(f"{op}: {role} lacks {permission} but got {r.status_code} {r.text[:160]}")
        else:
            allowed += 1
            if r.status_code in (401, 403) or r.status_code >= 500:
                wrong.append(f"{op}: {role} holds {permission} but got {r.status_code} {r.text[:160]}")
    assert wrong == [], "\n".join(wrong)
    if role == "admin":
        assert refused == 0
    else:
        assert refused > 0
    if role != "kpi_editor":  # its only permission is a write
        assert allowed > 0
