"""Room bookings: the rules, who may book, cancellation, notifications and the race for one slot."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

import httpx
import pytest

from services.netsugen_booking.calendar.models import CalendarClosure
from services.netsugen_booking.resources.seed import resource_id
from tests.conftest import bearer
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, count_rows, create_member, outbox_events

ROOM_A = str(resource_id("meeting-room-a"))  # 15-minute grid, 1,000円/h
ROOM_B = str(resource_id("meeting-room-b"))
EVENT_SPACE = str(resource_id("event-space"))  # 30-minute grid


def booking(resource: str, member_id: str, start: str, end: str) -> dict[str, str]:
    return {"resource_id": resource, "member_id": member_id, "start": start, "end": end}


@pytest.fixture
async def member(netsugen_client, staff_headers, clock) -> dict[str, object]:
    clock.set(jst(2026, 12, 1, 9))  # Tuesday 09:00 JST
    return await create_member(netsugen_client, staff_headers)


@pytest.fixture
async def member_headers(member, make_token) -> dict[str, str]:
    return bearer(await make_token("member", subject=str(member["id"])))


class TestBooking:
    async def test_member_books_for_itself(self, netsugen_client, member, member_headers, db) -> None:
        r = await netsugen_client.post(
            "/v1/bookings",
            json=booking(ROOM_A, member["id"], "2026-12-02T13:00:00+09:00", "2026-12-02T14:30:00+09:00"),
            headers=member_headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "confirmed"
        assert body["start"] == "2026-12-02T13:00:00+09:00" and body["end"] == "2026-12-02T14:30:00+09:00"
        assert body["price_yen"] == 1500
        assert body["cancellation_deadline"] == "2026-12-01T13:00:00+09:00"
        events = await outbox_events(db, "booking.confirmed")
        assert [e["data"] for e in events] == [{"member_id": member["id"], "booking_id": body["id"]}]

    async def test_utc_input_is_accepted_and_answered_in_jst(
        self, netsugen_client, member, staff_headers
    ) -> None:
        r = await netsugen_client.post(
            "/v1/bookings",
            json=booking(ROOM_A, member["id"], "2026-12-02T01:00:00Z", "2026-12-02T02:00:00Z"),
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["start"] == "2026-12-02T10:00:00+09:00" and r.json()["price_yen"] == 1000

    async def test_member_cannot_book_for_another(
        self, netsugen_client, member, member_headers, staff_headers, db
    ) -> None:
        other = await create_member(netsugen_client, staff_headers)
        r = await netsugen_client.post(
            "/v1/bookings",
            json=booking(ROOM_A, other["id"], "2026-12-02T13:00:00+09:00", "2026-12-02T14:00:00+09:00"),
            headers=member_headers,
        )
        assert_problem(r, 403, "forbidden")
        assert await count_rows(db, "SELECT count(*) FROM netsugen.booking") == 0

    async def test_staff_book_for_anyone_and_anonymous_cannot(
        self, netsugen_client, member, staff_headers
    ) -> None:
        body = booking(ROOM_B, member["id"], "2026-12-05T10:00:00+09:00", "2026-12-05T18:00:00+09:00")
        assert_problem(await netsugen_client.post("/v1/bookings", json=body), 401, "unauthorized")
        r = await netsugen_client.post("/v1/bookings", json=body, headers=staff_headers)
        assert r.status_code == 201 and r.json()["price_yen"] == 0

    async def test_adjacent_bookings_fit_overlapping_ones_do_not(
        self, netsugen_client, member, staff_headers
    ) -> None:
        first = booking(ROOM_A, member["id"], "2026-12-02T10:00:00+09:00", "2026-12-02T11:00:00+09:00")
        assert (
            await netsugen_client.post("/v1/bookings", json=first, headers=staff_headers)
        ).status_code == 201
        after = booking(ROOM_A, member["id"], "2026-12-02T11:00:00+09:00", "2026-12-02T12:00:00+09:00")
        assert (
            await netsugen_client.post("/v1/bookings", json=after, headers=staff_headers)
        ).status_code == 201
        overlap = booking(ROOM_A, member["id"], "2026-12-02T10:45:00+09:00", "2026-12-02T11:15:00+09:00")
        body = assert_problem(
            await netsugen_client.post("/v1/bookings", json=overlap, headers=staff_headers), 409, "slot-taken"
        )
        assert "会議室A" in body["detail"]
        other_room = booking(ROOM_B, member["id"], "2026-12-02T10:45:00+09:00", "2026-12-02T11:15:00+09:00")
        assert (
            await netsugen_client.post("/v1/bookings", json=other_room, headers=staff_headers)
        ).status_code == 201

    async def test_database_refuses_overlap_even_without_the_api(self, db, member) -> None:
        from sqlalchemy.exc import IntegrityError

        from services.netsugen_booking.bookings.models import Booking

        db.add(
            Booking(
                resource_id=resource_id("booth-1"),
                member_id=member["id"],
                start_at=jst(2026, 12, 2, 10),
                end_at=jst(2026, 12, 2, 11),
                status="confirmed",
            )
        )
        await db.commit()
        db.add(
            Booking(
                resource_id=resource_id("booth-1"),
                member_id=member["id"],
                start_at=jst(2026, 12, 2, 10, 30),
                end_at=jst(2026, 12, 2, 11, 30),
                status="confirmed",
            )
        )
        with pytest.raises(IntegrityError, match="booking_no_overlap"):
            await db.commit()
        await db.rollback()

    async def test_list_and_read(self, netsugen_client, member, member_headers, staff_headers) -> None:
        other = await create_member(netsugen_client, staff_headers)
        for i, who in enumerate([member["id"], other["id"], member["id"]]):
            r = await netsugen_client.post(
                "/v1/bookings",
                json=booking(ROOM_A, who, f"2026-12-02T1{i}:00:00+09:00", f"2026-12-02T1{i}:30:00+09:00"),
                headers=staff_headers,
            )
            assert r.status_code == 201
        mine = (await netsugen_client.get("/v1/bookings", headers=member_headers)).json()
        assert [b["start"][11:16] for b in mine["items"]] == ["10:00", "12:00"]
        theirs = await netsugen_client.get(
            "/v1/bookings", params={"member_id": other["id"]}, headers=member_headers
        )
        assert_problem(theirs, 403, "forbidden")
        page1 = (await netsugen_client.get("/v1/bookings", params={"limit": 2}, headers=staff_headers)).json()
        assert len(page1["items"]) == 2 and page1["next_cursor"]
        page2 = (
            await netsugen_client.get(
                "/v1/bookings", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=staff_headers
            )
        ).json()
        assert [b["start"][11:16] for b in page2["items"]] == ["12:00"] and page2["next_cursor"] is None
        other_booking = (
            await netsugen_client.get(
                "/v1/bookings", params={"member_id": other["id"]}, headers=staff_headers
            )
        ).json()["items"][0]
        assert_problem(
            await netsugen_client.get(f"/v1/bookings/{other_booking['id']}", headers=member_headers),
            404,
            "booking-not-found",
        )
        bad = await netsugen_client.get("/v1/bookings", params={"cursor": "garbage"}, headers=staff_headers)
        assert_problem(bad, 422, "invalid-cursor")


class TestBadInput:
    """Each is a problem response and writes nothing."""

    CASES = [
        (ROOM_A, "2026-12-02T13:05:00+09:00", "2026-12-02T14:00:00+09:00", 422, "off-grid"),
        (ROOM_A, "2026-12-02T13:00:00+09:00", "2026-12-02T13:50:00+09:00", 422, "off-grid"),
        (ROOM_A, "2026-12-02T13:00:30+09:00", "2026-12-02T14:00:00+09:00", 422, "off-grid"),
        (EVENT_SPACE, "2026-12-02T13:15:00+09:00", "2026-12-02T14:00:00+09:00", 422, "off-grid"),
        (ROOM_A, "2026-12-02T14:00:00+09:00", "2026-12-02T13:00:00+09:00", 422, "times-not-in-order"),
        (ROOM_A, "2026-12-02T14:00:00+09:00", "2026-12-02T14:00:00+09:00", 422, "times-not-in-order"),
        (ROOM_A, "2026-12-02T09:30:00+09:00", "2026-12-02T10:30:00+09:00", 422, "outside-opening-hours"),
        (ROOM_A, "2026-12-02T20:30:00+09:00", "2026-12-02T21:15:00+09:00", 422, "outside-opening-hours"),
        (ROOM_A, "2026-12-02T20:00:00+09:00", "2026-12-03T10:30:00+09:00", 422, "outside-opening-hours"),
        (
            ROOM_A,
            "2026-12-05T17:00:00+09:00",
            "2026-12-05T19:00:00+09:00",
            422,
            "outside-opening-hours",
        ),  # Saturday
        (
            ROOM_A,
            "2027-01-01T18:00:00+09:00",
            "2027-01-01T19:00:00+09:00",
            422,
            "outside-opening-hours",
        ),  # 元日
        (ROOM_A, "2026-12-01T08:00:00+09:00", "2026-12-01T08:30:00+09:00", 422, "in-the-past"),
        (ROOM_A, "2026-11-30T13:00:00+09:00", "2026-11-30T14:00:00+09:00", 422, "in-the-past"),
        (
            "00000000-0000-0000-0000-0000000000aa",
            "2026-12-02T13:00:00+09:00",
            "2026-12-02T14:00:00+09:00",
            422,
            "unknown-resource",
        ),
        (ROOM_A, "2026-12-02T13:00:00", "2026-12-02T14:00:00", 422, "validation-error"),  # no offset
        (ROOM_A, "tomorrow", "2026-12-02T14:00:00+09:00", 422, "validation-error"),
    ]

    async def test_refused(self, netsugen_client, member, staff_headers, db) -> None:
        for resource, start, end, status, slug in self.CASES:
            r = await netsugen_client.post(
                "/v1/bookings", json=booking(resource, member["id"], start, end), headers=staff_headers
            )
            assert_problem(r, status, slug)
        assert await count_rows(db, "SELECT count(*) FROM netsugen.booking") == 0
        assert await outbox_events(db, "booking.confirmed") == []

    async def test_closed_day(self, netsugen_client, member, staff_headers, db) -> None:
        db.add(
            CalendarClosure(
                start_date=date(2026, 12, 29),
                end_date=date(2027, 1, 3),
                reason_ja="年末年始休館",
                reason_en="Year-end break",
            )
        )
        await db.commit()
        r = await netsugen_client.post(
            "/v1/bookings",
            json=booking(ROOM_A, member["id"], "2026-12-30T13:00:00+09:00", "2026-12-30T14:00:00+09:00"),
            headers={**staff_headers, "Accept-Language": "en"},
        )
        body = assert_problem(r, 422, "closed-day")
        assert "Year-end break" in body["detail"]
        assert await count_rows(db, "SELECT count(*) FROM netsugen.booking") == 0

    async def test_unknown_member_and_extra_fields(self, netsugen_client, member, staff_headers, db) -> None:
        r = await netsugen_client.post(
            "/v1/bookings",
            json=booking(
                ROOM_A,
                "00000000-0000-0000-0000-0000000000bb",
                "2026-12-02T13:00:00+09:00",
                "2026-12-02T14:00:00+09:00",
            ),
            headers=staff_headers,
        )
        assert_problem(r, 422, "unknown-member")
        extra = {
            **booking(ROOM_A, member["id"], "2026-12-02T13:00:00+09:00", "2026-12-02T14:00:00+09:00"),
            "price_yen": 0,
        }
        assert_problem(
            await netsugen_client.post("/v1/bookings", json=extra, headers=staff_headers),
            422,
            "validation-error",
        )
        assert await count_rows(db, "SELECT count(*) FROM netsugen.booking") == 0

    async def test_suspended_member_cannot_book(self, netsugen_client, member, staff_headers, db) -> None:
        from sqlalchemy import text

        await db.execute(
            text("UPDATE netsugen.member SET status = 'suspended' WHERE id = :id"), {"id": member["id"]}
        )
        await db.commit()
        r = await netsugen_client.post(
            "/v1/bookings",
            json=booking(ROOM_A, member["id"], "2026-12-02T13:00:00+09:00", "2026-12-02T14:00:00+09:00"),
            headers=staff_headers,
        )
        assert_problem(r, 409, "member-not-active")


class TestCancellation:
    async def _book(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        member_id: str,
        start: str = "2026-12-03T13:00:00+09:00",
        end: str = "2026-12-03T14:00:00+09:00",
    ) -> dict[str, Any]:
        r = await client.post("/v1/bookings", json=booking(ROOM_A, member_id, start, end), headers=headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def test_cancellation_frees_the_slot(self, netsugen_client, member, member_headers, db) -> None:
        b = await self._book(netsugen_client, member_headers, member["id"])
        r = await netsugen_client.post(
            f"/v1/bookings/{b['id']}/cancel", json={"reason": "予定変更"}, headers=member_headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "予定変更"
        again = await netsugen_client.post(f"/v1/bookings/{b['id']}/cancel", headers=member_headers)
        assert again.status_code == 200 and again.json()["cancelled_at"] == r.json()["cancelled_at"]
        events = await outbox_events(db, "booking.cancelled")
        assert [e["data"] for e in events] == [{"member_id": member["id"], "booking_id": b["id"]}]
        rebook = await self._book(netsugen_client, member_headers, member["id"])
        assert rebook["status"] == "confirmed"
        avail = (
            await netsugen_client.get(f"/v1/resources/{ROOM_A}/availability", params={"date": "2026-12-03"})
        ).json()
        assert avail["booked"] == [{"start": "2026-12-03T13:00:00+09:00", "end": "2026-12-03T14:00:00+09:00"}]

    async def test_deadline_binds_members_staff_may_override(
        self, netsugen_client, member, member_headers, staff_headers, clock, db
    ) -> None:
        b = await self._book(
            netsugen_client, member_headers, member["id"]
        )  # 2026-12-03 13:00, deadline 12-02 13:00
        clock.set(jst(2026, 12, 2, 13, 0, 1))
        late = await netsugen_client.post(f"/v1/bookings/{b['id']}/cancel", headers=member_headers)
        body = assert_problem(late, 409, "cancellation-deadline-passed")
        assert body["deadline"] == "2026-12-02T04:00:00+00:00"
        cheat = await netsugen_client.post(
            f"/v1/bookings/{b['id']}/cancel", json={"override_deadline": True}, headers=member_headers
        )
        assert_problem(cheat, 403, "forbidden")
        staff_plain = await netsugen_client.post(f"/v1/bookings/{b['id']}/cancel", headers=staff_headers)
        assert_problem(staff_plain, 409, "cancellation-deadline-passed")
        assert await outbox_events(db, "booking.cancelled") == []
        ok = await netsugen_client.post(
            f"/v1/bookings/{b['id']}/cancel", json={"override_deadline": True}, headers=staff_headers
        )
        assert ok.status_code == 200 and ok.json()["deadline_overridden"] is True
        assert len(await outbox_events(db, "booking.cancelled")) == 1

    async def test_just_before_the_deadline_is_fine(
        self, netsugen_client, member, member_headers, clock
    ) -> None:
        b = await self._book(netsugen_client, member_headers, member["id"])
        clock.set(jst(2026, 12, 2, 13))
        assert (
            await netsugen_client.post(f"/v1/bookings/{b['id']}/cancel", headers=member_headers)
        ).status_code == 200

    async def test_ended_booking_cannot_be_cancelled(
        self, netsugen_client, member, staff_headers, clock
    ) -> None:
        b = await self._book(netsugen_client, staff_headers, member["id"])
        clock.set(jst(2026, 12, 3, 14))
        r = await netsugen_client.post(
            f"/v1/bookings/{b['id']}/cancel", json={"override_deadline": True}, headers=staff_headers
        )
        assert_problem(r, 409, "booking-ended")

    async def test_another_members_booking_is_not_found(
        self, netsugen_client, member, staff_headers, make_token
    ) -> None:
        b = await self._book(netsugen_client, staff_headers, member["id"])
        other = await create_member(netsugen_client, staff_headers)
        other_headers = bearer(await make_token("member", subject=other["id"]))
        r = await netsugen_client.post(f"/v1/bookings/{b['id']}/cancel", headers=other_headers)
        assert_problem(r, 404, "booking-not-found")


class TestConcurrency:
    async def test_100_simultaneous_bookings_of_one_slot(
        self, netsugen_client, member, staff_headers, db
    ) -> None:
        body = booking(ROOM_B, member["id"], "2026-12-04T15:00:00+09:00", "2026-12-04T16:00:00+09:00")

        responses = await asyncio.gather(
            *(netsugen_client.post("/v1/bookings", json=body, headers=staff_headers) for _ in range(100))
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 99}, statuses
        for r in responses:
            if r.status_code == 409:
                assert_problem(r, 409, "slot-taken")
        assert (
            await count_rows(
                db,
                "SELECT count(*) FROM netsugen.booking WHERE resource_id = :r AND status = 'confirmed'",
                r=ROOM_B,
            )
            == 1
        )
        assert len(await outbox_events(db, "booking.confirmed")) == 1

    async def test_overlapping_but_different_slots_race(
        self, netsugen_client, member, staff_headers, db
    ) -> None:
        """Twenty requests for four pairwise-overlapping hours: exactly one wins."""
        bodies = [
            booking(ROOM_B, member["id"], "2026-12-04T10:00:00+09:00", "2026-12-04T11:00:00+09:00"),
            booking(ROOM_B, member["id"], "2026-12-04T10:15:00+09:00", "2026-12-04T11:15:00+09:00"),
            booking(ROOM_B, member["id"], "2026-12-04T10:30:00+09:00", "2026-12-04T11:30:00+09:00"),
            booking(ROOM_B, member["id"], "2026-12-04T10:45:00+09:00", "2026-12-04T11:45:00+09:00"),
        ] * 5
        responses = await asyncio.gather(
            *(netsugen_client.post("/v1/bookings", json=b, headers=staff_headers) for b in bodies)
        )
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 19}
        assert await count_rows(db, "SELECT count(*) FROM netsugen.booking WHERE status = 'confirmed'") == 1
