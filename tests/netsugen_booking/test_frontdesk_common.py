"""Shared NETSUGEN helpers: cursors, idempotency-key housekeeping, the injectable clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from services.netsugen_booking.frontdesk_common.clock import get_now
from services.netsugen_booking.frontdesk_common.idempotency import purge_expired
from services.netsugen_booking.frontdesk_common.pagination import InvalidCursor, decode_cursor, encode_cursor
from services.netsugen_booking.frontdesk_common.tasks import purge_idempotency_keys
from shared.jst import utcnow
from tests.netsugen_booking.factories import count_rows


class TestCursor:
    def test_round_trip(self) -> None:
        c = encode_cursor("2026-10-05T05:00:00+00:00", "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09")
        assert decode_cursor(c, 2) == ["2026-10-05T05:00:00+00:00", "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09"]

    @pytest.mark.parametrize("bad", ["", "!!!", "bm90IGpzb24", encode_cursor(1, 2, 3), encode_cursor("x")])
    def test_garbage_is_refused(self, bad: str) -> None:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, 2)


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
