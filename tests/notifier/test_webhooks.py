"""Signed webhooks: registration, Standard Webhooks signatures checked by an independent
implementation, rotation, 410, redirects, timeouts and retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest

from shared.events import KpiObservationRecorded, KpiStatusChanged, MemberRegistered, make_event
from shared.jst import now_jst
from tests.notifier.conftest import attempts_of, enqueue_event, ledger


def verify_standard_webhook(
    secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300
) -> bool:
    """Written from the Standard Webhooks spec, independently of the notifier's code.

    signed content = "{webhook-id}.{webhook-timestamp}.{body}"; key = base64-decode(secret minus
    "whsec_"); signature = base64(HMAC-SHA256(key, signed content)); the header lists
    space-separated "v1,<signature>" entries, any of which may match.
    """
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in headers["webhook-signature"].split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return True
    return False


def test_independent_verifier_accepts_the_specs_example() -> None:
    # The example of the Standard Webhooks specification.
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "",
    }
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    from services.notifier.webhooks.signing import sign

    ts = 1614265330
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, b'{"test": 2432232314}') == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    headers["webhook-signature"] = sign(
        secret, headers["webhook-id"], int(headers["webhook-timestamp"]), b"{}"
    )
    assert verify_standard_webhook(secret, headers, b"{}")
    assert not verify_standard_webhook(secret, headers, b"{ }")


async def register(client, headers, url: str, event_types: list[str] | None = None) -> dict[str, Any]:
    r = await client.post(
        "/v1/webhook-endpoints",
        headers=headers,
        json={"url": url, "description": "test receiver", "event_types": event_types or []},
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


class TestSignedDelivery:
    async def test_receiver_verifies_signature(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, smtp
    ) -> None:
        endpoint = await register(notifier_client, admin_headers, world.hook_url("ok"))
        assert endpoint["secret"].startswith("whsec_")
        member_id = world.add_member()
        event = make_event(MemberRegistered(member_id=member_id))
        await enqueue_event(arq_pool, event)
        await run_worker()

        [call] = world.calls["ok"]
        assert call.headers["webhook-id"] == str(event.id)
        assert call.headers["content-type"] == "application/json"
        assert verify_standard_webhook(endpoint["secret"], call.headers, call.body)
        assert not verify_standard_webhook(
            "whsec_" + base64.b64encode(b"x" * 32).decode(), call.headers, call.body
        )
        payload = json.loads(call.body)
        assert payload["type"] == "member.registered"
        assert payload["id"] == str(event.id)
        assert payload["data"] == {"member_id": str(member_id)}  # ids only, no personal data
        assert "email" not in call.body.decode()

        rows = await ledger(engine, "channel = 'webhook'")
        assert [(r.status, r.recipient, r.endpoint_id) for r in rows] == [
            ("delivered", f"endpoint:{endpoint['id']}", uuid.UUID(endpoint["id"]))
        ]
        [attempt] = await attempts_of(engine, rows[0].id)
        assert (attempt.result, attempt.status_code) == ("delivered", 204)
        assert len(smtp.messages) == 1  # the member's email went too

    async def test_event_type_filter_and_kpi_events_go_to_webhooks_only(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, smtp
    ) -> None:
        kpi = await register(notifier_client, admin_headers, world.hook_url("kpi"), ["kpi.status_changed"])
        await enqueue_event(arq_pool, make_event(MemberRegistered(member_id=world.add_member())))
        status_event = make_event(
            KpiStatusChanged(
                indicator_id="env-ghg", previous_status="limited_progress", status="deterioration"
            )
        )
        await enqueue_event(arq_pool, status_event)
        await enqueue_event(
            arq_pool,
            make_event(
                KpiObservationRecorded(indicator_id="env-ghg", observation_id=uuid.uuid4(), fiscal_year=2025)
            ),
        )
        await run_worker()
        [call] = world.calls["kpi"]
        assert json.loads(call.body)["type"] == "kpi.status_changed"
        assert verify_standard_webhook(kpi["secret"], call.headers, call.body)
        webhook_rows = await ledger(engine, "channel = 'webhook'")
        assert [r.event_id for r in webhook_rows] == [status_event.id]
        assert len(smtp.messages) == 1  # only the member's welcome mail

    async def test_retry_keeps_webhook_id(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine
    ) -> None:
        endpoint = await register(
            notifier_client, admin_headers, world.hook_url("flaky"), ["kpi.status_changed"]
        )
        world.hook_replies["flaky"] = [503, 500, 200]
        event = make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        event.occurred_at = now_jst()  # an offset other than UTC: the body must still not change
        await enqueue_event(arq_pool, event)
        await run_worker()
        calls = world.calls["flaky"]
        assert [c.headers["webhook-id"] for c in calls] == [str(event.id)] * 3
        assert all(verify_standard_webhook(endpoint["secret"], c.headers, c.body) for c in calls)
        assert len({c.body for c in calls}) == 1  # the same bytes on every attempt
        assert json.loads(calls[0].body)["timestamp"].endswith("Z")
        [row] = await ledger(engine)
        assert (row.status, row.attempts) == ("delivered", 3)
        assert [(a.result, a.status_code) for a in await attempts_of(engine, row.id)] == [
            ("failed_temporary", 503),
            ("failed_temporary", 500),
            ("delivered", 200),
        ]


class TestRotation:
    async def test_both_signatures_during_rotation(
        self, notifier_client, admin_headers, world, run_worker, arq_pool
    ) -> None:
        endpoint = await register(
            notifier_client, admin_headers, world.hook_url("rot"), ["kpi.status_changed"]
        )
        old = endpoint["secret"]
        r = await notifier_client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin_headers
        )
        assert r.status_code == 200, r.text
        new = r.json()["secret"]
        assert new != old and new.startswith("whsec_")
        assert r.json()["previous_secret_expires_at"] is not None

        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker()
        [call] = world.calls["rot"]
        entries = call.headers["webhook-signature"].split(" ")
        assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
        assert verify_standard_webhook(new, call.headers, call.body)
        assert verify_standard_webhook(old, call.headers, call.body)
        # Each secret matches exactly one of the two entries: the new one comes first.
        assert verify_standard_webhook(new, {**call.headers, "webhook-signature": entries[0]}, call.body)
        assert verify_standard_webhook(old, {**call.headers, "webhook-signature": entries[1]}, call.body)

    async def test_rotation_without_overlap_signs_once(
        self, notifier_client, admin_headers, world, run_worker, arq_pool
    ) -> None:
        endpoint = await register(
            notifier_client, admin_headers, world.hook_url("rot0"), ["kpi.status_changed"]
        )
        r = await notifier_client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
            headers=admin_headers,
            json={"overlap_s": 0},
        )
        new = r.json()["secret"]
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker()
        [call] = world.calls["rot0"]
        assert len(call.headers["webhook-signature"].split(" ")) == 1
        assert verify_standard_webhook(new, call.headers, call.body)
        assert not verify_standard_webhook(endpoint["secret"], call.headers, call.body)


class TestReceiverAnswers:
    async def test_410_disables_the_endpoint(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine
    ) -> None:
        endpoint = await register(
            notifier_client, admin_headers, world.hook_url("gone"), ["kpi.status_changed"]
        )
        world.hook_replies["gone"] = [410]
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker()
        [row] = await ledger(engine)
        assert (row.status, row.attempts) == ("failed_permanent", 1)
        assert row.reason.startswith("http_410:")
        got = (
            await notifier_client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin_headers)
        ).json()
        assert got["enabled"] is False
        assert got["disabled_reason"] == "the endpoint answered 410 Gone"
        # Later events are not planned for it any more.
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="y", previous_status="a", status="b"))
        )
        await run_worker()
        assert len(await ledger(engine)) == 1
        assert len(world.calls["gone"]) == 1
        # An administrator re-enables it.
        r = await notifier_client.patch(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin_headers, json={"enabled": True}
        )
        assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None

    async def test_redirect_is_not_followed(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine
    ) -> None:
        await register(notifier_client, admin_headers, world.hook_url("moved"), ["kpi.status_changed"])
        world.hook_replies["moved"] = [302]
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker()
        assert "redirect-target" not in world.calls
        [row] = await ledger(engine)
        assert row.status == "dead" and row.attempts == 3
        attempts = await attempts_of(engine, row.id)
        assert {(a.result, a.status_code) for a in attempts} == {("failed_temporary", 302)}
        assert attempts[0].error == "http_3xx: redirect not followed; register the final URL"
        assert "redirect-target" not in attempts[0].error  # the Location is not shown

    async def test_timeout_is_a_temporary_failure(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, make_settings
    ) -> None:
        await register(notifier_client, admin_headers, world.hook_url("slow"), ["kpi.status_changed"])
        world.hook_delay_s["slow"] = 1.5
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker(make_settings(webhook_timeout_s=0.3, max_attempts=1))
        [row] = await ledger(engine)
        assert row.status == "dead"
        [attempt] = await attempts_of(engine, row.id)
        assert attempt.result == "failed_temporary" and attempt.error == "timeout"
        assert attempt.duration_ms < 1200

    async def test_client_error_is_permanent(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine
    ) -> None:
        await register(notifier_client, admin_headers, world.hook_url("bad"), ["kpi.status_changed"])
        world.hook_replies["bad"] = [400]
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker()
        [row] = await ledger(engine)
        assert (row.status, row.attempts, row.reason) == ("failed_permanent", 1, "http_4xx")

    @pytest.mark.parametrize("status", [408, 429])
    async def test_408_and_429_are_retried(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, status
    ) -> None:
        await register(notifier_client, admin_headers, world.hook_url("busy"), ["kpi.status_changed"])
        world.hook_replies["busy"] = [status, 204]
        await enqueue_event(
            arq_pool, make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))
        )
        await run_worker()
        [row] = await ledger(engine)
        assert (row.status, row.attempts) == ("delivered", 2)


class TestEndpointAdmin:
    async def test_crud(self, notifier_client, admin_headers, world) -> None:
        created = await register(notifier_client, admin_headers, world.hook_url("a"), ["member.registered"])
        listed = (await notifier_client.get("/v1/webhook-endpoints", headers=admin_headers)).json()
        assert [e["id"] for e in listed["items"]] == [created["id"]]
        assert "secret" not in listed["items"][0]
        assert listed["items"][0]["secret_hint"] == created["secret"][:10] + "…"
        r = await notifier_client.patch(
            f"/v1/webhook-endpoints/{created['id']}",
            headers=admin_headers,
            json={"event_types": ["invoice.issued", "booking.confirmed"], "description": "billing"},
        )
        assert r.status_code == 200
        assert r.json()["event_types"] == ["booking.confirmed", "invoice.issued"]
        assert r.json()["description"] == "billing"
        assert (
            await notifier_client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=admin_headers)
        ).status_code == 204
        missing = await notifier_client.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin_headers)
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:gunma-sdgs:problem:webhook-endpoint-not-found"

    @pytest.mark.parametrize(
        ("body", "slug"),
        [
            ({"url": "ftp://example.jp/x"}, "validation-error"),
            ({"url": "not a url"}, "validation-error"),
            ({"url": "https://example.jp/x", "event_types": ["no.such"]}, "unknown-event-type"),
            ({"url": "https://example.jp/x", "secret": "whsec_mine"}, "validation-error"),
        ],
    )
    async def test_bad_input_is_422(self, notifier_client, admin_headers, body, slug) -> None:
        r = await notifier_client.post("/v1/webhook-endpoints", headers=admin_headers, json=body)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == f"urn:gunma-sdgs:problem:{slug}"

    async def test_staff_cannot_manage_endpoints(self, notifier_client, staff_headers) -> None:
        r = await notifier_client.post(
            "/v1/webhook-endpoints", headers=staff_headers, json={"url": "https://example.jp/x"}
        )
        assert r.status_code == 403
