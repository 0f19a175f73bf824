"""Front desk: check-in on weekdays, weekends and holidays, capacity, concurrency, idempotency,
check-out clipping, manual entry, correction with audit, automatic check-out and occupancy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from services.netsugen_booking.visits.models import Visit
from tests.conftest import bearer
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import (
    add_user,
    assert_problem,
    check_in,
    count_rows,
    create_member,
    outbox_events,
)

OPEN_VISITS = "SELECT count(*) FROM netsugen.visit WHERE check_out_at IS NULL"
ALL_VISITS = "SELECT count(*) FROM netsugen.visit"


def iso(dt: datetime) -> str:
    return dt.isoformat()


class TestOpeningHours:
    """Check-in is allowed from opening (inclusive) to closing (exclusive), on open days only."""

    @pytest.mark.parametrize(
        ("when", "allowed"),
        [
            (jst(2026, 10, 5, 14), True),  # Monday afternoon
            (jst(2026, 10, 5, 10), True),  # opening minute
            (jst(2026, 10, 5, 9, 59), False),
            (jst(2026, 10, 5, 20, 59), True),
            (jst(2026, 10, 5, 21), False),  # weekday closing
            (jst(2026, 10, 3, 17, 59), True),  # Saturday
            (jst(2026, 10, 3, 18), False),  # Saturday closes at 18:00
            (jst(2026, 10, 4, 19), False),  # Sunday evening
            (jst(2026, 10, 12, 11), True),  # スポーツの日 (Monday holiday)
            (jst(2026, 10, 12, 19), False),  # holiday hours, although a Monday
            (jst(2026, 9, 22, 14), True),  # 国民の休日
            (jst(2026, 9, 22, 18, 30), False),  # 国民の休日 closes at 18:00, not 21:00
            (jst(2026, 5, 6, 20), False),  # 振替休日
        ],
    )
    async def test_check_in_by_time(self, netsugen_client, staff_headers, clock, db, when, allowed) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(when)
        r = await check_in(netsugen_client, staff_headers, member_id=member["id"])
        if allowed:
            assert r.status_code == 201, r.text
            assert r.json()["check_in_at"] == iso(when)
        else:
            body = assert_problem(r, 409, "space-closed")
            assert "開館時間外" in body["detail"]
            assert await count_rows(db, ALL_VISITS) == 0

    async def test_closed_on_a_closure(self, netsugen_client, staff_headers, admin_headers, clock) -> None:
        await netsugen_client.post(
            "/v1/calendar/closures",
            json={"start_date": "2026-10-07", "reason_ja": "設備点検", "reason_en": "Maintenance"},
            headers=admin_headers,
        )
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 7, 14))
        body = assert_problem(
            await check_in(netsugen_client, staff_headers, member_id=member["id"]), 409, "space-closed"
        )
        assert body["detail"] == "現在は開館時間外です(本日: 休館・設備点検)。"
        assert body["opens_at"] is None
        en = await netsugen_client.post(
            "/v1/visits", json={"member_id": member["id"]}, headers={**staff_headers, "Accept-Language": "en"}
        )
        assert assert_problem(en, 409, "space-closed")["detail"] == "NETSUGEN is closed now (today: closed)."

    async def test_special_hours_close_early(
        self, netsugen_client, staff_headers, admin_headers, clock
    ) -> None:
        await netsugen_client.post(
            "/v1/calendar/special-hours",
            json={
                "start_date": "2026-10-08",
                "opens_at": "13:00",
                "closes_at": "17:00",
                "reason_ja": "イベント",
            },
            headers=admin_headers,
        )
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 8, 12))
        assert_problem(
            await check_in(netsugen_client, staff_headers, member_id=member["id"]), 409, "space-closed"
        )
        clock.set(jst(2026, 10, 8, 13))
        assert (await check_in(netsugen_client, staff_headers, member_id=member["id"])).status_code == 201


class TestCheckIn:
    async def test_check_in_records_everything_billing_needs(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers, plan="individual_monthly")
        clock.set(jst(2026, 10, 5, 14))
        r = await check_in(netsugen_client, staff_headers, member_number=member["member_number"])
        assert r.status_code == 201
        v = r.json()
        assert (v["member_id"], v["member_user_id"], v["check_in_at"], v["check_out_at"], v["open"]) == (
            member["id"],
            None,
            "2026-10-05T14:00:00+09:00",
            None,
            True,
        )
        assert (v["source"], v["plan_code"], v["auto_checked_out"], v["created_by"]) == (
            "desk",
            "individual_monthly",
            False,
            "test staff",
        )
        events = await outbox_events(db, "visit.checked_in")
        assert [e["data"] for e in events] == [{"member_id": member["id"], "visit_id": v["id"]}]

    async def test_member_without_plan_is_dropin(self, netsugen_client, staff_headers, clock) -> None:
        member = await create_member(
            netsugen_client, staff_headers, plan="individual_monthly", plan_start="2026-11-01"
        )
        clock.set(jst(2026, 10, 5, 14))
        r = await check_in(netsugen_client, staff_headers, member_id=member["id"])
        assert r.json()["plan_code"] == "dropin"

    async def test_already_open_is_409(self, netsugen_client, staff_headers, clock) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        first = await check_in(netsugen_client, staff_headers, member_id=member["id"])
        clock.advance(minutes=5)
        body = assert_problem(
            await check_in(netsugen_client, staff_headers, card_token=member["card_token"]),
            409,
            "visit-already-open",
        )
        assert body["visit_id"] == first.json()["id"]
        assert body["detail"] == "既に入館中です(14:00 入館)。"

    async def test_suspended_and_departed_members_are_refused(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        clock.set(jst(2026, 10, 5, 14))
        suspended = await create_member(netsugen_client, staff_headers)
        await netsugen_client.post(f"/v1/members/{suspended['id']}/suspend", json={}, headers=staff_headers)
        body = assert_problem(
            await check_in(netsugen_client, staff_headers, member_id=suspended["id"]), 403, "member-suspended"
        )
        assert "利用停止中" in body["detail"]
        gone = await create_member(netsugen_client, staff_headers)
        await netsugen_client.post(f"/v1/members/{gone['id']}/leave", json={}, headers=staff_headers)
        assert_problem(
            await check_in(netsugen_client, staff_headers, card_token=gone["card_token"]), 403, "member-left"
        )
        assert await count_rows(db, ALL_VISITS) == 0

    @pytest.mark.parametrize(
        ("body", "status", "slug"),
        [
            ({"member_id": "00000000-0000-0000-0000-000000000001"}, 404, "member-not-found"),
            ({"member_number": "M999999"}, 404, "member-not-found"),
            ({"card_token": "nsc_not-a-card"}, 404, "unknown-card"),
            ({}, 422, "validation-error"),
            ({"member_number": "M000001", "card_token": "x"}, 422, "validation-error"),
            ({"member_id": "not-a-uuid"}, 422, "validation-error"),
            ({"member_number": "M000001", "extra": True}, 422, "validation-error"),
        ],
    )
    async def test_bad_input_writes_nothing(
        self, netsugen_client, staff_headers, clock, db, body, status, slug
    ) -> None:
        clock.set(jst(2026, 10, 5, 14))
        assert_problem(await check_in(netsugen_client, staff_headers, **body), status, slug)
        assert await count_rows(db, ALL_VISITS) == 0

    async def test_needs_staff(self, netsugen_client, staff_headers, make_token, clock) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        assert_problem(
            await netsugen_client.post("/v1/visits", json={"member_id": member["id"]}), 401, "unauthorized"
        )
        token = bearer(await make_token("member", subject=member["id"]))
        assert_problem(await check_in(netsugen_client, token, member_id=member["id"]), 403, "forbidden")


class TestCorporateCheckIn:
    async def test_each_user_checks_in_as_themselves(self, netsugen_client, staff_headers, clock) -> None:
        corp = await create_member(netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly")
        u1 = await add_user(netsugen_client, staff_headers, corp["id"])
        u2 = await add_user(netsugen_client, staff_headers, corp["id"])
        clock.set(jst(2026, 10, 5, 14))
        assert_problem(
            await check_in(netsugen_client, staff_headers, member_id=corp["id"]), 422, "member-user-required"
        )
        assert_problem(
            await check_in(netsugen_client, staff_headers, card_token=corp["card_token"]),
            422,
            "member-user-required",
        )
        r1 = await check_in(netsugen_client, staff_headers, card_token=u1["card_token"])
        assert r1.status_code == 201
        assert (r1.json()["member_id"], r1.json()["member_user_id"], r1.json()["plan_code"]) == (
            corp["id"],
            u1["id"],
            "corporate_monthly",
        )
        # Another employee of the same company can be in at the same time.
        r2 = await check_in(netsugen_client, staff_headers, member_id=corp["id"], member_user_id=u2["id"])
        assert r2.status_code == 201
        # The same employee cannot be in twice.
        assert_problem(
            await check_in(netsugen_client, staff_headers, member_id=corp["id"], member_user_id=u1["id"]),
            409,
            "visit-already-open",
        )
        assert_problem(
            await check_in(
                netsugen_client, staff_headers, member_id=corp["id"], member_user_id=str(uuid.uuid4())
            ),
            404,
            "member-user-not-found",
        )
        await netsugen_client.patch(
            f"/v1/members/{corp['id']}/users/{u2['id']}", json={"active": False}, headers=staff_headers
        )
        await netsugen_client.post(f"/v1/visits/{r2.json()['id']}/check-out", headers=staff_headers)
        assert_problem(
            await check_in(netsugen_client, staff_headers, card_token=u2["card_token"]),
            403,
            "member-user-inactive",
        )

    async def test_company_card_checks_in_a_user_chosen_at_the_desk(
        self, netsugen_client, staff_headers, clock
    ) -> None:
        corp = await create_member(netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly")
        u1 = await add_user(netsugen_client, staff_headers, corp["id"], name="赤城 一郎")
        u2 = await add_user(netsugen_client, staff_headers, corp["id"], name="榛名 二郎")
        clock.set(jst(2026, 10, 5, 14))
        chooser = assert_problem(
            await check_in(netsugen_client, staff_headers, card_token=corp["card_token"]),
            422,
            "member-user-required",
        )
        assert sorted(chooser["users"], key=lambda u: u["name"]) == sorted(
            [{"id": u1["id"], "name": "赤城 一郎"}, {"id": u2["id"], "name": "榛名 二郎"}],
            key=lambda u: u["name"],
        )
        r = await check_in(
            netsugen_client, staff_headers, card_token=corp["card_token"], member_user_id=u2["id"]
        )
        assert r.status_code == 201, r.text
        assert (r.json()["member_id"], r.json()["member_user_id"]) == (corp["id"], u2["id"])
        # A user's own card is that user only.
        assert_problem(
            await check_in(
                netsugen_client, staff_headers, card_token=u1["card_token"], member_user_id=u2["id"]
            ),
            404,
            "member-user-not-found",
        )
        other = await create_member(
            netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly"
        )
        stranger = await add_user(netsugen_client, staff_headers, other["id"])
        assert_problem(
            await check_in(
                netsugen_client, staff_headers, card_token=corp["card_token"], member_user_id=stranger["id"]
            ),
            404,
            "member-user-not-found",
        )

    async def test_individuals_have_no_user(self, netsugen_client, staff_headers, clock) -> None:
        m = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        assert_problem(
            await check_in(
                netsugen_client, staff_headers, member_id=m["id"], member_user_id=str(uuid.uuid4())
            ),
            422,
            "not-corporate",
        )


class TestCapacity:
    async def test_full_space_refuses_and_says_so(
        self, netsugen_client, staff_headers, clock, capacity
    ) -> None:
        capacity.set(2)
        a, b, c = [await create_member(netsugen_client, staff_headers) for _ in range(3)]
        clock.set(jst(2026, 10, 5, 14))
        va = await check_in(netsugen_client, staff_headers, member_id=a["id"])
        await check_in(netsugen_client, staff_headers, member_id=b["id"])
        body = assert_problem(
            await check_in(netsugen_client, staff_headers, member_id=c["id"]), 409, "space-full"
        )
        assert (body["capacity"], body["count"]) == (2, 2)
        assert body["detail"] == "満席です(定員2名、現在2名)。"
        occ = (await netsugen_client.get("/v1/occupancy", headers=staff_headers)).json()
        assert (occ["count"], occ["capacity"], occ["available"]) == (2, 2, 0)
        clock.advance(minutes=30)
        await netsugen_client.post(f"/v1/visits/{va.json()['id']}/check-out", headers=staff_headers)
        assert (await check_in(netsugen_client, staff_headers, member_id=c["id"])).status_code == 201

    async def test_capacity_holds_under_concurrent_check_ins(
        self, netsugen_client, staff_headers, clock, capacity, db
    ) -> None:
        capacity.set(5)
        members = [await create_member(netsugen_client, staff_headers) for _ in range(15)]
        clock.set(jst(2026, 10, 5, 14))
        responses = await asyncio.gather(
            *(check_in(netsugen_client, staff_headers, member_id=m["id"]) for m in members)
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] * 5 + [409] * 10
        assert {r.json()["type"] for r in responses if r.status_code == 409} == {
            "urn:gunma-sdgs:problem:space-full"
        }
        assert await count_rows(db, OPEN_VISITS) == 5


class TestConcurrency:
    async def test_fifty_simultaneous_check_ins_make_one_visit(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        responses = await asyncio.gather(
            *(check_in(netsugen_client, staff_headers, member_id=member["id"]) for _ in range(50))
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == 1 and statuses.count(409) == 49, statuses
        winner = next(r for r in responses if r.status_code == 201).json()["id"]
        for r in responses:
            if r.status_code == 409:
                body = assert_problem(r, 409, "visit-already-open")
                assert body["visit_id"] == winner
        assert await count_rows(db, OPEN_VISITS) == 1
        assert len(await outbox_events(db, "visit.checked_in")) == 1

    async def test_twenty_simultaneous_manual_entries_make_one_visit(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 6, 12))
        body = {
            "member_id": member["id"],
            "check_in_at": iso(jst(2026, 10, 5, 10, 30)),
            "check_out_at": iso(jst(2026, 10, 5, 12)),
            "reason": "受付端末の故障",
        }
        responses = await asyncio.gather(
            *(netsugen_client.post("/v1/visits/manual", json=body, headers=staff_headers) for _ in range(20))
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == 1 and statuses.count(409) == 19, statuses
        for r in responses:
            if r.status_code == 409:
                assert_problem(r, 409, "visit-overlap")
        assert await count_rows(db, ALL_VISITS) == 1
        assert await count_rows(db, "SELECT count(*) FROM netsugen.visit_audit") == 1

    async def test_database_refuses_a_second_open_visit(self, netsugen_client, staff_headers, db) -> None:
        from sqlalchemy.exc import IntegrityError

        member = await create_member(netsugen_client, staff_headers)
        mid = uuid.UUID(member["id"])
        db.add(
            Visit(
                member_id=mid,
                check_in_at=jst(2026, 10, 5, 10),
                source="desk",
                plan_code="dropin",
                created_by="t",
            )
        )
        await db.commit()
        db.add(
            Visit(
                member_id=mid,
                check_in_at=jst(2026, 10, 6, 10),
                source="desk",
                plan_code="dropin",
                created_by="t",
            )
        )
        with pytest.raises(IntegrityError, match="uq_visit_one_open_per_person"):
            await db.flush()
        await db.rollback()
        db.add(
            Visit(
                member_id=mid,
                check_in_at=jst(2026, 10, 5, 9),
                check_out_at=jst(2026, 10, 5, 11),
                source="manual",
                plan_code="dropin",
                created_by="t",
            )
        )
        with pytest.raises(IntegrityError, match="visit_no_overlap"):
            await db.flush()
        await db.rollback()


class TestIdempotency:
    async def test_repeated_key_returns_the_first_answer(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        h = {**staff_headers, "Idempotency-Key": "desk-42-0001"}
        first = await netsugen_client.post("/v1/visits", json={"member_id": member["id"]}, headers=h)
        clock.advance(minutes=3)
        second = await netsugen_client.post("/v1/visits", json={"member_id": member["id"]}, headers=h)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
        assert await count_rows(db, ALL_VISITS) == 1
        assert len(await outbox_events(db, "visit.checked_in")) == 1

    async def test_same_key_with_another_body_is_422(self, netsugen_client, staff_headers, clock, db) -> None:
        a = await create_member(netsugen_client, staff_headers)
        b = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        h = {**staff_headers, "Idempotency-Key": "k-1"}
        assert (
            await netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=h)
        ).status_code == 201
        r = await netsugen_client.post("/v1/visits", json={"member_id": b["id"]}, headers=h)
        assert_problem(r, 422, "idempotency-key-reuse")
        assert await count_rows(db, ALL_VISITS) == 1

    async def test_keys_are_per_caller_and_validated(
        self, netsugen_client, staff_headers, make_token, clock
    ) -> None:
        a = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        other_desk = bearer(await make_token("staff", name="desk 2"))
        h1 = {**staff_headers, "Idempotency-Key": "same"}
        h2 = {**other_desk, "Idempotency-Key": "same"}
        assert (
            await netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=h1)
        ).status_code == 201
        # Another desk's token with the same key is a different request: it really runs.
        assert_problem(
            await netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=h2),
            409,
            "visit-already-open",
        )
        bad = {**staff_headers, "Idempotency-Key": "has space"}
        assert_problem(
            await netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=bad),
            422,
            "idempotency-key-invalid",
        )

    async def test_failed_request_is_not_remembered(self, netsugen_client, staff_headers, clock) -> None:
        a = await create_member(netsugen_client, staff_headers)
        h = {**staff_headers, "Idempotency-Key": "retry-after-closed"}
        clock.set(jst(2026, 10, 5, 9, 55))
        assert_problem(
            await netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=h),
            409,
            "space-closed",
        )
        clock.set(jst(2026, 10, 5, 10, 1))
        assert (
            await netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=h)
        ).status_code == 201

    async def test_concurrent_requests_with_one_key(self, netsugen_client, staff_headers, clock, db) -> None:
        a = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        h = {**staff_headers, "Idempotency-Key": "double-click"}
        responses = await asyncio.gather(
            *(netsugen_client.post("/v1/visits", json={"member_id": a["id"]}, headers=h) for _ in range(10))
        )
        assert [r.status_code for r in responses] == [201] * 10
        assert len({r.json()["id"] for r in responses}) == 1
        assert await count_rows(db, ALL_VISITS) == 1


class TestCheckOut:
    async def test_check_out_and_repeat(self, netsugen_client, staff_headers, clock, db) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        v = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.set(jst(2026, 10, 5, 16, 30))
        out = await netsugen_client.post(f"/v1/visits/{v['id']}/check-out", headers=staff_headers)
        assert out.status_code == 200
        assert (out.json()["check_out_at"], out.json()["minutes"], out.json()["open"]) == (
            "2026-10-05T16:30:00+09:00",
            150,
            False,
        )
        clock.set(jst(2026, 10, 5, 17))
        again = await netsugen_client.post(f"/v1/visits/{v['id']}/check-out", headers=staff_headers)
        assert again.status_code == 200 and again.json() == out.json()
        events = await outbox_events(db, "visit.checked_out")
        assert [e["data"] for e in events] == [{"member_id": member["id"], "visit_id": v["id"]}]

    async def test_time_after_closing_is_never_counted(self, netsugen_client, staff_headers, clock) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 3, 17))  # Saturday, closes 18:00
        v = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.set(jst(2026, 10, 3, 22, 45))
        out = (await netsugen_client.post(f"/v1/visits/{v['id']}/check-out", headers=staff_headers)).json()
        assert out["check_out_at"] == "2026-10-03T18:00:00+09:00" and out["minutes"] == 60
        assert out["auto_checked_out"] is False

    async def test_members_check_out_only_their_own(
        self, netsugen_client, staff_headers, make_token, clock, db
    ) -> None:
        a = await create_member(netsugen_client, staff_headers)
        b = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        va = (await check_in(netsugen_client, staff_headers, member_id=a["id"])).json()
        vb = (await check_in(netsugen_client, staff_headers, member_id=b["id"])).json()
        token_a = bearer(await make_token("member", subject=a["id"]))
        clock.set(jst(2026, 10, 5, 15))
        assert_problem(
            await netsugen_client.post(f"/v1/visits/{vb['id']}/check-out", headers=token_a),
            403,
            "not-your-visit",
        )
        assert await count_rows(db, OPEN_VISITS) == 2
        own = await netsugen_client.post(f"/v1/visits/{va['id']}/check-out", headers=token_a)
        assert own.status_code == 200 and own.json()["minutes"] == 60
        assert_problem(
            await netsugen_client.post(f"/v1/visits/{uuid.uuid4()}/check-out", headers=staff_headers),
            404,
            "visit-not-found",
        )


class TestManualEntry:
    async def test_manual_entry_is_audited(self, netsugen_client, staff_headers, clock) -> None:
        member = await create_member(netsugen_client, staff_headers, plan="individual_monthly")
        clock.set(jst(2026, 10, 6, 9))
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json={
                "member_number": member["member_number"],
                "check_in_at": "2026-10-05T10:30:00+09:00",
                "check_out_at": "2026-10-05T03:00:00Z",
                "reason": "受付端末の故障のため手入力",
            },
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        v = r.json()
        assert (v["check_in_at"], v["check_out_at"], v["minutes"], v["source"], v["plan_code"]) == (
            "2026-10-05T10:30:00+09:00",
            "2026-10-05T12:00:00+09:00",
            90,
            "manual",
            "individual_monthly",
        )
        audit = (await netsugen_client.get(f"/v1/visits/{v['id']}/audit", headers=staff_headers)).json()[
            "items"
        ]
        assert len(audit) == 1
        entry = audit[0]
        assert (entry["action"], entry["actor"], entry["actor_role"], entry["reason"], entry["before"]) == (
            "manual_entry",
            "test staff",
            "staff",
            "受付端末の故障のため手入力",
            None,
        )
        assert entry["after"]["check_in_at"] == "2026-10-05T10:30:00+09:00"
        assert entry["after"]["check_out_at"] == "2026-10-05T12:00:00+09:00"

    @pytest.mark.parametrize(
        ("check_in_at", "check_out_at", "slug"),
        [
            ("2026-10-05T12:00:00+09:00", "2026-10-05T11:00:00+09:00", "times-not-in-order"),
            ("2026-10-05T12:00:00+09:00", "2026-10-05T12:00:00+09:00", "times-not-in-order"),
            ("2026-10-05T09:00:00+09:00", "2026-10-05T11:00:00+09:00", "outside-opening-hours"),
            ("2026-10-03T18:30:00+09:00", "2026-10-03T19:00:00+09:00", "outside-opening-hours"),  # Saturday
            ("2026-09-22T18:30:00+09:00", "2026-09-22T20:00:00+09:00", "outside-opening-hours"),  # 国民の休日
            ("2026-10-05T21:00:00+09:00", "2026-10-05T21:30:00+09:00", "outside-opening-hours"),
            ("2026-10-06T10:00:00+09:00", "2026-10-06T13:00:00+09:00", "time-in-future"),
            ("2026-10-07T10:00:00+09:00", "2026-10-07T11:00:00+09:00", "time-in-future"),
        ],
    )
    async def test_invalid_times_are_422(
        self, netsugen_client, staff_headers, clock, db, check_in_at, check_out_at, slug
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 6, 12))
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json={
                "member_id": member["id"],
                "check_in_at": check_in_at,
                "check_out_at": check_out_at,
                "reason": "手入力",
            },
            headers=staff_headers,
        )
        assert_problem(r, 422, slug)
        assert await count_rows(db, ALL_VISITS) == 0

    async def test_closed_day_and_missing_reason(
        self, netsugen_client, staff_headers, admin_headers, clock
    ) -> None:
        await netsugen_client.post(
            "/v1/calendar/closures",
            json={"start_date": "2026-10-01", "reason_ja": "点検"},
            headers=admin_headers,
        )
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 6, 12))
        body = {
            "member_id": member["id"],
            "check_in_at": "2026-10-01T11:00:00+09:00",
            "check_out_at": "2026-10-01T12:00:00+09:00",
            "reason": "手入力",
        }
        r = await netsugen_client.post("/v1/visits/manual", json=body, headers=staff_headers)
        assert assert_problem(r, 422, "outside-opening-hours")["detail"] == "2026-10-01 は休館日です(点検)。"
        for reason in ({"reason": ""}, {"reason": "   "}):
            r = await netsugen_client.post(
                "/v1/visits/manual", json={**body, **reason}, headers=staff_headers
            )
            assert_problem(r, 422, "validation-error")
        no_reason = {k: v for k, v in body.items() if k != "reason"}
        assert_problem(
            await netsugen_client.post("/v1/visits/manual", json=no_reason, headers=staff_headers),
            422,
            "validation-error",
        )
        naive = {**body, "check_in_at": "2026-10-01T11:00:00"}
        assert_problem(
            await netsugen_client.post("/v1/visits/manual", json=naive, headers=staff_headers),
            422,
            "validation-error",
        )

    async def test_overlap_is_409(self, netsugen_client, staff_headers, clock) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        await check_in(netsugen_client, staff_headers, member_id=member["id"])
        clock.set(jst(2026, 10, 5, 16))
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json={
                "member_id": member["id"],
                "check_in_at": iso(jst(2026, 10, 5, 15)),
                "check_out_at": iso(jst(2026, 10, 5, 15, 30)),
                "reason": "手入力",
            },
            headers=staff_headers,
        )
        assert_problem(r, 409, "visit-overlap")
        # Before the open visit there is room.
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json={
                "member_id": member["id"],
                "check_in_at": iso(jst(2026, 10, 5, 11)),
                "check_out_at": iso(jst(2026, 10, 5, 14)),
                "reason": "手入力",
            },
            headers=staff_headers,
        )
        assert r.status_code == 201


class TestCorrection:
    async def test_correction_keeps_before_and_after(
        self, netsugen_client, staff_headers, make_token, clock
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        v = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.set(jst(2026, 10, 5, 18))
        await netsugen_client.post(f"/v1/visits/{v['id']}/check-out", headers=staff_headers)
        clock.set(jst(2026, 10, 6, 10))
        r = await netsugen_client.patch(
            f"/v1/visits/{v['id']}",
            json={"check_out_at": "2026-10-05T17:00:00+09:00", "reason": "退館時のカード読み取り漏れ"},
            headers=staff_headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["check_out_at"] == "2026-10-05T17:00:00+09:00" and r.json()["minutes"] == 180
        audit = (await netsugen_client.get(f"/v1/visits/{v['id']}/audit", headers=staff_headers)).json()[
            "items"
        ]
        assert [a["action"] for a in audit] == ["check_in", "check_out", "correction"]
        fix = audit[-1]
        assert fix["reason"] == "退館時のカード読み取り漏れ" and fix["actor"] == "test staff"
        assert fix["before"]["check_out_at"] == "2026-10-05T18:00:00+09:00"
        assert fix["after"]["check_out_at"] == "2026-10-05T17:00:00+09:00"
        assert fix["at"] == "2026-10-06T10:00:00+09:00"
        token = bearer(await make_token("member", subject=member["id"]))
        assert_problem(
            await netsugen_client.get(f"/v1/visits/{v['id']}/audit", headers=token), 403, "forbidden"
        )
        assert_problem(
            await netsugen_client.patch(
                f"/v1/visits/{v['id']}",
                json={"check_out_at": "2026-10-05T16:00:00+09:00", "reason": "x"},
                headers=token,
            ),
            403,
            "forbidden",
        )

    async def test_refusals(self, netsugen_client, staff_headers, clock, db) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 6, 12))
        make = {"member_id": member["id"], "reason": "手入力"}
        first = (
            await netsugen_client.post(
                "/v1/visits/manual",
                json={
                    **make,
                    "check_in_at": iso(jst(2026, 10, 5, 10)),
                    "check_out_at": iso(jst(2026, 10, 5, 12)),
                },
                headers=staff_headers,
            )
        ).json()
        await netsugen_client.post(
            "/v1/visits/manual",
            json={
                **make,
                "check_in_at": iso(jst(2026, 10, 5, 13)),
                "check_out_at": iso(jst(2026, 10, 5, 15)),
            },
            headers=staff_headers,
        )
        url = f"/v1/visits/{first['id']}"
        assert_problem(
            await netsugen_client.patch(
                url, json={"check_out_at": iso(jst(2026, 10, 5, 14))}, headers=staff_headers
            ),
            422,
            "validation-error",
        )  # no reason
        assert_problem(
            await netsugen_client.patch(
                url, json={"check_out_at": iso(jst(2026, 10, 5, 14)), "reason": "x"}, headers=staff_headers
            ),
            409,
            "visit-overlap",
        )
        assert_problem(
            await netsugen_client.patch(
                url, json={"check_in_at": iso(jst(2026, 10, 5, 9)), "reason": "x"}, headers=staff_headers
            ),
            422,
            "outside-opening-hours",
        )
        assert_problem(
            await netsugen_client.patch(
                url, json={"check_in_at": iso(jst(2026, 10, 5, 12, 30)), "reason": "x"}, headers=staff_headers
            ),
            422,
            "times-not-in-order",
        )
        assert_problem(
            await netsugen_client.patch(url, json={"reason": "x"}, headers=staff_headers),
            422,
            "validation-error",
        )
        assert_problem(
            await netsugen_client.patch(
                f"/v1/visits/{uuid.uuid4()}",
                json={"check_out_at": iso(jst(2026, 10, 5, 11)), "reason": "x"},
                headers=staff_headers,
            ),
            404,
            "visit-not-found",
        )
        # Nothing changed, nothing audited beyond the two manual entries.
        assert await count_rows(db, "SELECT count(*) FROM netsugen.visit_audit") == 2
        row = (await db.execute(select(Visit).where(Visit.id == uuid.UUID(first["id"])))).scalar_one()
        assert row.check_out_at == jst(2026, 10, 5, 12)


class TestAutoCheckOut:
    async def test_closes_at_closing_time_once(
        self, netsugen_client, staff_headers, clock, sessionmaker, db
    ) -> None:
        from services.netsugen_booking.visits.service import auto_check_out
        from shared.db import session_scope

        weekday = await create_member(netsugen_client, staff_headers)
        saturday = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 3, 15))
        vs = (await check_in(netsugen_client, staff_headers, member_id=saturday["id"])).json()
        clock.set(jst(2026, 10, 5, 14))
        vw = (await check_in(netsugen_client, staff_headers, member_id=weekday["id"])).json()

        async with session_scope(sessionmaker) as s:
            closed = await auto_check_out(s, now=jst(2026, 10, 5, 20, 45))
        assert closed == [uuid.UUID(vs["id"])]  # Saturday's visit; Monday's is still within hours

        async with session_scope(sessionmaker) as s:
            closed = await auto_check_out(s, now=jst(2026, 10, 5, 21, 0))
        assert closed == [uuid.UUID(vw["id"])]
        async with session_scope(sessionmaker) as s:
            assert await auto_check_out(s, now=jst(2026, 10, 5, 21, 15)) == []

        got = (await netsugen_client.get(f"/v1/visits/{vw['id']}", headers=staff_headers)).json()
        assert (got["check_out_at"], got["auto_checked_out"], got["minutes"]) == (
            "2026-10-05T21:00:00+09:00",
            True,
            420,
        )
        sat = (await netsugen_client.get(f"/v1/visits/{vs['id']}", headers=staff_headers)).json()
        assert sat["check_out_at"] == "2026-10-03T18:00:00+09:00" and sat["auto_checked_out"] is True
        events = await outbox_events(db, "visit.auto_checked_out")
        assert sorted(e["data"]["visit_id"] for e in events) == sorted([vs["id"], vw["id"]])
        audit = (await netsugen_client.get(f"/v1/visits/{vw['id']}/audit", headers=staff_headers)).json()[
            "items"
        ]
        assert [(a["action"], a["actor"], a["actor_role"]) for a in audit][-1] == (
            "auto_check_out",
            "auto-checkout",
            "system",
        )
        # A later check-out at the desk changes nothing.
        clock.set(jst(2026, 10, 5, 21, 30))
        again = await netsugen_client.post(f"/v1/visits/{vw['id']}/check-out", headers=staff_headers)
        assert again.json()["check_out_at"] == "2026-10-05T21:00:00+09:00"

    async def test_arq_job(
        self, netsugen_client, staff_headers, clock, sessionmaker, netsugen_app, db
    ) -> None:
        from services.netsugen_booking.jobs import CRON_JOBS, FUNCTIONS
        from services.netsugen_booking.visits.tasks import auto_check_out_visits

        assert auto_check_out_visits in FUNCTIONS
        job = next(c for c in CRON_JOBS if c.coroutine is auto_check_out_visits)
        assert job.minute == {0, 15, 30, 45}
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2025, 10, 6, 14))  # a Monday in the past: its closing time has passed
        await check_in(netsugen_client, staff_headers, member_id=member["id"])
        ctx = {"sessionmaker": sessionmaker, "settings": netsugen_app.state.settings}
        assert await auto_check_out_visits(ctx) == {"closed": 1}
        assert await auto_check_out_visits(ctx) == {"closed": 0}
        assert await count_rows(db, OPEN_VISITS) == 0

    async def test_cli_command(self, netsugen_client, staff_headers, clock, db, stack) -> None:
        from typer.testing import CliRunner

        from services.netsugen_booking.cli import app

        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2025, 10, 4, 11))  # a past Saturday
        v = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        result = await asyncio.to_thread(CliRunner().invoke, app, ["auto-checkout"])
        assert result.exit_code == 0, result.output
        assert "closed 1 visit(s)" in result.output
        row = (await db.execute(select(Visit).where(Visit.id == uuid.UUID(v["id"])))).scalar_one()
        assert row.check_out_at == jst(2025, 10, 4, 18) and row.auto_checked_out is True

    async def test_forgotten_visit_is_closed_at_next_check_in(
        self, netsugen_client, staff_headers, clock
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 5, 14))
        old = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.set(jst(2026, 10, 6, 11))  # the job did not run overnight
        r = await check_in(netsugen_client, staff_headers, member_id=member["id"])
        assert r.status_code == 201
        prev = (await netsugen_client.get(f"/v1/visits/{old['id']}", headers=staff_headers)).json()
        assert prev["check_out_at"] == "2026-10-05T21:00:00+09:00" and prev["auto_checked_out"] is True


class TestListsAndOccupancy:
    async def test_occupancy(self, netsugen_client, staff_headers, make_token, clock) -> None:
        a = await create_member(netsugen_client, staff_headers, name="上州 太郎")
        corp = await create_member(
            netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly", name="株式会社ぐんま"
        )
        user = await add_user(netsugen_client, staff_headers, corp["id"], name="前橋 花子")
        clock.set(jst(2026, 10, 5, 13))
        await check_in(netsugen_client, staff_headers, member_id=a["id"])
        clock.set(jst(2026, 10, 5, 14))
        await check_in(netsugen_client, staff_headers, card_token=user["card_token"])
        occ = (await netsugen_client.get("/v1/occupancy", headers=staff_headers)).json()
        assert (
            occ["open_now"],
            occ["opens_at"],
            occ["closes_at"],
            occ["count"],
            occ["capacity"],
            occ["available"],
        ) == (True, "10:00", "21:00", 2, 80, 78)
        assert [(p["name"], p["member_number"], p["check_in_at"]) for p in occ["visitors"]] == [
            ("上州 太郎", a["member_number"], "2026-10-05T13:00:00+09:00"),
            ("前橋 花子", corp["member_number"], "2026-10-05T14:00:00+09:00"),
        ]
        token = bearer(await make_token("member", subject=a["id"]))
        assert_problem(await netsugen_client.get("/v1/occupancy", headers=token), 403, "forbidden")

    async def test_list_filters_pagination_and_member_isolation(
        self, netsugen_client, staff_headers, make_token, clock
    ) -> None:
        a = await create_member(netsugen_client, staff_headers)
        b = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 9, 12))
        for day in (5, 6, 7):
            for m in (a, b):
                r = await netsugen_client.post(
                    "/v1/visits/manual",
                    json={
                        "member_id": m["id"],
                        "check_in_at": iso(jst(2026, 10, day, 11)),
                        "check_out_at": iso(jst(2026, 10, day, 12)),
                        "reason": "手入力",
                    },
                    headers=staff_headers,
                )
                assert r.status_code == 201
        open_visit = (await check_in(netsugen_client, staff_headers, member_id=a["id"])).json()

        r = await netsugen_client.get("/v1/visits", params={"member_id": a["id"]}, headers=staff_headers)
        assert [v["check_in_at"][:10] for v in r.json()["items"]] == [
            "2026-10-09",
            "2026-10-07",
            "2026-10-06",
            "2026-10-05",
        ]
        r = await netsugen_client.get(
            "/v1/visits", params={"from": "2026-10-06", "to": "2026-10-07"}, headers=staff_headers
        )
        assert len(r.json()["items"]) == 4
        r = await netsugen_client.get("/v1/visits", params={"open": "true"}, headers=staff_headers)
        assert [v["id"] for v in r.json()["items"]] == [open_visit["id"]]

        ids: list[str] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await netsugen_client.get("/v1/visits", params=params, headers=staff_headers)).json()
            ids += [v["id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(ids) == 7 and len(set(ids)) == 7

        token_b = bearer(await make_token("member", subject=b["id"]))
        mine = (await netsugen_client.get("/v1/visits", headers=token_b)).json()["items"]
        assert len(mine) == 3 and {v["member_id"] for v in mine} == {b["id"]}
        assert_problem(
            await netsugen_client.get("/v1/visits", params={"member_id": a["id"]}, headers=token_b),
            403,
            "forbidden",
        )
        assert_problem(
            await netsugen_client.get(f"/v1/visits/{open_visit['id']}", headers=token_b),
            403,
            "not-your-visit",
        )
        own = await netsugen_client.get(f"/v1/visits/{mine[0]['id']}", headers=token_b)
        assert own.status_code == 200
        assert_problem(
            await netsugen_client.get("/v1/visits", params={"cursor": "bad"}, headers=staff_headers),
            422,
            "invalid-cursor",
        )


class TestEvents:
    async def test_events_carry_ids_only(self, netsugen_client, staff_headers, clock, db) -> None:
        member = await create_member(
            netsugen_client, staff_headers, name="秘密 太郎", email="secret@example.jp"
        )
        clock.set(jst(2026, 10, 5, 14))
        v = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.advance(hours=1)
        await netsugen_client.post(f"/v1/visits/{v['id']}/check-out", headers=staff_headers)
        events = await outbox_events(db)
        assert [e["type"] for e in events] == ["member.registered", "visit.checked_in", "visit.checked_out"]
        for e in events:
            assert e["source"] == "netsugen_booking"
            text_ = str(e)
            assert "秘密" not in text_ and "secret@example.jp" not in text_ and "nsc_" not in text_

    async def test_reaching_the_daily_cap_is_announced_once(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)  # drop-in by default
        clock.set(jst(2026, 10, 5, 10))
        v = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.advance(hours=2)  # 2 h: 500円, below the cap
        await netsugen_client.post(f"/v1/visits/{v['id']}/check-out", headers=staff_headers)
        assert await outbox_events(db, "visit.daily_cap_reached") == []
        v2 = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.advance(hours=2)  # 4 h in the day: the 1,000円 cap
        await netsugen_client.post(f"/v1/visits/{v2['id']}/check-out", headers=staff_headers)
        v3 = (await check_in(netsugen_client, staff_headers, member_id=member["id"])).json()
        clock.advance(hours=1)
        await netsugen_client.post(f"/v1/visits/{v3['id']}/check-out", headers=staff_headers)
        events = await outbox_events(db, "visit.daily_cap_reached")
        assert [(e["data"]["member_id"], e["data"]["day"]) for e in events] == [(member["id"], "2026-10-05")]


class TestManualEntryRules:
    """Manual entries and corrections respect the membership on the day and the opening hours,
    unless staff override with a reason (audited); a check-out past closing is clipped."""

    @staticmethod
    def body(member: dict, start: datetime, end: datetime, **extra: object) -> dict:
        return {
            "member_id": member["id"],
            "check_in_at": iso(start),
            "check_out_at": iso(end),
            "reason": "手入力",
            **extra,
        }

    async def test_check_out_past_closing_is_clipped(self, netsugen_client, staff_headers, clock) -> None:
        member = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 7, 12))
        for start, end, clipped in (
            (jst(2026, 10, 5, 20), jst(2026, 10, 5, 21, 30), "2026-10-05T21:00:00+09:00"),
            (jst(2026, 10, 6, 20), jst(2026, 10, 7, 1), "2026-10-06T21:00:00+09:00"),
        ):
            r = await netsugen_client.post(
                "/v1/visits/manual", json=self.body(member, start, end), headers=staff_headers
            )
            assert r.status_code == 201, r.text
            assert r.json()["check_out_at"] == clipped
        first = (
            await netsugen_client.get(
                "/v1/visits",
                params={"member_id": member["id"], "from": "2026-10-05", "to": "2026-10-05"},
                headers=staff_headers,
            )
        ).json()
        [v] = first["items"]
        assert (v["check_out_at"], v["minutes"]) == ("2026-10-05T21:00:00+09:00", 60)
        # A correction past closing is clipped too.
        r = await netsugen_client.patch(
            f"/v1/visits/{v['id']}",
            json={"check_out_at": iso(jst(2026, 10, 5, 23)), "reason": "退館漏れ"},
            headers=staff_headers,
        )
        assert r.status_code == 200 and r.json()["check_out_at"] == "2026-10-05T21:00:00+09:00"

    async def test_suspended_left_and_unregistered_are_refused_unless_overridden(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        clock.set(jst(2026, 10, 7, 12))
        suspended = await create_member(netsugen_client, staff_headers)
        await netsugen_client.post(f"/v1/members/{suspended['id']}/suspend", json={}, headers=staff_headers)
        gone = await create_member(netsugen_client, staff_headers)
        clock.set(jst(2026, 10, 6, 9))
        await netsugen_client.post(f"/v1/members/{gone['id']}/leave", json={}, headers=staff_headers)
        clock.set(jst(2026, 10, 7, 12))
        late = await create_member(netsugen_client, staff_headers, plan_start="2026-10-06")
        day = (jst(2026, 10, 5, 10), jst(2026, 10, 5, 12))

        r = await netsugen_client.post(
            "/v1/visits/manual", json=self.body(suspended, *day), headers=staff_headers
        )
        assert "利用停止中" in assert_problem(r, 409, "manual-entry-member-suspended")["detail"]
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json=self.body(suspended, *day),
            headers={**staff_headers, "Accept-Language": "en"},
        )
        assert "override=true" in assert_problem(r, 409, "manual-entry-member-suspended")["detail"]
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json=self.body(gone, jst(2026, 10, 6, 10), jst(2026, 10, 6, 11)),
            headers=staff_headers,
        )
        assert_problem(r, 409, "manual-entry-member-left")
        r = await netsugen_client.post("/v1/visits/manual", json=self.body(late, *day), headers=staff_headers)
        assert assert_problem(r, 422, "manual-entry-before-registration")["registered_on"] == "2026-10-06"
        closed = (jst(2026, 10, 4, 19), jst(2026, 10, 4, 20))  # Sunday after 18:00
        r = await netsugen_client.post(
            "/v1/visits/manual", json=self.body(late, *closed), headers=staff_headers
        )
        assert_problem(r, 422, "manual-entry-before-registration")
        assert await count_rows(db, ALL_VISITS) == 0

        # Before leaving is fine without override.
        ok = await netsugen_client.post(
            "/v1/visits/manual", json=self.body(gone, *day), headers=staff_headers
        )
        assert ok.status_code == 201, ok.text
        # An override needs its reason; with one, the entry is recorded and audited.
        r = await netsugen_client.post(
            "/v1/visits/manual", json=self.body(suspended, *day, override=True), headers=staff_headers
        )
        assert_problem(r, 422, "validation-error")
        r = await netsugen_client.post(
            "/v1/visits/manual",
            json=self.body(suspended, *day, override=True, override_reason="停止前の利用を確認済み"),
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        [entry] = (
            await netsugen_client.get(f"/v1/visits/{r.json()['id']}/audit", headers=staff_headers)
        ).json()["items"]
        assert entry["reason"] == "手入力（確認の上で記録 / override: 停止前の利用を確認済み）"
        outside = await netsugen_client.post(
            "/v1/visits/manual",
            json=self.body(
                late,
                jst(2026, 10, 6, 21, 30),
                jst(2026, 10, 6, 22),
                override=True,
                override_reason="閉館後の片付け",
            ),
            headers=staff_headers,
        )
        assert outside.status_code == 201 and outside.json()["check_out_at"] == "2026-10-06T22:00:00+09:00"
        # A correction of the suspended member's visit is refused the same way, unless overridden.
        url = f"/v1/visits/{r.json()['id']}"
        fix = {"check_out_at": iso(jst(2026, 10, 5, 11)), "reason": "時刻訂正"}
        assert_problem(
            await netsugen_client.patch(url, json=fix, headers=staff_headers),
            409,
            "manual-entry-member-suspended",
        )
        fixed = await netsugen_client.patch(
            url, json={**fix, "override": True, "override_reason": "確認済み"}, headers=staff_headers
        )
        assert fixed.status_code == 200 and fixed.json()["minutes"] == 60


class TestCheckOutByCard:
    async def test_scanning_the_card_again_checks_out(
        self, netsugen_client, staff_headers, clock, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        corp = await create_member(netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly")
        user = await add_user(netsugen_client, staff_headers, corp["id"])
        clock.set(jst(2026, 10, 5, 14))
        assert_problem(
            await netsugen_client.post(
                "/v1/visits/check-out", json={"card_token": member["card_token"]}, headers=staff_headers
            ),
            409,
            "no-open-visit",
        )
        visit = (await check_in(netsugen_client, staff_headers, card_token=member["card_token"])).json()
        other = (await check_in(netsugen_client, staff_headers, card_token=user["card_token"])).json()
        clock.set(jst(2026, 10, 5, 21, 40))  # after closing: clipped like any check-out
        r = await netsugen_client.post(
            "/v1/visits/check-out", json={"card_token": member["card_token"]}, headers=staff_headers
        )
        assert r.status_code == 200, r.text
        assert (r.json()["id"], r.json()["check_out_at"], r.json()["open"]) == (
            visit["id"],
            "2026-10-05T21:00:00+09:00",
            False,
        )
        assert (await netsugen_client.get(f"/v1/visits/{other['id']}", headers=staff_headers)).json()[
            "open"
        ] is True
        assert_problem(
            await netsugen_client.post(
                "/v1/visits/check-out", json={"card_token": member["card_token"]}, headers=staff_headers
            ),
            409,
            "no-open-visit",
        )
        by_user = await netsugen_client.post(
            "/v1/visits/check-out",
            json={"member_id": corp["id"], "member_user_id": user["id"]},
            headers=staff_headers,
        )
        assert by_user.status_code == 200 and by_user.json()["id"] == other["id"]
        assert len(await outbox_events(db, "visit.checked_out")) == 2
        assert await count_rows(db, OPEN_VISITS) == 0
