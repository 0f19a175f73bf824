"""Events: creation, registration by members and guests, the waitlist, attendance and closing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.netsugen_booking.resources.seed import resource_id
from tests.conftest import BOOTSTRAP_TOKEN, bearer
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, count_rows, create_member, outbox_events

EVENT_SPACE = str(resource_id("event-space"))  # 80 people, 30-minute grid
ROOM_B = str(resource_id("meeting-room-b"))


def event_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title_ja": "スタートアップピッチ",
        "title_en": "Startup pitch",
        "description_ja": "県内スタートアップのピッチ",
        "description_en": "Pitches by Gunma startups",
        "category": "startup_program",
        "resource_id": EVENT_SPACE,
        "start": "2026-12-10T18:00:00+09:00",
        "end": "2026-12-10T20:00:00+09:00",
        "capacity": 10,
        "registration_closes_at": "2026-12-10T12:00:00+09:00",
    }
    body.update(over)
    return body


async def create_event(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    r = await client.post("/v1/programs", json=event_body(**over), headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def register_guest(client: httpx.AsyncClient, event_id: str, n: int) -> httpx.Response:
    """A guest registers and confirms from the emailed link (double opt-in), as a guest does.

    Answers the registration's refusal as is; otherwise a 201 carrying the confirmed registration
    (and the ``cancel_token`` of the registration answer)."""
    r = await client.post(
        f"/v1/programs/{event_id}/registrations",
        json={
            "guest": {
                "name": f"ゲスト{n}",
                "email": f"Guest{n}@Example.jp",
                "language": "en" if n % 2 else "ja",
            }
        },
    )
    if r.status_code != 201:
        return r
    assert r.json()["status"] == "pending_confirmation", r.text
    confirmed = await confirm_guest(client, r.json()["id"])
    assert confirmed.status_code == 200, confirmed.text
    return httpx.Response(201, json=confirmed.json() | {"cancel_token": r.json()["cancel_token"]})


async def confirm_guest(client: httpx.AsyncClient, registration_id: str) -> httpx.Response:
    """What the guest's click does: the notifier fetches the link's secret, the guest posts it."""
    contact = await client.get(
        f"/v1/event-registrations/{registration_id}/confirmation-contact", headers=bearer(BOOTSTRAP_TOKEN)
    )
    assert contact.status_code == 200, contact.text
    token = contact.json()["confirmation_token"]
    return await client.post(f"/v1/event-registrations/{registration_id}/confirm", json={"token": token})


@pytest.fixture(autouse=True)
async def unlimited_guests(netsugen_app, redis_client):
    """These tests register many guests from one address: lift the guest rate limits meanwhile."""
    settings = netsugen_app.state.settings
    saved = (settings.guest_registration_limit_per_address, settings.guest_registration_limit_per_email)
    settings.guest_registration_limit_per_address = settings.guest_registration_limit_per_email = 100_000
    yield
    settings.guest_registration_limit_per_address, settings.guest_registration_limit_per_email = saved
    keys = [k async for k in redis_client.scan_iter(match="ratelimit:guest-registration:*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
def now(clock):
    return clock.set(jst(2026, 12, 1, 9))


class TestEvents:
    async def test_staff_create_public_read(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        assert event["status"] == "scheduled" and event["registration_open"] is True
        assert event["registration_opens_at"] == "2026-12-01T09:00:00+09:00"
        assert event["seats_left"] == 10 and event["confirmed_count"] == 0
        r = await netsugen_client.get(f"/v1/programs/{event['id']}")
        assert r.status_code == 200 and r.json()["title_en"] == "Startup pitch"
        listed = (await netsugen_client.get("/v1/programs", params={"category": "startup_program"})).json()
        assert [e["id"] for e in listed["items"]] == [event["id"]]
        assert (await netsugen_client.get("/v1/programs", params={"category": "seminar"})).json()[
            "items"
        ] == []

    async def test_member_cannot_create(self, netsugen_client, staff_headers, make_token, now) -> None:
        member = await create_member(netsugen_client, staff_headers)
        h = bearer(await make_token("member", subject=member["id"]))
        assert_problem(
            await netsugen_client.post("/v1/programs", json=event_body(), headers=h), 403, "forbidden"
        )

    async def test_event_holds_its_room(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        avail = (
            await netsugen_client.get(
                f"/v1/resources/{EVENT_SPACE}/availability", params={"date": "2026-12-10"}
            )
        ).json()
        assert avail["booked"] == [{"start": "2026-12-10T18:00:00+09:00", "end": "2026-12-10T20:00:00+09:00"}]
        member = await create_member(netsugen_client, staff_headers)
        clash = await netsugen_client.post(
            "/v1/bookings",
            json={
                "resource_id": EVENT_SPACE,
                "member_id": member["id"],
                "start": "2026-12-10T19:00:00+09:00",
                "end": "2026-12-10T21:00:00+09:00",
            },
            headers=staff_headers,
        )
        assert_problem(clash, 409, "slot-taken")
        second = await netsugen_client.post(
            "/v1/programs",
            json=event_body(start="2026-12-10T19:30:00+09:00", end="2026-12-10T21:00:00+09:00"),
            headers=staff_headers,
        )
        assert_problem(second, 409, "slot-taken")
        assert event["resource_id"] == EVENT_SPACE

    async def test_creator_lab_without_room(self, netsugen_client, staff_headers, now) -> None:
        event = await create_event(
            netsugen_client,
            staff_headers,
            category="creator_lab",
            resource_id=None,
            start="2026-12-05T13:10:00+09:00",
            end="2026-12-05T15:00:00+09:00",
            registration_closes_at=None,
        )
        assert event["category"] == "creator_lab" and event["resource_id"] is None
        assert event["registration_closes_at"] == "2026-12-05T13:10:00+09:00"

    async def test_bad_events_write_nothing(self, netsugen_client, staff_headers, now, db) -> None:
        cases = [
            (event_body(category="party"), 422, "validation-error"),
            (
                event_body(start="2026-12-10T20:00:00+09:00", end="2026-12-10T18:00:00+09:00"),
                422,
                "times-not-in-order",
            ),
            (event_body(start="2026-12-10T18:15:00+09:00"), 422, "off-grid"),
            (
                event_body(
                    start="2026-12-12T17:00:00+09:00",
                    end="2026-12-12T19:00:00+09:00",
                    registration_closes_at=None,
                ),
                422,
                "outside-opening-hours",
            ),
            (
                event_body(
                    start="2026-11-30T18:00:00+09:00",
                    end="2026-11-30T20:00:00+09:00",
                    registration_closes_at=None,
                ),
                422,
                "in-the-past",
            ),
            (event_body(capacity=81), 422, "capacity-exceeds-resource"),
            (
                event_body(registration_closes_at="2026-12-10T21:00:00+09:00"),
                422,
                "invalid-registration-window",
            ),
            (
                event_body(registration_opens_at="2026-12-10T13:00:00+09:00"),
                422,
                "invalid-registration-window",
            ),
            (event_body(resource_id="00000000-0000-0000-0000-0000000000cc"), 422, "unknown-resource"),
        ]
        for body, status, slug in cases:
            assert_problem(
                await netsugen_client.post("/v1/programs", json=body, headers=staff_headers), status, slug
            )
        assert await count_rows(db, "SELECT count(*) FROM netsugen.program") == 0
        assert await count_rows(db, "SELECT count(*) FROM netsugen.booking") == 0

    async def test_members_only_event_is_hidden_from_anonymous(
        self, netsugen_client, staff_headers, now
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, public=False)
        assert_problem(await netsugen_client.get(f"/v1/programs/{event['id']}"), 404, "program-not-found")
        assert (await netsugen_client.get("/v1/programs")).json()["items"] == []
        assert len((await netsugen_client.get("/v1/programs", headers=staff_headers)).json()["items"]) == 1
        r = await register_guest(netsugen_client, event["id"], 1)
        assert_problem(r, 404, "program-not-found")


class TestRegistration:
    async def test_member_and_guest_register_then_waitlist(
        self, netsugen_client, staff_headers, make_token, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, capacity=2)
        member = await create_member(netsugen_client, staff_headers)
        mh = bearer(await make_token("member", subject=member["id"]))
        r1 = await netsugen_client.post(
            f"/v1/programs/{event['id']}/registrations", json={"member_id": member["id"]}, headers=mh
        )
        assert (
            r1.status_code == 201 and r1.json()["status"] == "confirmed" and r1.json()["cancel_token"] is None
        )
        r2 = await register_guest(netsugen_client, event["id"], 2)
        assert r2.status_code == 201 and r2.json()["status"] == "confirmed"
        assert r2.json()["guest_email"] == "guest2@example.jp" and r2.json()["cancel_token"].startswith(
            "gcx_"
        )
        r3 = await register_guest(netsugen_client, event["id"], 3)
        r4 = await register_guest(netsugen_client, event["id"], 4)
        assert [r3.json()["status"], r4.json()["status"]] == ["waitlisted", "waitlisted"]
        assert [r3.json()["waitlist_position"], r4.json()["waitlist_position"]] == [1, 2]
        shown = (await netsugen_client.get(f"/v1/programs/{event['id']}")).json()
        assert (shown["confirmed_count"], shown["waitlisted_count"], shown["seats_left"]) == (2, 2, 0)
        confirmed = await outbox_events(db, "event.registration_confirmed")
        waitlisted = await outbox_events(db, "event.waitlisted")
        assert [e["data"]["registration_id"] for e in confirmed] == [r1.json()["id"], r2.json()["id"]]
        assert [e["data"]["registration_id"] for e in waitlisted] == [r3.json()["id"], r4.json()["id"]]
        assert all(e["data"]["event_id"] == event["id"] for e in confirmed + waitlisted)

    async def test_double_registration_is_409(self, netsugen_client, staff_headers, now, db) -> None:
        event = await create_event(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        body = {"member_id": member["id"]}
        assert (
            await netsugen_client.post(
                f"/v1/programs/{event['id']}/registrations", json=body, headers=staff_headers
            )
        ).status_code == 201
        again = await netsugen_client.post(
            f"/v1/programs/{event['id']}/registrations", json=body, headers=staff_headers
        )
        assert_problem(again, 409, "already-registered")
        assert (await register_guest(netsugen_client, event["id"], 7)).status_code == 201
        assert_problem(await register_guest(netsugen_client, event["id"], 7), 409, "already-registered")
        assert await count_rows(db, "SELECT count(*) FROM netsugen.program_registration") == 2

    async def test_simultaneous_double_registration_gives_one(
        self, netsugen_client, staff_headers, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        responses = await asyncio.gather(
            *(
                netsugen_client.post(
                    f"/v1/programs/{event['id']}/registrations",
                    json={"member_id": member["id"]},
                    headers=staff_headers,
                )
                for _ in range(10)
            )
        )
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
        assert await count_rows(db, "SELECT count(*) FROM netsugen.program_registration") == 1

    async def test_registration_window(self, netsugen_client, staff_headers, clock, now, db) -> None:
        event = await create_event(
            netsugen_client, staff_headers, registration_opens_at="2026-12-03T10:00:00+09:00"
        )
        early = await register_guest(netsugen_client, event["id"], 1)
        assert_problem(early, 409, "registration-closed")
        clock.set(jst(2026, 12, 10, 12))  # the moment registration closes
        late = await register_guest(netsugen_client, event["id"], 2)
        body = assert_problem(late, 409, "registration-closed")
        assert body["registration_closes_at"] == "2026-12-10T03:00:00+00:00"
        assert await count_rows(db, "SELECT count(*) FROM netsugen.program_registration") == 0
        assert await outbox_events(db, "event.waitlisted") == []

    async def test_bad_registrations(self, netsugen_client, staff_headers, make_token, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        other = await create_member(netsugen_client, staff_headers)
        url = f"/v1/programs/{event['id']}/registrations"
        assert_problem(await netsugen_client.post(url, json={}), 422, "validation-error")
        both = {"member_id": member["id"], "guest": {"name": "x", "email": "x@example.jp"}}
        assert_problem(await netsugen_client.post(url, json=both), 422, "validation-error")
        bad_email = {"guest": {"name": "x", "email": "not-an-email"}}
        assert_problem(await netsugen_client.post(url, json=bad_email), 422, "validation-error")
        assert_problem(await netsugen_client.post(url, json={"member_id": member["id"]}), 403, "forbidden")
        oh = bearer(await make_token("member", subject=other["id"]))
        assert_problem(
            await netsugen_client.post(url, json={"member_id": member["id"]}, headers=oh), 403, "forbidden"
        )
        unknown = {"member_id": "00000000-0000-0000-0000-0000000000dd"}
        assert_problem(
            await netsugen_client.post(url, json=unknown, headers=staff_headers), 422, "unknown-member"
        )
        missing = "/v1/programs/00000000-0000-0000-0000-0000000000ee/registrations"
        assert_problem(
            await netsugen_client.post(missing, json=bad_email | {"guest": {"name": "a", "email": "a@b.jp"}}),
            404,
            "program-not-found",
        )


class TestWaitlist:
    async def test_cancellation_promotes_first_in_order(
        self, netsugen_client, staff_headers, make_token, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, capacity=2)
        member = await create_member(netsugen_client, staff_headers)
        mh = bearer(await make_token("member", subject=member["id"]))
        mine = (
            await netsugen_client.post(
                f"/v1/programs/{event['id']}/registrations", json={"member_id": member["id"]}, headers=mh
            )
        ).json()
        guests = [(await register_guest(netsugen_client, event["id"], n)).json() for n in range(1, 5)]
        assert [g["status"] for g in guests] == ["confirmed", "waitlisted", "waitlisted", "waitlisted"]

        r = await netsugen_client.post(f"/v1/event-registrations/{mine['id']}/cancel", headers=mh)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        promoted = await outbox_events(db, "event.waitlist_promoted")
        assert [e["data"]["registration_id"] for e in promoted] == [guests[1]["id"]]
        regs = (
            await netsugen_client.get(f"/v1/programs/{event['id']}/registrations", headers=staff_headers)
        ).json()
        assert [(x["guest_name"], x["status"], x["waitlist_position"]) for x in regs["items"]] == [
            (None, "cancelled", None),
            ("ゲスト1", "confirmed", None),
            ("ゲスト2", "confirmed", None),
            ("ゲスト3", "waitlisted", 1),
            ("ゲスト4", "waitlisted", 2),
        ]
        # A guest cancels with the secret from its registration answer.
        wrong = await netsugen_client.post(
            f"/v1/event-registrations/{guests[0]['id']}/cancel", json={"cancel_token": "gcx_wrong"}
        )
        assert_problem(wrong, 404, "registration-not-found")
        ok = await netsugen_client.post(
            f"/v1/event-registrations/{guests[0]['id']}/cancel",
            json={"cancel_token": guests[0]["cancel_token"]},
        )
        assert ok.status_code == 200
        again = await netsugen_client.post(
            f"/v1/event-registrations/{guests[0]['id']}/cancel",
            json={"cancel_token": guests[0]["cancel_token"]},
        )
        assert again.status_code == 200 and again.json()["cancelled_at"] == ok.json()["cancelled_at"]
        promoted = await outbox_events(db, "event.waitlist_promoted")
        assert [e["data"]["registration_id"] for e in promoted] == [guests[1]["id"], guests[2]["id"]]
        # Cancelling a waitlisted registration promotes nobody.
        await netsugen_client.post(f"/v1/event-registrations/{guests[3]['id']}/cancel", headers=staff_headers)
        assert len(await outbox_events(db, "event.waitlist_promoted")) == 2
        # After cancelling, the member may register again (at the back of the queue: full).
        back = await netsugen_client.post(
            f"/v1/programs/{event['id']}/registrations", json={"member_id": member["id"]}, headers=mh
        )
        assert (
            back.status_code == 201
            and back.json()["status"] == "waitlisted"
            and back.json()["waitlist_position"] == 1
        )

    async def test_no_cancellation_after_the_start(self, netsugen_client, staff_headers, clock, now) -> None:
        event = await create_event(netsugen_client, staff_headers)
        reg = (await register_guest(netsugen_client, event["id"], 1)).json()
        clock.set(jst(2026, 12, 10, 18))
        r = await netsugen_client.post(f"/v1/event-registrations/{reg['id']}/cancel", headers=staff_headers)
        assert_problem(r, 409, "program-started")

    async def test_50_simultaneous_registrations_for_the_last_5_seats(
        self, netsugen_client, staff_headers, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, capacity=10)
        for n in range(5):
            assert (await register_guest(netsugen_client, event["id"], 1000 + n)).json()[
                "status"
            ] == "confirmed"
        responses = await asyncio.gather(
            *(register_guest(netsugen_client, event["id"], n) for n in range(50))
        )
        assert Counter(r.status_code for r in responses) == {201: 50}, [
            r.text for r in responses if r.status_code != 201
        ]
        statuses = Counter(r.json()["status"] for r in responses)
        assert statuses == {"confirmed": 5, "waitlisted": 45}
        positions = sorted(
            r.json()["waitlist_position"] for r in responses if r.json()["status"] == "waitlisted"
        )
        assert positions == list(range(1, 46))
        # Arrival order decides: the five confirmed are exactly the five lowest sequence numbers.
        rows = (
            (
                await db.execute(
                    text(
                        "SELECT status FROM netsugen.program_registration WHERE program_id = :p ORDER BY seq"
                    ),
                    {"p": event["id"]},
                )
            )
            .scalars()
            .all()
        )
        assert rows == ["confirmed"] * 10 + ["waitlisted"] * 45
        assert len(await outbox_events(db, "event.registration_confirmed")) == 10
        assert len(await outbox_events(db, "event.waitlisted")) == 45

    async def test_cancellations_racing_registrations(self, netsugen_client, staff_headers, now, db) -> None:
        """Full event, 6 waitlisted; 3 cancellations race 4 new registrations. Seats stay exact and
        the first three of the waitlist (in order) get the freed seats."""
        event = await create_event(netsugen_client, staff_headers, capacity=4)
        regs = [(await register_guest(netsugen_client, event["id"], n)).json() for n in range(10)]
        assert [r["status"] for r in regs] == ["confirmed"] * 4 + ["waitlisted"] * 6
        cancels = [
            netsugen_client.post(f"/v1/event-registrations/{r['id']}/cancel", headers=staff_headers)
            for r in regs[:3]
        ]
        news = [register_guest(netsugen_client, event["id"], 100 + n) for n in range(4)]
        responses = await asyncio.gather(*cancels, *news)
        assert [r.status_code for r in responses] == [200] * 3 + [201] * 4
        assert [r.json()["status"] for r in responses[3:]] == ["waitlisted"] * 4
        listed = (
            await netsugen_client.get(f"/v1/programs/{event['id']}/registrations", headers=staff_headers)
        ).json()
        confirmed = [x["guest_name"] for x in listed["items"] if x["status"] == "confirmed"]
        assert confirmed == ["ゲスト3", "ゲスト4", "ゲスト5", "ゲスト6"]
        waiting = [x["guest_name"] for x in listed["items"] if x["status"] == "waitlisted"]
        assert waiting[:3] == ["ゲスト7", "ゲスト8", "ゲスト9"] and len(waiting) == 7
        promoted = await outbox_events(db, "event.waitlist_promoted")
        assert sorted(e["data"]["registration_id"] for e in promoted) == sorted(r["id"] for r in regs[4:7])


class TestAttendanceAndClosing:
    async def test_check_in_close_and_contact(
        self, netsugen_client, staff_headers, service_headers, make_token, clock, now, db
    ) -> None:
        event = await create_event(netsugen_client, staff_headers, category="seminar", capacity=3)
        member = await create_member(
            netsugen_client, staff_headers, name="会員 太郎", email="taro@example.jp", language="ja"
        )
        m = (
            await netsugen_client.post(
                f"/v1/programs/{event['id']}/registrations",
                json={"member_id": member["id"]},
                headers=staff_headers,
            )
        ).json()
        g = (await register_guest(netsugen_client, event["id"], 1)).json()
        g2 = (await register_guest(netsugen_client, event["id"], 2)).json()
        w = (await register_guest(netsugen_client, event["id"], 3)).json()
        assert w["status"] == "waitlisted"

        contact = await netsugen_client.get(
            f"/v1/event-registrations/{g['id']}/contact", headers=service_headers
        )
        assert contact.json() == {
            "registration_id": g["id"],
            "name": "ゲスト1",
            "email": "guest1@example.jp",
            "language": "en",
            "status": "confirmed",
        }
        contact = await netsugen_client.get(
            f"/v1/event-registrations/{m['id']}/contact", headers=service_headers
        )
        assert contact.json() == {
            "registration_id": m["id"],
            "name": "会員 太郎",
            "email": "taro@example.jp",
            "language": "ja",
            "status": "confirmed",
        }
        mh = bearer(await make_token("member", subject=member["id"]))
        assert_problem(
            await netsugen_client.get(f"/v1/event-registrations/{m['id']}/contact", headers=mh),
            403,
            "forbidden",
        )
        assert_problem(
            await netsugen_client.get(f"/v1/event-registrations/{m['id']}/contact"), 401, "unauthorized"
        )

        url = f"/v1/event-registrations/{m['id']}/check-in"
        assert_problem(await netsugen_client.post(url, headers=staff_headers), 409, "program-not-started")
        clock.set(jst(2026, 12, 10, 17, 30))
        assert_problem(await netsugen_client.post(url, headers=mh), 403, "forbidden")
        r = await netsugen_client.post(url, headers=staff_headers)
        assert r.status_code == 200 and r.json()["checked_in_at"] == "2026-12-10T17:30:00+09:00"
        assert (await netsugen_client.post(url, headers=staff_headers)).json()["checked_in_at"] == r.json()[
            "checked_in_at"
        ]
        assert (
            await netsugen_client.post(f"/v1/event-registrations/{g['id']}/check-in", headers=staff_headers)
        ).status_code == 200
        waiting = await netsugen_client.post(
            f"/v1/event-registrations/{w['id']}/check-in", headers=staff_headers
        )
        assert_problem(waiting, 409, "registration-not-confirmed")

        close_url = f"/v1/programs/{event['id']}/close"
        assert_problem(
            await netsugen_client.post(close_url, headers=staff_headers), 409, "program-not-started"
        )
        clock.set(jst(2026, 12, 10, 20, 5))
        closed = await netsugen_client.post(close_url, headers=staff_headers)
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed" and closed.json()["attendance_count"] == 2
        assert (await netsugen_client.post(close_url, headers=staff_headers)).json()[
            "closed_at"
        ] == closed.json()["closed_at"]
        late = await netsugen_client.post(
            f"/v1/event-registrations/{g2['id']}/check-in", headers=staff_headers
        )
        assert_problem(late, 409, "program-closed")
        # A seminar maps to no KPI: nothing is owed to the KPI registry.
        assert await count_rows(db, "SELECT count(*) FROM netsugen.kpi_report") == 0

    async def test_scheduler_closes_ended_events(
        self, netsugen_client, staff_headers, sessionmaker, netsugen_app, now, db
    ) -> None:
        from services.netsugen_booking.programs.tasks import close_ended_programs

        event = await create_event(netsugen_client, staff_headers, category="creator_lab")
        settings = netsugen_app.state.settings
        assert await close_ended_programs(sessionmaker, settings, now=jst(2026, 12, 11, 7, 59)) == []
        reports = await close_ended_programs(sessionmaker, settings, now=jst(2026, 12, 11, 8))
        assert len(reports) == 1
        shown = (await netsugen_client.get(f"/v1/programs/{event['id']}")).json()
        assert shown["status"] == "closed" and shown["attendance_count"] == 0
        assert await close_ended_programs(sessionmaker, settings, now=jst(2026, 12, 12)) == []
