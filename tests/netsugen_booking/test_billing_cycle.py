"""The whole billing cycle of a month through the API (real PostgreSQL): run, supplementary runs,
void and re-run, bookings, racing runs, payments with receipts, refunds, the CSV, reminders (督促)."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.reminders import send_overdue_reminders
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.members.models import Member
from services.netsugen_booking.settings import NetsugenSettings
from shared.db import session_scope
from tests.netsugen_booking.conftest import Clock
from tests.netsugen_booking.factories import assert_problem, outbox_events
from tests.netsugen_booking.test_billing_factories import jst, make_member, scalar
from tests.netsugen_booking.test_invoices import dropin_member_250_500_1000

RUN_AT = jst(2026, 11, 1, 0, 30)


async def run_october(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post("/v1/invoice-runs", json={"period": "2026-10", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def invoices(
    client: httpx.AsyncClient, headers: dict[str, str], member: Member
) -> list[dict[str, Any]]:
    """The member's invoices, oldest first, with their lines."""
    r = await client.get(
        "/v1/invoices", params={"member_id": str(member.id), "kind": "invoice"}, headers=headers
    )
    assert r.status_code == 200, r.text
    out = []
    for item in reversed(r.json()["items"]):
        detail = await client.get(f"/v1/invoices/{item['id']}", headers=headers)
        out.append(dict(detail.json()))
    return out


async def registered_long_ago(db: AsyncSession, *members: Member) -> None:
    for m in members:
        await db.execute(
            text("UPDATE netsugen.member SET created_at = '2026-01-01T00:00:00+09:00' WHERE id = :i"),
            {"i": m.id},
        )
    await db.commit()


async def room_a(db: AsyncSession) -> Any:
    return (
        await db.execute(text("SELECT id, name_ja FROM netsugen.resource WHERE slug = 'meeting-room-a'"))
    ).one()


async def book(
    db: AsyncSession,
    member: Member,
    start: datetime,
    hours: int,
    price: int,
    *,
    cancelled_before: timedelta | None = None,
    overridden: bool = False,
) -> Booking:
    room = await room_a(db)
    row = Booking(
        resource_id=room.id,
        member_id=member.id,
        start_at=start,
        end_at=start + timedelta(hours=hours),
        price_yen=price,
        created_by="test",
    )
    if cancelled_before is not None:
        row.status = "cancelled"
        row.cancelled_at = start - cancelled_before
        row.cancelled_by = "test"
        row.deadline_overridden = overridden
    db.add(row)
    await db.flush()
    return row


