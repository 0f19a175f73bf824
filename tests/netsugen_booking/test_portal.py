"""The member portal (/portal) against the real database: sign-in by the emailed link or the code, the
cookie session, each page and form, and that a member reaches only their own objects (403 otherwise)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.portal.router import ACCESS_COOKIE, PORTAL_CSP, REFRESH_COOKIE
from services.netsugen_booking.resources.seed import resource_id
from tests.conftest import bearer
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import create_member
from tests.netsugen_booking.test_invoices import dropin_member_250_500_1000
from tests.netsugen_booking.test_programs import create_event
from tests.netsugen_booking.test_signin import read_message, token_of

ROOM_A = str(resource_id("meeting-room-a"))  # 15-minute grid, 1,000円/h
ORIGIN = "http://127.0.0.1"


@pytest.fixture
async def browser(clean_db: None, netsugen_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client on a loopback origin (plain http: the cookies are not Secure there)."""
    transport = httpx.ASGITransport(app=netsugen_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN}) as client:
        yield client


async def sign_in(
    browser: httpx.AsyncClient, service_headers: dict[str, str], engine: Any, email: str
) -> httpx.Response:
    r = await browser.post("/portal/signin/request", data={"email": email})
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/signin?done=signin.sent")
    contact = await read_message(browser, service_headers, engine, "sign_in")
    r = await browser.post("/portal/signin/verify", data={"token": token_of(contact["secret"]["link_url"])})
    assert r.status_code == 303 and r.headers["location"] == "/portal", r.text
    return r


@pytest.fixture
def now(clock):
    return clock.set(jst(2026, 12, 1, 9))  # Tuesday 09:00 JST


@pytest.fixture
async def member(browser, staff_headers, now) -> dict[str, Any]:
    return await create_member(
        browser, staff_headers, name="上毛 花子", email="hanako@example.jp", language="ja"
    )


@pytest.fixture
async def signed_in(browser, member, service_headers, engine) -> httpx.AsyncClient:
    await sign_in(browser, service_headers, engine, "hanako@example.jp")
    return browser


