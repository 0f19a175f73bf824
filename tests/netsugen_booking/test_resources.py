"""Resources: the seeded rooms, public reads, admin changes and the availability of a day."""

from __future__ import annotations

import httpx
import pytest

from services.netsugen_booking.bookings import rules
from services.netsugen_booking.calendar.models import CalendarClosure
from services.netsugen_booking.resources.seed import RESOURCES, resource_id
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, create_member

ROOM_A = str(resource_id("meeting-room-a"))
BOOTH = str(resource_id("booth-1"))
EVENT_SPACE = str(resource_id("event-space"))


class TestSeed:
    async def test_seeded_resources_are_listed_publicly(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/v1/resources")
        assert r.status_code == 200
        by_slug = {item["slug"]: item for item in r.json()["items"]}
        assert {"meeting-room-a", "meeting-room-b", "booth-1", "event-space"} <= set(by_slug)
        assert [
            by_slug[s]["kind"] for s in ("meeting-room-a", "meeting-room-b", "booth-1", "event-space")
        ] == [
            "meeting_room",
            "meeting_room",
            "booth",
            "event_space",
        ]
        assert by_slug["meeting-room-a"]["id"] == ROOM_A
        assert by_slug["meeting-room-a"]["grid_minutes"] == 15
        assert by_slug["meeting-room-a"]["price_per_hour_yen"] == 1000
        assert by_slug["booth-1"]["price_per_hour_yen"] == 0
        assert by_slug["event-space"]["capacity"] == 80

    async def test_seed_is_idempotent(self, db) -> None:
        from services.netsugen_booking.resources.seed import run_seed

        counts = await run_seed(db, lambda *_: None)
        assert counts == {"resources": 0}
        assert len(RESOURCES) == 4

    async def test_unknown_resource_is_404(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/v1/resources/00000000-0000-0000-0000-000000000001")
        assert_problem(r, 404, "resource-not-found")
        r = await netsugen_client.get("/v1/resources/not-a-uuid")
        assert_problem(r, 422, "validation-error")


class TestAdmin:
    async def test_admin_creates_and_changes_a_resource(
        self, netsugen_client, admin_headers, staff_headers
    ) -> None:
        body = {
            "slug": "test-room-x",
            "kind": "meeting_room",
            "name_ja": "会議室X",
            "name_en": "Room X",
            "capacity": 4,
            "grid_minutes": 30,
            "price_per_hour_yen": 500,
        }
        r = await netsugen_client.post("/v1/resources", json=body, headers=staff_headers)
        assert_problem(r, 403, "forbidden")
        r = await netsugen_client.post("/v1/resources", json=body, headers=admin_headers)
        if r.status_code == 409:  # created by an earlier run of this session (reference data is kept)
            r = await netsugen_client.get("/v1/resources")
            created = next(i for i in r.json()["items"] if i["slug"] == "test-room-x")
        else:
            assert r.status_code == 201, r.text
            created = r.json()
            assert created["grid_minutes"] == 30 and created["price_per_hour_yen"] == 500
            dup = await netsugen_client.post("/v1/resources", json=body, headers=admin_headers)
            assert_problem(dup, 409, "resource-slug-taken")
        r = await netsugen_client.patch(
            f"/v1/resources/{created['id']}",
            json={"price_per_hour_yen": 800, "active": False},
            headers=admin_headers,
        )
        assert r.status_code == 200 and r.json()["price_per_hour_yen"] == 800 and r.json()["active"] is False
        listed = {i["slug"] for i in (await netsugen_client.get("/v1/resources")).json()["items"]}
        assert "test-room-x" not in listed  # inactive resources are not offered

    async def test_bad_grid_is_422(self, netsugen_client, admin_headers) -> None:
        body = {
            "slug": "bad-grid",
            "kind": "booth",
            "name_ja": "x",
            "name_en": "x",
            "capacity": 1,
            "grid_minutes": 7,
        }
        assert_problem(
            await netsugen_client.post("/v1/resources", json=body, headers=admin_headers),
            422,
            "validation-error",
        )


class TestAvailability:
    async def test_free_intervals_are_opening_hours_minus_bookings(
        self, netsugen_client, staff_headers, clock
    ) -> None:
        clock.set(jst(2026, 12, 1, 9))
        member = await create_member(netsugen_client, staff_headers)
        r = await netsugen_client.post(
            "/v1/bookings",
            json={
                "resource_id": ROOM_A,
                "member_id": member["id"],
                "start": "2026-12-02T13:00:00+09:00",
                "end": "2026-12-02T14:30:00+09:00",
            },
            headers=staff_headers,
        )
        assert r.status_code == 201, r.text
        r = await netsugen_client.get(f"/v1/resources/{ROOM_A}/availability", params={"date": "2026-12-02"})
        assert r.status_code == 200
        body = r.json()
        assert body["open"] is True and body["opens_at"] == "10:00" and body["closes_at"] == "21:00"
        assert body["free"] == [
            {"start": "2026-12-02T10:00:00+09:00", "end": "2026-12-02T13:00:00+09:00"},
            {"start": "2026-12-02T14:30:00+09:00", "end": "2026-12-02T21:00:00+09:00"},
        ]
        assert body["booked"] == [{"start": "2026-12-02T13:00:00+09:00", "end": "2026-12-02T14:30:00+09:00"}]

    async def test_saturday_and_holiday_hours(self, netsugen_client, clock) -> None:
        clock.set(jst(2026, 12, 1, 9))
        sat = (
            await netsugen_client.get(f"/v1/resources/{BOOTH}/availability", params={"date": "2026-12-05"})
        ).json()
        assert sat["free"] == [{"start": "2026-12-05T10:00:00+09:00", "end": "2026-12-05T18:00:00+09:00"}]
        new_year = (
            await netsugen_client.get(f"/v1/resources/{BOOTH}/availability", params={"date": "2027-01-01"})
        ).json()
        assert new_year["reason"] == "元日" and new_year["closes_at"] == "18:00"

    async def test_today_starts_at_now_rounded_up_to_the_grid(self, netsugen_client, clock) -> None:
        clock.set(jst(2026, 12, 2, 15, 7))
        body = (
            await netsugen_client.get(
                f"/v1/resources/{EVENT_SPACE}/availability", params={"date": "2026-12-02"}
            )
        ).json()
        assert body["free"] == [{"start": "2026-12-02T15:30:00+09:00", "end": "2026-12-02T21:00:00+09:00"}]
        past = (
            await netsugen_client.get(
                f"/v1/resources/{EVENT_SPACE}/availability", params={"date": "2026-12-01"}
            )
        ).json()
        assert past["free"] == []

    async def test_closed_day_has_no_free_time(self, netsugen_client, db, clock) -> None:
        from datetime import date

        clock.set(jst(2026, 12, 1, 9))
        db.add(
            CalendarClosure(
                start_date=date(2026, 12, 3),
                end_date=date(2026, 12, 3),
                reason_ja="設備点検",
                reason_en="Maintenance",
            )
        )
        await db.commit()
        body = (
            await netsugen_client.get(f"/v1/resources/{ROOM_A}/availability", params={"date": "2026-12-03"})
        ).json()
        assert body["open"] is False and body["free"] == [] and body["reason"] == "設備点検"

    async def test_bad_date_is_422(self, netsugen_client) -> None:
        r = await netsugen_client.get(f"/v1/resources/{ROOM_A}/availability", params={"date": "2026-13-01"})
        assert_problem(r, 422, "validation-error")
        r = await netsugen_client.get(f"/v1/resources/{ROOM_A}/availability", params={"date": "2200-01-01"})
        assert_problem(r, 422, "unsupported-date")


class TestRules:
    """The pure time rules."""

    @pytest.mark.parametrize(
        ("hour", "minute", "grid", "expected"),
        [(10, 0, 15, True), (10, 15, 15, True), (10, 7, 15, False), (10, 30, 30, True), (10, 15, 30, False)],
    )
    def test_on_grid(self, hour, minute, grid, expected) -> None:
        assert rules.on_grid(jst(2026, 12, 2, hour, minute), grid) is expected

    def test_seconds_are_off_grid(self) -> None:
        assert rules.on_grid(jst(2026, 12, 2, 10, 0, 1), 15) is False

    def test_grid_is_read_on_the_jst_clock(self) -> None:
        from datetime import UTC, datetime

        assert rules.on_grid(datetime(2026, 12, 2, 1, 15, tzinfo=UTC), 15) is True  # 10:15 JST

    def test_free_intervals_merge_overlaps(self) -> None:
        o, c = jst(2026, 12, 2, 10), jst(2026, 12, 2, 21)
        busy = [
            (jst(2026, 12, 2, 9), jst(2026, 12, 2, 11)),
            (jst(2026, 12, 2, 12), jst(2026, 12, 2, 14)),
            (jst(2026, 12, 2, 13), jst(2026, 12, 2, 15)),
            (jst(2026, 12, 2, 20), jst(2026, 12, 2, 22)),
        ]
        assert rules.free_intervals(o, c, busy) == [
            (jst(2026, 12, 2, 11), jst(2026, 12, 2, 12)),
            (jst(2026, 12, 2, 15), jst(2026, 12, 2, 20)),
        ]

    def test_price_is_pro_rata_rounded_down(self) -> None:
        assert rules.price_yen(1000, jst(2026, 12, 2, 10), jst(2026, 12, 2, 10, 45)) == 750
        assert rules.price_yen(1000, jst(2026, 12, 2, 10), jst(2026, 12, 2, 11, 30)) == 1500
        assert rules.price_yen(1100, jst(2026, 12, 2, 10), jst(2026, 12, 2, 10, 5)) == 91  # 91.67 → 91
        assert rules.price_yen(0, jst(2026, 12, 2, 10), jst(2026, 12, 2, 18)) == 0

    def test_ceil_to_grid(self) -> None:
        assert rules.ceil_to_grid(jst(2026, 12, 2, 15, 7), 30) == jst(2026, 12, 2, 15, 30)
        assert rules.ceil_to_grid(jst(2026, 12, 2, 15, 0), 30) == jst(2026, 12, 2, 15, 0)
        assert rules.ceil_to_grid(jst(2026, 12, 2, 23, 50), 15) == jst(2026, 12, 3, 0, 0)
