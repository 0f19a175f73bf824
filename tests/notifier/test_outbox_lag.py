"""Outbox lag as an operator reads it: the age of the oldest unrelayed event, not only a count."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy import text

from shared.events import MemberRegistered


def _sample(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": "netsugen_booking"})


async def test_oldest_pending_age_is_reported_then_cleared(emit_event, relay, engine) -> None:
    await emit_event(MemberRegistered(member_id="00000000-0000-0000-0000-000000000001"))
    await emit_event(MemberRegistered(member_id="00000000-0000-0000-0000-000000000002"))
    async with engine.begin() as conn:
        # One event has waited 45 s (the relay was down, say); the other is fresh.
        await conn.execute(
            text(
                "UPDATE netsugen.outbox SET created_at = now() - interval '45 seconds' "
                "WHERE id = (SELECT id FROM netsugen.outbox ORDER BY created_at LIMIT 1)"
            )
        )
    assert await relay.relay_once() == 2
    age = _sample("outbox_oldest_pending_age_seconds")
    assert age is not None and 45 <= age < 60
    assert _sample("outbox_pending_events") == 2
    assert await relay.relay_once() == 0
    assert _sample("outbox_oldest_pending_age_seconds") == 0
    assert _sample("outbox_pending_events") == 0


async def test_metrics_and_readyz_are_documented_as_what_they_return(kpi_client) -> None:
    spec = (await kpi_client.get("/openapi.json")).json()
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain; version=0.0.4; charset=utf-8"]
    ready = spec["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert ready["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/ProblemDetail"}
    response = await kpi_client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
