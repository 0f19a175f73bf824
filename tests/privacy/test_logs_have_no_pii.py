"""No email address, name, card token or API token appears in the logs of a whole-system run.

The platform is started the way `make run` starts it (``python -m gunma.cli run``: three APIs, the
notifier worker, the scheduler) on a database and a Redis of its own, with a real SMTP server. The
run registers members (names, emails, card tokens shown once), a corporate member's named user,
checks them in by card, searches members by name, registers a guest for an event, fails to
authenticate with guessed tokens, sends bad input carrying personal data, meets an unexpected
database error while registering a member (a trigger induced for the test: the failing statement's
parameters hold the member's name, email and card-token hash, and the error is logged with its
traceback), and lets the notifier email every member (recipients are resolved over HTTP: names and
addresses travel, and must still not be logged). Then every line any process wrote is scanned, for
each value as written and as JSON escapes it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import make_url

from gunma import embedded
from tests.conftest import TEST_DB, StackInfo, _asyncpg_dsn, _recreate_database
from tests.faults.conftest import free_port
from tests.notifier.conftest import RecordingHandler
from tests.security.test_findings import INDUCE_FUNCTION, INDUCE_TRIGGER

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "pii-run-bootstrap-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {BOOTSTRAP}"}

pytestmark = pytest.mark.system

PEOPLE = [
    ("渋川 さくら", "sakura.shibukawa@example.jp"),
    ("Ichiro Kiryu", "ichiro.kiryu@example.com"),
]
CORPORATE = ("高崎テック合同会社", "takasaki.office@takasaki-tech.example.jp")
USER = ("前橋 健太", "kenta.maebashi@example.net")
GUEST = ("沼田 ゆい", "yui.numata@example.org")
GUESSED_TOKEN = "gsk_GuessedButWrongTokenValue0123456789"
#: Registering this person meets an induced database error (tests/security/test_findings.py INDUCE_*).
INDUCED = ("誘発 花子", "hanako.induced@induced-error.example.jp")


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _wait_ready(ports: dict[str, int], proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            try:
                if all(client.get(f"http://127.0.0.1:{p}/readyz").status_code == 200 for p in ports.values()):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise AssertionError(f"platform not ready: {log.read_text(errors='replace')[-4000:]}")


async def _exercise(ports: dict[str, int], handler: RecordingHandler) -> list[str]:
    """Drive the platform; returns the secrets it handed out (card tokens)."""
    secrets: list[str] = []
    netsugen = f"http://127.0.0.1:{ports['netsugen_booking']}"
    async with httpx.AsyncClient(base_url=netsugen, timeout=30) as client:
        members = []
        for i, (name, email) in enumerate(PEOPLE):
            r = await client.post(
                "/v1/members",
                json={
                    "kind": "individual",
                    "name": name,
                    "email": email,
                    "language": "ja" if i == 0 else "en",
                    "plan": "dropin",
                    "plan_start": "2026-01-01",
                },
                headers={**ADMIN, "Idempotency-Key": f"pii-{i}"},
            )
            assert r.status_code == 201, r.text
            members.append(r.json())
            secrets.append(r.json()["card_token"])
        r = await client.post(
            "/v1/members",
            json={
                "kind": "corporate",
                "name": CORPORATE[0],
                "email": CORPORATE[1],
                "language": "ja",
                "plan": "corporate_monthly",
                "plan_start": "2026-01-01",
            },
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        corporate = r.json()
        secrets.append(corporate["card_token"])
        r = await client.post(
            f"/v1/members/{corporate['id']}/users", json={"name": USER[0], "email": USER[1]}, headers=ADMIN
        )
        assert r.status_code == 201, r.text
        secrets.append(r.json()["card_token"])
        # Check in by card (open or closed at this hour, the card travels either way).
        for token in secrets[:2] + secrets[3:]:  # the corporation's own card needs a user: not a visitor
            r = await client.post("/v1/visits", json={"card_token": token}, headers=ADMIN)
            assert r.status_code in (201, 409), r.text
        # Searches by name and email (query strings), a member's own reads.
        for name, email in PEOPLE:
            assert (await client.get("/v1/members", params={"q": name}, headers=ADMIN)).status_code == 200
            assert (await client.get("/v1/members", params={"q": email}, headers=ADMIN)).status_code == 200
        # A guest registers for an event.
        r = await client.post(
            "/v1/programs",
            json={
                "title_ja": "ログ確認",
                "title_en": "Log check",
                "description_ja": "説明",
                "description_en": "About",
                "category": "seminar",
                "resource_id": None,
                "start": "2027-03-10T18:00:00+09:00",
                "end": "2027-03-10T20:00:00+09:00",
                "capacity": 10,
                "registration_closes_at": None,
            },
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/v1/programs/{r.json()['id']}/registrations",
            json={"guest": {"name": GUEST[0], "email": GUEST[1], "language": "ja"}},
        )
        assert r.status_code == 201, r.text
        # Failed authentication with a guessed token; bad input that carries personal data.
        for _ in range(3):
            assert (
                await client.get("/v1/members", headers={"Authorization": f"Bearer {GUESSED_TOKEN}"})
            ).status_code == 401
        r = await client.post(
            "/v1/members",
            json={
                "kind": "individual",
                "name": PEOPLE[0][0],
                "email": f"not-an-email {PEOPLE[0][1]}",
                "language": "ja",
                "plan": "dropin",
            },
            headers=ADMIN,
        )
        assert r.status_code == 422
        r = await client.post("/v1/visits", json={"card_token": secrets[0] + "x"}, headers=ADMIN)
        assert r.status_code == 404
        # An unexpected database error whose statement carries personal data (logged with its traceback).
        r = await client.post(
            "/v1/members",
            json={
                "kind": "individual",
                "name": INDUCED[0],
                "email": INDUCED[1],
                "language": "ja",
                "plan": "dropin",
                "plan_start": "2026-01-01",
            },
            headers=ADMIN,
        )
        assert r.status_code == 500, r.text
    # The notifier emails every member (registered): names and addresses resolved over HTTP.
    expected = {email for _, email in PEOPLE} | {CORPORATE[1], GUEST[1]}
    deadline = time.monotonic() + 90
    while True:
        got = {rcpt for m in handler.messages for rcpt in m.rcpt_tos}
        if expected <= got:
            break
        assert time.monotonic() < deadline, f"emails not delivered: {expected - got}"
        await asyncio.sleep(0.5)
    return secrets


async def _induce_database_error(database_url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        await conn.execute(INDUCE_FUNCTION)
        await conn.execute(INDUCE_TRIGGER)
    finally:
        await conn.close()


def _forms(value: str) -> set[str]:
    """A value as written, and as a JSON log line escapes it (non-ASCII as \\uXXXX)."""
    return {value.lower(), value.encode("ascii", "backslashreplace").decode().lower()}


def test_a_whole_system_run_logs_no_personal_data(stack: StackInfo, tmp_path: Path) -> None:
    name = f"{TEST_DB}_pii"
    asyncio.run(_recreate_database(stack.server_url, name))
    database_url = make_url(stack.server_url).set(database=name).render_as_string(hide_password=False)
    redis_dir = Path(tempfile.mkdtemp(prefix="gunma-pii-redis-"))
    redis_url = embedded.start_redis(redis_dir, port=free_port())
    handler = RecordingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
    smtp.start()
    ports = {"kpi_api": free_port(), "netsugen_booking": free_port(), "notifier": free_port()}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BOOTSTRAP_ADMIN_TOKEN": BOOTSTRAP,
        "KPI_API_PORT": str(ports["kpi_api"]),
        "NETSUGEN_PORT": str(ports["netsugen_booking"]),
        "NOTIFIER_PORT": str(ports["notifier"]),
        "SERVICE_TOKEN": "",
        "OUTBOX_RELAY_ENABLED": "true",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "QUIET_HOURS_ENABLED": "false",
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "true",
        "ENVIRONMENT": "test",
    }
    for key in ("KPI_API_URL", "NETSUGEN_URL", "NOTIFIER_URL"):
        env.pop(key, None)
    log_path = tmp_path / "platform.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunma.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(ports, proc, log_path, timeout=180)
        asyncio.run(_induce_database_error(database_url))
        secrets = asyncio.run(_exercise(ports, handler))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        smtp.stop()
        embedded.stop_redis(redis_dir)
        shutil.rmtree(redis_dir, ignore_errors=True)
        asyncio.run(_drop_database(stack.server_url, name))

    logs = log_path.read_text(errors="replace")
    assert "service_started" in logs and len(logs.splitlines()) > 20  # the logs are really there
    # The induced database error was logged, with its statement (so the scan below means something).
    assert "induced failure for the personal-data log scan" in logs and "INSERT INTO netsugen.member" in logs
    lowered = logs.lower()
    leaks = []
    people = (*PEOPLE, CORPORATE, USER, GUEST, INDUCED)
    for value in [v for pair in people for v in pair] + secrets + [BOOTSTRAP, GUESSED_TOKEN]:
        for form in _forms(value):
            if form in lowered:
                line = next(ln for ln in logs.splitlines() if form in ln.lower())
                leaks.append(f"{value!r} in: {line[:300]}")
    # Each email address is also checked by its local part, in case it was logged in pieces.
    for _, email in people:
        local = email.split("@")[0]
        if local.lower() in lowered:
            leaks.append(f"{local!r} (local part of an address) in the logs")
    assert leaks == [], "\n".join(leaks)
