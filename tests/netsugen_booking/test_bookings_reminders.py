"""Day-before reminders (booking.reminder) at 09:00 JST: bookings, registrations, consultations, once each."""

from __future__ import annotations

from services.netsugen_booking.bookings.reminders import send_reminders
from services.netsugen_booking.bookings.tasks import send_booking_reminders
from services.netsugen_booking.resources.seed import resource_id
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import count_rows, create_member, outbox_events
from tests.netsugen_booking.test_consultations import coordinator_with_window
from tests.netsugen_booking.test_programs import create_event, register_guest

ROOM_A = str(resource_id("meeting-room-a"))


async def book(client, headers, member_id: str, start: str, end: str) -> dict[str, object]:
    r = await client.post(
        "/v1/bookings",
        json={"resource_id": ROOM_A, "member_id": member_id, "start": start, "end": end},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


class TestReminders:
    async def test_next_days_items_are_reminded_once(
        self, netsugen_client, staff_headers, clock, sessionmaker, db
    ) -> None:
        clock.set(jst(2026, 12, 7, 9))  # Monday
        member = await create_member(netsugen_client, staff_headers)
        tomorrow = await book(
            netsugen_client,
            staff_headers,
            member["id"],
            "2026-12-09T10:00:00+09:00",
            "2026-12-09T11:00:00+09:00",
        )
        later = await book(
            netsugen_client,
            staff_headers,
            member["id"],
            "2026-12-10T10:00:00+09:00",
            "2026-12-10T11:00:00+09:00",
        )
        cancelled = await book(
            netsugen_client,
            staff_headers,
            member["id"],
            "2026-12-09T12:00:00+09:00",
            "2026-12-09T13:00:00+09:00",
        )
        await netsugen_client.post(f"/v1/bookings/{cancelled['id']}/cancel", headers=staff_headers)
        event = await create_event(
            netsugen_client,
            staff_headers,
            capacity=1,
            start="2026-12-09T18:00:00+09:00",
            end="2026-12-09T20:00:00+09:00",
            registration_closes_at=None,
        )
        guest = (await register_guest(netsugen_client, event["id"], 1)).json()
        waiting = (await register_guest(netsugen_client, event["id"], 2)).json()
        assert waiting["status"] == "waitlisted"
        coordinator = await coordinator_with_window(netsugen_client, staff_headers)  # Wednesdays 13:00-17:00
        slot = (
            await netsugen_client.get("/v1/consultation-slots", params={"coordinator_id": coordinator["id"]})
        ).json()["items"][0]
        assert slot["start"] == "2026-12-09T13:00:00+09:00"
        consultation = (
            await netsugen_client.post(
                "/v1/consultations",
                json={"slot_id": slot["id"], "member_id": member["id"], "topic": "税務"},
                headers=staff_headers,
            )
        ).json()
        # Booked after 09:00 the day before: the confirmation was just sent, no reminder.
        clock.set(jst(2026, 12, 8, 9, 30))
        fresh = await book(
            netsugen_client,
            staff_headers,
            member["id"],
            "2026-12-09T15:00:00+09:00",
            "2026-12-09T16:00:00+09:00",
        )

        async with sessionmaker() as session:
            early = await send_reminders(session, now=jst(2026, 12, 8, 8, 59), reminder_hour=9)
            await session.commit()
        assert early.as_dict() == {"bookings": 0, "registrations": 0, "consultations": 0}

        async with sessionmaker() as session:
            counts = await send_reminders(session, now=jst(2026, 12, 8, 9), reminder_hour=9)
            await session.commit()
        assert counts.as_dict() == {"bookings": 1, "registrations": 1, "consultations": 1}
        reminders = [e["data"] for e in await outbox_events(db, "booking.reminder")]
        assert sorted(
            (r["subject_kind"], r["subject_id"], r["member_id"], r["registration_id"]) for r in reminders
        ) == sorted(
            [
                ("booking", tomorrow["id"], member["id"], None),
                ("event_registration", guest["id"], None, guest["id"]),
                ("consultation", consultation["id"], member["id"], None),
            ]
        )
        assert later["id"] not in {r["subject_id"] for r in reminders}
        assert fresh["id"] not in {r["subject_id"] for r in reminders}

        # A second run the same day (another hour, another scheduler) sends nothing again.
        async with sessionmaker() as session:
            again = await send_reminders(session, now=jst(2026, 12, 8, 10), reminder_hour=9)
            await session.commit()
        assert again.as_dict() == {"bookings": 0, "registrations": 0, "consultations": 0}
        assert len(await outbox_events(db, "booking.reminder")) == 3
        assert await count_rows(db, "SELECT count(*) FROM netsugen.reminder_sent") == 3

    async def test_the_cron_job_runs_with_a_worker_context(self, netsugen_app, sessionmaker) -> None:
        # With nothing booked it sends nothing (whatever the real time of day), and does not fail.
        result = await send_booking_reminders(
            {"sessionmaker": sessionmaker, "settings": netsugen_app.state.settings}
        )
        assert result == {"bookings": 0, "registrations": 0, "consultations": 0}

    def test_jobs_are_registered_with_the_scheduler(self) -> None:
        from services.netsugen_booking.jobs import CRON_JOBS, FUNCTIONS

        names = {getattr(f, "name", getattr(f, "__name__", "")) for f in FUNCTIONS}
        assert {
            "send_kpi_report",
            "sweep_kpi_reports",
            "send_booking_reminders",
            "auto_close_programs",
            "generate_consultation_slots",
        } <= names
        crons = {c.name for c in CRON_JOBS}
        assert {
            "cron:send_booking_reminders",
            "cron:sweep_kpi_reports",
            "cron:auto_close_programs",
            "cron:generate_consultation_slots",
        } <= crons
