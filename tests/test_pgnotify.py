"""In-process caches invalidated by LISTEN/NOTIFY (shared/pgnotify.py), against the real PostgreSQL.

What must hold: a token changes on every notification of its channel and on every reconnection,
is ``None`` while not listening, and a process sees a change committed by *another* connection
(another replica, the CLI, hand-written SQL) once the notification is delivered.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from shared.db import session_scope
from shared.pgnotify import PgNotifyWatcher, asyncpg_dsn, invalidate_after_commit


async def _wait_for(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


@pytest.fixture
async def watcher(stack):
    w = PgNotifyWatcher(stack.database_url, ["test_channel", "other_channel"], name="test", keepalive_s=0.5)
    w.start()
    assert await w.wait_listening(10)
    yield w
    await w.stop()


async def test_a_notification_changes_only_its_channels_token(watcher, stack) -> None:
    before, other = watcher.token("test_channel"), watcher.token("other_channel")
    assert before is not None and other is not None
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_notify('test_channel', '')")
            await watcher.barrier()
            # Not delivered before commit: an uncommitted change must not invalidate anything.
            assert watcher.token("test_channel") == before
    finally:
        await conn.close()
    await watcher.barrier()
    assert watcher.token("test_channel") != before
    assert watcher.token("other_channel") == other


async def test_rolled_back_notifications_are_never_delivered(watcher, stack) -> None:
    before = watcher.token("test_channel")
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT pg_notify('test_channel', '')")
        await tx.rollback()
    finally:
        await conn.close()
    await watcher.barrier()
    assert watcher.token("test_channel") == before


async def test_a_lost_connection_distrusts_everything_and_reconnects(watcher, stack) -> None:
    before = watcher.token("test_channel")
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        killed = await conn.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'test-listen') t"
        )
        assert killed == 1
    finally:
        await conn.close()
    await _wait_for(lambda: watcher.token("test_channel") != before)
    await _wait_for(lambda: watcher.token("test_channel") is not None)
    after = watcher.token("test_channel")
    assert after is not None and after[0] > before[0]  # a new epoch: nothing from before is trusted


async def test_a_commit_in_this_process_invalidates_at_once(watcher, sessionmaker) -> None:
    before = watcher.token("test_channel")
    async with session_scope(sessionmaker) as session:
        invalidate_after_commit(session, "test_channel")
        assert watcher.token("test_channel") == before  # not before the commit
    assert watcher.token("test_channel") != before


async def test_stopped_watcher_trusts_nothing(stack) -> None:
    w = PgNotifyWatcher(stack.database_url, ["test_channel"], name="stopped")
    w.start()
    assert await w.wait_listening(10)
    assert w.token("test_channel") is not None
    await w.stop()
    assert w.token("test_channel") is None


async def test_an_unreachable_database_means_no_caching() -> None:
    w = PgNotifyWatcher("postgresql+asyncpg://postgres@127.0.0.1:1/none", ["test_channel"], name="nowhere")
    w.start()
    try:
        assert not await w.wait_listening(0.5)
        assert w.token("test_channel") is None
        await w.barrier()  # returns at once: nothing is trusted, so there is nothing to wait for
    finally:
        await w.stop()


class TestKpiRegistryAcrossProcesses:
    """Another replica (here: a raw connection) changes the registry; this process must follow."""

    async def test_a_write_by_another_process_changes_the_etag(self, kpi_client, kpi_app, stack) -> None:
        first = await kpi_client.get("/v1/kpis/ghg-emissions")
        assert (await kpi_client.get("/v1/kpis/ghg-emissions")).headers["etag"] == first.headers["etag"]
        conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
        try:
            await conn.execute(
                "INSERT INTO kpi.registry_version (id, version) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET version = kpi.registry_version.version + 1"
            )
            await conn.execute("UPDATE kpi.indicator SET unit = 'kt-CO2e' WHERE id = 'ghg-emissions'")
            await conn.execute("UPDATE kpi.registry_version SET version = version + 1 WHERE id = 1")
        finally:
            await conn.close()
        try:
            await kpi_app.state.pg_watcher.barrier()
            changed = await kpi_client.get(
                "/v1/kpis/ghg-emissions", headers={"if-none-match": first.headers["etag"]}
            )
            assert changed.status_code == 200
            assert changed.json()["unit"] == "kt-CO2e"
            assert changed.headers["etag"] != first.headers["etag"]
        finally:  # the indicator is reference data, kept between tests: put it back
            conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
            try:
                await conn.execute(
                    "UPDATE kpi.indicator SET unit = $1 WHERE id = 'ghg-emissions'", first.json()["unit"]
                )
                await conn.execute("UPDATE kpi.registry_version SET version = version + 1 WHERE id = 1")
            finally:
                await conn.close()

    async def test_the_fast_path_answers_like_the_route(self, kpi_client, kpi_app, sessionmaker) -> None:
        from services.kpi_api.core.http import bump_version, registry_state

        async with session_scope(sessionmaker) as session:
            await bump_version(session)  # as after `gunma seed`: the version row exists
        await kpi_app.state.pg_watcher.barrier()  # its notification, too, has arrived

        headers = {"accept-language": "en"}
        routed = await kpi_client.get("/v1/kpis?limit=3&aspect=economy", headers=headers)
        hits = registry_state(kpi_app).fast_hits
        fast = await kpi_client.get("/v1/kpis?limit=3&aspect=economy", headers=headers)
        assert registry_state(kpi_app).fast_hits == hits + 1
        assert fast.content == routed.content
        drop = {"x-request-id", "content-length"}
        assert {k: v for k, v in fast.headers.items() if k not in drop} == {
            k: v for k, v in routed.headers.items() if k not in drop
        }
        assert (
            fast.headers["content-language"] == "en" and fast.headers["x-content-type-options"] == "nosniff"
        )
        # Another language, or a query never answered, goes through the route.
        ja = await kpi_client.get("/v1/kpis?limit=3&aspect=economy")
        assert ja.headers["content-language"] == "ja" and ja.headers["etag"] != routed.headers["etag"]
        bad = await kpi_client.get("/v1/kpis?limit=0")
        assert bad.status_code == 422
        assert (await kpi_client.get("/v1/kpis?limit=0")).status_code == 422  # errors are never cached
        # An answer to a request with credentials is never replayed (only public answers are).
        authed = {**headers, "authorization": "Bearer whatever-token-0123456789"}
        hits = registry_state(kpi_app).fast_hits
        await kpi_client.get("/v1/kpis?limit=4", headers=authed)
        await kpi_client.get("/v1/kpis?limit=4", headers=headers)
        assert registry_state(kpi_app).fast_hits == hits
        not_modified = await kpi_client.get(
            "/v1/kpis?limit=3&aspect=economy", headers={**headers, "if-none-match": routed.headers["etag"]}
        )
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified.headers["etag"] == routed.headers["etag"]


async def test_fast_path_answers_carry_cors_headers(stack, clean_db, sessionmaker) -> None:
    """A dashboard on another origin reads through the fast path too: CORS must wrap it."""
    import httpx

    from services.kpi_api.core.http import bump_version, registry_state
    from services.kpi_api.main import create_app
    from services.kpi_api.settings import KpiSettings
    from tests.conftest import settings_overrides

    origin = "https://dash.example.jp"
    app = create_app(KpiSettings(**settings_overrides(stack), cors_origins=[origin]))
    async with session_scope(sessionmaker) as session:
        await bump_version(session)
    async with app.router.lifespan_context(app):
        await app.state.pg_watcher.barrier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kpi") as client:
            first = await client.get("/v1/sdg-goals", headers={"origin": origin})
            second = await client.get("/v1/sdg-goals", headers={"origin": origin})
            third = await client.get("/v1/sdg-goals", headers={"origin": origin})
    assert registry_state(app).fast_hits == 2
    for response in (first, second, third):
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers.get_list("access-control-allow-origin") == [origin]  # not appended twice


class TestNetsugenCachesAcrossProcesses:
    """Opening hours and token principals are cached per process; another process's change wins."""

    async def test_a_closure_written_elsewhere_closes_the_desk(
        self, netsugen_client, netsugen_app, staff_headers, stack
    ) -> None:
        from services.netsugen_booking.frontdesk_common.clock import get_now
        from tests.netsugen_booking.conftest import jst
        from tests.netsugen_booking.factories import check_in, create_member

        now = jst(2026, 10, 14, 14)  # a Wednesday, open 9–21
        netsugen_app.dependency_overrides[get_now] = lambda: now
        try:
            first = await create_member(netsugen_client, staff_headers)
            assert (await check_in(netsugen_client, staff_headers, member_id=first["id"])).status_code == 201
            conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
            try:  # another API process, or an administrator's SQL
                await conn.execute(
                    "INSERT INTO netsugen.calendar_closure (id, start_date, end_date, reason_ja, reason_en, "
                    "created_by) VALUES (gen_random_uuid(), '2026-10-14', '2026-10-14', '停電', 'Power cut', 'sql')"
                )
            finally:
                await conn.close()
            await netsugen_app.state.pg_watcher.barrier()
            second = await create_member(netsugen_client, staff_headers)
            refused = await check_in(netsugen_client, staff_headers, member_id=second["id"])
            assert refused.status_code == 409 and refused.json()["type"].endswith("space-closed")
        finally:
            netsugen_app.dependency_overrides.pop(get_now, None)

    async def test_a_token_revoked_elsewhere_stops_working(
        self, netsugen_client, netsugen_app, make_token, stack
    ) -> None:
        secret = await make_token("staff", name="desk 3")
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await netsugen_client.get("/v1/occupancy", headers=headers)).status_code == 200
        assert (await netsugen_client.get("/v1/occupancy", headers=headers)).status_code == 200  # cached
        conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
        try:
            await conn.execute("UPDATE auth.api_token SET revoked_at = now() WHERE name = 'desk 3'")
        finally:
            await conn.close()
        await netsugen_app.state.pg_watcher.barrier()
        assert (await netsugen_client.get("/v1/occupancy", headers=headers)).status_code == 401

    async def test_a_token_revoked_through_the_api_stops_working_at_once(
        self, netsugen_client, make_token, sessionmaker
    ) -> None:
        from shared.auth import revoke_token

        secret = await make_token("staff", name="desk 4")
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await netsugen_client.get("/v1/occupancy", headers=headers)).status_code == 200
        async with session_scope(sessionmaker) as session:
            token_id = (
                await session.execute(text("SELECT id FROM auth.api_token WHERE name = 'desk 4'"))
            ).scalar_one()
            assert await revoke_token(session, token_id)
        # No barrier: the committing process invalidates its own caches after commit.
        assert (await netsugen_client.get("/v1/occupancy", headers=headers)).status_code == 401


