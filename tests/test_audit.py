"""The audit trail (shared/audit.py, auth.audit_entry): every write by a token appends who, role,
when (JST), operation, object, before and after (personal data masked), request id and client
address, in the same transaction; the table is append-only in the database; the API filters,
paginates and exports CSV; retention purges only old entries."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.netsugen_booking.audit.tasks import purge_audit_trail
from services.netsugen_booking.frontdesk_common.clock import get_now
from shared import audit
from shared.audit import Actor, AuditEntry, record_audit
from shared.auth import ApiToken, create_token, revoke_token
from shared.db import session_scope
from shared.jst import JST
from tests.conftest import TokenFactory, bearer

CLIENT_ADDRESS = "192.0.2.55"


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(CLIENT_ADDRESS, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


@pytest.fixture
async def net(netsugen_client: httpx.AsyncClient, netsugen_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(netsugen_app) as client:
        yield client
    netsugen_app.dependency_overrides.pop(get_now, None)


@pytest.fixture
async def auditor(make_token: TokenFactory) -> dict[str, str]:
    return bearer(await make_token("auditor", name="監査 担当"))


async def _token_id(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> str:
    async with sessionmaker() as session:
        return str(await session.scalar(select(ApiToken.id).where(ApiToken.name == name)))


async def entries(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/audit", params={"limit": 200, **params}, headers=headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [e for e in items if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (
        match,
        [(e["operation"], e["object_type"], e["before"], e["after"]) for e in items],
    )
    return found[0]


def _clock(app: FastAPI, when: datetime) -> None:
    app.dependency_overrides[get_now] = lambda: when


async def _member(net: httpx.AsyncClient, staff: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "individual",
        "name": "監査 花子",
        "email": "hanako@example.jp",
        "language": "ja",
        "plan": "dropin",
        "plan_start": "2026-09-01",
        **extra,
    }
    r = await net.post("/v1/members", json=body, headers=staff)
    assert r.status_code == 201, r.text
    return dict(r.json())


# ---- members: who, when, before/after, masking, request id, client address -------------------------
async def test_member_status_change_is_audited_with_who_when_before_after(
    net: httpx.AsyncClient,
    make_token: TokenFactory,
    auditor: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    staff = bearer(await make_token("staff", name="受付 タブレット1"))
    member = await _member(net, staff)
    r = await net.post(
        f"/v1/members/{member['id']}/suspend",
        json={"reason": "会費未納"},
        headers={**staff, "X-Request-ID": "audit-req-0001"},
    )
    assert r.status_code == 200, r.text

    items = await entries(net, auditor, object=f"netsugen.member:{member['id']}")
    suspend = one(items, operation="suspendMember")
    assert suspend["before"]["status"] == "active" and suspend["after"]["status"] == "suspended"
    assert suspend["actor_kind"] == "token" and suspend["actor_name"] == "受付 タブレット1"
    assert suspend["actor_id"] == await _token_id(sessionmaker, "受付 タブレット1")
    assert suspend["role"] == "staff"
    assert suspend["request_id"] == "audit-req-0001"
    assert suspend["client_address"] == CLIENT_ADDRESS
    assert suspend["service"] == "netsugen_booking"
    at = datetime.fromisoformat(suspend["at"])
    assert at.utcoffset() == timedelta(hours=9)
    assert abs((at - datetime.now(JST)).total_seconds()) < 120

    created = one(items, operation="createMember")
    assert created["before"] is None
    assert created["after"]["status"] == "active"
    # Personal data never reaches the trail: masked, also in the raw table.
    assert created["after"]["name"] == "***" and created["after"]["email"] == "***"
    async with sessionmaker() as session:
        raw = " ".join(
            str(row) for row in (await session.execute(text("SELECT before, after FROM auth.audit_entry")))
        )
    assert "hanako@example.jp" not in raw and "監査 花子" not in raw


async def test_member_update_masks_changed_personal_fields_and_plan_change_is_audited(
    net: httpx.AsyncClient, staff_headers: dict[str, str], auditor: dict[str, str]
) -> None:
    member = await _member(net, staff_headers)
    r = await net.patch(
        f"/v1/members/{member['id']}", json={"email": "new@example.jp"}, headers=staff_headers
    )
    assert r.status_code == 200, r.text
    update = one(await entries(net, auditor, object=member["id"]), operation="updateMember")
    # Only the changed fields (and the status, for context); the email's value is masked.
    assert update["before"] == {"email": "***", "status": "active"}
    assert update["after"] == {"email": "***", "status": "active"}

    _clock(net._transport.app, datetime(2026, 11, 20, 10, 0, tzinfo=JST))  # type: ignore[attr-defined]
    r = await net.post(
        f"/v1/members/{member['id']}/plan-changes",
        json={"plan": "individual_monthly", "effective_from": "2026-12-01"},
        headers=staff_headers,
    )
    assert r.status_code in (200, 201), r.text
    items = await entries(net, auditor, object="netsugen.plan_assignment")
    created = [e for e in items if e["operation"] == "changePlan" and e["before"] is None]
    assert [e["after"]["plan_code"] for e in created] == ["individual_monthly"]
    assert created[0]["after"]["member_id"] == member["id"]


# ---- plans, prices, calendar ------------------------------------------------------------------------
@pytest.fixture
async def restore_plans(engine: AsyncEngine) -> AsyncIterator[None]:
    """Plans and prices are reference data, kept between tests: put back what the test changed."""
    async with engine.connect() as conn:
        max_users = await conn.scalar(
            text("SELECT max_users FROM netsugen.plan WHERE code = 'corporate_monthly'")
        )
    yield
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE netsugen.plan SET max_users = :m WHERE code = 'corporate_monthly'"), {"m": max_users}
        )
        await conn.execute(
            text(
                "DELETE FROM netsugen.plan_price WHERE plan_code = 'dropin' AND effective_from = '2027-04-01'"
            )
        )


async def test_plan_price_and_calendar_changes_are_audited(
    net: httpx.AsyncClient, admin_headers: dict[str, str], auditor: dict[str, str], restore_plans: None
) -> None:
    _clock(net._transport.app, datetime(2026, 12, 1, 9, 0, tzinfo=JST))  # type: ignore[attr-defined]
    plan = (await net.get("/v1/plans/corporate_monthly")).json()
    before_max = plan["max_users"]
    after_max = (before_max or 5) + 1
    r = await net.patch("/v1/plans/corporate_monthly", json={"max_users": after_max}, headers=admin_headers)
    assert r.status_code == 200, r.text
    r = await net.post(
        "/v1/plans/dropin/prices",
        json={
            "block_minutes": 30,
            "block_price_yen": 150,
            "daily_cap_yen": 1200,
            "effective_from": "2027-04-01",
            "grace_minutes": 0,
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    r = await net.post(
        "/v1/calendar/closures",
        json={
            "start_date": "2027-02-10",
            "end_date": "2027-02-11",
            "reason_ja": "設備点検",
            "reason_en": "Maintenance",
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    closure_id = r.json()["id"]
    assert (await net.delete(f"/v1/calendar/closures/{closure_id}", headers=admin_headers)).status_code == 204

    items = await entries(net, auditor)
    plan_entry = one(items, operation="updatePlan", object_type="netsugen.plan")
    assert plan_entry["object_id"] == "corporate_monthly"
    assert plan_entry["before"]["max_users"] == before_max
    assert plan_entry["after"]["max_users"] == after_max
    price = one(items, operation="addPrice", object_type="netsugen.plan_price")
    assert price["after"]["block_price_yen"] == 150 and price["after"]["daily_cap_yen"] == 1200
    added = one(items, operation="addClosure")
    assert added["after"]["start_date"] == "2027-02-10" and added["object_id"] == closure_id
    deleted = one(items, operation="deleteClosure")
    assert deleted["before"]["start_date"] == "2027-02-10" and deleted["after"] is None
    assert deleted["before"]["reason_en"] == "***"  # free text may name a person: masked
    assert deleted["role"] == "admin"


# ---- the front desk and billing ----------------------------------------------------------------------
async def test_check_in_invoice_run_issue_payment_and_credit_note_are_audited(
    net: httpx.AsyncClient, netsugen_app: FastAPI, make_token: TokenFactory, auditor: dict[str, str]
) -> None:
    staff = bearer(await make_token("staff", name="desk"))
    accountant = bearer(await make_token("accountant", name="会計 担当"))
    member = await _member(net, staff)
    _clock(netsugen_app, datetime(2026, 10, 5, 10, 0, tzinfo=JST))
    r = await net.post("/v1/visits", json={"member_id": member["id"]}, headers=staff)
    assert r.status_code == 201, r.text
    visit_id = r.json()["id"]
    _clock(netsugen_app, datetime(2026, 10, 5, 12, 0, tzinfo=JST))
    assert (await net.post(f"/v1/visits/{visit_id}/check-out", headers=staff)).status_code in (200, 204)

    _clock(netsugen_app, datetime(2026, 11, 2, 10, 0, tzinfo=JST))
    r = await net.post("/v1/invoice-runs", json={"period": "2026-10", "issue": False}, headers=accountant)
    assert r.status_code in (200, 201), r.text
    invoice = (await net.get("/v1/invoices", params={"member_id": member["id"]}, headers=accountant)).json()[
        "items"
    ][0]
    r = await net.post(f"/v1/invoices/{invoice['id']}/issue", headers=accountant)
    assert r.status_code == 200, r.text
    total = r.json()["total_yen"]
    r = await net.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"method": "cash", "amount_yen": total, "paid_on": "2026-11-05"},
        headers=accountant,
    )
    assert r.status_code in (200, 201), r.text
    r = await net.post(
        f"/v1/invoices/{invoice['id']}/credit-notes",
        json={"lines": [{"amount_yen": 100, "description": "訂正"}], "reason": "利用時間の誤り"},
        headers=accountant,
    )
    assert r.status_code in (200, 201), r.text

    items = await entries(net, auditor)
    # Check-in and check-out are driver statements: one entry for the operation (the masked body).
    check_in = one(items, operation="checkIn")
    assert check_in["role"] == "staff" and check_in["after"] == {"member_id": member["id"]}
    check_out = one(items, operation="checkOut")
    assert check_out["object_type"] == "visits" and check_out["object_id"] == visit_id
    run = [e for e in items if e["operation"] == "createInvoiceRun"]
    assert run and all(e["actor_name"] == "会計 担当" and e["role"] == "accountant" for e in run)
    issue = one(items, operation="issueInvoice", object_type="netsugen.invoice")
    assert issue["object_id"] == invoice["id"]
    assert issue["before"]["status"] == "draft" and issue["after"]["status"] == "issued"
    payment = one(items, operation="recordPayment", object_type="netsugen.invoice_payment")
    assert payment["after"]["amount_yen"] == total and payment["after"]["method"] == "cash"
    credit = [
        e for e in items if e["operation"] == "createCreditNote" and e["object_type"] == "netsugen.invoice"
    ]
    assert credit and credit[0]["actor_name"] == "会計 担当"


# ---- KPI observations and webhooks (the other two services write to the same trail) ------------------
async def test_observations_and_webhook_changes_are_audited(
    kpi_client: httpx.AsyncClient,
    notifier_client: httpx.AsyncClient,
    net: httpx.AsyncClient,
    make_token: TokenFactory,
    auditor: dict[str, str],
) -> None:
    admin = bearer(await make_token("admin", name="KPI 管理者"))
    indicator = (await kpi_client.get("/v1/kpis", params={"limit": 1})).json()["items"][0]["id"]
    url = f"/v1/kpis/{indicator}/observations"
    r = await kpi_client.post(url, json={"fiscal_year": 2022, "value": 100, "source": "調査"}, headers=admin)
    assert r.status_code == 201, r.text
    r = await kpi_client.post(
        url, json={"fiscal_year": 2022, "value": 120, "source": "調査", "correction": True}, headers=admin
    )
    assert r.status_code == 200, r.text
    r = await notifier_client.post(
        "/v1/webhook-endpoints",
        json={
            "description": "dashboard",
            "event_types": ["kpi.status_changed"],
            "url": "https://hooks.example.jp/a",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()["id"]
    r = await notifier_client.patch(
        f"/v1/webhook-endpoints/{endpoint}", json={"enabled": False}, headers=admin
    )
    assert r.status_code == 200, r.text

    items = await entries(net, auditor, who="KPI 管理者")
    observations = [e for e in items if e["object_type"] == "kpi.observation"]
    first = one(observations, operation="recordObservation", before=None)
    assert first["after"]["value"] == "100" and first["after"]["indicator_id"] == indicator
    corrected = [e for e in observations if e["before"] is not None]
    assert corrected[0]["before"]["value"] == "100" and corrected[0]["after"]["value"] == "120"
    assert corrected[0]["after"]["revision"] == 2 and corrected[0]["service"] == "kpi_api"
    created = one(items, operation="createWebhookEndpoint")
    assert created["service"] == "notifier" and created["object_id"] == endpoint
    assert all(v == "***" for k, v in created["after"].items() if "secret" in k and v is not None)
    updated = one(items, operation="updateWebhookEndpoint")
    assert updated["before"]["enabled"] is True and updated["after"]["enabled"] is False


# ---- account and role changes, sign-in -----------------------------------------------------------------
async def test_token_creation_and_revocation_are_audited(
    db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_scope(sessionmaker) as session:
        token, _ = await create_token(session, name="連携 システム", role="service")
    async with session_scope(sessionmaker) as session:
        assert await revoke_token(session, token.id)
    async with session_scope(sessionmaker) as session:
        assert not await revoke_token(session, token.id)  # nothing changed, nothing recorded
    rows = (
        await db.scalars(
            select(AuditEntry).where(AuditEntry.object_id == str(token.id)).order_by(AuditEntry.id)
        )
    ).all()
    assert [r.operation for r in rows] == ["createToken", "revokeToken"]
    assert rows[0].after == {"name": "***", "role": "service", "subject": None}
    assert rows[1].before["revoked_at"] is None and rows[1].after["revoked_at"] is not None  # type: ignore[index]
    assert all(r.actor_kind == "system" and r.actor_name.startswith("cli") for r in rows)


async def test_sign_in_code_can_record_failed_sign_ins(db: AsyncSession) -> None:
    """The function the sign-in code calls: an explicit actor when no principal exists yet."""
    await record_audit(
        db,
        operation="loginFailed",
        object_type="auth.account",
        object_id="acc-1",
        after={"email": "staff@example.jp", "outcome": "bad_password"},
        actor=Actor(kind="anonymous", id=None, name="anonymous", role=None),
    )
    await db.commit()
    row = (await db.scalars(select(AuditEntry).where(AuditEntry.operation == "loginFailed"))).one()
    assert row.after == {"email": "***", "outcome": "bad_password"}
    assert row.actor_kind == "anonymous" and row.object_id == "acc-1"


async def test_a_failed_write_leaves_no_entry(
    net: httpx.AsyncClient, staff_headers: dict[str, str], auditor: dict[str, str]
) -> None:
    """Same transaction: a write that fails (here 404) is rolled back with its audit entry."""
    r = await net.post(f"/v1/members/{uuid.uuid4()}/suspend", json={}, headers=staff_headers)
    assert r.status_code == 404
    assert [e for e in await entries(net, auditor) if e["operation"] == "suspendMember"] == []


# ---- append-only, retention --------------------------------------------------------------------------
async def _insert(session: AsyncSession, at: datetime, name: str = "old") -> None:
    await session.execute(
        text(
            "INSERT INTO auth.audit_entry (at, actor_kind, actor_name, operation, object_type) "
            "VALUES (:at, 'system', :name, 'test', 'test')"
        ),
        {"at": at, "name": name},
    )


async def test_the_trail_is_append_only_in_the_database(db: AsyncSession) -> None:
    await _insert(db, datetime.now(JST))
    await db.commit()
    for statement in (
        "UPDATE auth.audit_entry SET actor_name = 'someone else'",
        "DELETE FROM auth.audit_entry",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            await db.execute(text(statement))
        await db.rollback()
    assert await db.scalar(text("SELECT count(*) FROM auth.audit_entry WHERE actor_name = 'old'")) == 1


async def test_retention_purge_deletes_only_entries_older_than_the_setting(
    db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], netsugen_app: FastAPI
) -> None:
    now = datetime.now(JST)
    await _insert(db, now - timedelta(days=7 * 366), "eight years ago")  # older than 7 calendar years
    await _insert(db, now - timedelta(days=7 * 365 - 30), "under seven years")
    await _insert(db, now, "today")
    await db.commit()
    ctx = {"settings": netsugen_app.state.settings, "sessionmaker": sessionmaker}
    assert netsugen_app.state.settings.audit_retention_years == 7
    assert await purge_audit_trail(ctx) == {"purged": 1}
    assert await purge_audit_trail(ctx) == {"purged": 0}
    left = set((await db.scalars(text("SELECT actor_name FROM auth.audit_entry"))).all())
    assert left == {"under seven years", "today"}
    async with session_scope(sessionmaker) as session:
        assert await audit.purge(session, now=now, years=1) == 1
    assert audit.retention_cutoff(datetime(2028, 2, 29, tzinfo=JST), 7) == datetime(2021, 2, 28, tzinfo=JST)


# ---- reading: filters, pagination, CSV, who may ---------------------------------------------------------
async def test_filters_pagination_and_who_may_read(
    net: httpx.AsyncClient, make_token: TokenFactory, auditor: dict[str, str], db: AsyncSession
) -> None:
    desk1 = bearer(await make_token("staff", name="desk-1"))
    desk2 = bearer(await make_token("staff", name="desk-2"))
    a = await _member(net, desk1)
    b = await _member(net, desk2, email="b@example.jp")
    await _insert(db, datetime(2020, 1, 1, tzinfo=JST), "long ago")
    await db.commit()

    assert {e["object_id"] for e in await entries(net, auditor, who="desk-1", object="netsugen.member")} == {
        a["id"]
    }
    assert {e["actor_name"] for e in await entries(net, auditor, object=b["id"])} == {"desk-2"}
    old = await entries(net, auditor, to="2021-01-01T00:00:00+09:00")
    assert [e["actor_name"] for e in old] == ["long ago"]
    recent = await entries(net, auditor, **{"from": "2021-01-01T00:00:00+09:00"})
    assert "long ago" not in {e["actor_name"] for e in recent} and len(recent) >= 2
    r = await net.get(
        "/v1/audit",
        params={"from": "2026-01-02T00:00:00+09:00", "to": "2026-01-01T00:00:00+09:00"},
        headers=auditor,
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")

    everything = await entries(net, auditor)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await net.get("/v1/audit", params=params, headers=auditor)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in everything] and seen == sorted(seen, reverse=True)
    assert (
        await net.get("/v1/audit", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auditor)
    ).status_code == 422

    for role, status in (
        ("admin", 200),
        ("auditor", 200),
        ("staff", 403),
        ("accountant", 403),
        ("member", 403),
    ):
        headers = bearer(await make_token(role, subject=a["id"] if role == "member" else None))
        assert (await net.get("/v1/audit", headers=headers)).status_code == status, role
        assert (await net.get("/v1/audit/export.csv", headers=headers)).status_code == status, role
    assert (await net.get("/v1/audit")).status_code == 401


async def test_csv_export_goes_through_the_safe_writer(
    net: httpx.AsyncClient, make_token: TokenFactory, auditor: dict[str, str]
) -> None:
    evil = bearer(await make_token("staff", name='=HYPERLINK("http://x")'))
    member = await _member(net, evil)
    r = await net.get(
        "/v1/audit/export.csv", params={"object": f"netsugen.member:{member['id']}"}, headers=auditor
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["id", "at", "actor_kind", "actor_id"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["actor_name"] == '\'=HYPERLINK("http://x")'
    assert row["operation"] == "createMember" and row["object_id"] == member["id"]
    assert row["at"].endswith("+09:00")
    assert '"email": "***"' in row["after"] or '"email":"***"' in row["after"]
