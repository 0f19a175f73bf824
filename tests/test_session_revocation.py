"""Revoking a session or deactivating an account takes effect in *another process* within a second.

A second netsugen_booking runs as its own uvicorn process on a free port, against the test
database. It answers an access token from its per-process principal cache (shared/sessions.py),
which only the ``auth_tokens`` notification of the triggers of migration 0015 can invalidate. The
change is made through the in-process app; the test measures how long the other process keeps
accepting the token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import StackInfo, bearer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "plum blossoms at akagi"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def other_process(stack: StackInfo, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path / "netsugen-2.log"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "OUTBOX_RELAY_ENABLED": "false",
        "LOG_JSON": "true",
    }
    env.pop("BOOTSTRAP_ADMIN_TOKEN", None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "services.netsugen_booking.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"second process did not start:\n{log_path.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.3)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def seconds_until_refused(
    client: httpx.AsyncClient, headers: dict[str, str], limit: float = 5.0
) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        r = await client.get("/v1/members", headers=headers)
        if r.status_code == 401:
            return time.perf_counter() - started
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.01)
    raise AssertionError(f"the other process still accepted the token after {limit} s")


async def test_logout_and_deactivation_reach_another_process_within_a_second(
    netsugen_client: httpx.AsyncClient, admin_headers: dict[str, str], other_process: str
) -> None:
    r = await netsugen_client.post(
        "/v1/staff-accounts",
        json={"email": "desk@netsugen.example.jp", "name": "受付", "role": "staff", "password": PASSWORD},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]

    async def sign_in() -> dict[str, str]:
        r = await netsugen_client.post(
            "/v1/auth/login", json={"email": "desk@netsugen.example.jp", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async with httpx.AsyncClient(base_url=other_process, timeout=5) as other:
        # 1. Sign-out in this process; the other process had the principal cached.
        pair = await sign_in()
        auth = bearer(pair["access_token"])
        for _ in range(3):  # warm the other process's cache
            assert (await other.get("/v1/members", headers=auth)).status_code == 200
        assert (await netsugen_client.post("/v1/auth/logout", json={}, headers=auth)).status_code == 204
        logout_s = await seconds_until_refused(other, auth)
        assert logout_s < 1.0

        # 2. Deactivating the account ends its other session everywhere.
        pair = await sign_in()
        auth = bearer(pair["access_token"])
        assert (await other.get("/v1/members", headers=auth)).status_code == 200
        r = await netsugen_client.post(f"/v1/staff-accounts/{account_id}/deactivate", headers=admin_headers)
        assert r.status_code == 200
        deactivate_s = await seconds_until_refused(other, auth)
        assert deactivate_s < 1.0
        # The answer in the other process is the platform's 401 problem.
        refused = await other.get("/v1/members", headers=auth)
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    print(
        f"revocation reached the other process in {logout_s * 1000:.0f} ms (logout), {deactivate_s * 1000:.0f} ms (deactivation)"
    )
