"""The opening calendar API: public days, holidays (振替休日, 国民の休日), closures, special hours."""

from __future__ import annotations

from typing import Any

import httpx

from tests.netsugen_booking.factories import assert_problem


def _days(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["date"]: d for d in body["days"]}


class TestPublicCalendar:
    async def test_week_around_kokumin_no_kyujitsu(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/v1/calendar", params={"from": "2026-09-18", "to": "2026-09-24"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["from"] == "2026-09-18" and body["to"] == "2026-09-24"
        days = _days(body)
        assert len(days) == 7
        # Friday: weekday hours
        assert days["2026-09-18"] == {
            "date": "2026-09-18",
            "open": True,
            "opens_at": "10:00",
            "closes_at": "21:00",
            "reason": None,
            "kind": "weekday",
        }
        # Saturday: weekend hours
        assert (days["2026-09-19"]["opens_at"], days["2026-09-19"]["closes_at"]) == ("10:00", "18:00")
        assert days["2026-09-19"]["kind"] == "weekend"
        # 敬老の日, 国民の休日 (a Tuesday between two holidays), 秋分の日: holiday hours and names
        assert days["2026-09-21"]["reason"] == "敬老の日"
        assert days["2026-09-22"] == {
            "date": "2026-09-22",
            "open": True,
            "opens_at": "10:00",
            "closes_at": "18:00",
            "reason": "国民の休日",
            "kind": "holiday",
        }
        assert days["2026-09-23"]["reason"] == "秋分の日"
        assert days["2026-09-24"]["closes_at"] == "21:00"

    async def test_substitute_holiday_and_english_names(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get(
            "/v1/calendar",
            params={"from": "2026-05-06", "to": "2026-05-06"},
            headers={"Accept-Language": "en"},
        )
        day = r.json()["days"][0]
        assert day["kind"] == "holiday" and day["closes_at"] == "18:00"
        assert day["reason"] == "Substitute Holiday"
        ja = await netsugen_client.get("/v1/calendar", params={"from": "2026-05-06", "to": "2026-05-06"})
        assert ja.json()["days"][0]["reason"] == "振替休日"

    async def test_default_range_is_31_days_from_today(self, netsugen_client, clock) -> None:
        from tests.netsugen_booking.conftest import jst

        clock.set(jst(2026, 10, 5, 9))
        body = (await netsugen_client.get("/v1/calendar")).json()
        assert body["from"] == "2026-10-05" and body["to"] == "2026-11-04"
        assert len(body["days"]) == 31

    async def test_bad_ranges_are_422(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/v1/calendar", params={"from": "2026-10-10", "to": "2026-10-01"})
        assert_problem(r, 422, "invalid-date-range")
        r = await netsugen_client.get("/v1/calendar", params={"from": "2026-01-01", "to": "2027-06-01"})
        assert_problem(r, 422, "invalid-date-range")
        r = await netsugen_client.get("/v1/calendar", params={"from": "2026-13-01"})
        assert_problem(r, 422, "validation-error")
        r = await netsugen_client.get("/v1/calendar", params={"from": "2100-01-01", "to": "2100-01-02"})
        assert_problem(r, 422, "invalid-date-range")


class TestClosures:
    async def test_closure_closes_days_and_can_be_removed(self, netsugen_client, admin_headers) -> None:
        r = await netsugen_client.post(
            "/v1/calendar/closures",
            json={
                "start_date": "2026-12-29",
                "end_date": "2027-01-03",
                "reason_ja": "年末年始休館",
                "reason_en": "Year-end holidays",
            },
            headers=admin_headers,
        )
        assert r.status_code == 201, r.text
        closure = r.json()
        assert closure["end_date"] == "2027-01-03" and closure["created_by"] == "test admin"

        cal = await netsugen_client.get("/v1/calendar", params={"from": "2026-12-28", "to": "2027-01-04"})
        days = _days(cal.json())
        assert days["2026-12-28"]["open"] is True
        closed = [d for d in days.values() if not d["open"]]
        assert [d["date"] for d in closed] == [
            "2026-12-29",
            "2026-12-30",
            "2026-12-31",
            "2027-01-01",
            "2027-01-02",
            "2027-01-03",
        ]
        # a closure beats the holiday (元日)
        assert days["2027-01-01"] == {
            "date": "2027-01-01",
            "open": False,
            "opens_at": None,
            "closes_at": None,
            "reason": "年末年始休館",
            "kind": "closure",
        }
        en = await netsugen_client.get(
            "/v1/calendar",
            params={"from": "2026-12-30", "to": "2026-12-30"},
            headers={"Accept-Language": "en"},
        )
        assert en.json()["days"][0]["reason"] == "Year-end holidays"

        r = await netsugen_client.patch(
            f"/v1/calendar/closures/{closure['id']}", json={"end_date": "2026-12-30"}, headers=admin_headers
        )
        assert r.status_code == 200 and r.json()["end_date"] == "2026-12-30"
        cal = await netsugen_client.get("/v1/calendar", params={"from": "2026-12-31", "to": "2026-12-31"})
        assert cal.json()["days"][0]["open"] is True

        r = await netsugen_client.delete(f"/v1/calendar/closures/{closure['id']}", headers=admin_headers)
        assert r.status_code == 204
        cal = await netsugen_client.get("/v1/calendar", params={"from": "2026-12-29", "to": "2026-12-29"})
        assert cal.json()["days"][0]["open"] is True
        r = await netsugen_client.delete(f"/v1/calendar/closures/{closure['id']}", headers=admin_headers)
        assert_problem(r, 404, "closure-not-found")

    async def test_only_admins_change_the_calendar(self, netsugen_client, staff_headers) -> None:
        body = {"start_date": "2026-12-29", "reason_ja": "休館"}
        assert_problem(await netsugen_client.post("/v1/calendar/closures", json=body), 401, "unauthorized")
        assert_problem(
            await netsugen_client.post("/v1/calendar/closures", json=body, headers=staff_headers),
            403,
            "forbidden",
        )
        r = await netsugen_client.get("/v1/calendar/closures", headers=staff_headers)
        assert r.status_code == 200 and r.json() == {"items": []}

    async def test_closure_bad_input(self, netsugen_client, admin_headers) -> None:
        r = await netsugen_client.post(
            "/v1/calendar/closures",
            json={"start_date": "2026-12-29", "end_date": "2026-12-01", "reason_ja": "x"},
            headers=admin_headers,
        )
        assert_problem(r, 422, "invalid-date-range")
        r = await netsugen_client.post(
            "/v1/calendar/closures",
            json={"start_date": "2026-12-29", "reason_ja": "x", "extra": 1},
            headers=admin_headers,
        )
        assert_problem(r, 422, "validation-error")
        r = await netsugen_client.post(
            "/v1/calendar/closures", json={"start_date": "2026-12-29", "reason_ja": ""}, headers=admin_headers
        )
        assert_problem(r, 422, "validation-error")


class TestSpecialHours:
    async def test_special_hours_apply_and_cannot_overlap(self, netsugen_client, admin_headers) -> None:
        r = await netsugen_client.post(
            "/v1/calendar/special-hours",
            json={
                "start_date": "2026-12-28",
                "opens_at": "10:00",
                "closes_at": "15:00",
                "reason_ja": "仕事納め",
                "reason_en": "Last working day",
            },
            headers=admin_headers,
        )
        assert r.status_code == 201, r.text
        sh = r.json()
        assert (sh["start_date"], sh["end_date"], sh["opens_at"], sh["closes_at"]) == (
            "2026-12-28",
            "2026-12-28",
            "10:00",
            "15:00",
        )
        day = (
            await netsugen_client.get("/v1/calendar", params={"from": "2026-12-28", "to": "2026-12-28"})
        ).json()
        assert day["days"][0] == {
            "date": "2026-12-28",
            "open": True,
            "opens_at": "10:00",
            "closes_at": "15:00",
            "reason": "仕事納め",
            "kind": "special",
        }

        r = await netsugen_client.post(
            "/v1/calendar/special-hours",
            json={
                "start_date": "2026-12-27",
                "end_date": "2026-12-29",
                "opens_at": "11:00",
                "closes_at": "16:00",
                "reason_ja": "重複",
            },
            headers=admin_headers,
        )
        assert_problem(r, 409, "special-hours-overlap")

        r = await netsugen_client.patch(
            f"/v1/calendar/special-hours/{sh['id']}", json={"closes_at": "16:30"}, headers=admin_headers
        )
        assert r.status_code == 200 and r.json()["closes_at"] == "16:30"
        r = await netsugen_client.patch(
            f"/v1/calendar/special-hours/{sh['id']}", json={"opens_at": "17:00"}, headers=admin_headers
        )
        assert_problem(r, 422, "invalid-date-range")

    async def test_closing_before_opening_is_422(self, netsugen_client, admin_headers) -> None:
        r = await netsugen_client.post(
            "/v1/calendar/special-hours",
            json={"start_date": "2026-12-28", "opens_at": "15:00", "closes_at": "10:00", "reason_ja": "x"},
            headers=admin_headers,
        )
        assert_problem(r, 422, "invalid-date-range")
        r = await netsugen_client.post(
            "/v1/calendar/special-hours",
            json={"start_date": "2026-12-28", "opens_at": "25:00", "closes_at": "10:00", "reason_ja": "x"},
            headers=admin_headers,
        )
        assert_problem(r, 422, "validation-error")
