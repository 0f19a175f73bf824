"""Every link in every member email opens the right portal page: each notifier template is rendered in
both languages with the ids of a real member's real objects (booking, event, registration,
consultation, invoice, visit), and each link under PUBLIC_BASE_URL is followed in the portal: 200 for
that member, 403 for another member."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.netsugen_booking.visits.models import Visit
from services.notifier.dispatch.render import default_catalog
from services.notifier.settings import NotifierSettings
from shared.events import EVENT_TYPES
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import create_member
from tests.netsugen_booking.test_invoices import dropin_member_250_500_1000
from tests.netsugen_booking.test_portal import ORIGIN, ROOM_A, sign_in
from tests.netsugen_booking.test_programs import create_event
from tests.notifier.test_templates import OCCURRED

BASE = "https://netsugen.example.jp"
LINK = re.compile(re.escape(BASE) + r"/portal[^\s\"<>]*")
# Templates of other services' people (KPI editors) or sign-in secrets: not member portal pages.
NOT_MEMBER_MAIL = ("kpi.", "auth.")


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN})


def test_links_in_mails_point_at_the_portal_under_public_base_url() -> None:
    settings = NotifierSettings(public_base_url="https://netsugen.example.jp/")
    assert settings.portal_url == "https://netsugen.example.jp/portal"


async def test_every_link_of_every_template_opens_the_right_page(
    netsugen_app, clean_db, db, staff_headers, admin_headers, service_headers, engine, clock
) -> None:
    clock.set(jst(2026, 11, 2, 9))
    async with client(netsugen_app) as api:  # first: the API numbers members from M000001 too
        other = await create_member(api, staff_headers, email="other@example.jp")
    owner = await dropin_member_250_500_1000(db, number=900001)
    [visit_id] = (
        await db.execute(
            select(Visit.id).where(Visit.member_id == owner.id).order_by(Visit.check_in_at).limit(1)
        )
    ).scalars()
    async with client(netsugen_app) as mine, client(netsugen_app) as theirs:
        run = await mine.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers)
        assert run.status_code == 201, run.text
        [invoice] = (
            await mine.get("/v1/invoices", params={"member_id": str(owner.id)}, headers=admin_headers)
        ).json()["items"]
        if invoice["status"] == "draft":
            issued = await mine.post(f"/v1/invoices/{invoice['id']}/issue", headers=admin_headers)
            assert issued.status_code == 200, issued.text
        payment = await mine.post(
            f"/v1/invoices/{invoice['id']}/payments",
            json={"method": "cash", "amount_yen": 500, "paid_on": "2026-11-02"},
            headers=admin_headers,
        )
        assert payment.status_code == 201, payment.text
        booking = await mine.post(
            "/v1/bookings",
            json={"resource_id": ROOM_A, "member_id": str(owner.id),
                  "start": "2026-11-04T10:00:00+09:00", "end": "2026-11-04T11:00:00+09:00"},
            headers=staff_headers,
        )  # fmt: skip
        assert booking.status_code == 201, booking.text
        event = await create_event(
            mine, staff_headers, start="2026-11-12T18:00:00+09:00", end="2026-11-12T20:00:00+09:00",
            registration_closes_at="2026-11-12T12:00:00+09:00",
        )  # fmt: skip
        registration = await mine.post(
            f"/v1/programs/{event['id']}/registrations",
            json={"member_id": str(owner.id)},
            headers=staff_headers,
        )
        assert registration.status_code == 201, registration.text
        coordinator = (
            await mine.post(
                "/v1/coordinators",
                json={"name": "高橋 誠", "name_en": "Makoto Takahashi", "title": "公認会計士",
                      "expertise": ["funding"], "bio": "資金調達"},
                headers=staff_headers,
            )
        ).json()  # fmt: skip
        await mine.post(
            f"/v1/coordinators/{coordinator['id']}/availability",
            json={"weekday": 2, "starts_at": "13:00", "ends_at": "15:00", "slot_minutes": 60},
            headers=staff_headers,
        )
        await mine.post("/v1/consultation-slots/generate", json={"days": 28}, headers=staff_headers)
        [slot, *_] = (await mine.get("/v1/consultation-slots", params={"available_only": "true"})).json()[
            "items"
        ]
        consultation = await mine.post(
            "/v1/consultations",
            json={"slot_id": slot["id"], "member_id": str(owner.id), "topic": "資金調達"},
            headers=staff_headers,
        )
        assert consultation.status_code == 201, consultation.text

        await sign_in(mine, service_headers, engine, owner.email)
        await sign_in(theirs, service_headers, engine, other["email"])

        ids: dict[str, Any] = {
            "member_id": owner.id,
            "visit_id": visit_id,
            "day": "2026-10-08",
            "invoice_id": invoice["id"],
            "payment_id": payment.json()["id"],
            "stage_days": 7,
            "balance_yen": 1250,
            "booking_id": booking.json()["id"],
            "registration_id": registration.json()["id"],
            "event_id": event["id"],
            "consultation_id": consultation.json()["id"],
        }
        subjects = {
            "booking": booking.json()["id"],
            "event_registration": registration.json()["id"],
            "consultation": consultation.json()["id"],
        }
        catalog = default_catalog()
        portal_url = NotifierSettings(public_base_url=BASE).portal_url
        followed: set[str] = set()
        for event_type, cls in sorted(EVENT_TYPES.items()):
            if event_type.startswith(NOT_MEMBER_MAIL):
                continue
            kinds = list(subjects) if "subject_kind" in cls.model_fields else [None]
            for kind in kinds:
                fields = {k: v for k, v in ids.items() if k in cls.model_fields}
                if kind is not None:
                    fields |= {"subject_kind": kind, "subject_id": subjects[kind]}
                data = cls(**fields).model_dump(mode="json")
                for language in ("ja", "en"):
                    mail = catalog.render(
                        event_type, language, name="上毛 花子", data=data, event_id=str(uuid.uuid4()),
                        occurred_at=OCCURRED, portal_url=portal_url,
                        unsubscribe_url=f"{portal_url}/settings/notifications",
                    )  # fmt: skip
                    links = set(LINK.findall(mail.text)) | set(LINK.findall(mail.html))
                    assert links, f"{event_type}/{language}: no portal link"
                    assert not re.findall(
                        r"https?://(?!netsugen\.example\.jp/portal)[^\s\"<>]*", mail.text
                    ), f"{event_type}/{language}: a link outside the portal"
                    for link in links:
                        path = link.removeprefix(BASE)
                        if path in followed:
                            continue
                        followed.add(path)
                        r = await mine.get(path, follow_redirects=True)
                        assert r.status_code == 200, f"{event_type}/{language} {path}: {r.status_code}"
                        assert "/portal/signin" not in str(r.url)
                        if path.rstrip("/") in (
                            "/portal",
                            "/portal/visits",
                            "/portal/settings/notifications",
                            "/portal/members/me",
                        ) or path.startswith("/portal/events/"):
                            continue  # pages of one's own (or public events): nothing of another member's
                        r = await theirs.get(path, follow_redirects=True)
                        assert r.status_code == 403, (
                            f"{event_type}/{language} {path}: {r.status_code} for another"
                        )
        # The links reach each kind of page.
        for expected in (
            "/portal/bookings/",
            "/portal/invoices/",
            "/portal/visits/",
            "/portal/events/",
            "/portal/consultations/",
            "/portal/event-registrations/",
            "/portal/members/me",
            "/portal/payments/",
        ):
            assert any(p.startswith(expected) for p in followed), expected
        invoice_page = await mine.get(f"/portal/invoices/{invoice['id']}", follow_redirects=True)
        assert (
            str(invoice_page.url).endswith(f"/portal/invoices/{invoice['id']}/document")
            and "1,750" in invoice_page.text
        )


@pytest.mark.parametrize("path", ["/portal/bookings/{id}", "/portal/invoices/{id}", "/portal/visits/{id}"])
async def test_an_unknown_id_is_403_not_a_hint(
    netsugen_app, clean_db, staff_headers, service_headers, engine, clock, path
) -> None:
    clock.set(jst(2026, 11, 2, 9))
    async with client(netsugen_app) as mine:
        await create_member(mine, staff_headers, email="solo@example.jp")
        await sign_in(mine, service_headers, engine, "solo@example.jp")
        r = await mine.get(path.format(id=uuid.uuid4()))
        assert r.status_code == 403
