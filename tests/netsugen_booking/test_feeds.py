"""iCalendar feeds: RFC 5545 shape (CRLF, folding, UID, DTSTAMP, UTC times) and who may read what."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.netsugen_booking.feeds.ics import VEvent, escape_text, fold, render_calendar
from services.netsugen_booking.resources.seed import resource_id
from tests.conftest import bearer
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, create_member
from tests.netsugen_booking.test_consultations import coordinator_with_window
from tests.netsugen_booking.test_programs import create_event, register_guest

ROOM_A = str(resource_id("meeting-room-a"))
UTC_STAMP = re.compile(r"^\d{8}T\d{6}Z$")


def check_rfc5545(body: bytes) -> list[dict[str, str]]:
    """Validate the wire format and return the VEVENTs as {property: value} (unfolded)."""
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", ""), "bare LF"
    physical = text.split("\r\n")[:-1]
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    assert logical[0] == "BEGIN:VCALENDAR" and logical[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in logical and any(x.startswith("PRODID:") for x in logical)
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in logical:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            for required in ("UID", "DTSTAMP", "DTSTART", "DTEND"):
                assert required in current, (required, current)
            for stamp in ("DTSTAMP", "DTSTART", "DTEND"):
                assert UTC_STAMP.match(current[stamp]), current[stamp]
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    return events


@pytest.fixture
def now(clock):
    return clock.set(jst(2026, 12, 1, 9))


class TestWriter:
    def test_escaping(self) -> None:
        assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"

    def test_folding_never_splits_a_character(self) -> None:
        line = "SUMMARY:" + "群馬県SDGs未来都市計画の交流事業" * 5
        folded = fold(line)
        parts = folded.split("\r\n")
        assert len(parts) > 2
        assert all(len(p.encode("utf-8")) <= 75 for p in parts)
        assert all(p.startswith(" ") for p in parts[1:])
        assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == line

    def test_short_lines_are_not_folded(self) -> None:
        assert fold("UID:x") == "UID:x"

    def test_calendar(self) -> None:
        stamp = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
        body = render_calendar(
            [
                VEvent(
                    uid="u1@x",
                    start=jst(2026, 12, 2, 13),
                    end=jst(2026, 12, 2, 14),
                    summary="会議, 定例",
                    location="NETSUGEN 会議室A",
                )
            ],
            name="test",
            dtstamp=stamp,
        )
        events = check_rfc5545(body.encode())
        assert events == [
            {
                "UID": "u1@x",
                "DTSTAMP": "20261201T000000Z",
                "DTSTART": "20261202T040000Z",
                "DTEND": "20261202T050000Z",
                "SUMMARY": "会議\\, 定例",
                "LOCATION": "NETSUGEN 会議室A",
                "SEQUENCE": "0",
                "STATUS": "CONFIRMED",
            }
        ]

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            render_calendar(
                [VEvent(uid="u", start=datetime(2026, 1, 1), end=datetime(2026, 1, 1, 1), summary="s")],
                name="n",
                dtstamp=datetime(2026, 1, 1, tzinfo=UTC),
            )


class TestPublicFeed:
    async def test_public_events_feed(self, netsugen_client, staff_headers, now) -> None:
        long_title = "群馬県SDGs未来都市 クリエイターラボラトリー 第3回 デザイン思考ワークショップ, 午後の部"
        event = await create_event(
            netsugen_client, staff_headers, category="creator_lab", title_ja=long_title
        )
        await create_event(
            netsugen_client,
            staff_headers,
            public=False,
            start="2026-12-11T18:00:00+09:00",
            end="2026-12-11T20:00:00+09:00",
            registration_closes_at=None,
        )
        r = await netsugen_client.get("/v1/feeds/events.ics")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/calendar; charset=utf-8"
        events = check_rfc5545(r.content)
        assert len(events) == 1  # the members-only event is not in the public feed
        e = events[0]
        assert e["UID"] == f"program-{event['id']}@netsugen.gunma-sdgs.jp"
        assert (e["DTSTART"], e["DTEND"], e["DTSTAMP"]) == (
            "20261210T090000Z",
            "20261210T110000Z",
            "20261201T000000Z",
        )
        assert e["SUMMARY"] == escape_text(long_title) and e["CATEGORIES"] == "クリエイターラボ"
        assert e["LOCATION"] == "NETSUGEN イベントスペース"
        en = check_rfc5545((await netsugen_client.get("/v1/feeds/events.ics", params={"lang": "en"})).content)
        assert en[0]["SUMMARY"] == "Startup pitch" and en[0]["LOCATION"] == "NETSUGEN Event space"
        assert_problem(
            await netsugen_client.get("/v1/feeds/events.ics", params={"lang": "fr"}), 422, "validation-error"
        )


class TestMemberFeed:
    async def test_member_feed_by_token_and_by_secret(
        self, netsugen_client, staff_headers, make_token, now
    ) -> None:
        member = await create_member(netsugen_client, staff_headers, language="en")
        other = await create_member(netsugen_client, staff_headers)
        mh = bearer(await make_token("member", subject=member["id"]))
        b = await netsugen_client.post(
            "/v1/bookings",
            json={
                "resource_id": ROOM_A,
                "member_id": member["id"],
                "start": "2026-12-02T13:00:00+09:00",
                "end": "2026-12-02T14:00:00+09:00",
            },
            headers=mh,
        )
        cancelled = await netsugen_client.post(
            "/v1/bookings",
            json={
                "resource_id": ROOM_A,
                "member_id": member["id"],
                "start": "2026-12-03T13:00:00+09:00",
                "end": "2026-12-03T14:00:00+09:00",
            },
            headers=mh,
        )
        await netsugen_client.post(f"/v1/bookings/{cancelled.json()['id']}/cancel", headers=mh)
        event = await create_event(netsugen_client, staff_headers, capacity=1)
        await register_guest(netsugen_client, event["id"], 1)
        reg = await netsugen_client.post(
            f"/v1/programs/{event['id']}/registrations", json={"member_id": member["id"]}, headers=mh
        )
        assert reg.json()["status"] == "waitlisted"
        coordinator = await coordinator_with_window(netsugen_client, staff_headers)
        slot = (
            await netsugen_client.get("/v1/consultation-slots", params={"coordinator_id": coordinator["id"]})
        ).json()["items"][0]
        consultation = await netsugen_client.post(
            "/v1/consultations",
            json={"slot_id": slot["id"], "member_id": member["id"], "topic": "資金調達, 融資"},
            headers=mh,
        )
        assert consultation.status_code == 201

        url = f"/v1/feeds/members/{member['id']}.ics"
        r = await netsugen_client.get(url, headers=mh)
        assert r.status_code == 200, r.text
        events = check_rfc5545(r.content)
        assert [(e["UID"].split("@")[0], e["SUMMARY"], e["STATUS"], e["SEQUENCE"]) for e in events] == [
            (f"booking-{b.json()['id']}", "Booking: Meeting room A", "CONFIRMED", "0"),
            (f"consultation-{consultation.json()['id']}", "Consultation: Makoto Takahashi", "CONFIRMED", "0"),
            # A cancelled booking stays, cancelled with a higher SEQUENCE, so calendar clients remove it.
            (f"booking-{cancelled.json()['id']}", "Booking: Meeting room A", "CANCELLED", "1"),
            (f"program-{event['id']}", "Startup pitch", "TENTATIVE", "0"),
        ]
        assert events[1]["DESCRIPTION"] == "資金調達\\, 融資"
        assert events[0]["DTSTART"] == "20261202T040000Z"
        assert all(re.fullmatch(r"\d{8}T\d{6}Z", e["LAST-MODIFIED"]) for e in events)
        # URLs open the member portal's pages; the calendar name carries no personal name.
        assert events[0]["URL"] == f"http://127.0.0.1:8002/portal/bookings/{b.json()['id']}"
        assert events[3]["URL"] == f"http://127.0.0.1:8002/portal/events/{event['id']}"
        assert "X-WR-CALNAME:NETSUGEN: my calendar" in r.text and member["name"] not in r.text
        # Cancelling the registration and the consultation: both stay, CANCELLED, SEQUENCE raised.
        await netsugen_client.post(f"/v1/event-registrations/{reg.json()['id']}/cancel", json={}, headers=mh)
        await netsugen_client.post(
            f"/v1/consultations/{consultation.json()['id']}/cancel", json={}, headers=mh
        )
        after = {
            e["UID"].split("@")[0]: e
            for e in check_rfc5545((await netsugen_client.get(url, headers=mh)).content)
        }
        assert (after[f"program-{event['id']}"]["STATUS"], after[f"program-{event['id']}"]["SEQUENCE"]) == (
            "CANCELLED",
            "1",
        )
        c_uid = f"consultation-{consultation.json()['id']}"
        assert (after[c_uid]["STATUS"], after[c_uid]["SEQUENCE"]) == ("CANCELLED", "1")
        events = list(after.values())

        assert_problem(await netsugen_client.get(url), 401, "unauthorized")
        oh = bearer(await make_token("member", subject=other["id"]))
        assert_problem(await netsugen_client.get(url, headers=oh), 403, "forbidden")
        assert (await netsugen_client.get(url, headers=staff_headers)).status_code == 200

        made = await netsugen_client.post(f"/v1/feeds/members/{member['id']}/token", headers=mh)
        assert made.status_code == 201
        secret_url = made.json()["url"]
        assert secret_url.endswith(f"/v1/feeds/members/{member['id']}.ics?token={made.json()['token']}")
        by_secret = await netsugen_client.get(url, params={"token": made.json()["token"]})
        assert by_secret.status_code == 200 and check_rfc5545(by_secret.content) == events
        assert_problem(await netsugen_client.get(url, params={"token": "gcf_wrong"}), 404, "feed-not-found")
        other_url = f"/v1/feeds/members/{other['id']}.ics"
        assert_problem(
            await netsugen_client.get(other_url, params={"token": made.json()["token"]}),
            404,
            "feed-not-found",
        )
        remade = await netsugen_client.post(f"/v1/feeds/members/{member['id']}/token", headers=staff_headers)
        assert_problem(
            await netsugen_client.get(url, params={"token": made.json()["token"]}), 404, "feed-not-found"
        )
        assert (await netsugen_client.get(url, params={"token": remade.json()["token"]})).status_code == 200
        assert_problem(
            await netsugen_client.post(f"/v1/feeds/members/{member['id']}/token", headers=oh),
            403,
            "forbidden",
        )