class TestSignIn:
    async def test_emailed_link_opens_the_portal_and_signs_in(
        self, browser, member, service_headers, engine
    ) -> None:
        # The link in the email is AUTH_PUBLIC_BASE_URL/signin#token=…: it lands on the portal's page.
        r = await browser.get("/signin")
        assert r.status_code == 302 and r.headers["location"] == "/portal/signin"
        page = await browser.get("/portal/signin", headers={"accept-language": "ja"})
        assert page.status_code == 200 and page.headers["content-security-policy"] == PORTAL_CSP
        assert 'id="link-form"' in page.text and "<script>" not in page.text and 'lang="ja"' in page.text
        r = await sign_in(browser, service_headers, engine, "hanako@example.jp")
        cookies = r.headers.get_list("set-cookie")
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            [cookie] = [c for c in cookies if c.startswith(f"{name}=")]
            assert "HttpOnly" in cookie and "Path=/portal" in cookie and "SameSite=lax" in cookie
        home = await browser.get("/portal")
        assert home.status_code == 200 and "上毛 花子" in home.text
        # Signing out revokes the session: the old cookies no longer open a page.
        access = browser.cookies.get(ACCESS_COOKIE)
        assert (await browser.post("/portal/signout")).status_code == 303
        assert (await browser.get("/v1/auth/me", headers=bearer(access or ""))).status_code == 401
        r = await browser.get("/portal")
        assert r.status_code == 303 and r.headers["location"] == "/portal/signin?expired=1"

    async def test_code_typed_in_the_form(self, browser, member, service_headers, engine) -> None:
        await browser.post("/portal/signin/request", data={"email": "hanako@example.jp"})
        code = (await read_message(browser, service_headers, engine, "sign_in"))["secret"]["code"]
        wrong = await browser.post(
            "/portal/signin/verify", data={"email": "hanako@example.jp", "code": "000000"}
        )
        assert wrong.status_code == 400 and "無効" in wrong.text
        r = await browser.post("/portal/signin/verify", data={"email": "hanako@example.jp", "code": code})
        assert r.status_code == 303 and browser.cookies.get(ACCESS_COOKIE)

    async def test_not_signed_in_goes_to_the_sign_in_page(self, browser) -> None:
        for path in ("/portal", "/portal/visits", "/portal/invoices", "/portal/rooms", "/portal/settings"):
            r = await browser.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/portal/signin?expired=1", path

    async def test_expired_access_token_is_renewed_from_the_refresh_cookie(self, signed_in) -> None:
        old_refresh = signed_in.cookies.get(REFRESH_COOKIE)
        signed_in.cookies.delete(ACCESS_COOKIE)
        r = await signed_in.get("/portal")
        assert r.status_code == 200
        assert signed_in.cookies.get(ACCESS_COOKIE) and signed_in.cookies.get(REFRESH_COOKIE) != old_refresh
        # The rotated-away refresh token is not accepted a second time.
        r = await signed_in.post("/v1/auth/refresh", json={"refresh_token": old_refresh})
        assert r.status_code == 401

    async def test_staff_are_not_members(self, browser, admin_headers) -> None:
        await browser.post(
            "/v1/staff-accounts",
            json={
                "email": "desk@example.jp",
                "name": "受付",
                "role": "staff",
                "password": "plum blossoms at akagi",
            },
            headers=admin_headers,
        )
        pair = (
            await browser.post(
                "/v1/auth/login", json={"email": "desk@example.jp", "password": "plum blossoms at akagi"}
            )
        ).json()
        browser.cookies.set(ACCESS_COOKIE, pair["access_token"], domain="127.0.0.1", path="/portal")
        r = await browser.get("/portal")
        assert r.status_code == 303 and "signin" in r.headers["location"]

    async def test_cross_site_form_posts_are_refused(self, signed_in) -> None:
        r = await signed_in.post(
            "/portal/rooms/book",
            data={"resource_id": ROOM_A, "date": "2026-12-02", "start": "10:00", "end": "11:00"},
            headers={"origin": "https://evil.example"},
        )
        assert r.status_code == 403
        bookings = await signed_in.get("/portal/rooms", params={"date": "2026-12-02"})
        assert "10:00–11:00 ·" not in bookings.text


