"""Members: registration, card tokens (hashed), plans and their history, status, corporate users."""

from __future__ import annotations

import hashlib
import re
import uuid

import httpx
import pytest
from sqlalchemy import select, text

from services.netsugen_booking.members.models import Member, MemberUser, PlanAssignment
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


class TestRegistration:
    async def test_create_individual(self, netsugen_client, staff_headers, db, clock) -> None:
        r = await netsugen_client.post(
            "/v1/members",
            json={
                "kind": "individual",
                "name": "上州 太郎",
                "email": "taro@example.jp",
                "language": "ja",
                "plan": "individual_monthly",
                "plan_start": "2026-04-01",
            },
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        m = r.json()
        assert re.fullmatch(r"M\d{6}", m["member_number"])
        assert (m["kind"], m["name"], m["email"], m["language"], m["status"]) == (
            "individual",
            "上州 太郎",
            "taro@example.jp",
            "ja",
            "active",
        )
        assert m["current_plan"] == "individual_monthly"
        token = m["card_token"]
        assert token.startswith("nsc_") and len(token) > 30

        # Only the hash of the card token is stored.
        row = (await db.execute(select(Member).where(Member.id == uuid.UUID(m["id"])))).scalar_one()
        assert row.card_token_hash == hashlib.sha256(token.encode()).hexdigest()
        dump = await db.execute(text("SELECT row_to_json(m)::text FROM netsugen.member m"))
        assert token not in dump.scalar_one()

        # The card token is never shown again.
        again = await netsugen_client.get(f"/v1/members/{m['id']}", headers=staff_headers)
        assert again.status_code == 200 and "card_token" not in again.json()

        events = await outbox_events(db, "member.registered")
        assert len(events) == 1
        assert events[0]["data"] == {"member_id": m["id"]}  # ids only: no name, no email

    async def test_member_numbers_are_unique_and_increasing(self, netsugen_client, staff_headers) -> None:
        a = await create_member(netsugen_client, staff_headers)
        b = await create_member(netsugen_client, staff_headers)
        assert a["member_number"] != b["member_number"]
        assert int(b["member_number"][1:]) > int(a["member_number"][1:])

    async def test_plan_start_defaults_to_today_jst(self, netsugen_client, staff_headers, clock) -> None:
        clock.set(jst(2026, 10, 1, 0, 30))  # 2026-09-30 15:30 UTC: already the 1st in Japan
        r = await netsugen_client.post(
            "/v1/members",
            json={"kind": "individual", "name": "a", "email": "a@example.jp", "plan": "dropin"},
            headers=staff_headers,
        )
        history = await netsugen_client.get(f"/v1/members/{r.json()['id']}/plans", headers=staff_headers)
        assert history.json()["items"][0]["start_date"] == "2026-10-01"

    @pytest.mark.parametrize(
        ("change", "slug"),
        [
            ({"plan": "gold"}, "validation-error"),
            ({"kind": "robot"}, "validation-error"),
            ({"email": "not-an-email"}, "validation-error"),
            ({"language": "fr"}, "validation-error"),
            ({"name": ""}, "validation-error"),
            ({"name": "x" * 201}, "validation-error"),
            ({"nickname": "extra field"}, "validation-error"),
            ({"plan": "corporate_monthly"}, "plan-not-allowed"),
        ],
    )
    async def test_bad_input_is_422_and_writes_nothing(
        self, netsugen_client, staff_headers, db, change, slug
    ) -> None:
        body = {
            "kind": "individual",
            "name": "n",
            "email": "n@example.jp",
            "plan": "dropin",
            "plan_start": "2026-01-01",
            **change,
        }
        assert_problem(await netsugen_client.post("/v1/members", json=body, headers=staff_headers), 422, slug)
        assert await count_rows(db, "SELECT count(*) FROM netsugen.member") == 0

    async def test_corporation_cannot_have_individual_plan(self, netsugen_client, staff_headers) -> None:
        body = {
            "kind": "corporate",
            "name": "株式会社テスト",
            "email": "c@example.jp",
            "plan": "individual_monthly",
            "plan_start": "2026-01-01",
        }
        assert_problem(
            await netsugen_client.post("/v1/members", json=body, headers=staff_headers),
            422,
            "plan-not-allowed",
        )

    async def test_needs_staff(self, netsugen_client, make_token) -> None:
        body = {"kind": "individual", "name": "n", "email": "n@example.jp", "plan": "dropin"}
        assert_problem(await netsugen_client.post("/v1/members", json=body), 401, "unauthorized")
        member = bearer(await make_token("member", subject=str(uuid.uuid4())))
        assert_problem(await netsugen_client.post("/v1/members", json=body, headers=member), 403, "forbidden")

    async def test_idempotent_registration(self, netsugen_client, staff_headers, db) -> None:
        body = {
            "kind": "individual",
            "name": "n",
            "email": "n@example.jp",
            "plan": "dropin",
            "plan_start": "2026-01-01",
        }
        h = {**staff_headers, "Idempotency-Key": "reg-1"}
        first = await netsugen_client.post("/v1/members", json=body, headers=h)
        second = await netsugen_client.post("/v1/members", json=body, headers=h)
        assert first.status_code == second.status_code == 201
        # The replay is the same answer, except the card token, which is never stored in clear.
        assert first.json()["card_token"].startswith("nsc_")
        assert second.json() == {**first.json(), "card_token": None}
        assert second.headers["idempotent-replayed"] == "true"
        assert await count_rows(db, "SELECT count(*) FROM netsugen.member") == 1


class TestReadAndList:
    async def test_cursor_pagination_and_filters(self, netsugen_client, staff_headers) -> None:
        created = [await create_member(netsugen_client, staff_headers, name=f"会員{i}") for i in range(5)]
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await netsugen_client.get("/v1/members", params=params, headers=staff_headers)
            assert r.status_code == 200, r.text
            body = r.json()
            seen += [m["id"] for m in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == [m["id"] for m in created]

        r = await netsugen_client.get("/v1/members", params={"q": "会員3"}, headers=staff_headers)
        assert [m["name"] for m in r.json()["items"]] == ["会員3"]
        number = created[1]["member_number"]
        r = await netsugen_client.get(
            "/v1/members", params={"member_number": number.lower()}, headers=staff_headers
        )
        assert [m["id"] for m in r.json()["items"]] == [created[1]["id"]]
        r = await netsugen_client.get("/v1/members", params={"status": "left"}, headers=staff_headers)
        assert r.json() == {"items": [], "next_cursor": None}
        assert_problem(
            await netsugen_client.get("/v1/members", params={"cursor": "garbage!"}, headers=staff_headers),
            422,
            "invalid-cursor",
        )
        assert_problem(
            await netsugen_client.get("/v1/members", params={"limit": 0}, headers=staff_headers),
            422,
            "validation-error",
        )

    async def test_member_token_reads_only_itself(self, netsugen_client, staff_headers, make_token) -> None:
        a = await create_member(netsugen_client, staff_headers)
        b = await create_member(netsugen_client, staff_headers)
        token_a = bearer(await make_token("member", subject=a["id"]))
        r = await netsugen_client.get(f"/v1/members/{a['id']}", headers=token_a)
        assert r.status_code == 200 and r.json()["member_number"] == a["member_number"]
        assert_problem(await netsugen_client.get(f"/v1/members/{b['id']}", headers=token_a), 403, "forbidden")
        assert_problem(await netsugen_client.get("/v1/members", headers=token_a), 403, "forbidden")
        assert_problem(
            await netsugen_client.get(f"/v1/members/{b['id']}/plans", headers=token_a), 403, "forbidden"
        )

    async def test_unknown_member_is_404(self, netsugen_client, staff_headers) -> None:
        r = await netsugen_client.get(f"/v1/members/{uuid.uuid4()}", headers=staff_headers)
        body = assert_problem(r, 404, "member-not-found")
        assert body["detail"] == "該当する会員がいません。"
        assert_problem(
            await netsugen_client.get("/v1/members/not-a-uuid", headers=staff_headers),
            422,
            "validation-error",
        )


class TestContact:
    async def test_contact_for_the_notifier(self, netsugen_client, staff_headers, service_headers) -> None:
        m = await create_member(
            netsugen_client, staff_headers, name="上州 花子", email="hanako@example.jp", language="en"
        )
        r = await netsugen_client.get(f"/v1/members/{m['id']}/contact", headers=service_headers)
        assert r.status_code == 200
        assert r.json() == {
            "member_id": m["id"],
            "name": "上州 花子",
            "email": "hanako@example.jp",
            "language": "en",
            "status": "active",
        }
        assert_problem(
            await netsugen_client.get(f"/v1/members/{uuid.uuid4()}/contact", headers=service_headers),
            404,
            "member-not-found",
        )
        await netsugen_client.post(f"/v1/members/{m['id']}/leave", json={}, headers=staff_headers)
        assert_problem(
            await netsugen_client.get(f"/v1/members/{m['id']}/contact", headers=service_headers),
            410,
            "member-gone",
        )

    async def test_members_cannot_read_contacts(self, netsugen_client, staff_headers, make_token) -> None:
        m = await create_member(netsugen_client, staff_headers)
        token = bearer(await make_token("member", subject=m["id"]))
        assert_problem(
            await netsugen_client.get(f"/v1/members/{m['id']}/contact", headers=token), 403, "forbidden"
        )


class TestStatus:
    async def test_update_suspend_reactivate_leave(self, netsugen_client, staff_headers, clock, db) -> None:
        clock.set(jst(2026, 10, 5, 12))
        m = await create_member(
            netsugen_client, staff_headers, plan="individual_monthly", plan_start="2026-04-01"
        )
        mid = m["id"]
        r = await netsugen_client.patch(
            f"/v1/members/{mid}", json={"email": "new@example.jp"}, headers=staff_headers
        )
        assert r.status_code == 200 and r.json()["email"] == "new@example.jp"
        assert_problem(
            await netsugen_client.patch(f"/v1/members/{mid}", json={}, headers=staff_headers),
            422,
            "validation-error",
        )

        r = await netsugen_client.post(
            f"/v1/members/{mid}/suspend", json={"reason": "会費未納"}, headers=staff_headers
        )
        assert r.json()["status"] == "suspended"
        r = await netsugen_client.post(f"/v1/members/{mid}/suspend", json={}, headers=staff_headers)
        assert r.status_code == 200 and r.json()["status"] == "suspended"
        r = await netsugen_client.post(f"/v1/members/{mid}/reactivate", headers=staff_headers)
        assert r.json()["status"] == "active"
        assert_problem(
            await netsugen_client.post(f"/v1/members/{mid}/reactivate", headers=staff_headers),
            409,
            "member-not-suspended",
        )

        r = await netsugen_client.post(
            f"/v1/members/{mid}/leave", json={"reason": "転居"}, headers=staff_headers
        )
        assert r.status_code == 200
        assert r.json()["status"] == "left" and r.json()["left_at"] is not None
        assert r.json()["current_plan"] == "individual_monthly"  # still covers today, the last day
        history = (await netsugen_client.get(f"/v1/members/{mid}/plans", headers=staff_headers)).json()[
            "items"
        ]
        assert [(a["plan"], a["start_date"], a["end_date"]) for a in history] == [
            ("individual_monthly", "2026-04-01", "2026-10-05")
        ]
        again = await netsugen_client.post(f"/v1/members/{mid}/leave", json={}, headers=staff_headers)
        assert again.status_code == 200 and again.json()["left_at"] == r.json()["left_at"]
        for path in ("suspend", "card-token"):
            assert_problem(
                await netsugen_client.post(f"/v1/members/{mid}/{path}", json={}, headers=staff_headers),
                403,
                "member-left",
            )
        assert_problem(
            await netsugen_client.patch(f"/v1/members/{mid}", json={"name": "x"}, headers=staff_headers),
            403,
            "member-left",
        )

    async def test_cannot_leave_while_checked_in(self, netsugen_client, staff_headers, clock) -> None:
        clock.set(jst(2026, 10, 5, 14))
        m = await create_member(netsugen_client, staff_headers)
        assert (await check_in(netsugen_client, staff_headers, member_id=m["id"])).status_code == 201
        assert_problem(
            await netsugen_client.post(f"/v1/members/{m['id']}/leave", json={}, headers=staff_headers),
            409,
            "member-has-open-visit",
        )


class TestPlanChanges:
    async def test_change_takes_effect_on_a_date_and_keeps_history(
        self, netsugen_client, staff_headers, clock
    ) -> None:
        clock.set(jst(2026, 10, 5, 12))
        m = await create_member(netsugen_client, staff_headers, plan="dropin", plan_start="2026-01-01")
        mid = m["id"]
        r = await netsugen_client.post(
            f"/v1/members/{mid}/plan-changes",
            json={"plan": "individual_monthly", "effective_from": "2026-11-01"},
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        assert [(a["plan"], a["start_date"], a["end_date"]) for a in r.json()["items"]] == [
            ("dropin", "2026-01-01", "2026-10-31"),
            ("individual_monthly", "2026-11-01", None),
        ]
        # Still drop-in today; monthly from November.
        assert (await netsugen_client.get(f"/v1/members/{mid}", headers=staff_headers)).json()[
            "current_plan"
        ] == "dropin"
        clock.set(jst(2026, 11, 1, 10))
        assert (await netsugen_client.get(f"/v1/members/{mid}", headers=staff_headers)).json()[
            "current_plan"
        ] == ("individual_monthly")

    async def test_rescheduling_replaces_the_future_only(self, netsugen_client, staff_headers, clock) -> None:
        clock.set(jst(2026, 10, 5, 12))
        m = await create_member(netsugen_client, staff_headers, plan="dropin", plan_start="2026-01-01")
        mid = m["id"]
        await netsugen_client.post(
            f"/v1/members/{mid}/plan-changes",
            json={"plan": "individual_monthly", "effective_from": "2026-11-01"},
            headers=staff_headers,
        )
        r = await netsugen_client.post(
            f"/v1/members/{mid}/plan-changes",
            json={"plan": "individual_monthly", "effective_from": "2026-10-15"},
            headers=staff_headers,
        )
        assert [(a["plan"], a["start_date"], a["end_date"]) for a in r.json()["items"]] == [
            ("dropin", "2026-01-01", "2026-10-14"),
            ("individual_monthly", "2026-10-15", None),
        ]
        # Calling the change off (back to drop-in from tomorrow) keeps drop-in open-ended.
        r = await netsugen_client.post(
            f"/v1/members/{mid}/plan-changes",
            json={"plan": "dropin", "effective_from": "2026-10-06"},
            headers=staff_headers,
        )
        assert [(a["plan"], a["start_date"], a["end_date"]) for a in r.json()["items"]] == [
            ("dropin", "2026-01-01", None),
        ]

    async def test_refusals(self, netsugen_client, staff_headers, clock) -> None:
        clock.set(jst(2026, 10, 5, 12))
        m = await create_member(netsugen_client, staff_headers, plan="dropin", plan_start="2026-01-01")
        url = f"/v1/members/{m['id']}/plan-changes"
        assert_problem(
            await netsugen_client.post(
                url,
                json={"plan": "individual_monthly", "effective_from": "2026-10-04"},
                headers=staff_headers,
            ),
            422,
            "plan-change-in-past",
        )
        assert_problem(
            await netsugen_client.post(
                url, json={"plan": "dropin", "effective_from": "2026-11-01"}, headers=staff_headers
            ),
            409,
            "plan-unchanged",
        )
        assert_problem(
            await netsugen_client.post(
                url, json={"plan": "corporate_monthly", "effective_from": "2026-11-01"}, headers=staff_headers
            ),
            422,
            "plan-not-allowed",
        )
        history = (await netsugen_client.get(f"/v1/members/{m['id']}/plans", headers=staff_headers)).json()
        assert len(history["items"]) == 1 and history["items"][0]["end_date"] is None

    async def test_database_refuses_overlapping_assignments(self, netsugen_client, staff_headers, db) -> None:
        from datetime import date

        from sqlalchemy.exc import IntegrityError

        m = await create_member(netsugen_client, staff_headers, plan="dropin", plan_start="2026-01-01")
        db.add(
            PlanAssignment(
                member_id=uuid.UUID(m["id"]), plan_code="individual_monthly", start_date=date(2026, 6, 1)
            )
        )
        with pytest.raises(IntegrityError, match="plan_assignment_no_overlap"):
            await db.flush()
        await db.rollback()


class TestCards:
    async def test_regenerated_card_replaces_the_old(self, netsugen_client, staff_headers, clock) -> None:
        clock.set(jst(2026, 10, 5, 14))
        m = await create_member(netsugen_client, staff_headers)
        old = m["card_token"]
        r = await netsugen_client.post(f"/v1/members/{m['id']}/card-token", headers=staff_headers)
        assert r.status_code == 200
        new = r.json()["card_token"]
        assert new != old and r.json()["member_id"] == m["id"] and r.json()["member_user_id"] is None
        assert_problem(await check_in(netsugen_client, staff_headers, card_token=old), 404, "unknown-card")
        ok = await check_in(netsugen_client, staff_headers, card_token=new)
        assert ok.status_code == 201 and ok.json()["member_id"] == m["id"] and ok.json()["source"] == "card"


class TestCorporateUsers:
    async def test_users_and_their_cards(self, netsugen_client, staff_headers, make_token, db) -> None:
        corp = await create_member(netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly")
        u1 = await add_user(netsugen_client, staff_headers, corp["id"], name="前橋 花子")
        assert u1["member_id"] == corp["id"] and u1["active"] is True and u1["card_token"].startswith("nsc_")
        row = await db.get(MemberUser, uuid.UUID(u1["id"]))
        assert (
            row is not None and row.card_token_hash == hashlib.sha256(u1["card_token"].encode()).hexdigest()
        )

        token = bearer(await make_token("member", subject=corp["id"]))
        listed = await netsugen_client.get(f"/v1/members/{corp['id']}/users", headers=token)
        assert [u["name"] for u in listed.json()["items"]] == ["前橋 花子"]
        assert "card_token" not in listed.json()["items"][0]

        r = await netsugen_client.patch(
            f"/v1/members/{corp['id']}/users/{u1['id']}", json={"active": False}, headers=staff_headers
        )
        assert r.status_code == 200 and r.json()["active"] is False
        r = await netsugen_client.post(
            f"/v1/members/{corp['id']}/users/{u1['id']}/card-token", headers=staff_headers
        )
        assert r.status_code == 200 and r.json()["member_user_id"] == u1["id"]

    async def test_individuals_have_no_users(self, netsugen_client, staff_headers) -> None:
        m = await create_member(netsugen_client, staff_headers)
        assert_problem(
            await netsugen_client.post(
                f"/v1/members/{m['id']}/users", json={"name": "x"}, headers=staff_headers
            ),
            422,
            "not-corporate",
        )

    async def test_plan_user_limit(self, netsugen_client, staff_headers, admin_headers, db) -> None:
        corp = await create_member(netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly")
        r = await netsugen_client.patch(
            "/v1/plans/corporate_monthly", json={"max_users": 2}, headers=admin_headers
        )
        assert r.status_code == 200 and r.json()["max_users"] == 2
        try:
            a = await add_user(netsugen_client, staff_headers, corp["id"])
            await add_user(netsugen_client, staff_headers, corp["id"])
            body = assert_problem(
                await netsugen_client.post(
                    f"/v1/members/{corp['id']}/users", json={"name": "3人目"}, headers=staff_headers
                ),
                409,
                "user-limit-reached",
            )
            assert body["max_users"] == 2
            # Deactivating one frees a place; reactivating it counts again.
            await netsugen_client.patch(
                f"/v1/members/{corp['id']}/users/{a['id']}", json={"active": False}, headers=staff_headers
            )
            await add_user(netsugen_client, staff_headers, corp["id"])
            assert_problem(
                await netsugen_client.patch(
                    f"/v1/members/{corp['id']}/users/{a['id']}", json={"active": True}, headers=staff_headers
                ),
                409,
                "user-limit-reached",
            )
        finally:
            r = await netsugen_client.patch(
                "/v1/plans/corporate_monthly", json={"max_users": None}, headers=admin_headers
            )
            assert r.json()["max_users"] is None


class TestPlans:
    async def test_public_plans_with_prices(self, netsugen_client: httpx.AsyncClient, clock) -> None:
        clock.set(jst(2026, 10, 5, 12))
        r = await netsugen_client.get("/v1/plans")
        assert r.status_code == 200
        plans = {p["code"]: p for p in r.json()["items"]}
        assert set(plans) == {"dropin", "individual_monthly", "corporate_monthly"}
        assert plans["individual_monthly"]["current_price"]["monthly_fee_yen"] == 10_000
        assert plans["corporate_monthly"]["current_price"]["monthly_fee_yen"] == 25_000
        dropin = plans["dropin"]["current_price"]
        assert (
            dropin["monthly_fee_yen"],
            dropin["block_minutes"],
            dropin["block_price_yen"],
            dropin["daily_cap_yen"],
            dropin["grace_minutes"],
        ) == (None, 60, 250, 1000, 0)
        assert plans["dropin"]["name"] == "ドロップイン(個人・非月額)"
        en = await netsugen_client.get("/v1/plans/individual_monthly", headers={"Accept-Language": "en"})
        assert en.json()["name"] == "Individual monthly"
        assert_problem(await netsugen_client.get("/v1/plans/gold"), 422, "validation-error")

    async def test_price_changes_never_rewrite_the_past(
        self, netsugen_client, admin_headers, staff_headers, db, clock
    ) -> None:
        clock.set(jst(2026, 10, 5, 12))
        past = {
            "effective_from": "2026-10-05",
            "block_minutes": 30,
            "block_price_yen": 125,
            "daily_cap_yen": 1000,
        }
        assert_problem(
            await netsugen_client.post("/v1/plans/dropin/prices", json=past, headers=admin_headers),
            422,
            "price-in-past",
        )
        assert_problem(
            await netsugen_client.post("/v1/plans/dropin/prices", json=past, headers=staff_headers),
            403,
            "forbidden",
        )
        future = {**past, "effective_from": "2099-04-01"}
        try:
            r = await netsugen_client.post("/v1/plans/dropin/prices", json=future, headers=admin_headers)
            assert r.status_code == 201 and r.json()["block_price_yen"] == 125
            assert_problem(
                await netsugen_client.post("/v1/plans/dropin/prices", json=future, headers=admin_headers),
                409,
                "price-exists",
            )
            monthly_without_fee = {**future, "effective_from": "2099-05-01"}
            assert_problem(
                await netsugen_client.post(
                    "/v1/plans/individual_monthly/prices", json=monthly_without_fee, headers=admin_headers
                ),
                422,
                "price-incomplete",
            )
            plan = (await netsugen_client.get("/v1/plans/dropin")).json()
            assert plan["current_price"]["block_price_yen"] == 250  # today's price is untouched
            assert [p["effective_from"] for p in plan["prices"]] == ["2020-12-21", "2099-04-01"]
        finally:
            # plan_price is reference data (kept between tests): remove the test's row.
            await db.execute(text("DELETE FROM netsugen.plan_price WHERE effective_from >= '2099-01-01'"))
            await db.commit()
