"""Preferences (opt-out), quiet hours and the per-type pause switch, end to end."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from services.notifier.dispatch.engine import DELIVER_JOB
from shared.events import EVENT_TYPES, BookingReminder, MemberRegistered, VisitCheckedIn, make_event
from shared.jst import now_jst
from shared.outbox import NOTIFIER_QUEUE
from tests.conftest import bearer
from tests.notifier.conftest import attempts_of, enqueue_event, ledger


class TestOptOut:
    async def test_opted_out_category_is_suppressed_transactional_still_sent(
        self, notifier_client, make_token, world, arq_pool, run_worker, engine, smtp
    ) -> None:
        member_id = world.add_member()
        member = bearer(await make_token("member", subject=str(member_id)))
        r = await notifier_client.put(
            f"/v1/preferences/{member_id}", headers=member, json={"activity": False, "reminders": True}
        )
        assert r.status_code == 200, r.text
        assert r.json()["categories"] == {"transactional": True, "activity": False, "reminders": True}
        assert r.json()["opted_out"] == ["activity"]

        checked_in = make_event(VisitCheckedIn(member_id=member_id, visit_id=uuid.uuid4()))
        welcome = make_event(MemberRegistered(member_id=member_id))
        reminder = make_event(
            BookingReminder(member_id=member_id, subject_kind="booking", subject_id=uuid.uuid4())
        )
        for event in (checked_in, welcome, reminder):
            await enqueue_event(arq_pool, event)
        await run_worker()

        rows = {r.event_type: r for r in await ledger(engine)}
        assert rows["visit.checked_in"].status == "suppressed"
        assert rows["visit.checked_in"].reason == "the member opted out of activity"
        assert rows["visit.checked_in"].attempts == 0
        assert await attempts_of(engine, rows["visit.checked_in"].id) == []
        assert rows["member.registered"].status == "delivered"
        assert rows["booking.reminder"].status == "delivered"
        subjects = sorted(m.subject for m in smtp.messages)
        assert subjects == ["NETSUGENへようこそ", "【NETSUGEN】明日のご予約のお知らせ"]
        # Mail of a category one can leave says how to.
        reminder_mail = next(m for m in smtp.messages if "明日" in m.subject)
        assert (
            reminder_mail.message["List-Unsubscribe"]
            == "<http://127.0.0.1:8002/portal/settings/notifications>"
        )
        welcome_mail = next(m for m in smtp.messages if m.subject == "NETSUGENへようこそ")
        assert welcome_mail.message["List-Unsubscribe"] is None

    async def test_transactional_cannot_be_turned_off(self, notifier_client, make_token) -> None:
        member_id = uuid.uuid4()
        member = bearer(await make_token("member", subject=str(member_id)))
        r = await notifier_client.put(
            f"/v1/preferences/{member_id}", headers=member, json={"transactional": False}
        )
        assert r.status_code == 422
        assert r.json()["type"] == "urn:gunma-sdgs:problem:transactional-required"
        assert r.json()["detail"].startswith("請求書や予約の確定・キャンセルなどの重要なお知らせは")
        unknown = await notifier_client.put(
            f"/v1/preferences/{member_id}", headers=member, json={"invoices": False}
        )
        assert unknown.status_code == 422

    async def test_members_act_only_for_themselves_staff_for_anyone(
        self, notifier_client, make_token, staff_headers
    ) -> None:
        me, other = uuid.uuid4(), uuid.uuid4()
        member = bearer(await make_token("member", subject=str(me)))
        assert (await notifier_client.get(f"/v1/preferences/{other}", headers=member)).status_code == 403
        assert (
            await notifier_client.put(f"/v1/preferences/{other}", headers=member, json={"reminders": False})
        ).status_code == 403
        fresh = (await notifier_client.get(f"/v1/preferences/{me}", headers=member)).json()
        assert fresh["opted_out"] == [] and fresh["updated_at"] is None
        r = await notifier_client.put(
            f"/v1/preferences/{other}", headers=staff_headers, json={"reminders": False}
        )
        assert r.status_code == 200 and r.json()["opted_out"] == ["reminders"]
        # PUT is the full set: what is left out is switched back on.
        r = await notifier_client.put(f"/v1/preferences/{other}", headers=staff_headers, json={})
        assert r.json()["opted_out"] == []
        assert (await notifier_client.get(f"/v1/preferences/{me}")).status_code == 401


class TestQuietHours:
    async def test_non_urgent_email_waits_until_the_window_ends(
        self, notifier_client, admin_headers, world, arq_pool, run_worker, make_settings, engine, smtp
    ) -> None:
        now = now_jst()
        start, end = now - timedelta(hours=1), now + timedelta(hours=2)
        settings = make_settings(
            quiet_hours_enabled=True,
            quiet_hours_start=start.time().replace(second=0, microsecond=0),
            quiet_hours_end=end.time().replace(second=0, microsecond=0),
        )
        hook = await notifier_client.post(
            "/v1/webhook-endpoints",
            headers=admin_headers,
            json={"url": world.hook_url("quiet"), "event_types": ["visit.checked_in"]},
        )
        assert hook.status_code == 201
        member_id = world.add_member()
        checked_in = make_event(VisitCheckedIn(member_id=member_id, visit_id=uuid.uuid4()))
        welcome = make_event(MemberRegistered(member_id=member_id))  # urgent: never deferred
        await enqueue_event(arq_pool, checked_in)
        await enqueue_event(arq_pool, welcome)
        await run_worker(settings, max_burst_jobs=2)

        expected = end.replace(second=0, microsecond=0)
        email = (await ledger(engine, "event_type = 'visit.checked_in' AND channel = 'email'"))[0]
        assert email.status == "queued"
        assert email.attempts == 0
        assert email.next_attempt_at == expected
        # The attempt is waiting in the queue for that time.
        jobs = {j.job_id: j for j in await arq_pool.queued_jobs(queue_name=NOTIFIER_QUEUE)}
        job = jobs[f"deliver:{email.id}:1"]
        assert (job.function, job.args) == (DELIVER_JOB, (str(email.id),))
        assert job.score == int(expected.timestamp() * 1000)
        # The ledger API shows it as queued with its scheduled time.
        shown = (await notifier_client.get(f"/v1/deliveries/{email.id}", headers=admin_headers)).json()
        assert shown["status"] == "queued"
        assert datetime.fromisoformat(shown["next_attempt_at"]) == expected

        # Urgent mail and webhooks are not held back.
        [sent] = smtp.messages
        assert sent.subject == "NETSUGENへようこそ"
        hook_row = (await ledger(engine, "channel = 'webhook'"))[0]
        assert hook_row.status == "delivered"
        assert len(world.calls["quiet"]) == 1


class TestPause:
    async def test_paused_deliveries_wait_and_go_after_resume(
        self, notifier_client, admin_headers, staff_headers, world, arq_pool, run_worker, engine, smtp
    ) -> None:
        r = await notifier_client.put(
            "/v1/event-types/member.registered/pause", headers=admin_headers, json={"reason": "template fix"}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["paused"], r.json()["reason"]) == (True, "template fix")
        assert (
            await notifier_client.put("/v1/event-types/member.registered/pause", headers=admin_headers)
        ).json()["paused"] is True  # idempotent

        members = [world.add_member() for _ in range(3)]
        for m in members:
            await enqueue_event(arq_pool, make_event(MemberRegistered(member_id=m)))
        await run_worker()
        rows = await ledger(engine)
        assert [r.status for r in rows] == ["queued"] * 3
        assert smtp.messages == []

        listed = (await notifier_client.get("/v1/event-types", headers=staff_headers)).json()["items"]
        paused = {t["type"]: t["paused"] for t in listed}
        assert paused["member.registered"] is True and paused["invoice.issued"] is False
        assert len(listed) == len(EVENT_TYPES)  # every event type of shared/events.py

        r = await notifier_client.delete("/v1/event-types/member.registered/pause", headers=admin_headers)
        assert r.status_code == 200 and r.json()["paused"] is False
        await run_worker()  # runs the resume job, then the deliveries it queued
        assert [r.status for r in await ledger(engine)] == ["delivered"] * 3
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(world.email_of(m) for m in members)

    async def test_unknown_type_and_roles(self, notifier_client, admin_headers, staff_headers) -> None:
        r = await notifier_client.put("/v1/event-types/no.such/pause", headers=admin_headers)
        assert r.status_code == 404
        assert r.json()["type"] == "urn:gunma-sdgs:problem:event-type-not-found"
        assert (
            await notifier_client.put("/v1/event-types/member.registered/pause", headers=staff_headers)
        ).status_code == 403