async def test_a_price_written_elsewhere_reaches_the_cached_price_table(
    netsugen_app, clean_db, sessionmaker, stack
):
    """The daily-cap check reads the price table from memory; a new price row must replace it."""
    from datetime import date

    from services.netsugen_booking.billing.repository import cached_price_table
    from services.netsugen_booking.settings import NetsugenSettings

    settings = NetsugenSettings(database_url=stack.database_url, redis_url=stack.redis_url)
    async with session_scope(sessionmaker) as session:
        first = await cached_price_table(session, settings)
        assert await cached_price_table(session, settings) is first  # from memory
    day = date(2099, 4, 1)
    conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
    try:
        await conn.execute(
            "INSERT INTO netsugen.plan_price (plan_code, effective_from, monthly_fee_yen, block_minutes, "
            "block_price_yen, daily_cap_yen, grace_minutes) VALUES ('dropin', $1, NULL, 60, 300, 1200, 0)",
            day,
        )
        await netsugen_app.state.pg_watcher.barrier()
        async with session_scope(sessionmaker) as session:
            second = await cached_price_table(session, settings)
        assert second is not first
        assert second.row_for("dropin", day).daily_cap_yen == 1200
    finally:  # plan prices are reference data, kept between tests
        await conn.execute("DELETE FROM netsugen.plan_price WHERE effective_from = $1", day)
        await conn.close()
        await netsugen_app.state.pg_watcher.barrier()


