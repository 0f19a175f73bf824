"""Coordinator consultations: coordinators, weekly windows, generated slots, booking, notes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

import httpx
import pytest

from services.netsugen_booking.calendar.models import CalendarClosure
from tests.conftest import bearer
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, count_rows, create_member, outbox_events

ACCOUNTANT = {
    "name": "高橋 誠",
    "name_en": "Makoto Takahashi",
    "title": "公認会計士",
    "expertise": ["accounting", "funding"],
    "bio": "資金調達と会計の相談",
}


async def coordinator_with_window(
    client: httpx.AsyncClient, headers: dict[str, str], **window: Any
) -> dict[str, Any]:
    r = await client.post("/v1/coordinators", json=ACCOUNTANT, headers=headers)
    assert r.status_code == 201, r.text
    coordinator = dict(r.json())
    body = {"weekday": 2, "starts_at": "13:00", "ends_at": "17:00", "slot_minutes": 60} | window
    w = await client.post(f"/v1/coordinators/{coordinator['id']}/availability", json=body, headers=headers)
    assert w.status_code == 201, w.text
    coordinator["window"] = w.json()
    return coordinator


async def slots(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/consultation-slots", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


@pytest.fixture
def now(clock):
    return clock.set(jst(2026, 12, 1, 9))  # Tuesday


class TestCoordinatorsAndSlots:
    async def test_window_generates_slots_idempotently(self, netsugen_client, staff_headers, now) -> None:
        c = await coordinator_with_window(netsugen_client, staff_headers)
        # Wednesdays within 28 days of 2026-12-01: 12-02, 12-09, 12-16, 12-23; four 1-hour slots each.
        assert c["window"]["slots_created"] == 16
        listed = await slots(netsugen_client, coordinator_id=c["id"])
        assert len(listed) == 16
        assert (listed[0]["start"], listed[0]["end"], listed[0]["minutes"]) == (
            "2026-12-02T13:00:00+09:00",
            "2026-12-02T14:00:00+09:00",
            60,
        )
        assert listed[-1]["start"] == "2026-12-23T16:00:00+09:00"
        again = await netsugen_client.post(
            "/v1/consultation-slots/generate", json={"days": 28}, headers=staff_headers
        )
        assert again.json() == {"slots_created": 0}
        public = (await netsugen_client.get("/v1/coordinators", params={"expertise": "funding"})).json()[
            "items"
        ]
        assert [x["name"] for x in public] == ["高橋 誠"] and public[0]["availability"][0][
            "starts_at"
        ] == "13:00"
        assert (await netsugen_client.get("/v1/coordinators", params={"expertise": "law"})).json()[
            "items"
        ] == []

    async def test_slots_respect_opening_hours_and_closures(
        self, netsugen_client, staff_headers, db, now
    ) -> None:
        db.add(
            CalendarClosure(
                start_date=date(2026, 12, 12),
                end_date=date(2026, 12, 12),
                reason_ja="点検",
                reason_en="Maintenance",
            )
        )
        await db.commit()
        # Saturdays close at 18:00: a 16:00-19:00 window yields 16:00-18:00 only, in 30-minute slots.
        c = await coordinator_with_window(
            netsugen_client, staff_headers, weekday=5, starts_at="16:00", ends_at="19:00", slot_minutes=30
        )
        listed = await slots(netsugen_client, coordinator_id=c["id"])
        days = Counter(s["start"][:10] for s in listed)
        assert days == {"2026-12-05": 4, "2026-12-19": 4, "2026-12-26": 4}  # 12-12 is closed
        assert {s["start"][11:16] for s in listed} == {"16:00", "16:30", "17:00", "17:30"}

    async def test_bad_windows(self, netsugen_client, staff_headers, now) -> None:
        c = (await netsugen_client.post("/v1/coordinators", json=ACCOUNTANT, headers=staff_headers)).json()
        url = f"/v1/coordinators/{c['id']}/availability"
        cases = [
            ({"weekday": 2, "starts_at": "17:00", "ends_at": "13:00"}, "invalid-window"),
            ({"weekday": 2, "starts_at": "13:00", "ends_at": "13:30", "slot_minutes": 60}, "invalid-window"),
            (
                {"weekday": 2, "starts_at": "13:00", "ends_at": "17:00", "slot_minutes": 45},
                "validation-error",
            ),
            ({"weekday": 7, "starts_at": "13:00", "ends_at": "17:00"}, "validation-error"),
        ]
        for body, slug in cases:
            assert_problem(await netsugen_client.post(url, json=body, headers=staff_headers), 422, slug)
        bad = await netsugen_client.post(
            "/v1/coordinators", json={**ACCOUNTANT, "expertise": ["Bad Area"]}, headers=staff_headers
        )
        assert_problem(bad, 422, "validation-error")
        assert_problem(await netsugen_client.post("/v1/coordinators", json=ACCOUNTANT), 401, "unauthorized")

    async def test_removing_a_window_withdraws_free_future_slots(
        self, netsugen_client, staff_headers, now
    ) -> None:
        c = await coordinator_with_window(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        first = (await slots(netsugen_client, coordinator_id=c["id"]))[0]
        booked = await netsugen_client.post(
            "/v1/consultations",
            json={"slot_id": first["id"], "member_id": member["id"], "topic": "融資"},
            headers=staff_headers,
        )
        assert booked.status_code == 201
        r = await netsugen_client.delete(
            f"/v1/coordinators/{c['id']}/availability/{c['window']['id']}", headers=staff_headers
        )
        assert r.status_code == 204
        assert await slots(netsugen_client, coordinator_id=c["id"]) == []
        remaining = await slots(netsugen_client, coordinator_id=c["id"], available_only=False)
        assert [(s["id"], s["available"]) for s in remaining] == [(first["id"], False)]


class TestConsultations:
    async def test_book_cancel_rebook_and_record(
        self, netsugen_client, staff_headers, make_token, clock, now, db
    ) -> None:
        c = await coordinator_with_window(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        mh = bearer(await make_token("member", subject=member["id"]))
        slot = (await slots(netsugen_client, coordinator_id=c["id"]))[4]  # 2026-12-09 13:00
        body = {"slot_id": slot["id"], "member_id": member["id"], "topic": "創業融資の申請について"}
        r = await netsugen_client.post("/v1/consultations", json=body, headers=mh)
        assert r.status_code == 201, r.text
        consultation = r.json()
        assert consultation["status"] == "confirmed" and consultation["start"] == "2026-12-09T13:00:00+09:00"
        assert consultation["coordinator_id"] == c["id"]
        events = await outbox_events(db, "consultation.confirmed")
        assert [e["data"] for e in events] == [
            {"member_id": member["id"], "consultation_id": consultation["id"]}
        ]
        assert slot["id"] not in [s["id"] for s in await slots(netsugen_client, coordinator_id=c["id"])]
        taken = await netsugen_client.post("/v1/consultations", json=body, headers=staff_headers)
        assert_problem(taken, 409, "slot-taken")

        cancelled = await netsugen_client.post(f"/v1/consultations/{consultation['id']}/cancel", headers=mh)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        again = await netsugen_client.post("/v1/consultations", json=body, headers=mh)
        assert again.status_code == 201
        consultation = again.json()

        record_url = f"/v1/consultations/{consultation['id']}/record"
        note = {
            "note": "事業計画を確認。販路開拓はビジネスマッチングへ。",
            "outcome": "referred_to_business_matching",
        }
        assert_problem(
            await netsugen_client.post(record_url, json=note, headers=staff_headers),
            409,
            "consultation-not-held",
        )
        clock.set(jst(2026, 12, 9, 14, 5))
        assert_problem(await netsugen_client.post(record_url, json=note, headers=mh), 403, "forbidden")
        bad = await netsugen_client.post(record_url, json={**note, "outcome": "sold"}, headers=staff_headers)
        assert_problem(bad, 422, "validation-error")
        recorded = await netsugen_client.post(record_url, json=note, headers=staff_headers)
        assert recorded.status_code == 200
        assert (recorded.json()["status"], recorded.json()["outcome"], recorded.json()["note"]) == (
            "completed",
            "referred_to_business_matching",
            note["note"],
        )
        as_member = (await netsugen_client.get(f"/v1/consultations/{consultation['id']}", headers=mh)).json()
        assert as_member["outcome"] == "referred_to_business_matching" and as_member["note"] is None
        mine = (await netsugen_client.get("/v1/consultations", headers=mh)).json()["items"]
        assert sorted((x["id"], x["status"]) for x in mine) == sorted(
            [(cancelled.json()["id"], "cancelled"), (consultation["id"], "completed")]
        )
        assert len(await outbox_events(db, "consultation.confirmed")) == 2

    async def test_deadline_and_bad_input(
        self, netsugen_client, staff_headers, make_token, clock, now, db
    ) -> None:
        c = await coordinator_with_window(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        other = await create_member(netsugen_client, staff_headers)
        mh = bearer(await make_token("member", subject=member["id"]))
        first = (await slots(netsugen_client, coordinator_id=c["id"]))[0]  # 2026-12-02 13:00
        body = {"slot_id": first["id"], "member_id": member["id"], "topic": "決算"}
        assert_problem(
            await netsugen_client.post(
                "/v1/consultations", json={**body, "member_id": other["id"]}, headers=mh
            ),
            403,
            "forbidden",
        )
        assert_problem(
            await netsugen_client.post("/v1/consultations", json={**body, "topic": "x" * 501}, headers=mh),
            422,
            "validation-error",
        )
        unknown = {**body, "slot_id": "00000000-0000-0000-0000-0000000000ff"}
        assert_problem(
            await netsugen_client.post("/v1/consultations", json=unknown, headers=mh), 422, "unknown-slot"
        )
        assert await count_rows(db, "SELECT count(*) FROM netsugen.consultation") == 0
        r = await netsugen_client.post("/v1/consultations", json=body, headers=mh)
        assert r.status_code == 201
        # Within 24 hours of the start only staff can cancel, and only with the override.
        clock.set(jst(2026, 12, 1, 14))
        assert_problem(
            await netsugen_client.post(f"/v1/consultations/{r.json()['id']}/cancel", headers=mh),
            409,
            "cancellation-deadline-passed",
        )
        ok = await netsugen_client.post(
            f"/v1/consultations/{r.json()['id']}/cancel",
            json={"override_deadline": True},
            headers=staff_headers,
        )
        assert ok.status_code == 200
        clock.set(jst(2026, 12, 2, 13, 30))
        past = await netsugen_client.post("/v1/consultations", json=body, headers=mh)
        assert_problem(past, 422, "in-the-past")

    async def test_ten_members_race_for_one_slot(self, netsugen_client, staff_headers, now, db) -> None:
        c = await coordinator_with_window(netsugen_client, staff_headers)
        members = [await create_member(netsugen_client, staff_headers) for _ in range(10)]
        slot = (await slots(netsugen_client, coordinator_id=c["id"]))[0]
        responses = await asyncio.gather(
            *(
                netsugen_client.post(
                    "/v1/consultations",
                    json={"slot_id": slot["id"], "member_id": m["id"], "topic": "相談"},
                    headers=staff_headers,
                )
                for m in members
            )
        )
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
        assert await count_rows(db, "SELECT count(*) FROM netsugen.consultation") == 1

    async def test_database_allows_one_live_consultation_per_slot(
        self, netsugen_client, staff_headers, db, now
    ) -> None:
        from sqlalchemy.exc import IntegrityError

        from services.netsugen_booking.consultations.models import Consultation

        c = await coordinator_with_window(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        slot = (await slots(netsugen_client, coordinator_id=c["id"]))[0]
        db.add(Consultation(slot_id=slot["id"], member_id=member["id"], topic="a", status="confirmed"))
        await db.commit()
        db.add(Consultation(slot_id=slot["id"], member_id=member["id"], topic="b", status="confirmed"))
        with pytest.raises(IntegrityError, match="uq_consultation_slot_live"):
            await db.commit()
        await db.rollback()

    async def test_inactive_coordinator_takes_no_bookings(self, netsugen_client, staff_headers, now) -> None:
        c = await coordinator_with_window(netsugen_client, staff_headers)
        member = await create_member(netsugen_client, staff_headers)
        slot = (await slots(netsugen_client, coordinator_id=c["id"]))[0]
        r = await netsugen_client.patch(
            f"/v1/coordinators/{c['id']}", json={"active": False}, headers=staff_headers
        )
        assert r.status_code == 200 and r.json()["active"] is False
        assert await slots(netsugen_client, coordinator_id=c["id"]) == []
        assert (await netsugen_client.get("/v1/coordinators")).json()["items"] == []
        booked = await netsugen_client.post(
            "/v1/consultations",
            json={"slot_id": slot["id"], "member_id": member["id"], "topic": "x"},
            headers=staff_headers,
        )
        assert_problem(booked, 409, "coordinator-inactive")
