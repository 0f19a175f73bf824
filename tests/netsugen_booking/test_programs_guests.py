"""Guest registration abuse controls (issue 14, finding 7): double opt-in, expiry, the normalized
email duplicate key, the Redis rate limits (shared by two app instances) and the confirmation email."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.netsugen_booking.programs.guests import display_name, normalize_email
from services.netsugen_booking.programs.tasks import expire_unconfirmed
from services.notifier.dispatch.render import default_catalog
from tests.conftest import BOOTSTRAP_TOKEN, _running, bearer, settings_overrides
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, create_member, outbox_events
from tests.netsugen_booking.test_programs import create_event

ADMIN = bearer(BOOTSTRAP_TOKEN)


@pytest.fixture
def now(clock):
    return clock.set(jst(2026, 12, 1, 9))


@pytest.fixture(autouse=True)
async def fresh_counters(redis_client) -> AsyncIterator[None]:
    async def clear() -> None:
        keys = [k async for k in redis_client.scan_iter(match="ratelimit:guest-registration:*")]
        if keys:
            await redis_client.delete(*keys)

    await clear()
    yield
    await clear()


async def guest(
    client: httpx.AsyncClient, event_id: str, email: str, name: str = "山田 花子"
) -> httpx.Response:
    return await client.post(
        f"/v1/programs/{event_id}/registrations",
        json={"guest": {"name": name, "email": email, "language": "ja"}},
    )


async def link_token(client: httpx.AsyncClient, registration_id: str) -> str:
    r = await client.get(f"/v1/event-registrations/{registration_id}/confirmation-contact", headers=ADMIN)
    assert r.status_code == 200, r.text
    return str(r.json()["confirmation_token"])


async def counts(client: httpx.AsyncClient, event_id: str) -> tuple[int, int, int]:
    shown = (await client.get(f"/v1/programs/{event_id}")).json()
    return shown["confirmed_count"], shown["waitlisted_count"], shown["seats_left"]


class TestDoubleOptIn:
    async def test_no_seat_before_confirmation_and_confirmation_takes_it(
        self, netsugen_client, staff_headers, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, capacity=1)
        r = await guest(netsugen_client, event["id"], "hanako@example.jp")
        assert r.status_code == 201, r.text
        pending = r.json()
        assert pending["status"] == "pending_confirmation" and pending["waitlist_position"] is None
        assert pending["confirmation_expires_at"] == "2026-12-01T10:00:00+09:00"  # 60 minutes
        assert await counts(netsugen_client, event["id"]) == (0, 0, 1)
        # Only the confirmation request went out, with ids only; nothing about a seat.
        requested = await outbox_events(db, "event.registration_confirmation_requested")
        assert [e["data"] for e in requested] == [{"registration_id": pending["id"], "event_id": event["id"]}]
        assert await outbox_events(db, "event.registration_confirmed") == []
        # Only the link's hash is stored, and the registration answer does not carry the secret.
        token = await link_token(netsugen_client, pending["id"])
        assert token not in r.text
        stored = (
            await db.execute(
                text("SELECT confirm_token_hash FROM netsugen.program_registration WHERE id = :i"),
                {"i": pending["id"]},
            )
        ).scalar_one()
        assert stored is not None and len(stored) == 64 and token not in stored

        # The pending guest held nothing: a member takes the only seat meanwhile.
        member = await create_member(netsugen_client, staff_headers)
        m = await netsugen_client.post(
            f"/v1/programs/{event['id']}/registrations",
            json={"member_id": member["id"]},
            headers=staff_headers,
        )
        assert m.json()["status"] == "confirmed"
        # Confirming takes a place when it is made: the event is full now, so the waitlist.
        wrong = await netsugen_client.post(
            f"/v1/event-registrations/{pending['id']}/confirm", json={"token": "gco_x"}
        )
        assert_problem(wrong, 404, "registration-not-found")
        ok = await netsugen_client.post(
            f"/v1/event-registrations/{pending['id']}/confirm", json={"token": token}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "waitlisted" and ok.json()["waitlist_position"] == 1
        assert ok.json()["confirmed_at"] == "2026-12-01T09:00:00+09:00"
        assert await counts(netsugen_client, event["id"]) == (1, 1, 0)
        waitlisted = await outbox_events(db, "event.waitlisted")
        assert [e["data"]["registration_id"] for e in waitlisted] == [pending["id"]]
        # The link works once.
        again = await netsugen_client.post(
            f"/v1/event-registrations/{pending['id']}/confirm", json={"token": token}
        )
        assert_problem(again, 409, "registration-already-confirmed")
        assert len(await outbox_events(db, "event.waitlisted")) == 1
        # No further link is handed out for a confirmed registration.
        gone = await netsugen_client.get(
            f"/v1/event-registrations/{pending['id']}/confirmation-contact", headers=ADMIN
        )
        assert_problem(gone, 410, "confirmation-not-pending")
        # The member cancels: the confirmed guest is promoted like anyone on the waitlist.
        await netsugen_client.post(f"/v1/event-registrations/{m.json()['id']}/cancel", headers=staff_headers)
        assert await counts(netsugen_client, event["id"]) == (1, 0, 0)

    async def test_confirmation_takes_a_free_seat(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(netsugen_client, staff_headers, capacity=2)
        pending = (await guest(netsugen_client, event["id"], "taro@example.jp")).json()
        token = await link_token(netsugen_client, pending["id"])
        ok = await netsugen_client.post(
            f"/v1/event-registrations/{pending['id']}/confirm", json={"token": token}
        )
        assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
        assert await counts(netsugen_client, event["id"]) == (1, 0, 1)

    async def test_a_newer_link_replaces_the_older(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        pending = (await guest(netsugen_client, event["id"], "taro@example.jp")).json()
        first = await link_token(netsugen_client, pending["id"])
        second = await link_token(netsugen_client, pending["id"])
        url = f"/v1/event-registrations/{pending['id']}/confirm"
        assert_problem(await netsugen_client.post(url, json={"token": first}), 404, "registration-not-found")
        assert (await netsugen_client.post(url, json={"token": second})).json()["status"] == "confirmed"

    async def test_expired_pending_holds_nothing_and_cannot_be_confirmed(
        self, netsugen_client, staff_headers, sessionmaker, clock, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, capacity=1)
        pending = (await guest(netsugen_client, event["id"], "late@example.jp")).json()
        token = await link_token(netsugen_client, pending["id"])
        clock.set(jst(2026, 12, 1, 10))  # exactly the expiry
        assert await counts(netsugen_client, event["id"]) == (0, 0, 1)
        url = f"/v1/event-registrations/{pending['id']}/confirm"
        assert_problem(await netsugen_client.post(url, json={"token": token}), 410, "confirmation-expired")
        no_link = await netsugen_client.get(
            f"/v1/event-registrations/{pending['id']}/confirmation-contact", headers=ADMIN
        )
        assert_problem(no_link, 410, "confirmation-not-pending")
        # The sweep marks it expired (nothing to free or promote: it never held anything).
        assert (
            await expire_unconfirmed(sessionmaker, now=datetime.fromisoformat("2026-12-01T10:00:00+09:00"))
            == 1
        )
        assert (
            await expire_unconfirmed(sessionmaker, now=datetime.fromisoformat("2026-12-01T10:05:00+09:00"))
            == 0
        )
        row = (
            await db.execute(
                text("SELECT status, confirm_token_hash FROM netsugen.program_registration WHERE id = :i"),
                {"i": pending["id"]},
            )
        ).one()
        assert tuple(row) == ("expired", None)
        assert_problem(await netsugen_client.post(url, json={"token": token}), 410, "confirmation-expired")
        assert await counts(netsugen_client, event["id"]) == (0, 0, 1)
        assert await outbox_events(db, "event.waitlist_promoted") == []
        assert await outbox_events(db, "event.registration_confirmed") == []

    async def test_lapsed_pending_does_not_block_registering_again(
        self, netsugen_client, staff_headers, clock, now
    ) -> None:
        event = await create_event(netsugen_client, staff_headers)
        first = (await guest(netsugen_client, event["id"], "again@example.jp")).json()
        assert_problem(
            await guest(netsugen_client, event["id"], "again@example.jp"), 409, "already-registered"
        )
        clock.set(jst(2026, 12, 1, 10, 1))  # lapsed, before any sweep ran
        second = await guest(netsugen_client, event["id"], "again@example.jp")
        assert second.status_code == 201 and second.json()["id"] != first["id"]
        listed = (
            await netsugen_client.get(f"/v1/programs/{event['id']}/registrations", headers=staff_headers)
        ).json()
        assert [x["status"] for x in listed["items"]] == ["expired", "pending_confirmation"]

    async def test_guest_may_cancel_while_pending(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        pending = (await guest(netsugen_client, event["id"], "oops@example.jp")).json()
        token = await link_token(netsugen_client, pending["id"])
        r = await netsugen_client.post(
            f"/v1/event-registrations/{pending['id']}/cancel", json={"cancel_token": pending["cancel_token"]}
        )
        assert r.json()["status"] == "cancelled"
        url = f"/v1/event-registrations/{pending['id']}/confirm"
        assert_problem(await netsugen_client.post(url, json={"token": token}), 404, "registration-not-found")

    async def test_confirmation_contact_is_for_the_notifier_only(
        self, netsugen_client, staff_headers, service_headers, now
    ) -> None:
        event = await create_event(netsugen_client, staff_headers)
        pending = (await guest(netsugen_client, event["id"], "who@example.jp")).json()
        url = f"/v1/event-registrations/{pending['id']}/confirmation-contact"
        assert_problem(await netsugen_client.get(url), 401, "unauthorized")
        assert_problem(await netsugen_client.get(url, headers=staff_headers), 403, "forbidden")
        assert (await netsugen_client.get(url, headers=service_headers)).status_code == 200


class TestNormalizedEmail:
    @pytest.mark.parametrize(
        ("raw", "key"),
        [
            ("Hanako@Example.JP", "hanako@example.jp"),
            ("hanako+event1@example.jp", "hanako@example.jp"),
            ("Ha.Na.Ko+x+y@Gmail.com", "hanako@gmail.com"),
            ("h.anako@googlemail.com", "hanako@gmail.com"),
            ("ha.nako@example.jp", "ha.nako@example.jp"),  # dots matter elsewhere
            ("ｈａｎａｋｏ@example.jp", "hanako@example.jp"),  # full-width folded (NFKC)
        ],
    )
    def test_rules(self, raw: str, key: str) -> None:
        assert normalize_email(raw) == key

    async def test_plus_addressing_and_gmail_dots_cannot_take_several_places(
        self, netsugen_client, staff_headers, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers)
        assert (await guest(netsugen_client, event["id"], "hanako@gmail.com")).status_code == 201
        for variant in (
            "Hanako+1@gmail.com",
            "ha.na.ko@gmail.com",
            "h.anako+seat2@googlemail.com",
            "HANAKO@GMAIL.COM",
        ):
            assert_problem(await guest(netsugen_client, event["id"], variant), 409, "already-registered")
        n = (await db.execute(text("SELECT count(*) FROM netsugen.program_registration"))).scalar_one()
        assert n == 1
        # Another provider's dots are another mailbox.
        assert (await guest(netsugen_client, event["id"], "ha.nako@example.jp")).status_code == 201
        assert (await guest(netsugen_client, event["id"], "hanako@example.jp")).status_code == 201
        assert_problem(
            await guest(netsugen_client, event["id"], "hanako+x@example.jp"), 409, "already-registered"
        )


def _client(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://netsugen")


@pytest.fixture
async def second_app(stack, netsugen_app) -> AsyncIterator[FastAPI]:
    """Another API instance on the same database and Redis (a second replica)."""
    from services.netsugen_booking.main import create_app
    from services.netsugen_booking.settings import NetsugenSettings

    settings = NetsugenSettings(**settings_overrides(stack))
    async for app in _running(create_app(settings)):
        yield app


@pytest.fixture
def limits(netsugen_app, second_app):
    """``limits(address=3, email=2)`` sets the guest limits on both instances for this test."""
    apps = (netsugen_app, second_app)
    saved = [
        (
            a.state.settings.guest_registration_limit_per_address,
            a.state.settings.guest_registration_limit_per_email,
        )
        for a in apps
    ]

    def set_limits(*, address: int, email: int) -> None:
        for a in apps:
            a.state.settings.guest_registration_limit_per_address = address
            a.state.settings.guest_registration_limit_per_email = email

    yield set_limits
    for a, (address, email) in zip(apps, saved, strict=True):
        a.state.settings.guest_registration_limit_per_address = address
        a.state.settings.guest_registration_limit_per_email = email


class TestRateLimits:
    async def test_per_address_limit_is_shared_by_two_instances(
        self, netsugen_client, netsugen_app, second_app, limits, staff_headers, now, clock, db
    ) -> None:
        limits(address=3, email=100)
        second_app.dependency_overrides.update(netsugen_app.dependency_overrides)  # the same clock
        event = await create_event(netsugen_client, staff_headers)
        a = _client(netsugen_app, "203.0.113.7")
        b = _client(second_app, "203.0.113.7")
        async with a, b:
            answers = [await guest(c, event["id"], f"p{n}@example.jp") for n, c in enumerate((a, b, a, b, a))]
            assert [r.status_code for r in answers] == [201, 201, 201, 429, 429]
            body = assert_problem(answers[3], 429, "rate-limited")
            assert body["detail"].startswith("このアドレスからのゲスト申込が多すぎます")
            retry = int(answers[3].headers["retry-after"])
            assert 3590 <= retry <= 3600
            # Another address is counted on its own.
            async with _client(second_app, "198.51.100.9") as c:
                assert (await guest(c, event["id"], "other@example.jp")).status_code == 201
        n = (await db.execute(text("SELECT count(*) FROM netsugen.program_registration"))).scalar_one()
        assert n == 4
        second_app.dependency_overrides.clear()

    async def test_per_email_limit_counts_the_normalized_address(
        self, netsugen_client, netsugen_app, second_app, limits, staff_headers, now
    ) -> None:
        limits(address=100, email=2)
        second_app.dependency_overrides.update(netsugen_app.dependency_overrides)
        events = [await create_event(netsugen_client, staff_headers, resource_id=None) for n in range(3)]
        a = _client(netsugen_app, "203.0.113.8")
        b = _client(second_app, "198.51.100.10")  # rotating addresses does not help
        async with a, b:
            assert (await guest(a, events[0]["id"], "victim+1@gmail.com")).status_code == 201
            assert (await guest(b, events[1]["id"], "v.i.c.t.i.m+2@googlemail.com")).status_code == 201
            refused = await guest(a, events[2]["id"], "VICTIM@gmail.com")
            body = assert_problem(refused, 429, "rate-limited")
            assert "メールアドレス" in body["detail"] and int(refused.headers["retry-after"]) > 0
            assert (await guest(b, events[2]["id"], "someone@gmail.com")).status_code == 201
        second_app.dependency_overrides.clear()

    async def test_staff_registering_guests_is_not_limited(
        self, netsugen_client, staff_headers, limits, now
    ) -> None:
        limits(address=1, email=1)
        event = await create_event(netsugen_client, staff_headers)
        for n in range(3):
            r = await netsugen_client.post(
                f"/v1/programs/{event['id']}/registrations",
                json={"guest": {"name": f"来場者{n}", "email": f"walkin{n}@example.jp"}},
                headers=staff_headers,
            )
            assert r.status_code == 201 and r.json()["status"] == "pending_confirmation"
        assert (await guest(netsugen_client, event["id"], "anon1@example.jp")).status_code == 201
        assert_problem(await guest(netsugen_client, event["id"], "anon2@example.jp"), 429, "rate-limited")


NASTY = "WIN ¥100000 NOW at http://evil.example/claim?x=1 or www.evil.example or evil.example/x mail x@evil.example"


class TestConfirmationEmail:
    def test_display_name(self) -> None:
        assert display_name("山田 花子") == "山田 花子"
        assert display_name("J. R. Smith") == "J. R. Smith"
        cleaned = display_name(NASTY)
        assert "evil" not in cleaned and "http" not in cleaned and "www" not in cleaned and "@" not in cleaned
        assert len(cleaned) <= 40
        assert display_name("ｅｖｉｌ．ｅｘａｍｐｌｅ 太郎") == "太郎"  # full-width dots are dots
        assert display_name("a\r\nBcc: x\u202eevil") == "a Bcc: x evil"
        assert len(display_name("あ" * 200)) == 40

    @pytest.mark.parametrize("language", ["ja", "en"])
    async def test_email_repeats_no_url_from_the_name_and_its_link_confirms(
        self, netsugen_client, staff_headers, now, language: str
    ) -> None:
        event = await create_event(netsugen_client, staff_headers)
        r = await netsugen_client.post(
            f"/v1/programs/{event['id']}/registrations",
            json={"guest": {"name": NASTY, "email": "target@example.jp", "language": language}},
        )
        pending = r.json()
        contact = await netsugen_client.get(
            f"/v1/event-registrations/{pending['id']}/confirmation-contact", headers=ADMIN
        )
        c: dict[str, Any] = contact.json()
        assert c["email"] == "target@example.jp" and c["language"] == language
        assert len(c["name"]) <= 40 and "evil" not in c["name"]
        # Render the mail the notifier sends, from the same contact answer.
        mail = default_catalog().render(
            "event.registration_confirmation_requested",
            c["language"],
            name=c["name"],
            data={"registration_id": pending["id"], "event_id": event["id"]},
            event_id="e",
            occurred_at=datetime.fromisoformat("2026-12-01T09:00:00+09:00"),
            portal_url="https://netsugen.example.jp",
            confirmation_token=c["confirmation_token"],
        )
        assert c["name"] in mail.text  # the name is repeated, cleaned and shortened
        for part in (mail.subject, mail.text, mail.html):
            assert "evil" not in part and "claim" not in part and "x=1" not in part
        urls = re.findall(r"https?://[^\s\"<]+", mail.text)
        assert all(u.startswith("https://netsugen.example.jp") for u in urls), urls
        link = next(u for u in urls if "/confirm?token=" in u)
        assert link.startswith(
            f"https://netsugen.example.jp/events/registrations/{pending['id']}/confirm?token=gco_"
        )
        # The link's secret confirms the registration.
        token = link.split("token=", 1)[1]
        ok = await netsugen_client.post(
            f"/v1/event-registrations/{pending['id']}/confirm", json={"token": token}
        )
        assert ok.status_code == 200 and ok.json()["status"] == "confirmed"


class TestPortalConfirmationPage:
    """The link in the guest's email opens a portal page; only the guest's POST confirms (a mail
    scanner that opens the link must not take or waste the seat)."""

    async def test_get_shows_the_button_post_confirms(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        pending = (await guest(netsugen_client, event["id"], "portal-guest@example.jp")).json()
        token = await link_token(netsugen_client, pending["id"])
        page = f"/portal/events/registrations/{pending['id']}/confirm"
        shown = await netsugen_client.get(page, params={"token": token, "lang": "en"})
        assert shown.status_code == 200 and "Confirm my registration" in shown.text
        assert token in shown.text and "script-src" in shown.headers["content-security-policy"]
        assert await counts(netsugen_client, event["id"]) == (0, 0, 10)  # opening the link confirmed nothing
        origin = {"Origin": str(netsugen_client.base_url).rstrip("/")}
        foreign = await netsugen_client.post(
            page, data={"token": token}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        done = await netsugen_client.post(page, data={"token": token}, headers=origin, params={"lang": "en"})
        assert done.status_code == 200, done.text
        assert "Your registration is confirmed" in done.text
        assert await counts(netsugen_client, event["id"]) == (1, 0, 9)
        again = await netsugen_client.post(page, data={"token": token}, headers=origin)
        assert again.status_code == 409  # the link works once