async def manual_visit(
    client: httpx.AsyncClient, headers: dict[str, str], member: Member, start: datetime, minutes: int
) -> dict[str, Any]:
    r = await client.post(
        "/v1/visits/manual",
        json={
            "member_id": str(member.id),
            "check_in_at": start.isoformat(),
            "check_out_at": (start + timedelta(minutes=minutes)).isoformat(),
            "reason": "受付端末の故障のため手入力",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


class TestWholeMonth:
    async def test_late_visits_cap_difference_bookings_void_rerun_and_races(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
    ) -> None:
        alice = await dropin_member_250_500_1000(db, name="上州 花子")  # 10/6 250, 10/7 500, 10/8 1,000 (cap)
        bob = await make_member(db, plan="individual_monthly", name="赤城 次郎")
        carol = await make_member(db, name="榛名 三郎")
        await book(db, carol, jst(2026, 10, 15, 10), 2, 2000)  # confirmed: 2,000円
        await book(
            db, carol, jst(2026, 10, 20, 10), 1, 1000, cancelled_before=timedelta(hours=2), overridden=True
        )
        await book(
            db, carol, jst(2026, 10, 22, 10), 1, 1000, cancelled_before=timedelta(days=3)
        )  # in time: free
        await db.commit()
        await registered_long_ago(db, alice, bob, carol)

        clock.set(RUN_AT)
        first = await run_october(netsugen_client, admin_headers)
        assert (first["invoices_created"], first["total_yen"]) == (3, 1750 + 10_000 + 3000)
        [carols] = await invoices(netsugen_client, staff_headers, carol)
        assert [(ln["kind"], ln["amount_yen"]) for ln in carols["lines"]] == [
            ("booking", 2000),
            ("booking", 1000),
        ]
        assert "会議室A 予約 10/15 10:00〜12:00" in carols["lines"][0]["description"]
        assert "期限後キャンセル料（100%）" in carols["lines"][1]["description"]
        again = await run_october(netsugen_client, admin_headers)
        assert (again["invoices_created"], again["total_yen"]) == (0, 0)

        # Late manual visits after the month was invoiced: 10/7 grows from 90 minutes (500円) to
        # 5.5 hours (1,500円 → cap 1,000円): only the 500円 difference; 10/9 is a new day (250円);
        # 10/8 was already at the cap: nothing.
        clock.set(jst(2026, 11, 10, 12))
        await manual_visit(netsugen_client, staff_headers, alice, jst(2026, 10, 7, 13), 240)
        await manual_visit(netsugen_client, staff_headers, alice, jst(2026, 10, 9, 10), 60)
        await manual_visit(netsugen_client, staff_headers, alice, jst(2026, 10, 8, 18), 60)
        supplementary = await run_october(netsugen_client, admin_headers)
        assert (supplementary["invoices_created"], supplementary["total_yen"]) == (1, 750)
        original, extra = await invoices(netsugen_client, staff_headers, alice)
        assert (original["total_yen"], original["status"]) == (1750, "issued")  # never touched
        assert [ln["amount_yen"] for ln in original["lines"]] == [250, 500, 1000]
        assert extra["number"] == "NS-2026-000004" and extra["total_yen"] == 750 and extra["tax_yen"] == 68
        assert [(ln["service_date"], ln["amount_yen"]) for ln in extra["lines"]] == [
            ("2026-10-07", 500),
            ("2026-10-09", 250),
        ]
        assert (
            extra["lines"][0]["corrects"]
            == f"{original['number']} で請求済みの 500円 との差額（当日 1,000円）"
        )
        doc = await netsugen_client.get(f"/v1/invoices/{extra['id']}/document", headers=staff_headers)
        assert f"訂正・追加: {original['number']} で請求済みの 500円 との差額" in doc.text

        # Two runs racing for the same month: one bills the new visit, the other finds it billed.
        await manual_visit(netsugen_client, staff_headers, alice, jst(2026, 10, 12, 10), 30)
        racing = await asyncio.gather(
            netsugen_client.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers),
            netsugen_client.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers),
        )
        assert sorted(
            (r.status_code, r.json()["invoices_created"], r.json()["total_yen"]) for r in racing
        ) == [
            (201, 0, 0),
            (201, 1, 250),
        ]

        # Void Bob's invoice (full credit note) and run again: his fee is billed again, once.
        [bobs] = await invoices(netsugen_client, staff_headers, bob)
        r = await netsugen_client.post(
            f"/v1/invoices/{bobs['id']}/credit-notes",
            json={"reason": "請求の誤り", "full": True},
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        rerun = await run_october(netsugen_client, admin_headers)
        assert (rerun["invoices_created"], rerun["total_yen"]) == (1, 10_000)
        voided, rebilled = await invoices(netsugen_client, staff_headers, bob)
        assert (voided["status"], rebilled["status"], rebilled["total_yen"]) == ("void", "issued", 10_000)
        assert rebilled["lines"][0]["corrects"] == f"{voided['number']}（取消・全額返還済み）の再請求"
        for _ in range(3):
            assert (await run_october(netsugen_client, admin_headers))["invoices_created"] == 0

        # Nothing billed twice: per live invoice, each of Alice's days adds up to its true charge.
        live_days = (
            await db.execute(
                text(
                    "SELECT l.service_date, sum(l.amount_yen) FROM netsugen.invoice_line l"
                    " JOIN netsugen.invoice i ON i.id = l.invoice_id"
                    " WHERE i.member_id = :m AND i.status <> 'void' GROUP BY 1 ORDER BY 1"
                ),
                {"m": alice.id},
            )
        ).all()
        assert [(d.isoformat(), int(y)) for d, y in live_days] == [
            ("2026-10-06", 250),
            ("2026-10-07", 1000),
            ("2026-10-08", 1000),
            ("2026-10-09", 250),
            ("2026-10-12", 250),
        ]
        assert await scalar(db, "SELECT count(*) FROM netsugen.billed_item WHERE kind = 'visit'") == 7
        assert await scalar(db, "SELECT count(*) FROM netsugen.billed_item WHERE kind = 'booking'") == 2
        assert (
            await scalar(
                db,
                "SELECT count(*) FROM netsugen.billed_item b JOIN netsugen.invoice i ON i.id = b.invoice_id"
                " WHERE i.status = 'void'",
            )
            == 0
        )

    async def test_draft_run_then_bulk_issue(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
    ) -> None:
        for _ in range(3):
            await dropin_member_250_500_1000(db)
        clock.set(RUN_AT)
        drafts = await run_october(netsugen_client, admin_headers, issue=False)
        assert drafts["invoices_created"] == 3
        assert await scalar(db, "SELECT count(*) FROM netsugen.invoice WHERE status = 'draft'") == 3
        draft_id = await scalar(db, "SELECT min(id::text) FROM netsugen.invoice")
        once = {**staff_headers, "Idempotency-Key": "issue-1"}
        first = await netsugen_client.post(f"/v1/invoices/{draft_id}/issue", headers=once)
        retry = await netsugen_client.post(f"/v1/invoices/{draft_id}/issue", headers=once)
        assert (first.status_code, retry.status_code, retry.headers["idempotent-replayed"]) == (
            200,
            200,
            "true",
        )
        assert retry.json() == first.json() and first.json()["number"] == "NS-2026-000001"
        r = await netsugen_client.post(
            "/v1/invoices/issue", json={"period": "2026-10"}, headers=staff_headers
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"issued": 2, "numbers": ["NS-2026-000002", "NS-2026-000003"]}
        again = await netsugen_client.post(
            "/v1/invoices/issue", json={"period": "2026-10"}, headers=staff_headers
        )
        assert again.json() == {"issued": 0, "numbers": []}
        bad = await netsugen_client.post(
            "/v1/invoices/issue", json={"period": "2026-10", "invoice_ids": []}, headers=staff_headers
        )
        assert_problem(bad, 422, "validation-error")


def style_hash(html: str) -> str:
    [css] = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


class TestPaymentsReceiptsRefunds:
    async def test_payment_receipt_refund_and_csv(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
    ) -> None:
        alice = await dropin_member_250_500_1000(db, name="上州 花子")
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        [invoice] = await invoices(netsugen_client, staff_headers, alice)
        base = f"/v1/invoices/{invoice['id']}"
        clock.set(jst(2026, 11, 5, 15))

        body = {"method": "cash", "amount_yen": 1750, "paid_on": "2026-11-05"}
        key = {"Idempotency-Key": "pay-7f3a"}
        first = await netsugen_client.post(f"{base}/payments", json=body, headers={**staff_headers, **key})
        assert first.status_code == 201, first.text
        paid = first.json()
        assert paid["receipt_number"] == "NR-2026-000001" and paid["id"] == paid["payment"]["id"]
        assert (paid["invoice"]["status"], paid["invoice"]["balance_yen"]) == ("paid", 0)
        # A retry after a timeout: recorded once, same answer.
        retry = await netsugen_client.post(f"{base}/payments", json=body, headers={**staff_headers, **key})
        assert (retry.status_code, retry.json(), retry.headers["idempotent-replayed"]) == (201, paid, "true")
        assert await scalar(db, "SELECT count(*) FROM netsugen.invoice_payment") == 1
        reuse = await netsugen_client.post(
            f"{base}/payments", json={**body, "amount_yen": 1}, headers={**staff_headers, **key}
        )
        assert_problem(reuse, 422, "idempotency-key-reuse")
        assert len(await outbox_events(db, "payment.recorded")) == 1

        # paid_on is bounded.
        for day, slug in (
            ("0001-01-01", "validation-error"),
            ("9999-12-31", "money-date-out-of-range"),
            ("2026-11-09", "money-date-out-of-range"),
            ("2026-09-30", "money-date-out-of-range"),
        ):
            r = await netsugen_client.post(
                f"{base}/payments",
                json={"method": "cash", "amount_yen": 1, "paid_on": day},
                headers=staff_headers,
            )
            assert_problem(r, 422, slug)

        # The receipt (領収書): printable, numbered, tax included, strict CSP.
        receipt = await netsugen_client.get(f"/v1/payments/{paid['id']}/receipt", headers=staff_headers)
        assert receipt.status_code == 200 and receipt.headers["content-type"].startswith("text/html")
        html = receipt.text
        for expected in (
            "<h1>領収書</h1>",
            "NR-2026-000001",
            "¥1,750",
            "但し NETSUGEN利用料として",
            "内消費税（10%）",
            "¥159",
            "登録番号: T8000012010038",
            "上州 花子 様",
            "2026年11月5日",
            invoice["number"],
            "現金",
        ):
            assert expected in html, expected
        csp = receipt.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "script-src" not in csp
        assert csp.startswith("default-src 'none'; ") and f"style-src '{style_hash(html)}'" in csp
        assert receipt.headers.get_list("content-security-policy") == [csp]
        missing = await netsugen_client.get(f"/v1/payments/{invoice['id']}/receipt", headers=staff_headers)
        assert_problem(missing, 404, "payment-not-found")

        # A credit after payment leaves -250 owed to the member; the refund brings it back to zero.
        note = await netsugen_client.post(
            f"{base}/credit-notes",
            json={"reason": "10/6 の誤り", "lines": [{"description": "10/6 訂正", "amount_yen": 250}]},
            headers={**staff_headers, "Idempotency-Key": "note-1"},
        )
        assert note.status_code == 201, note.text
        note_again = await netsugen_client.post(
            f"{base}/credit-notes",
            json={"reason": "10/6 の誤り", "lines": [{"description": "10/6 訂正", "amount_yen": 250}]},
            headers={**staff_headers, "Idempotency-Key": "note-1"},
        )
        assert note_again.json() == note.json()
        assert await scalar(db, "SELECT count(*) FROM netsugen.invoice WHERE kind = 'credit_note'") == 1
        assert (await netsugen_client.get(base, headers=staff_headers)).json()["balance_yen"] == -250
        too_much = await netsugen_client.post(
            f"/v1/invoices/{note.json()['id']}/refunds",
            json={"method": "cash", "amount_yen": 251, "refunded_on": "2026-11-06", "reason": "返金"},
            headers=staff_headers,
        )
        assert assert_problem(too_much, 422, "refund-exceeds-credit")["refundable_yen"] == 250
        clock.set(jst(2026, 11, 6, 11))
        refund = await netsugen_client.post(
            f"/v1/invoices/{note.json()['id']}/refunds",
            json={
                "method": "bank_transfer",
                "amount_yen": 250,
                "refunded_on": "2026-11-06",
                "reason": "返還インボイス分の返金",
            },
            headers={**staff_headers, "Idempotency-Key": "refund-1"},
        )
        assert refund.status_code == 201, refund.text
        assert (refund.json()["invoice"]["balance_yen"], refund.json()["invoice"]["refunded_yen"]) == (0, 250)
        assert refund.json()["refund"]["credit_note_id"] == note.json()["id"]
        detail = (await netsugen_client.get(base, headers=staff_headers)).json()
        assert (detail["status"], detail["balance_yen"], [r["amount_yen"] for r in detail["refunds"]]) == (
            "paid",
            0,
            [250],
        )
        nothing_left = await netsugen_client.post(
            f"{base}/refunds",
            json={"method": "cash", "amount_yen": 1, "refunded_on": "2026-11-06", "reason": "x"},
            headers=staff_headers,
        )
        assert_problem(nothing_left, 422, "refund-exceeds-credit")

        # The accounting CSV: the line rows, then one row for the payment and one for the refund.
        r = await netsugen_client.get(
            "/v1/invoices/export.csv",
            params={"from": "2026-11-01", "to": "2026-11-30"},
            headers=staff_headers,
        )
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        money = [
            (
                x["record_type"],
                x["invoice_number"],
                x["line_amount_yen"],
                x["receipt_number"],
                x["method"],
                x["service_date"],
            )
            for x in rows
            if x["record_type"] != "line"
        ]
        assert money == [
            ("payment", invoice["number"], "1750", "NR-2026-000001", "cash", "2026-11-05"),
            ("refund", invoice["number"], "-250", "", "bank_transfer", "2026-11-06"),
        ]
        assert note.json()["number"] in rows[-1]["line_description"]
        assert len([x for x in rows if x["record_type"] == "line"]) == 4  # 3 invoice lines + 1 credit line

    async def test_invoice_document_has_bank_account_and_strict_csp(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
    ) -> None:
        alice = await dropin_member_250_500_1000(db)
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        [invoice] = await invoices(netsugen_client, staff_headers, alice)
        doc = await netsugen_client.get(f"/v1/invoices/{invoice['id']}/document", headers=staff_headers)
        assert (
            "お振込先: 群馬銀行 県庁支店 普通 0000000" in doc.text
            and "口座名義: グンマケン ネツゲン" in doc.text
        )
        csp = doc.headers["content-security-policy"]
        assert doc.headers.get_list("content-security-policy") == [csp]
        assert "unsafe-inline" not in csp and "script" not in csp and f"'{style_hash(doc.text)}'" in csp
        assert "<script" not in doc.text and " style=" not in doc.text


class TestOverdueReminders:
    async def test_each_stage_once_with_the_balance_and_never_after_payment(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        alice = await dropin_member_250_500_1000(db)
        late = await dropin_member_250_500_1000(db)
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)  # issued 11/1, due 12/1
        [a_inv] = await invoices(netsugen_client, staff_headers, alice)
        [l_inv] = await invoices(netsugen_client, staff_headers, late)
        settings = NetsugenSettings()
        assert settings.billing_reminder_days == [7, 21, 45]

        async def remind(day: date) -> int:
            async with session_scope(sessionmaker) as session:
                return await send_overdue_reminders(session, settings, today=day)

        assert await remind(date(2026, 12, 7)) == 0  # 6 days overdue
        clock.set(jst(2026, 12, 5, 10))
        r = await netsugen_client.post(
            f"/v1/invoices/{l_inv['id']}/payments",
            json={"method": "card", "amount_yen": 750, "paid_on": "2026-12-05"},
            headers=staff_headers,
        )
        assert r.status_code == 201
        assert await remind(date(2026, 12, 8)) == 2
        assert await remind(date(2026, 12, 8)) == 0  # once per stage, however often the job ticks
        assert await remind(date(2026, 12, 21)) == 0
        assert await remind(date(2026, 12, 22)) == 2
        events = [e["data"] for e in await outbox_events(db, "invoice.overdue_reminder")]
        assert sorted((e["invoice_id"], e["stage_days"], e["balance_yen"]) for e in events) == sorted(
            [
                (a_inv["id"], 7, 1750),
                (l_inv["id"], 7, 1000),
                (a_inv["id"], 21, 1750),
                (l_inv["id"], 21, 1000),
            ]
        )
        # Alice pays: no reminder ever again; Late's 45-day stage still comes, once.
        clock.set(jst(2026, 12, 23, 10))
        r = await netsugen_client.post(
            f"/v1/invoices/{a_inv['id']}/payments",
            json={"method": "cash", "amount_yen": 1750, "paid_on": "2026-12-23"},
            headers=staff_headers,
        )
        assert r.status_code == 201
        assert await remind(date(2027, 1, 15)) == 1
        assert await remind(date(2027, 3, 1)) == 0
        listed = await netsugen_client.get(
            "/v1/invoice-reminders", params={"limit": 3}, headers=staff_headers
        )
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert [(i["invoice_number"], i["stage_days"], i["balance_yen"]) for i in page["items"]][0] == (
            l_inv["number"],
            45,
            1000,
        )
        rest = await netsugen_client.get(
            "/v1/invoice-reminders", params={"limit": 3, "cursor": page["next_cursor"]}, headers=staff_headers
        )
        assert len(page["items"]) + len(rest.json()["items"]) == 5 and rest.json()["next_cursor"] is None
        only_alice = await netsugen_client.get(
            "/v1/invoice-reminders", params={"member_id": str(alice.id)}, headers=staff_headers
        )
        assert sorted(i["stage_days"] for i in only_alice.json()["items"]) == [7, 21]
        assert await scalar(db, "SELECT count(*) FROM netsugen.invoice_reminder") == 5

    async def test_first_seen_long_overdue_sends_only_the_latest_stage(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await dropin_member_250_500_1000(db)
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        async with session_scope(sessionmaker) as session:
            assert await send_overdue_reminders(session, NetsugenSettings(), today=date(2027, 1, 20)) == 1
        assert await scalar(db, "SELECT stage_days FROM netsugen.invoice_reminder") == 45


@pytest.mark.parametrize("days", [[0], [7, 7], [400]])
def test_reminder_days_setting_is_validated(days: list[int]) -> None:
    with pytest.raises(ValueError, match="reminder days"):
        NetsugenSettings(billing_reminder_days=days)


class TestBackdatedPlanChange:
    async def test_staff_backdate_with_reason_and_the_next_run_bills_the_fee(
        self,
        netsugen_client: httpx.AsyncClient,
        admin_headers: dict[str, str],
        staff_headers: dict[str, str],
        clock: Clock,
        db: AsyncSession,
    ) -> None:
        member = await dropin_member_250_500_1000(db)  # drop-in since 2026-01-01, October billed 1,750円
        clock.set(RUN_AT)
        await run_october(netsugen_client, admin_headers)
        url = f"/v1/members/{member.id}/plan-changes"
        clock.set(jst(2026, 11, 20, 12))
        body = {"plan": "individual_monthly", "effective_from": "2026-10-15"}
        assert_problem(
            await netsugen_client.post(url, json=body, headers=staff_headers), 422, "plan-change-in-past"
        )
        too_early = await netsugen_client.post(
            url, json={**body, "effective_from": "2025-12-01", "reason": "x"}, headers=staff_headers
        )
        assert assert_problem(too_early, 422, "plan-change-in-past")["earliest"] == "2026-01-01"
        r = await netsugen_client.post(
            url, json={**body, "reason": "10/15 に月額へ変更の申込あり（記録漏れ）"}, headers=staff_headers
        )
        assert r.status_code == 201, r.text
        assert [(a["plan"], a["start_date"], a["end_date"], a["reason"]) for a in r.json()["items"]] == [
            ("dropin", "2026-01-01", "2026-10-14", None),
            ("individual_monthly", "2026-10-15", None, "10/15 に月額へ変更の申込あり（記録漏れ）"),
        ]
        # The next run bills the difference: October's monthly fee, once.
        rerun = await run_october(netsugen_client, admin_headers)
        assert (rerun["invoices_created"], rerun["total_yen"]) == (1, 10_000)
        _, supplementary = await invoices(netsugen_client, staff_headers, member)
        assert [(ln["kind"], ln["plan_code"], ln["period_start"]) for ln in supplementary["lines"]] == [
            ("subscription", "individual_monthly", "2026-10-15")
        ]
        assert (await run_october(netsugen_client, admin_headers))["invoices_created"] == 0
