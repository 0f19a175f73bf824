"""Shared NETSUGEN helpers: idempotency-key housekeeping, the injectable clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from services.netsugen_booking.frontdesk_common.clock import get_now
from services.netsugen_booking.frontdesk_common.idempotency import purge_expired
from services.netsugen_booking.frontdesk_common.tasks import purge_idempotency_keys
from shared.jst import utcnow
from tests.netsugen_booking.factories import count_rows


class TestClock:
    async def test_default_clock_is_aware_utc(self) -> None:
        now = await get_now()
        assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
        assert abs((utcnow() - now).total_seconds()) < 5


class TestIdempotencyHousekeeping:
    async def test_old_keys_are_purged(self, db, sessionmaker, netsugen_app) -> None:
        for key, age_hours in (("old", 30), ("fresh", 1)):
            await db.execute(
                text(
                    "INSERT INTO netsugen.idempotency_key (id, scope, key, request_hash, response_status, "
                    "response_body, created_at) VALUES (gen_random_uuid(), 's', :k, 'h', 201, '{}', "
                    "now() - make_interval(hours => :age))"
                ),
                {"k": key, "age": age_hours},
            )
        await db.commit()
        assert await purge_expired(db, now=utcnow(), ttl_hours=24) == 1
        await db.commit()
        assert await count_rows(db, "SELECT count(*) FROM netsugen.idempotency_key") == 1
        ctx = {"sessionmaker": sessionmaker, "settings": netsugen_app.state.settings}
        assert await purge_idempotency_keys(ctx) == {"deleted": 0}
