"""PostgreSQL restarts in the middle of a check-in load, with netsugen_booking as a real process.

- While the database is down, requests get 503 problem responses with ``Retry-After`` (no 500, and
  nothing waits longer than the client's timeout);
- the service recovers by itself, without a restart;
- every check-in that got a 2xx exists afterwards, and a client retrying its 503s with the same
  ``Idempotency-Key`` ends with exactly one visit per member.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import (
    ADMIN,
    PrivateStack,
    create_members,
    netsugen_process,
    service_env,
    set_clock,
)
from tests.netsugen_booking.conftest import jst

pytestmark = pytest.mark.system

MEMBERS = 90
CONCURRENCY = 6
CLIENT_TIMEOUT_S = 20.0


@dataclass
class Attempt:
    member_id: str
    key: str
    status: int
    seconds: float
    body: dict[str, object]
    retry_after: str | None
    content_type: str
    phase: str


async def test_postgres_restart_during_check_in_load(private_stack: PrivateStack, log_dir: Path) -> None:
    clock_file = log_dir / "clock"
    set_clock(clock_file, jst(2026, 10, 6, 11, 0))  # a Tuesday morning: open
    service = netsugen_process(
        service_env(private_stack.database_url, private_stack.redis_url), log_dir, clock_file=clock_file
    ).start()
    phase = "before"
    attempts: list[Attempt] = []
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=CLIENT_TIMEOUT_S) as client:
            members = await create_members(client, MEMBERS, "pgrestart")
            keys = {m["id"]: str(uuid.uuid4()) for m in members}
            queue: asyncio.Queue[str] = asyncio.Queue()
            for m in members:
                queue.put_nowait(m["id"])

            async def check_in(member_id: str) -> Attempt:
                started = time.monotonic()
                r = await client.post(
                    "/v1/visits",
                    json={"member_id": member_id},
                    headers={**ADMIN, "Idempotency-Key": keys[member_id]},
                )
                return Attempt(
                    member_id,
                    keys[member_id],
                    r.status_code,
                    time.monotonic() - started,
                    r.json() if r.content else {},
                    r.headers.get("retry-after"),
                    r.headers.get("content-type", ""),
                    phase,
                )

            async def worker() -> None:
                while not queue.empty():
                    member_id = queue.get_nowait()
                    attempts.append(await check_in(member_id))
                    # A well-behaved kiosk backs off while the service answers 503.
                    await asyncio.sleep(1.0 if phase in ("down", "restarting") else 0.02)

            async def fault() -> list[int]:
                nonlocal phase
                while len(attempts) < MEMBERS // 4:  # a quarter in: pull the plug
                    await asyncio.sleep(0.01)
                phase = "down"
                await asyncio.to_thread(private_stack.stop_postgres)
                ready_while_down = [(await client.get("/readyz")).status_code for _ in range(2)]
                await asyncio.sleep(3.0)
                phase = "restarting"
                await asyncio.to_thread(private_stack.start_postgres)
                phase = "after"
                return ready_while_down

            results = await asyncio.gather(fault(), *(worker() for _ in range(CONCURRENCY)))
            ready_while_down = results[0]

            # The service came back by itself: a fresh check-in works at once.
            assert (await client.get("/readyz")).status_code == 200
            # The client retries every refusal with the same Idempotency-Key.
            retried = [await check_in(a.member_id) for a in attempts if a.status >= 500]
            listed = await client.get("/v1/visits", params={"limit": 200}, headers=ADMIN)
            assert listed.status_code == 200, listed.text
            visits = listed.json()["items"]
    finally:
        service.stop()

    statuses = [a.status for a in attempts]
    print("statuses by phase:", sorted({(a.phase, a.status) for a in attempts}))
    print("errors:", [a.body for a in attempts if a.status not in (201, 503)][:5])
    print("unhandled:", [line[:1500] for line in service.log().splitlines() if "unhandled_error" in line][:3])
    assert 500 not in statuses and all(a.status in (201, 503) for a in attempts), sorted(set(statuses))
    down = [a for a in attempts if a.status == 503]
    assert down, "no request met the outage: the fault was not injected during the load"
    for a in down:
        assert a.content_type.startswith("application/problem+json")
        assert a.body["type"] == "urn:gunma-sdgs:problem:service-unavailable"
        assert a.retry_after is not None and int(a.retry_after) >= 1
    assert max(a.seconds for a in attempts) < CLIENT_TIMEOUT_S - 5, "a request hung during the outage"
    assert ready_while_down == [503, 503]
    # Every check-in made after the restart worked: the pool recovered without a service restart.
    assert [a.status for a in attempts if a.phase == "after"] == [201] * sum(
        a.phase == "after" for a in attempts
    )
    assert any(a.phase == "after" for a in attempts)
    # Every 2xx exists; the retries complete the rest (a 503 whose transaction did commit replays it).
    assert [a.status for a in retried] == [201] * len(retried)
    acknowledged = {str(a.body["id"]) for a in attempts + retried if a.status == 201}
    stored = await private_stack.fetch(
        "SELECT id::text, member_id::text FROM netsugen.visit WHERE member_id = ANY($1::uuid[])",
        [m for m in keys],
    )
    assert acknowledged <= {r["id"] for r in stored}
    assert sorted(r["member_id"] for r in stored) == sorted(keys), (
        "one visit per member, none lost or doubled"
    )
    assert {v["id"] for v in visits} >= acknowledged
    log = service.log()
    assert '"unhandled_error"' not in log, "an outage error became a 500"
    # Errors and retries logged nothing personal (the members' names and addresses).
    assert not [m for m in members if m["email"] in log or m["name"] in log]