class TestPages:
    async def test_language_by_header_and_switch(self, signed_in) -> None:
        ja = await signed_in.get("/portal", headers={"accept-language": "ja"})
        assert 'lang="ja"' in ja.text and "ようこそ" in ja.text
        en = await signed_in.get("/portal", params={"lang": "en"})
        assert 'lang="en"' in en.text and "Welcome" in en.text and 'href="/portal?lang=ja"' in en.text
        # The choice is remembered for the next page.
        again = await signed_in.get("/portal/rooms", headers={"accept-language": "ja"})
        assert 'lang="en"' in again.text

    async def test_book_and_cancel_a_room(self, signed_in, member, staff_headers) -> None:
        r = await signed_in.post(
            "/portal/rooms/book",
            data={"resource_id": ROOM_A, "date": "2026-12-02", "start": "10:00", "end": "11:30"},
        )
        assert (
            r.status_code == 303
            and r.headers["location"] == "/portal/rooms?date=2026-12-02&done=rooms.booked"
        )
        [booking] = (
            await signed_in.get("/v1/bookings", params={"member_id": member["id"]}, headers=staff_headers)
        ).json()["items"]
        assert booking["start"] == "2026-12-02T10:00:00+09:00" and booking["price_yen"] == 1500
        page = await signed_in.get("/portal/rooms", params={"date": "2026-12-02", "done": "rooms.booked"})
        assert "予約しました。" in page.text and "10:00–11:30" in page.text and "1,500円" in page.text
        home = await signed_in.get("/portal")
        assert "会議室A" in home.text and "2026-12-02 10:00–11:30" in home.text
        # The same slot again: the API's rule answers, shown on the page (not a 500).
        clash = await signed_in.post(
            "/portal/rooms/book",
            data={"resource_id": ROOM_A, "date": "2026-12-02", "start": "11:00", "end": "12:00"},
        )
        assert clash.status_code == 409 and 'role="alert"' in clash.text
        r = await signed_in.post(f"/portal/bookings/{booking['id']}/cancel")
        assert r.status_code == 303
        cancelled = (await signed_in.get(f"/v1/bookings/{booking['id']}", headers=staff_headers)).json()
        assert cancelled["status"] == "cancelled"

    async def test_another_members_objects_are_403(self, signed_in, staff_headers, now) -> None:
        other = await create_member(signed_in, staff_headers)
        theirs = await signed_in.post(
            "/v1/bookings",
            json={"resource_id": ROOM_A, "member_id": other["id"],
                  "start": "2026-12-03T10:00:00+09:00", "end": "2026-12-03T11:00:00+09:00"},
            headers=staff_headers,
        )  # fmt: skip
        assert theirs.status_code == 201
        r = await signed_in.post(f"/portal/bookings/{theirs.json()['id']}/cancel")
        assert r.status_code == 403
        status = (await signed_in.get(f"/v1/bookings/{theirs.json()['id']}", headers=staff_headers)).json()[
            "status"
        ]
        assert status == "confirmed"

    async def test_events_register_waitlist_and_cancel(self, signed_in, staff_headers, member) -> None:
        event = await create_event(signed_in, staff_headers, capacity=1)
        first = await create_member(signed_in, staff_headers)
        r = await signed_in.post(
            f"/v1/programs/{event['id']}/registrations",
            json={"member_id": first["id"]},
            headers=staff_headers,
        )
        assert r.status_code == 201
        page = await signed_in.get("/portal/events", params={"lang": "en"})
        assert "Startup pitch" in page.text and "Full (you can join the waitlist)" in page.text
        r = await signed_in.post(f"/portal/events/{event['id']}/register")
        assert r.status_code == 303 and r.headers["location"] == "/portal/events?done=events.done"
        page = await signed_in.get("/portal/events")
        assert "Waitlist position 1" in page.text
        home = await signed_in.get("/portal")
        assert "Startup pitch" in home.text and "Waitlist position 1" in home.text
        [reg_id] = re.findall(r"/portal/registrations/([0-9a-f-]{36})/cancel", page.text)
        assert (await signed_in.post(f"/portal/registrations/{reg_id}/cancel")).status_code == 303
        reg = (await signed_in.get(f"/v1/event-registrations/{reg_id}", headers=staff_headers)).json()
        assert reg["status"] == "cancelled" and reg["member_id"] == member["id"]

    async def test_visits_with_each_days_charge_and_invoice_document(
        self, browser, db: AsyncSession, service_headers, admin_headers, engine, clock
    ) -> None:
        clock.set(jst(2026, 11, 1, 0, 30))
        member = await dropin_member_250_500_1000(db)
        other = await dropin_member_250_500_1000(db)
        run = await browser.post("/v1/invoice-runs", json={"period": "2026-10"}, headers=admin_headers)
        assert run.status_code == 201, run.text
        await sign_in(browser, service_headers, engine, member.email)
        page = await browser.get("/portal/visits", params={"month": "2026-10", "lang": "en"})
        assert page.status_code == 200
        # 45 min → 250円, 90 min → 500円, 5 h → 1,250円 capped at 1,000円; total 1,750円.
        assert "2026-10-08" in page.text and "daily cap applied" in page.text
        assert "¥1,250" in page.text and "¥1,000" in page.text and "¥1,750" in page.text
        invoices = await browser.get("/portal/invoices", params={"lang": "ja"})
        [mine] = re.findall(r"/portal/invoices/([0-9a-f-]{36})/document", invoices.text)
        assert "1,750円" in invoices.text and "請求書" in invoices.text
        doc = await browser.get(f"/portal/invoices/{mine}/document")
        assert (
            doc.status_code == 200
            and "1,750" in doc.text
            and doc.headers["content-type"].startswith("text/html")
        )
        all_invoices = (
            await browser.get("/v1/invoices", params={"member_id": str(other.id)}, headers=admin_headers)
        ).json()["items"]
        theirs = all_invoices[0]["id"]
        assert (await browser.get(f"/portal/invoices/{theirs}/document")).status_code == 403

    async def test_consultation_book_and_cancel(self, signed_in, staff_headers, member) -> None:
        c = await signed_in.post(
            "/v1/coordinators",
            json={"name": "高橋 誠", "name_en": "Makoto Takahashi", "title": "公認会計士", "expertise": ["funding"],
                  "bio": "資金調達"},
            headers=staff_headers,
        )  # fmt: skip
        assert c.status_code == 201
        w = await signed_in.post(
            f"/v1/coordinators/{c.json()['id']}/availability",
            json={"weekday": 2, "starts_at": "13:00", "ends_at": "15:00", "slot_minutes": 60},
            headers=staff_headers,
        )
        assert w.status_code == 201
        await signed_in.post("/v1/consultation-slots/generate", json={"days": 28}, headers=staff_headers)
        page = await signed_in.get("/portal/consultations")
        slots = re.findall(r'name="slot_id" id="slot-[0-9a-f-]{36}" value="([0-9a-f-]{36})"', page.text)
        assert slots and "高橋 誠" in page.text
        r = await signed_in.post(
            "/portal/consultations/book", data={"slot_id": slots[0], "topic": "資金調達"}
        )
        assert r.status_code == 303, r.text
        [mine] = (
            await signed_in.get(
                "/v1/consultations", params={"member_id": member["id"]}, headers=staff_headers
            )
        ).json()["items"]
        assert mine["status"] == "confirmed" and mine["slot_id"] == slots[0]
        page = await signed_in.get("/portal/consultations", params={"done": "consult.done"})
        assert (
            "相談を予約しました。" in page.text and f"/portal/consultations/{mine['id']}/cancel" in page.text
        )
        assert (await signed_in.post(f"/portal/consultations/{mine['id']}/cancel")).status_code == 303
        again = (await signed_in.get(f"/v1/consultations/{mine['id']}", headers=staff_headers)).json()
        assert again["status"] == "cancelled"

    async def test_settings_language_email_and_feed(self, signed_in, member, staff_headers) -> None:
        r = await signed_in.post("/portal/settings/language", data={"language": "en"})
        assert r.status_code == 303
        read = (await signed_in.get(f"/v1/members/{member['id']}", headers=staff_headers)).json()
        assert read["language"] == "en"
        page = await signed_in.get("/portal/settings")
        assert 'lang="en"' in page.text and '<option value="en" selected>' in page.text
        r = await signed_in.post("/portal/settings/email", data={"email": "new@example.jp"})
        assert r.status_code == 303 and r.headers["location"].endswith("done=settings.email.sent")
        r = await signed_in.post("/portal/settings/feed")
        assert r.status_code == 200
        [url] = re.findall(r'id="feed-url" type="text" readonly value="([^"]+)"', r.text)
        path = url.split("8002", 1)[-1].replace("&amp;", "&")
        feed = await signed_in.get(path)
        assert feed.status_code == 200 and "BEGIN:VCALENDAR" in feed.text

    async def test_static_assets_and_no_inline_script(self, browser) -> None:
        page = await browser.get("/portal/signin")
        for src in re.findall(r'(?:src|href)="(/portal/static/[^"]+)"', page.text):
            asset = await browser.get(src)
            assert asset.status_code == 200 and asset.headers["content-security-policy"] == PORTAL_CSP
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and " style=" not in page.text
        assert (await browser.get("/portal/static/../router.py")).status_code == 404


