"""Emails that carry the facts: netsugen_booking answers the facts of a booking or invoice to the
notifier (service token), and the notifier's templates print them in both languages, text and HTML."""

from __future__ import annotations

import uuid

import pytest

from services.notifier.dispatch.contacts import facts_path
from services.notifier.dispatch.render import default_catalog
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import create_member
from tests.netsugen_booking.test_invoices import dropin_member_250_500_1000
from tests.netsugen_booking.test_portal import ROOM_A
from tests.notifier.test_templates import OCCURRED


async def test_booking_and_invoice_facts_for_the_notifier(
    netsugen_client, db, staff_headers, admin_headers, service_headers, make_token, clock
) -> None:
    clock.set(jst(2026, 11, 2, 9))
    member = await create_member(netsugen_client, staff_headers)
    booking = (
        await netsugen_client.post(
            "/v1/bookings",
            json={"resource_id": ROOM_A, "member_id": member["id"],
                  "start": "2026-11-04T10:00:00+09:00", "end": "2026-11-04T11:30:00+09:00"},
            headers=staff_headers,
        )
    ).json()  # fmt: skip
    r = await netsugen_client.get(f"/v1/bookings/{booking['id']}/facts", headers=service_headers)
    assert r.status_code == 200
    assert r.json() == {
        "room_ja": "会議室A", "room_en": "Meeting room A", "date": "2026-11-04", "start": "10:00",
        "end": "11:30", "price_yen": 1500, "status": "confirmed",
    }  # fmt: skip
    member_token = {"Authorization": "Bearer " + await make_token("member", subject=member["id"])}
    assert (
        await netsugen_client.get(f"/v1/bookings/{booking['id']}/facts", headers=member_token)
    ).status_code == 403
    assert (
        await netsugen_client.get(f"/v1/bookings/{uuid.uuid4()}/facts", headers=service_headers)
    ).status_code == 404

    owner = await dropin_member_250_500_1000(db, number=900002)
    assert (
        await netsugen_client.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers)
    ).status_code == 201
    [invoice] = (
        await netsugen_client.get("/v1/invoices", params={"member_id": str(owner.id)}, headers=admin_headers)
    ).json()["items"]
    r = await netsugen_client.get(f"/v1/invoices/{invoice['id']}/facts", headers=service_headers)
    assert r.status_code == 200
    facts = r.json()
    assert (
        facts["kind"] == "invoice" and facts["number"] == invoice["number"] and facts["period"] == "2026-10"
    )
    assert (
        facts["total_yen"] == 1750
        and facts["balance_yen"] == 1750
        and facts["due_date"] == invoice["due_date"]
    )


def test_facts_paths() -> None:
    b, i = uuid.uuid4(), uuid.uuid4()
    assert facts_path("booking.confirmed", {"booking_id": str(b)}) == f"/v1/bookings/{b}/facts"
    assert (
        facts_path("booking.reminder", {"subject_kind": "booking", "subject_id": str(b)})
        == f"/v1/bookings/{b}/facts"
    )
    assert facts_path("booking.reminder", {"subject_kind": "consultation", "subject_id": str(b)}) is None
    assert facts_path("invoice.issued", {"invoice_id": str(i)}) == f"/v1/invoices/{i}/facts"


BOOKING = {"room_ja": "会議室A", "room_en": "Meeting room A", "date": "2026-11-04", "start": "10:00",
           "end": "11:30", "price_yen": 1500, "status": "confirmed"}  # fmt: skip


@pytest.mark.parametrize("event_type", ["booking.confirmed", "booking.cancelled", "booking.reminder"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_booking_mails_carry_room_date_times_and_price(event_type: str, language: str) -> None:
    booking_id = str(uuid.uuid4())
    data = (
        {"member_id": str(uuid.uuid4()), "subject_kind": "booking", "subject_id": booking_id}
        if event_type == "booking.reminder"
        else {"member_id": str(uuid.uuid4()), "booking_id": booking_id}
    )
    mail = default_catalog().render(
        event_type, language, name="上毛 花子", data=data, event_id="e", occurred_at=OCCURRED,  # type: ignore[arg-type]
        portal_url="https://netsugen.example.jp/portal", facts=BOOKING,
    )  # fmt: skip
    room = "会議室A" if language == "ja" else "Meeting room A"
    price = "1,500円" if language == "ja" else "¥1,500"
    for part in (mail.text, mail.html):
        assert room in part and "2026-11-04" in part and "10:00" in part and "11:30" in part and price in part


@pytest.mark.parametrize("language", ["ja", "en"])
def test_invoice_mail_carries_number_month_amount_due_date_and_how_to_pay(language: str) -> None:
    facts = {"kind": "invoice", "number": "NS-2026-000001", "period": "2026-10", "total_yen": 1750,
             "balance_yen": 1750, "issue_date": "2026-11-01", "due_date": "2026-11-30"}  # fmt: skip
    data = {"member_id": str(uuid.uuid4()), "invoice_id": str(uuid.uuid4())}
    catalog = default_catalog()
    mail = catalog.render(
        "invoice.issued", language, name="上毛 花子", data=data, event_id="e", occurred_at=OCCURRED,  # type: ignore[arg-type]
        portal_url="https://netsugen.example.jp/portal", facts=facts,
    )  # fmt: skip
    amount = "1,750円" if language == "ja" else "¥1,750"
    pay = "銀行振込" if language == "ja" else "bank transfer"
    for part in (mail.text, mail.html):
        assert "NS-2026-000001" in part and "2026-10" in part and amount in part and "2026-11-30" in part
        assert pay in part
    credit = catalog.render(
        "invoice.issued", language, name="上毛 花子", data=data, event_id="e", occurred_at=OCCURRED,  # type: ignore[arg-type]
        portal_url="https://netsugen.example.jp/portal", facts=facts | {"kind": "credit_note", "total_yen": -500},
    )  # fmt: skip
    assert "返還インボイス" in credit.text and "返還インボイス" in credit.html
    assert ("返還インボイス" in credit.subject) if language == "ja" else ("credit note" in credit.subject)
    assert "請求書発行" not in credit.subject and "Your invoice" not in credit.text
