"""The ledger API (filters, cursors, attempts, roles), POST /v1/notifications and the OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.notifier.db import outbox as notifier_outbox
from shared.events import InvoiceIssued, MemberRegistered, VisitCheckedIn, make_event
from shared.jst import now_jst
from shared.outbox import OutboxRelay
from tests.conftest import bearer
from tests.notifier.conftest import enqueue_event, execute, ledger


@pytest.fixture
async def five_deliveries(world, arq_pool, run_worker, smtp) -> dict[str, uuid.UUID]:
    """Five deliveries: three welcome mails (one to a member who left), two check-ins."""
    members = {name: world.add_member() for name in ("a", "b", "c", "d")}
    world.gone.add(str(members["c"]))
    for name in ("a", "b", "c"):
        await enqueue_event(arq_pool, make_event(MemberRegistered(member_id=members[name])))
    await enqueue_event(arq_pool, make_event(VisitCheckedIn(member_id=members["a"], visit_id=uuid.uuid4())))
    await enqueue_event(arq_pool, make_event(VisitCheckedIn(member_id=members["d"], visit_id=uuid.uuid4())))
    await run_worker(max_jobs=1)
    return members


class TestDeliveriesApi:
    async def test_filters(self, notifier_client, staff_headers, five_deliveries) -> None:
        async def ids(query: str) -> list[str]:
            r = await notifier_client.get(f"/v1/deliveries{query}", headers=staff_headers)
            assert r.status_code == 200, r.text
            return [d["event_type"] + "/" + d["status"] for d in r.json()["items"]]

        assert len(await ids("")) == 5
        assert sorted(await ids("?status=failed_permanent")) == ["member.registered/failed_permanent"]
        assert sorted(await ids("?event_type=visit.checked_in")) == ["visit.checked_in/delivered"] * 2
        a = five_deliveries["a"]
        assert sorted(await ids(f"?recipient=member:{a}")) == [
            "member.registered/delivered",
            "visit.checked_in/delivered",
        ]
        assert len(await ids("?channel=email")) == 5 and await ids("?channel=webhook") == []
        today = now_jst().date().isoformat()
        assert len(await ids(f"?from={today}T00:00:00")) == 5  # no offset: JST
        assert await ids(f"?to={today}T00:00:00%2B09:00") == []
        later = (now_jst() + timedelta(hours=1)).isoformat()
        assert await ids("?from=" + later.replace("+", "%2B")) == []

    async def test_cursor_pagination_newest_first(
        self, notifier_client, staff_headers, five_deliveries, engine
    ) -> None:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
            body = (await notifier_client.get(f"/v1/deliveries{query}", headers=staff_headers)).json()
            seen += [d["id"] for d in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        rows = await ledger(engine)
        expected = [str(r.id) for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]
        assert seen == expected

    async def test_detail_with_attempts(
        self, notifier_client, staff_headers, five_deliveries, engine
    ) -> None:
        [gone] = await ledger(engine, "status = 'failed_permanent'")
        r = await notifier_client.get(f"/v1/deliveries/{gone.id}", headers=staff_headers)
        body = r.json()
        assert body["status"] == "failed_permanent"
        assert body["reason"] == f"the member has left or was anonymized ({five_deliveries['c']})"
        assert body["attempt_count"] == 1
        assert [(a["number"], a["result"], a["status_code"]) for a in body["attempts"]] == [
            (1, "failed_permanent", 410)
        ]

    async def test_errors_and_roles(self, notifier_client, staff_headers, admin_headers, make_token) -> None:
        missing = await notifier_client.get(f"/v1/deliveries/{uuid.uuid4()}", headers=staff_headers)
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:gunma-sdgs:problem:delivery-not-found"
        bad_cursor = await notifier_client.get(
            "/v1/deliveries?cursor=bm90LWEtY3Vyc29y", headers=staff_headers
        )
        assert bad_cursor.status_code == 422
        assert bad_cursor.json()["type"] == "urn:gunma-sdgs:problem:invalid-cursor"
        assert (
            await notifier_client.get("/v1/deliveries?status=lost", headers=staff_headers)
        ).status_code == 422
        assert (await notifier_client.get("/v1/deliveries?limit=0", headers=staff_headers)).status_code == 422
        assert (
            await notifier_client.get("/v1/deliveries/not-a-uuid", headers=staff_headers)
        ).status_code == 422
        member = bearer(await make_token("member", subject=str(uuid.uuid4())))
        assert (await notifier_client.get("/v1/deliveries", headers=member)).status_code == 403
        retry = await notifier_client.post(f"/v1/deliveries/{uuid.uuid4()}/retry", headers=staff_headers)
        assert retry.status_code == 403
        retry = await notifier_client.post(f"/v1/deliveries/{uuid.uuid4()}/retry", headers=admin_headers)
        assert retry.status_code == 404


class TestNotificationsApi:
    async def test_submitted_event_is_delivered_once(
        self, notifier_client, service_headers, world, engine, arq_pool, run_worker, smtp
    ) -> None:
        member_id = world.add_member(name="Ann Lee", language="en")
        body = {
            "id": str(uuid.uuid4()),
            "type": "invoice.issued",
            "source": "netsugen_booking",
            "occurred_at": "2026-11-29T10:00:00+09:00",
            "data": {"member_id": str(member_id), "invoice_id": str(uuid.uuid4())},
        }
        r = await notifier_client.post("/v1/notifications", headers=service_headers, json=body)
        assert r.status_code == 202, r.text
        assert r.json() == {"event_id": body["id"], "status": "accepted"}
        again = await notifier_client.post("/v1/notifications", headers=service_headers, json=body)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"

        # The notifier's own relay (off in tests) moves it to the queue like any outbox row.
        notifier_relay = OutboxRelay(service="notifier", engine=engine, table=notifier_outbox, redis=arq_pool)
        assert await notifier_relay.relay_once() == 1
        await run_worker()
        [mail] = smtp.messages
        assert mail.subject == "[NETSUGEN] Your invoice has been issued"
        [row] = await ledger(engine)
        assert str(row.event_id) == body["id"] and row.status == "delivered"
        # Once received, the same id is still a duplicate (the inbox answers now).
        await execute(engine, "DELETE FROM notifier.outbox")
        third = await notifier_client.post("/v1/notifications", headers=service_headers, json=body)
        assert third.json()["status"] == "duplicate"

    async def test_event_already_received_from_the_queue_is_a_duplicate(
        self, notifier_client, admin_headers, world, arq_pool, run_worker
    ) -> None:
        event = make_event(MemberRegistered(member_id=world.add_member()))
        await enqueue_event(arq_pool, event)
        await run_worker()
        r = await notifier_client.post(
            "/v1/notifications", headers=admin_headers, json=event.model_dump(mode="json")
        )
        assert r.status_code == 200 and r.json()["status"] == "duplicate"

    @pytest.mark.parametrize(
        ("change", "slug"),
        [
            ({"type": "no.such"}, "unknown-event-type"),
            ({"source": "kpi_api"}, "invalid-event-data"),
            ({"data": {"member_id": "not-a-uuid"}}, "invalid-event-data"),
            ({"data": {"member_id": str(uuid.uuid4()), "email": "x@example.jp"}}, "invalid-event-data"),
            ({"occurred_at": "2026-11-29T10:00:00"}, "invalid-event-data"),
            ({"colour": "red"}, "validation-error"),
            ({"source": "elsewhere"}, "validation-error"),
        ],
    )
    async def test_bad_events_are_422(self, notifier_client, service_headers, change, slug) -> None:
        body = {
            "type": "member.registered",
            "source": "netsugen_booking",
            "data": {"member_id": str(uuid.uuid4())},
        }
        r = await notifier_client.post("/v1/notifications", headers=service_headers, json={**body, **change})
        assert r.status_code == 422, r.text
        assert r.json()["type"] == f"urn:gunma-sdgs:problem:{slug}"

    async def test_roles(self, notifier_client, staff_headers) -> None:
        body = {
            "type": "member.registered",
            "source": "netsugen_booking",
            "data": {"member_id": str(uuid.uuid4())},
        }
        assert (
            await notifier_client.post("/v1/notifications", headers=staff_headers, json=body)
        ).status_code == 403
        assert (await notifier_client.post("/v1/notifications", json=body)).status_code == 401


class TestOpenApi:
    async def test_every_operation_is_documented(self, notifier_app) -> None:
        schema = notifier_app.openapi()
        for path, operations in schema["paths"].items():
            if not path.startswith("/v1/"):
                continue
            for method, op in operations.items():
                assert op.get("summary"), f"{method} {path} has no summary"
                assert op.get("description"), f"{method} {path} has no description"
                assert "422" in op["responses"], f"{method} {path}"
        assert {"404", "409"} <= set(
            schema["paths"]["/v1/deliveries/{delivery_id}/retry"]["post"]["responses"]
        )
        examples = schema["components"]["schemas"]["NotificationIn"].get("examples")
        assert examples and examples[0]["type"] == "member.registered"


async def test_invoice_event_data_keeps_ids_only() -> None:
    event = make_event(InvoiceIssued(member_id=uuid.uuid4(), invoice_id=uuid.uuid4()))
    assert set(event.data) == {"member_id", "invoice_id"}
