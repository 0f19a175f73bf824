"""Several replicas, proven: two copies of each API and two notifier workers on one PostgreSQL and one
Redis, exercised through both copies at once (how `deploy/k8s/` runs the platform).

What must hold whichever copy a request reaches:
- the races are decided by the database: capacity is never exceeded, one open visit per person,
  one booking per slot, event seats and waitlist positions unique;
- the in-process caches (tokens, opening calendar, KPI registry version) are invalidated in every
  copy by LISTEN/NOTIFY within a second of a change made through the other;
- the per-token check-in rate limit is one limit shared by the copies (Redis), not one per process;
- every event is delivered exactly once although two relays and two workers compete for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from sqlalchemy import make_url

from gunma.platform import uvicorn_argv
from services.netsugen_booking.resources.seed import resource_id
from tests.faults.conftest import (
    ADMIN,
    ROOT,
    PrivateStack,
    ServiceProcess,
    create_members,
    free_port,
    netsugen_process,
    service_env,
    set_clock,
)
from tests.netsugen_booking.conftest import jst

pytestmark = pytest.mark.system

CAPACITY = 5
CHECKIN_LIMIT = 20
SERVICE_SECRET = "replicas-service-token-" + secrets.token_hex(16)
ROOM_A = str(resource_id("meeting-room-a"))
EVENT_SPACE = str(resource_id("event-space"))


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


async def _sql(stack: PrivateStack, sql: str, *args: Any) -> Any:
    dsn = make_url(stack.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


class Platform:
    """Two copies of each API, two notifier workers, one SMTP sink."""

    def __init__(self, stack: PrivateStack, log_dir: Path) -> None:
        self.stack, self.log_dir = stack, log_dir
        self.mailbox = Mailbox()
        self.smtp = Controller(self.mailbox, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
        self.clock_file = log_dir / "clock"
        self.netsugen: list[ServiceProcess] = []
        self.kpi: list[ServiceProcess] = []
        self.notifier: list[ServiceProcess] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self) -> Platform:
        self.smtp.start()
        set_clock(self.clock_file, jst(2026, 10, 7, 15, 0))  # a Wednesday afternoon, open
        netsugen_ports = [free_port(), free_port()]
        common = {
            "NETSUGEN_CAPACITY": str(CAPACITY),
            "CHECKIN_RATE_LIMIT_PER_MINUTE": str(CHECKIN_LIMIT),
            "OUTBOX_RELAY_ENABLED": "true",
            "SERVICE_TOKEN": SERVICE_SECRET,
            "NETSUGEN_URL": f"http://127.0.0.1:{netsugen_ports[0]}",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "QUIET_HOURS_ENABLED": "false",
            "WORKER_POLL_DELAY_S": "0.05",
            "WORKER_METRICS_PORT": "0",
        }
        env = service_env(self.stack.database_url, self.stack.redis_url, **common)
        for i, port in enumerate(netsugen_ports):
            proc = netsugen_process(env, self.log_dir, clock_file=self.clock_file, name=f"netsugen-{i}")
            proc.argv[proc.argv.index("--port") + 1] = str(port)
            proc.port = port
            self.netsugen.append(proc)
        for i in range(2):
            self.kpi.append(
                ServiceProcess(
                    f"kpi-{i}",
                    uvicorn_argv("kpi_api", free_port(), "127.0.0.1"),
                    env,
                    self.log_dir / f"kpi-{i}.log",
                )
            )
            self.notifier.append(
                ServiceProcess(
                    f"notifier-{i}",
                    uvicorn_argv("notifier", free_port(), "127.0.0.1"),
                    env,
                    self.log_dir / f"notifier-{i}.log",
                )
            )
        for proc in [*self.netsugen, *self.kpi, *self.notifier]:
            proc.start()
        for i in range(2):
            log = (self.log_dir / f"worker-{i}.log").open("ab")
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.notifier.worker"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return self

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
        for proc in [*self.netsugen, *self.kpi, *self.notifier]:
            proc.stop()
        self.smtp.stop()


@pytest.fixture(scope="module")
def platform(private_stack: PrivateStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    digest = hashlib.sha256(SERVICE_SECRET.encode()).hexdigest()

    async def fresh_state() -> None:
        # The private stack is shared by the fault tests: start from no rate-limit counters and an
        # empty space (earlier modules check in with the same admin token).
        redis = aioredis.from_url(private_stack.redis_url)
        try:
            await redis.flushdb()
        finally:
            await redis.aclose()
        await _sql(private_stack, "UPDATE netsugen.visit SET check_out_at = check_in_at + interval '1 minute' "
                   "WHERE check_out_at IS NULL")  # fmt: skip

    asyncio.run(fresh_state())
    asyncio.run(
        _sql(
            private_stack,
            "INSERT INTO auth.api_token (id, name, role, token_hash, display_prefix) "
            "VALUES (gen_random_uuid(), 'replicas service', 'service', $1, 'replicas') ON CONFLICT DO NOTHING",
            digest,
        )
    )
    log_dir = tmp_path_factory.mktemp("replicas")
    running = Platform(private_stack, log_dir)
    try:
        yield running.start()
    finally:
        running.stop()
        for log in sorted(log_dir.glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"---- {log.name} ----\n{text[-3000:]}")


def _clients(procs: list[ServiceProcess]) -> list[httpx.AsyncClient]:
    return [httpx.AsyncClient(base_url=p.url, timeout=30) for p in procs]


async def _close(clients: list[httpx.AsyncClient]) -> None:
    for c in clients:
        await c.aclose()


async def test_capacity_and_one_open_visit_hold_across_copies(platform: Platform) -> None:
    a, b = _clients(platform.netsugen)
    try:
        members = await create_members(a, 12, "replica-cap")
        # The same person at both copies at once: one visit.
        same = members[0]["id"]
        twice = await asyncio.gather(
            a.post("/v1/visits", json={"member_id": same}, headers=ADMIN),
            b.post("/v1/visits", json={"member_id": same}, headers=ADMIN),
        )
        assert sorted(r.status_code for r in twice) == [201, 409], [r.text for r in twice]
        # Eleven more people, alternating copies: the space takes CAPACITY in all.
        answers = await asyncio.gather(
            *(
                (a if i % 2 else b).post("/v1/visits", json={"member_id": m["id"]}, headers=ADMIN)
                for i, m in enumerate(members[1:])
            )
        )
        codes = Counter(r.status_code for r in answers)
        assert codes == {201: CAPACITY - 1, 409: 12 - CAPACITY}, [r.text[:200] for r in answers]
        assert {r.json()["type"].rsplit(":", 1)[-1] for r in answers if r.status_code == 409} == {
            "space-full"
        }
        [row] = await _sql(
            platform.stack, "SELECT count(*) AS n FROM netsugen.visit WHERE check_out_at IS NULL"
        )
        assert row["n"] == CAPACITY
        # Leave the space empty for the other tests.
        open_ids = await _sql(platform.stack, "SELECT id FROM netsugen.visit WHERE check_out_at IS NULL")
        for i, r in enumerate(open_ids):
            out = await (a if i % 2 else b).post(f"/v1/visits/{r['id']}/check-out", headers=ADMIN)
            assert out.status_code == 200, out.text
    finally:
        await _close([a, b])


async def test_one_booking_per_slot_and_unique_event_seats_across_copies(platform: Platform) -> None:
    a, b = _clients(platform.netsugen)
    try:
        members = await create_members(a, 10, "replica-book")
        slot = {
            "resource_id": ROOM_A,
            "start": "2026-10-08T13:00:00+09:00",
            "end": "2026-10-08T14:00:00+09:00",
        }
        answers = await asyncio.gather(
            *(
                (a if i % 2 else b).post("/v1/bookings", json={**slot, "member_id": m["id"]}, headers=ADMIN)
                for i, m in enumerate(members)
            )
        )
        assert Counter(r.status_code for r in answers) == {201: 1, 409: 9}, [r.text[:200] for r in answers]

        event = await a.post(
            "/v1/programs",
            json={
                "title_ja": "複製テスト",
                "title_en": "Replica test",
                "description_ja": "説明",
                "description_en": "About",
                "category": "startup_program",
                "resource_id": EVENT_SPACE,
                "start": "2026-10-20T18:00:00+09:00",
                "end": "2026-10-20T20:00:00+09:00",
                "capacity": 1,
                "registration_closes_at": "2026-10-20T12:00:00+09:00",
            },
            headers=ADMIN,
        )
        assert event.status_code == 201, event.text
        url = f"/v1/programs/{event.json()['id']}/registrations"
        regs = await asyncio.gather(
            *(
                (a if i % 2 else b).post(url, json={"member_id": m["id"]}, headers=ADMIN)
                for i, m in enumerate(members)
            )
        )
        assert all(r.status_code == 201 for r in regs), [r.text[:200] for r in regs]
        statuses = Counter(r.json()["status"] for r in regs)
        assert statuses == {"confirmed": 1, "waitlisted": 9}
        positions = sorted(r.json()["waitlist_position"] for r in regs if r.json()["status"] == "waitlisted")
        assert positions == list(range(1, 10))
    finally:
        await _close([a, b])


async def _until(check: Any, timeout: float = 1.0) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout``)."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.02)


async def test_caches_are_invalidated_in_every_copy_within_a_second(platform: Platform) -> None:
    a, b = _clients(platform.netsugen)
    ka, kb = _clients(platform.kpi)
    try:
        # A token both copies have cached, revoked in the database: both refuse it within a second.
        secret = "replica-token-" + secrets.token_hex(16)
        await _sql(
            platform.stack,
            "INSERT INTO auth.api_token (id, name, role, token_hash, display_prefix) "
            "VALUES (gen_random_uuid(), 'replica staff', 'staff', $1, 'replica')",
            hashlib.sha256(secret.encode()).hexdigest(),
        )
        headers = {"Authorization": f"Bearer {secret}"}
        for client in (a, b, ka, kb):
            assert (await client.get("/v1/occupancy", headers=headers)).status_code in (200, 404)
        await _sql(
            platform.stack,
            "UPDATE auth.api_token SET revoked_at = now() WHERE token_hash = $1",
            hashlib.sha256(secret.encode()).hexdigest(),
        )
        for client in (a, b):

            async def refused(client: httpx.AsyncClient = client) -> bool:
                return (await client.get("/v1/occupancy", headers=headers)).status_code == 401

            await _until(refused)

        # A closure made through copy A closes the desk at copy B.
        assert (await b.get("/v1/occupancy", headers=ADMIN)).json()["open_now"] is True
        closure = await a.post(
            "/v1/calendar/closures",
            json={
                "start_date": "2026-10-07",
                "end_date": "2026-10-07",
                "reason_ja": "臨時休館",
                "reason_en": "Closed today",
            },
            headers=ADMIN,
        )
        assert closure.status_code == 201, closure.text

        async def closed_at_b() -> bool:
            r = await b.get("/v1/occupancy", headers=ADMIN)  # today's hours come from B's cache
            assert r.status_code == 200, r.text
            return r.json()["open_now"] is False

        await _until(closed_at_b)
        assert (
            await a.delete(f"/v1/calendar/closures/{closure.json()['id']}", headers=ADMIN)
        ).status_code == 204

        # The KPI registry: a change through copy A gives copy B a new ETag within a second.
        listing = await kb.get("/v1/kpis", params={"limit": 1})
        etag, kpi_id = listing.headers["etag"], listing.json()["items"][0]["id"]
        changed = await ka.patch(f"/v1/kpis/{kpi_id}", json={"source": "群馬県 複製テスト"}, headers=ADMIN)
        assert changed.status_code == 200, changed.text

        async def new_etag_at_b() -> bool:
            return (await kb.get("/v1/kpis", params={"limit": 1})).headers["etag"] != etag

        await _until(new_etag_at_b)
    finally:
        await _close([a, b, ka, kb])


async def test_the_check_in_rate_limit_is_shared_by_the_copies(platform: Platform) -> None:
    a, b = _clients(platform.netsugen)
    try:
        secret = "replica-desk-" + secrets.token_hex(16)
        await _sql(
            platform.stack,
            "INSERT INTO auth.api_token (id, name, role, token_hash, display_prefix) "
            "VALUES (gen_random_uuid(), 'replica desk', 'staff', $1, 'replica')",
            hashlib.sha256(secret.encode()).hexdigest(),
        )
        desk = {"Authorization": f"Bearer {secret}"}
        [member] = await create_members(a, 1, "replica-limit")
        codes = []
        for i in range(2 * CHECKIN_LIMIT):  # in and out again, alternating copies
            client = a if i % 2 else b
            r = await client.post("/v1/visits", json={"member_id": member["id"]}, headers=desk)
            codes.append(r.status_code)
            if r.status_code == 201:
                out = await client.post(f"/v1/visits/{r.json()['id']}/check-out", headers=ADMIN)
                assert out.status_code == 200, out.text
        # One shared limit: CHECKIN_LIMIT check-ins in all, not CHECKIN_LIMIT at each copy.
        assert Counter(codes) == {201: CHECKIN_LIMIT, 429: CHECKIN_LIMIT}, Counter(codes)
    finally:
        await _close([a, b])


async def test_every_event_is_delivered_exactly_once(platform: Platform) -> None:
    a, b = _clients(platform.netsugen)
    try:
        before = len(platform.mailbox.messages)
        members = await create_members(a, 20, "replica-mail")
        members += await create_members(b, 20, "replica-mail-b")
        emails = {m["email"].lower() for m in members}

        def received_by() -> set[str]:
            return {r.lower() for rcpts, _ in platform.mailbox.messages[before:] for r in rcpts}

        async def all_delivered() -> bool:
            return emails <= received_by()

        await _until(all_delivered, timeout=60)
        await asyncio.sleep(2)  # a duplicate, if any, would arrive now
        received = Counter(
            rcpt.lower()
            for rcpts, _ in platform.mailbox.messages[before:]
            for rcpt in rcpts
            if rcpt.lower() in emails
        )
        assert set(received) == emails
        assert set(received.values()) == {1}, {k: v for k, v in received.items() if v != 1}
        rows = await _sql(
            platform.stack,
            "SELECT event_id, recipient, count(*) AS n FROM notifier.delivery WHERE channel = 'email' "
            "GROUP BY event_id, recipient HAVING count(*) > 1",
        )
        assert rows == []
    finally:
        await _close([a, b])
