"""Security finding 12 (webhook secrets): the signing secrets, current and previous, are stored
encrypted (Fernet, ``WEBHOOK_SECRET_KEYS``), rotate to a new key with ``gunma notifier
rotate-webhook-key``, are encrypted by migration 0012 where they were in clear, and production does
not start without the key.

The attack: read access to the database (a backup, a read replica, an SQL injection elsewhere)
yielded every receiver's signing secret, so anyone could forge the platform's webhooks.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError
from typer.testing import CliRunner

from gunma import migrate as migrations
from gunma.stack import ROOT
from services.notifier.settings import NotifierSettings
from services.notifier.webhooks import secretbox
from services.notifier.webhooks.secretbox import TEST_KEY, SecretBox, resolve_keys
from shared.events import KpiStatusChanged, make_event
from tests.notifier.conftest import attempts_of, enqueue_event, ledger
from tests.notifier.test_webhooks import verify_standard_webhook

MIGRATION = ROOT / "migrations" / "versions" / "2026_12_03_0012_webhook_secrets_encrypted.py"


async def register(client, headers, url: str) -> dict[str, Any]:
    r = await client.post(
        "/v1/webhook-endpoints", headers=headers, json={"url": url, "event_types": ["kpi.status_changed"]}
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def stored(engine, endpoint_id: str) -> Any:
    async with engine.connect() as conn:
        from sqlalchemy import text

        return (
            await conn.execute(
                text(
                    "SELECT secret, previous_secret, row_to_json(e)::text AS everything "
                    "FROM notifier.webhook_endpoint e WHERE id = :id"
                ),
                {"id": endpoint_id},
            )
        ).one()


def kpi_event() -> Any:
    return make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))


class TestAtRest:
    async def test_current_and_previous_secrets_are_encrypted(
        self, notifier_client, admin_headers, engine, world
    ) -> None:
        created = await register(notifier_client, admin_headers, world.hook_url("enc"))
        first = created["secret"]
        row = await stored(engine, created["id"])
        assert row.secret.startswith("gAAAAA") and first not in row.everything
        assert first.removeprefix("whsec_") not in row.everything
        assert Fernet(TEST_KEY).decrypt(row.secret.encode()).decode() == first

        r = await notifier_client.post(
            f"/v1/webhook-endpoints/{created['id']}/rotate-secret", headers=admin_headers
        )
        second = r.json()["secret"]
        row = await stored(engine, created["id"])
        assert first not in row.everything and second not in row.everything
        assert Fernet(TEST_KEY).decrypt(row.secret.encode()).decode() == second
        assert Fernet(TEST_KEY).decrypt(row.previous_secret.encode()).decode() == first
        # The API still shows the hint of the clear secret.
        got = await notifier_client.get(f"/v1/webhook-endpoints/{created['id']}", headers=admin_headers)
        assert got.json()["secret_hint"] == second[:10] + "…"

    async def test_a_secret_no_key_opens_is_retried_not_sent(
        self, notifier_client, notifier_app, admin_headers, engine, world, run_worker, arq_pool, make_settings
    ) -> None:
        await register(notifier_client, admin_headers, world.hook_url("lost-key"))
        await enqueue_event(arq_pool, kpi_event())
        other_key = Fernet.generate_key().decode()
        await run_worker(make_settings(webhook_secret_keys=other_key, max_attempts=1))
        assert "lost-key" not in world.calls
        # The API still answers for such an endpoint (no 500), and says why there is no hint.
        api_settings = notifier_app.state.settings
        saved = api_settings._secret_box
        api_settings._secret_box = SecretBox([other_key])
        try:
            listed = await notifier_client.get("/v1/webhook-endpoints", headers=admin_headers)
        finally:
            api_settings._secret_box = saved
        assert listed.status_code == 200
        assert listed.json()["items"][0]["secret_hint"] == "(no configured key decrypts this secret)"
        [row] = await ledger(engine)
        [attempt] = await attempts_of(engine, row.id)
        assert (attempt.result, attempt.error) == (
            "failed_temporary",
            "secret_undecryptable: check WEBHOOK_SECRET_KEYS",
        )


class TestKeyRotation:
    async def test_cli_reencrypts_every_secret_with_the_first_key(
        self, notifier_client, admin_headers, engine, world, run_worker, arq_pool, make_settings, monkeypatch
    ) -> None:
        a = await register(notifier_client, admin_headers, world.hook_url("rot-a"))
        b = await register(notifier_client, admin_headers, world.hook_url("rot-b"))
        r = await notifier_client.post(
            f"/v1/webhook-endpoints/{b['id']}/rotate-secret", headers=admin_headers
        )
        b_new = r.json()["secret"]
        new_key = Fernet.generate_key().decode()
        monkeypatch.setenv("WEBHOOK_SECRET_KEYS", f"{new_key},{TEST_KEY}")
        from gunma.cli import app

        runner = CliRunner()
        result = await asyncio.to_thread(runner.invoke, app, ["notifier", "rotate-webhook-key"])
        assert result.exit_code == 0, result.output
        assert "endpoints: 2, re-encrypted: 2, already on the first key: 0" in " ".join(result.output.split())

        for endpoint, secret, previous in ((a, a["secret"], None), (b, b_new, b["secret"])):
            row = await stored(engine, endpoint["id"])
            assert Fernet(new_key).decrypt(row.secret.encode()).decode() == secret
            with pytest.raises(InvalidToken):
                Fernet(TEST_KEY).decrypt(row.secret.encode())
            if previous is not None:
                assert Fernet(new_key).decrypt(row.previous_secret.encode()).decode() == previous

        again = await asyncio.to_thread(runner.invoke, app, ["notifier", "rotate-webhook-key"])
        assert "endpoints: 2, re-encrypted: 0, already on the first key: 2" in " ".join(again.output.split())

        # The old key dropped: the worker signs with the secrets the receivers hold.
        await enqueue_event(arq_pool, kpi_event())
        await run_worker(make_settings(webhook_secret_keys=new_key))
        [call_a] = world.calls["rot-a"]
        [call_b] = world.calls["rot-b"]
        assert verify_standard_webhook(a["secret"], call_a.headers, call_a.body)
        assert verify_standard_webhook(b_new, call_b.headers, call_b.body)
        assert verify_standard_webhook(b["secret"], call_b.headers, call_b.body)  # overlap still running

    async def test_cli_without_the_old_key_stops_and_says_so(
        self, notifier_client, admin_headers, world, monkeypatch
    ) -> None:
        await register(notifier_client, admin_headers, world.hook_url("orphan"))
        monkeypatch.setenv("WEBHOOK_SECRET_KEYS", Fernet.generate_key().decode())
        from gunma.cli import app

        result = await asyncio.to_thread(CliRunner().invoke, app, ["notifier", "rotate-webhook-key"])
        assert result.exit_code == 1
        assert "keep the old key in WEBHOOK_SECRET_KEYS" in " ".join(result.output.split())


def _down_revision() -> str:
    spec = importlib.util.spec_from_file_location("migration_0012", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    down: str = module.down_revision
    return down


@pytest.fixture
def scratch_database(stack) -> Any:
    """A database of its own (migrating the session's would invalidate the prepared statements of
    every pooled connection): created empty, dropped after."""
    import asyncpg
    from sqlalchemy import make_url

    name = f"{make_url(stack.database_url).database}_mig0012"
    server = make_url(stack.server_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(sql(f'CREATE DATABASE "{name}"'))
    url = make_url(stack.database_url).set(database=name)
    try:
        yield (
            url.render_as_string(hide_password=False),
            url.set(drivername="postgresql").render_as_string(hide_password=False),
        )
    finally:
        asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class TestMigration:
    def test_existing_clear_secrets_are_encrypted_and_the_key_is_required(
        self, scratch_database, monkeypatch
    ) -> None:
        import asyncpg

        url, dsn = scratch_database
        migrations.upgrade(url, _down_revision())

        async def query(statement: str, *args: Any) -> list[Any]:
            conn = await asyncpg.connect(dsn)
            try:
                return list(await conn.fetch(statement, *args))
            finally:
                await conn.close()

        current, previous = "whsec_" + "A" * 43 + "=", "whsec_" + "B" * 43 + "="
        asyncio.run(
            query(
                "INSERT INTO notifier.webhook_endpoint (id, url, secret, previous_secret) "
                "VALUES (gen_random_uuid(), 'https://8.8.8.8/hook', $1, $2)",
                current,
                previous,
            )
        )
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.delenv("WEBHOOK_SECRET_KEYS", raising=False)
        with pytest.raises(RuntimeError, match="needs WEBHOOK_SECRET_KEYS"):
            migrations.upgrade(url, "heads")
        [row] = asyncio.run(query("SELECT secret, previous_secret FROM notifier.webhook_endpoint"))
        assert (row["secret"], row["previous_secret"]) == (current, previous)  # nothing changed

        key = Fernet.generate_key().decode()
        monkeypatch.setenv("WEBHOOK_SECRET_KEYS", key)
        migrations.upgrade(url, "heads")
        [row] = asyncio.run(query("SELECT secret, previous_secret FROM notifier.webhook_endpoint"))
        assert Fernet(key).decrypt(row["secret"].encode()).decode() == current
        assert Fernet(key).decrypt(row["previous_secret"].encode()).decode() == previous

        migrations.downgrade(url, _down_revision())  # back to clear text, with the same key
        [row] = asyncio.run(query("SELECT secret, previous_secret FROM notifier.webhook_endpoint"))
        assert (row["secret"], row["previous_secret"]) == (current, previous)


class TestKeySettings:
    def test_production_refuses_to_start_without_the_key(self) -> None:
        with pytest.raises(ValidationError, match="WEBHOOK_SECRET_KEYS is required in production"):
            NotifierSettings(environment="production", _env_file=None)
        ok = NotifierSettings(
            environment="production", webhook_secret_keys=Fernet.generate_key().decode(), _env_file=None
        )
        assert len(ok.secret_box().keys) == 1

    def test_private_destinations_are_refused_in_production(self) -> None:
        with pytest.raises(ValidationError, match="development and tests only"):
            NotifierSettings(
                environment="production",
                webhook_secret_keys=Fernet.generate_key().decode(),
                webhook_allow_private_destinations=True,
                _env_file=None,
            )

    def test_a_malformed_key_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="key 2 is not a Fernet key"):
            NotifierSettings(webhook_secret_keys=f"{TEST_KEY},not-a-key", _env_file=None)

    def test_test_environment_uses_the_fixed_key(self) -> None:
        assert resolve_keys(None, "test") == [TEST_KEY]

    def test_development_key_is_generated_once_and_private(self, tmp_path: Path, monkeypatch) -> None:
        monkeypatch.setenv("GUNMA_DATA_DIR", str(tmp_path))
        first = resolve_keys(None, "development")
        assert resolve_keys(None, "development") == first
        path = tmp_path / secretbox.DEV_KEY_FILE
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        box = SecretBox(first)
        assert box.decrypt(box.encrypt("whsec_x")) == "whsec_x"

    def test_first_key_encrypts_every_key_decrypts(self) -> None:
        old, new = TEST_KEY, Fernet.generate_key().decode()
        token = SecretBox([old]).encrypt("whsec_abc")
        both = SecretBox([new, old])
        assert both.decrypt(token) == "whsec_abc" and not both.is_current(token)
        rotated = both.rotate(token)
        assert both.is_current(rotated) and SecretBox([new]).decrypt(rotated) == "whsec_abc"
