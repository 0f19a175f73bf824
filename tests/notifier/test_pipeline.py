"""From a service's outbox to a delivered email: relay, queue, worker, SMTP, ledger."""

from __future__ import annotations

import uuid

from shared.events import (
    BookingReminder,
    EventRegistrationConfirmed,
    InvoiceIssued,
    MemberRegistered,
    VisitCheckedIn,
)
from shared.outbox import pending_count
from tests.notifier.conftest import SERVICE_TOKEN, attempts_of, enqueue_event, ledger, scalar


class TestOutboxToEmail:
    async def test_member_registered_arrives_as_japanese_mail(
        self, emit_event, relay, run_worker, smtp, world, engine
    ) -> None:
        member_id = world.add_member(name="上州 太郎", language="ja")
        event = await emit_event(MemberRegistered(member_id=member_id))
        assert await relay.relay_once() == 1
        assert await pending_count(engine, relay.table) == 0

        await run_worker()

        [mail] = smtp.messages
        assert mail.rcpt_tos == [world.email_of(member_id)]
        assert mail.subject == "NETSUGENへようこそ"
        text = mail.part("plain")
        assert "上州 太郎 様" in text
        assert "官民共創スペース「NETSUGEN」にご登録いただき、誠にありがとうございます。" in text
        assert "開館時間は平日10:00〜21:00、土日祝日10:00〜18:00です。" in text
        assert "NETSUGENへようこそ" in mail.part("html")
        assert "<title>NETSUGENへようこそ</title>" in mail.part("html")

        [delivery] = await ledger(engine)
        assert delivery.status == "delivered"
        assert delivery.channel == "email"
        assert delivery.recipient == f"member:{member_id}"
        assert delivery.event_id == event.id
        assert (delivery.template, delivery.template_version, delivery.language) == (
            "member.registered",
            1,
            "ja",
        )
        assert delivery.attempts == 1 and delivery.delivered_at is not None
        assert mail.message_id == f"<{delivery.id}@netsugen.example.jp>"
        [attempt] = await attempts_of(engine, delivery.id)
        assert (attempt.number, attempt.result, attempt.status_code) == (1, "delivered", 250)
        # The contact came over HTTP with the service token; no address travelled through Redis.
        assert world.lookups == [str(member_id)] and world.unauthorized == 0
        assert await scalar(engine, "SELECT count(*) FROM notifier.inbox") == 1

    async def test_english_member_gets_english_mail(self, emit_event, relay, run_worker, smtp, world) -> None:
        member_id = world.add_member(name="Jane Doe", language="en")
        await emit_event(InvoiceIssued(member_id=member_id, invoice_id=uuid.uuid4()))
        await relay.relay_once()
        await run_worker()
        [mail] = smtp.messages
        assert mail.subject == "[NETSUGEN] Your invoice has been issued"
        assert mail.part("plain").startswith("Dear Jane Doe,")
        assert mail.message["Content-Language"] == "en"

    async def test_guest_registration_is_resolved_through_the_registration(
        self, emit_event, relay, run_worker, smtp, world, engine
    ) -> None:
        registration_id = world.add_registration(name="赤城 花子")
        await emit_event(EventRegistrationConfirmed(registration_id=registration_id, event_id=uuid.uuid4()))
        await relay.relay_once()
        await run_worker()
        [mail] = smtp.messages
        assert mail.subject == "【NETSUGEN】イベントへのお申し込みが完了しました"
        assert "赤城 花子 様" in mail.part("plain")
        [delivery] = await ledger(engine)
        assert delivery.recipient == f"event_registration:{registration_id}"

    async def test_smtp_connection_is_reused_between_deliveries(
        self, emit_event, relay, run_worker, smtp, world, engine
    ) -> None:
        members = [world.add_member() for _ in range(5)]
        for m in members:
            await emit_event(VisitCheckedIn(member_id=m, visit_id=uuid.uuid4()))
        await relay.relay_once()
        await run_worker(max_jobs=1)  # one delivery after the other
        assert len(smtp.messages) == 5
        assert len({m.peer for m in smtp.messages}) == 1  # one SMTP connection for all five
        assert sorted(r.status for r in await ledger(engine)) == ["delivered"] * 5


class TestDuplicates:
    async def test_same_event_three_times_gives_one_email(
        self, emit_event, relay, run_worker, smtp, world, engine, arq_pool, notifier_client, service_headers
    ) -> None:
        member_id = world.add_member()
        event = await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        # The relay re-sends it under another job id (as after its result expired), and a
        # service submits the same event over HTTP.
        await enqueue_event(arq_pool, event, job_id=f"again-{event.id}")
        r = await notifier_client.post(
            "/v1/notifications", headers=service_headers, json=event.model_dump(mode="json")
        )
        assert r.status_code in (200, 202)
        await run_worker()
        await enqueue_event(arq_pool, event, job_id=f"third-{event.id}")
        await run_worker()

        assert len(smtp.messages) == 1
        assert len(await ledger(engine)) == 1
        assert await scalar(engine, "SELECT count(*) FROM notifier.inbox") == 1
        assert await scalar(engine, "SELECT count(*) FROM notifier.delivery_attempt") == 1

    async def test_relay_twice_is_one_job(self, emit_event, relay, run_worker, smtp, world, arq_pool) -> None:
        member_id = world.add_member()
        event = await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        await enqueue_event(arq_pool, event)  # same job id as the relay's: arq refuses it
        assert len(await arq_pool.queued_jobs(queue_name="notifier:queue")) == 1
        # A relayed event waits up to a week for a worker (arq's default is a day).
        assert await arq_pool.pttl(f"arq:job:{event.id}") > 6 * 86400 * 1000
        await run_worker()
        assert len(smtp.messages) == 1


