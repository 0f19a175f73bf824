"""Retention: sent outbox rows and the notifier's finished ledger are purged; nothing in flight is."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.netsugen_booking.db import outbox as netsugen_outbox
from services.notifier.retention.tasks import purge_ledger
from shared.outbox import OutboxRelay, purge_sent


async def _scalar(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def _add_outbox(engine: AsyncEngine, *, sent_days_ago: int | None, created_days_ago: int) -> uuid.UUID:
    row_id = uuid.uuid4()
    sent = "NULL" if sent_days_ago is None else f"now() - interval '{sent_days_ago} days'"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO netsugen.outbox (id, event_type, payload, created_at, sent_at) "
                f"VALUES (:id, 'member.registered', '{{}}', now() - interval '{created_days_ago} days', {sent})"
            ),
            {"id": row_id},
        )
    return row_id


async def test_sent_outbox_rows_past_retention_are_purged(engine, clean_db) -> None:
    old_sent = await _add_outbox(engine, sent_days_ago=40, created_days_ago=40)
    recent = await _add_outbox(engine, sent_days_ago=2, created_days_ago=2)
    never_sent = await _add_outbox(engine, sent_days_ago=None, created_days_ago=100)
    assert await purge_sent(engine, netsugen_outbox, timedelta(days=30), batch=1) == 1
    async with engine.connect() as conn:
        left = {r[0] for r in await conn.execute(text("SELECT id FROM netsugen.outbox"))}
    assert left == {recent, never_sent} and old_sent not in left


async def test_the_relay_purges_when_due_and_not_more_often(engine, clean_db, redis_client) -> None:
    relay = OutboxRelay(
        service="netsugen_booking",
        engine=engine,
        table=netsugen_outbox,
        redis=None,  # type: ignore[arg-type]
        retention=timedelta(days=30),
    )
    await _add_outbox(engine, sent_days_ago=31, created_days_ago=31)
    await relay._purge_when_due()
    assert await _scalar(engine, "SELECT count(*) FROM netsugen.outbox") == 0
    await _add_outbox(engine, sent_days_ago=31, created_days_ago=31)
    await relay._purge_when_due()  # within the hour: not again
    assert await _scalar(engine, "SELECT count(*) FROM netsugen.outbox") == 1


async def _add_delivery(engine: AsyncEngine, *, status: str, days_ago: int, inbox_days_ago: int) -> uuid.UUID:
    inbox_id, delivery_id, event_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    delivered = "now()" if status == "delivered" else "NULL"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO notifier.inbox (id, source, event_id, event_type, schema_version, occurred_at, data, "
                "received_at) VALUES (:i, 'queue', :e, 'member.registered', 1, now(), '{}', "
                f"now() - interval '{inbox_days_ago} days')"
            ),
            {"i": inbox_id, "e": event_id},
        )
        await conn.execute(
            text(
                "INSERT INTO notifier.delivery (id, inbox_id, event_id, event_type, category, channel, recipient, "
                f"status, attempts, delivered_at, created_at) VALUES (:d, :i, :e, 'member.registered', 'account', "
                f"'email', 'member:x', :s, 1, {delivered}, now() - interval '{days_ago} days')"
            ),
            {"d": delivery_id, "i": inbox_id, "e": event_id, "s": status},
        )
        await conn.execute(
            text(
                "INSERT INTO notifier.delivery_attempt (delivery_id, number, started_at, result) "
                "VALUES (:d, 1, now(), 'failed_temporary')"
            ),
            {"d": delivery_id},
        )
    return delivery_id


async def test_finished_ledger_past_retention_is_purged_in_flight_never(engine, clean_db) -> None:
    old_done = await _add_delivery(engine, status="delivered", days_ago=500, inbox_days_ago=500)
    old_dead = await _add_delivery(engine, status="dead", days_ago=500, inbox_days_ago=500)
    old_queued = await _add_delivery(engine, status="queued", days_ago=500, inbox_days_ago=500)
    recent = await _add_delivery(engine, status="delivered", days_ago=10, inbox_days_ago=10)
    counts = await purge_ledger(engine, 400, batch=1)
    assert counts["deliveries"] == 2 and counts["inbox"] == 2
    async with engine.connect() as conn:
        left = {r[0] for r in await conn.execute(text("SELECT id FROM notifier.delivery"))}
        attempts = {
            r[0] for r in await conn.execute(text("SELECT delivery_id FROM notifier.delivery_attempt"))
        }
    assert left == {old_queued, recent}
    assert attempts == {old_queued, recent}  # the purged deliveries' attempts went with them
    assert old_done not in left and old_dead not in left
    assert await _scalar(engine, "SELECT count(*) FROM notifier.inbox") == 2
    # Idempotent: a second run (another worker) finds nothing more.
    assert await purge_ledger(engine, 400) == {"deliveries": 0, "inbox": 0, "reconcile_runs": 0}