class TestNamedUsers:
    async def test_corporate_admin_adds_deactivates_and_reissues_within_the_limit(
        self, browser, staff_headers, admin_headers, service_headers, engine, now
    ) -> None:
        corp = await create_member(
            browser, staff_headers, kind="corporate", plan="corporate_monthly", email="admin@corp.example.jp"
        )
        r = await browser.patch("/v1/plans/corporate_monthly", json={"max_users": 1}, headers=admin_headers)
        assert r.status_code == 200
        try:
            await sign_in(browser, service_headers, engine, "admin@corp.example.jp")
            assert 'href="/portal/users"' in (await browser.get("/portal")).text
            r = await browser.post(
                "/portal/users/add", data={"name": "前橋 花子", "email": "hanako@corp.example.jp"}
            )
            assert r.status_code == 200 and "前橋 花子" in r.text
            [token] = re.findall(r'id="card-token" type="text" readonly value="(nsc_[^"]+)"', r.text)
            [user] = (await browser.get(f"/v1/members/{corp['id']}/users", headers=staff_headers)).json()[
                "items"
            ]
            assert user["name"] == "前橋 花子" and user["active"] is True
            # The plan's limit (1) is the API's rule: a second user is refused on the page, not a 500.
            r = await browser.post("/portal/users/add", data={"name": "高崎 次郎"})
            assert r.status_code == 409 and 'role="alert"' in r.text
            # Reissue: a new token, the old one is replaced.
            r = await browser.post(f"/portal/users/{user['id']}/card")
            [new_token] = re.findall(r'id="card-token" type="text" readonly value="(nsc_[^"]+)"', r.text)
            assert new_token != token
            r = await browser.post(f"/portal/users/{user['id']}/active", data={"active": "false"})
            assert r.status_code == 303
            [user] = (await browser.get(f"/v1/members/{corp['id']}/users", headers=staff_headers)).json()[
                "items"
            ]
            assert user["active"] is False
        finally:
            await browser.patch(
                "/v1/plans/corporate_monthly", json={"max_users": None}, headers=admin_headers
            )

    async def test_named_users_and_individuals_cannot_manage_users(
        self, browser, staff_headers, service_headers, engine, now
    ) -> None:
        corp = await create_member(browser, staff_headers, kind="corporate", plan="corporate_monthly")
        r = await browser.post(
            f"/v1/members/{corp['id']}/users", json={"name": "前橋 花子", "email": "named@corp.example.jp"},
            headers=staff_headers,
        )  # fmt: skip
        named = r.json()
        await sign_in(browser, service_headers, engine, "named@corp.example.jp")
        assert 'href="/portal/users"' not in (await browser.get("/portal")).text
        assert (await browser.get("/portal/users")).status_code == 403
        assert (await browser.post(f"/portal/users/{named['id']}/card")).status_code == 403
        assert (await browser.post("/portal/users/add", data={"name": "x"})).status_code == 403
        # The API says the same to the named user's token.
        access = browser.cookies.get(ACCESS_COOKIE) or ""
        r = await browser.post(f"/v1/members/{corp['id']}/users", json={"name": "x"}, headers=bearer(access))
        assert r.status_code == 403

    async def test_another_corporate_members_users_are_403(
        self, browser, staff_headers, make_token, now
    ) -> None:
        corp = await create_member(browser, staff_headers, kind="corporate", plan="corporate_monthly")
        other = await create_member(browser, staff_headers, kind="corporate", plan="corporate_monthly")
        token = bearer(await make_token("member", subject=corp["id"]))
        r = await browser.post(f"/v1/members/{other['id']}/users", json={"name": "x"}, headers=token)
        assert r.status_code == 403
        r = await browser.post(f"/v1/members/{corp['id']}/users", json={"name": "本人が追加"}, headers=token)
        assert r.status_code == 201