class TestRecipients:
    async def test_unknown_member_fails_permanently_with_reason(
        self, emit_event, relay, run_worker, smtp, world, engine
    ) -> None:
        member_id = uuid.uuid4()
        await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        await run_worker()
        [delivery] = await ledger(engine)
        assert delivery.status == "failed_permanent"
        assert delivery.reason == f"no such member ({member_id})"
        assert delivery.attempts == 1
        assert smtp.messages == []

    async def test_member_who_left_fails_permanently(
        self, emit_event, relay, run_worker, world, engine
    ) -> None:
        member_id = world.add_member()
        world.gone.add(str(member_id))
        await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        await run_worker()
        [delivery] = await ledger(engine)
        assert delivery.status == "failed_permanent"
        assert delivery.reason == f"the member has left or was anonymized ({member_id})"
        [attempt] = await attempts_of(engine, delivery.id)
        assert (attempt.result, attempt.status_code) == ("failed_permanent", 410)

    async def test_failed_lookup_is_retried(self, emit_event, relay, run_worker, smtp, world, engine) -> None:
        member_id = world.add_member()
        world.failing[str(member_id)] = 2
        await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        await run_worker()
        [delivery] = await ledger(engine)
        assert delivery.status == "delivered"
        results = [(a.number, a.result, a.status_code) for a in await attempts_of(engine, delivery.id)]
        assert results == [(1, "failed_temporary", 503), (2, "failed_temporary", 503), (3, "delivered", 250)]
        assert len(smtp.messages) == 1

    async def test_invalid_address_fails_at_once(
        self, emit_event, relay, run_worker, smtp, world, engine
    ) -> None:
        member_id = world.add_member(email_="not-an-address")
        await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        await run_worker()
        [delivery] = await ledger(engine)
        assert delivery.status == "failed_permanent"
        assert delivery.reason.startswith("invalid email address")
        assert delivery.attempts == 1 and smtp.messages == []

    async def test_kpi_events_have_no_email_recipient(self, run_worker, smtp, engine, arq_pool) -> None:
        from shared.events import KpiStatusChanged, make_event

        event = make_event(
            KpiStatusChanged(
                indicator_id="econ-1", previous_status="limited_progress", status="target_achieved"
            )
        )
        await enqueue_event(arq_pool, event)
        await run_worker()
        assert await ledger(engine) == []
        assert await scalar(engine, "SELECT count(*) FROM notifier.inbox") == 1
        assert smtp.messages == []

    async def test_service_token_is_sent(self, world) -> None:
        assert SERVICE_TOKEN  # the fake netsugen answers 401 without it (see world.unauthorized)


class TestRetriesAndDeadLetters:
    async def test_temporary_smtp_failures_then_dead_then_manual_retry(
        self, emit_event, relay, run_worker, smtp, world, engine, notifier_client, admin_headers
    ) -> None:
        member_id = world.add_member()
        address = world.email_of(member_id)
        smtp.handler.rcpt_replies[address] = "451 4.3.0 Mailbox temporarily unavailable"
        await emit_event(
            BookingReminder(member_id=member_id, subject_kind="booking", subject_id=uuid.uuid4())
        )
        await relay.relay_once()
        await run_worker()

        [delivery] = await ledger(engine)
        assert delivery.status == "dead"
        assert delivery.attempts == 3
        assert delivery.reason.startswith("gave up after 3 attempts: recipient refused: 451")
        attempts = await attempts_of(engine, delivery.id)
        assert [(a.number, a.result, a.status_code) for a in attempts] == [
            (1, "failed_temporary", 451),
            (2, "failed_temporary", 451),
            (3, "failed_temporary", 451),
        ]
        # Backoff: each retry waited at least the schedule's wait minus the jitter.
        gaps = [
            (b.started_at - a.finished_at).total_seconds()
            for a, b in zip(attempts, attempts[1:], strict=False)
        ]
        assert gaps[0] >= 0.05 * 0.9 - 0.01 and gaps[1] >= 0.1 * 0.9 - 0.01
        assert smtp.messages == []

        listed = (await notifier_client.get("/v1/deliveries?status=dead", headers=admin_headers)).json()
        assert [d["id"] for d in listed["items"]] == [str(delivery.id)]

        smtp.handler.rcpt_replies.clear()
        r = await notifier_client.post(f"/v1/deliveries/{delivery.id}/retry", headers=admin_headers)
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "queued"
        await run_worker()

        [after] = await ledger(engine)
        assert after.status == "delivered"
        assert after.attempts == 4 and after.retry_from == 3
        detail = (await notifier_client.get(f"/v1/deliveries/{delivery.id}", headers=admin_headers)).json()
        assert [(a["number"], a["result"]) for a in detail["attempts"]] == [
            (1, "failed_temporary"),
            (2, "failed_temporary"),
            (3, "failed_temporary"),
            (4, "delivered"),
        ]
        assert len(smtp.messages) == 1
        again = await notifier_client.post(f"/v1/deliveries/{delivery.id}/retry", headers=admin_headers)
        assert again.status_code == 409
        assert again.json()["type"] == "urn:gunma-sdgs:problem:delivery-not-retryable"

    async def test_permanent_smtp_failure_stops_at_once(
        self, emit_event, relay, run_worker, smtp, world, engine
    ) -> None:
        member_id = world.add_member()
        smtp.handler.rcpt_replies[world.email_of(member_id)] = "550 5.1.1 No such user here"
        await emit_event(MemberRegistered(member_id=member_id))
        await relay.relay_once()
        await run_worker()
        [delivery] = await ledger(engine)
        assert delivery.status == "failed_permanent"
        assert delivery.attempts == 1
        assert delivery.reason == "recipient refused: 550 5.1.1 No such user here"