def test_the_fast_path_index_is_bounded() -> None:
    from services.kpi_api.core import http

    state = http.RegistryState()
    body = b"x" * (1024 * 1024)
    for i in range(200):  # 200 distinct 1 MB answers: far beyond the byte bound
        entry = http._Fast(etag=f'"{i}"', body=body, headers_200=[], headers_304=[], route=None)
        state.remember((1, 1), ("ja", b"/v1/kpis", f"q={i}".encode()), entry)
        assert state.fast_bytes <= http.FAST_BYTES and len(state.fast) <= http.FAST_ENTRIES
    assert state.lookup((1, 1), ("ja", b"/v1/kpis", b"q=199")) is not None
    assert state.lookup((1, 2), ("ja", b"/v1/kpis", b"q=199")) is None  # another version: nothing


class TestNotifiedCache:
    """The one cache class: trusted only under the token it was stored with, bounded, nothing while down."""

    async def test_entry_lives_until_its_channel_is_notified(self, watcher, stack) -> None:
        from shared.pgnotify import NotifiedCache

        cache: NotifiedCache[str, str] = NotifiedCache("test_channel", max_size=10)
        token = watcher.token("test_channel")
        cache.put("k", token, "v")
        assert cache.get("k", watcher.token("test_channel")) == "v"
        conn = await asyncpg.connect(asyncpg_dsn(stack.database_url))
        try:
            await conn.execute("SELECT pg_notify('test_channel', '')")
        finally:
            await conn.close()
        await _wait_for(lambda: watcher.token("test_channel") != token)
        assert cache.get("k", watcher.token("test_channel")) is None

    async def test_nothing_is_stored_or_trusted_while_not_listening(self, watcher) -> None:
        from shared.pgnotify import NotifiedCache

        cache: NotifiedCache[str, str] = NotifiedCache("test_channel", max_size=10)
        cache.put("k", None, "v")
        assert len(cache) == 0
        token = watcher.token("test_channel")
        cache.put("k", token, "v")
        await watcher.stop()
        assert watcher.token("test_channel") is None and cache.get("k", None) is None

    def test_bounded_and_expiring(self) -> None:
        from datetime import UTC, datetime, timedelta

        from shared.pgnotify import NotifiedCache

        cache: NotifiedCache[int, str] = NotifiedCache("test_channel", max_size=3)
        for n in range(3):
            cache.put(n, (1, 1), str(n))
        cache.put(1, (1, 1), "again")  # replacing a held key keeps the others
        assert len(cache) == 3 and cache.get(0, (1, 1)) == "0"
        cache.put(3, (1, 1), "3")  # full: starts afresh
        assert len(cache) == 1 and cache.get(0, (1, 1)) is None and cache.get(3, (1, 1)) == "3"
        now = datetime(2026, 12, 3, tzinfo=UTC)
        cache.put(9, (1, 1), "soon", expires_at=now + timedelta(seconds=1))
        assert cache.get(9, (1, 1), now=now) == "soon"
        assert cache.get(9, (1, 1), now=now + timedelta(seconds=1)) is None
        assert cache.get(3, (1, 2)) is None  # another token
