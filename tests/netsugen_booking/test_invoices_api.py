"""Invoices through the API: runs, member isolation, payments, credit notes, overdue, CSV, 請求書."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Role
from tests.conftest import bearer
from tests.netsugen_booking.conftest import Clock
from tests.netsugen_booking.factories import assert_problem
from tests.netsugen_booking.test_billing_factories import jst, make_member, visit
from tests.netsugen_booking.test_invoices import dropin_member_250_500_1000

RUN_AT = jst(2026, 11, 1, 0, 30)


async def run_october(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def only_invoice(client: httpx.AsyncClient, headers: dict[str, str], member_id: str) -> dict[str, Any]:
    r = await client.get("/v1/invoices", params={"member_id": member_id}, headers=headers)
    assert r.status_code == 200, r.text
    [item] = r.json()["items"]
    return dict(item)


@pytest.fixture
async def two_members(db: AsyncSession) -> tuple[Any, Any]:
    alice = await dropin_member_250_500_1000(db, name="上州 花子")
    bob = await make_member(db, plan="individual_monthly", name="赤城 次郎")
    await visit(db, bob, jst(2026, 10, 6, 10), 60, plan="individual_monthly")
    await db.commit()
    return alice, bob


class TestInvoiceRunApi:
    async def test_run_then_rerun(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        clock: Clock,
        two_members: tuple[Any, Any],
    ) -> None:
        clock.set(RUN_AT)
        first = await run_october(netsugen_client, admin_headers)
        assert (first["period"], first["invoices_created"], first["total_yen"], first["trigger"]) == (
            "2026-10",
            2,
            11_750,
            "api",
        )
        second = await run_october(netsugen_client, admin_headers)
        assert (second["invoices_created"], second["total_yen"]) == (0, 0)
        runs = await netsugen_client.get("/v1/invoice-runs", headers=admin_headers)
        assert [r["invoices_created"] for r in runs.json()["items"]] == [0, 2]

    @pytest.mark.parametrize("period", ["2026-11", "2026-12", "2030-01"])
    async def test_period_not_over_is_422(
        self, netsugen_client: httpx.AsyncClient, admin_headers: dict[str, str], clock: Clock, period: str
    ) -> None:
        clock.set(jst(2026, 11, 29, 12))
        r = await netsugen_client.post("/v1/invoice-runs", json={"period": period}, headers=admin_headers)
        assert_problem(r, 422, "period-not-ended")

    @pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-10", "2026/10", ""])
    async def test_malformed_period_is_422(
        self, netsugen_client: httpx.AsyncClient, admin_headers: dict[str, str], period: str
    ) -> None:
        r = await netsugen_client.post("/v1/invoice-runs", json={"period": period}, headers=admin_headers)
        assert_problem(r, 422, "validation-error")

    async def test_admin_only(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str]
    ) -> None:
        r = await netsugen_client.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=staff_headers)
        assert_problem(r, 403, "forbidden")
        r = await netsugen_client.post("/v1/invoice-runs", json={"period": "2026-10"})
        assert_problem(r, 401, "unauthorized")


class TestMemberIsolation:
    async def test_member_sees_only_own_invoices(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        clock: Clock,
        two_members: tuple[Any, Any],
        make_token: Any,
    ) -> None:
        alice, bob = two_members
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        role: Role = "member"
        alice_h = bearer(await make_token(role, subject=str(alice.id)))
        bobs = await only_invoice(netsugen_client, admin_headers, str(bob.id))

        mine = await netsugen_client.get("/v1/invoices", headers=alice_h)
        assert [(i["member_id"], i["total_yen"]) for i in mine.json()["items"]] == [(str(alice.id), 1750)]
        asking_for_bob = await netsugen_client.get(
            "/v1/invoices", params={"member_id": str(bob.id)}, headers=alice_h
        )
        assert asking_for_bob.json()["items"] == []
        for path in (f"/v1/invoices/{bobs['id']}", f"/v1/invoices/{bobs['id']}/document"):
            assert_problem(await netsugen_client.get(path, headers=alice_h), 404, "invoice-not-found")
        own = mine.json()["items"][0]
        detail = await netsugen_client.get(f"/v1/invoices/{own['id']}", headers=alice_h)
        assert detail.status_code == 200
        assert [ln["amount_yen"] for ln in detail.json()["lines"]] == [250, 500, 1000]
        # Members cannot record payments or issue credit notes.
        r = await netsugen_client.post(
            f"/v1/invoices/{own['id']}/payments",
            json={"method": "cash", "amount_yen": 1, "paid_on": "2026-11-02"},
            headers=alice_h,
        )
        assert_problem(r, 403, "forbidden")
        assert (await netsugen_client.get("/v1/invoices")).status_code == 401


class TestPaymentsAndCreditNotesApi:
    async def test_payments_credit_note_and_overdue(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        two_members: tuple[Any, Any],
    ) -> None:
        alice, _ = two_members
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        invoice = await only_invoice(netsugen_client, staff_headers, str(alice.id))
        assert (invoice["number"], invoice["due_date"], invoice["balance_yen"]) == (
            "NS-2026-000001",
            "2026-12-01",
            1750,
        )
        base = f"/v1/invoices/{invoice['id']}"

        r = await netsugen_client.post(
            f"{base}/payments",
            json={"method": "card", "amount_yen": 500, "paid_on": "2026-11-03"},
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        assert (r.json()["invoice"]["status"], r.json()["invoice"]["balance_yen"]) == ("partially_paid", 1250)
        over = await netsugen_client.post(
            f"{base}/payments",
            json={"method": "cash", "amount_yen": 1251, "paid_on": "2026-11-03"},
            headers=staff_headers,
        )
        assert assert_problem(over, 422, "overpayment")["balance_yen"] == 1250
        bad = await netsugen_client.post(
            f"{base}/payments",
            json={"method": "bitcoin", "amount_yen": 1, "paid_on": "2026-11-03"},
            headers=staff_headers,
        )
        assert_problem(bad, 422, "validation-error")

        clock.set(jst(2026, 11, 10, 12))
        note = await netsugen_client.post(
            f"{base}/credit-notes",
            json={
                "reason": "10/6 の利用時間の誤り",
                "lines": [{"description": "10/6 ドロップイン 訂正", "amount_yen": 250}],
            },
            headers=staff_headers,
        )
        assert note.status_code == 201, note.text
        assert (note.json()["number"], note.json()["total_yen"], note.json()["tax_yen"]) == (
            "NSC-2026-000001",
            -250,
            -22,
        )
        too_much = await netsugen_client.post(
            f"{base}/credit-notes",
            json={"reason": "x", "lines": [{"description": "x", "amount_yen": 1501}]},
            headers=staff_headers,
        )
        assert_problem(too_much, 422, "credit-exceeds-invoice")

        detail = (await netsugen_client.get(base, headers=staff_headers)).json()
        assert (detail["paid_yen"], detail["credited_yen"], detail["balance_yen"]) == (500, 250, 1000)
        assert [n["number"] for n in detail["credit_notes"]] == ["NSC-2026-000001"]
        assert [p["amount_yen"] for p in detail["payments"]] == [500]

        clock.set(jst(2026, 12, 1, 12))  # the due date itself is not overdue
        assert (await netsugen_client.get("/v1/invoices/overdue", headers=staff_headers)).json()[
            "items"
        ] == []
        clock.set(jst(2027, 1, 5, 12))
        overdue = (await netsugen_client.get("/v1/invoices/overdue", headers=staff_headers)).json()
        assert [(i["number"], i["balance_yen"], i["days_overdue"]) for i in overdue["items"]] == [
            ("NS-2026-000001", 1000, 35),
            ("NS-2026-000002", 10_000, 35),  # Bob has not paid either
        ]
        paid = await netsugen_client.post(
            f"{base}/payments",
            json={"method": "bank_transfer", "amount_yen": 1000, "paid_on": "2027-01-05"},
            headers=staff_headers,
        )
        assert paid.json()["invoice"]["status"] == "paid"
        still = (await netsugen_client.get("/v1/invoices/overdue", headers=staff_headers)).json()["items"]
        assert [i["number"] for i in still] == ["NS-2026-000002"]

    async def test_draft_issue_endpoint(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        clock: Clock,
        two_members: tuple[Any, Any],
    ) -> None:
        alice, _ = two_members
        clock.set(RUN_AT)
        r = await netsugen_client.post(
            "/v1/invoice-runs", json={"period": "2026-10", "issue": False}, headers=admin_headers
        )
        assert r.status_code == 201
        draft = await only_invoice(netsugen_client, admin_headers, str(alice.id))
        assert (draft["status"], draft["number"]) == ("draft", None)
        clock.set(jst(2026, 11, 2, 9))
        issued = await netsugen_client.post(f"/v1/invoices/{draft['id']}/issue", headers=admin_headers)
        assert (issued.json()["status"], issued.json()["issue_date"]) == ("issued", "2026-11-02")
        assert issued.json()["number"].startswith("NS-2026-")
        again = await netsugen_client.post(f"/v1/invoices/{draft['id']}/issue", headers=admin_headers)
        assert_problem(again, 409, "invoice-not-draft")


class TestDocumentsAndExport:
    async def test_printable_invoice(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        clock: Clock,
        two_members: tuple[Any, Any],
    ) -> None:
        alice, _ = two_members
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        invoice = await only_invoice(netsugen_client, admin_headers, str(alice.id))
        r = await netsugen_client.get(f"/v1/invoices/{invoice['id']}/document", headers=admin_headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        html = r.text
        for expected in (
            "請求書",
            "登録番号: T8000012010038",
            "群馬県 官民共創スペース NETSUGEN",
            "NS-2026-000001",
            "上州 花子 様",
            "2026年11月1日",
            "2026年10月1日〜2026年10月31日",
            "10%対象（税込）",
            "¥1,750",
            "内消費税（10%）",
            "¥159",
            "お支払期限",
            "2026年12月1日",
            "2026年10月8日",
            "※1日上限",
        ):
            assert expected in html, expected

        note = await netsugen_client.post(
            f"/v1/invoices/{invoice['id']}/credit-notes",
            json={"reason": "取消", "full": True},
            headers=admin_headers,
        )
        assert note.status_code == 201, note.text
        doc = (
            await netsugen_client.get(f"/v1/invoices/{note.json()['id']}/document", headers=admin_headers)
        ).text
        for expected in (
            "返還インボイス",
            "NSC-2026-000001",
            "対象の請求書番号",
            "NS-2026-000001",
            "-¥1,750",
            "登録番号: T8000012010038",
        ):
            assert expected in doc, expected
        voided = (await netsugen_client.get(f"/v1/invoices/{invoice['id']}", headers=admin_headers)).json()
        assert voided["status"] == "void"

    async def test_csv_export(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        two_members: tuple[Any, Any],
    ) -> None:
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        r = await netsugen_client.get(
            "/v1/invoices/export.csv",
            params={"from": "2026-11-01", "to": "2026-11-30"},
            headers=staff_headers,
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(rows) == 4  # Alice: 3 drop-in days; Bob: 1 subscription line
        by_number: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            by_number.setdefault(row["invoice_number"], []).append(row)
        assert sorted(by_number) == ["NS-2026-000001", "NS-2026-000002"]
        amounts = sorted(
            (row["recipient_name"], row["invoice_total_yen"], row["invoice_tax_yen"], row["line_amount_yen"])
            for row in rows
        )
        assert amounts == [
            ("上州 花子", "1750", "159", "1000"),
            ("上州 花子", "1750", "159", "250"),
            ("上州 花子", "1750", "159", "500"),
            ("赤城 次郎", "10000", "909", "10000"),
        ]
        empty = await netsugen_client.get(
            "/v1/invoices/export.csv",
            params={"from": "2026-12-01", "to": "2026-12-31"},
            headers=staff_headers,
        )
        assert len(list(csv.reader(io.StringIO(empty.content.decode("utf-8-sig"))))) == 1  # header only
        bad = await netsugen_client.get(
            "/v1/invoices/export.csv",
            params={"from": "2026-12-01", "to": "2026-11-01"},
            headers=staff_headers,
        )
        assert_problem(bad, 422, "invalid-date-range")
        too_long = await netsugen_client.get(
            "/v1/invoices/export.csv",
            params={"from": "2025-01-01", "to": "2026-12-31"},
            headers=staff_headers,
        )
        assert_problem(too_long, 422, "invalid-date-range")
