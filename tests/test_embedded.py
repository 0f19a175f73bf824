"""Tests for gunma.embedded: real PostgreSQL / redis-server / SMTP sink from pip packages.

Every test uses its own data directory under a scratch directory and free, non-default ports, and stops
whatever it started. Run: .venv/bin/python -m pytest tests/test_embedded.py -q -p no:cacheprovider --noconftest
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import asyncpg  # type: ignore[import-untyped,unused-ignore]
import pytest
import redis

from gunma import embedded
from gunma.embedded import EmbeddedStackError, SmtpSink

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = "ようこそ"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    assert port not in (embedded.DEFAULT_PG_PORT, embedded.DEFAULT_REDIS_PORT, embedded.DEFAULT_SMTP_PORT)
    return port


def asyncpg_dsn(database_url: str) -> str:
    assert database_url.startswith("postgresql+asyncpg://"), database_url
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def pg_fetch(database_url: str, *statements: str) -> list[object]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        return [await conn.fetchval(sql) for sql in statements]
    finally:
        await conn.close()


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def server_tmp() -> Iterator[Path]:
    """A scratch directory outside pytest's tmp tree: PostgreSQL runs as an unprivileged user
    that must traverse it, and another pytest session may reset permissions under
    /tmp/pytest-of-<user> at any time."""
    directory = Path(tempfile.mkdtemp(prefix="gunma-embedded-test-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def data_dir(server_tmp: Path) -> Iterator[Path]:
    directory = server_tmp / "data"
    yield directory
    # never leave servers behind, even when a test fails
    for stop in (embedded.stop_redis, embedded.stop_postgres):
        try:
            stop(directory)
        except EmbeddedStackError as exc:  # pragma: no cover - diagnostics only
            print(f"cleanup: {exc}", file=sys.stderr)


def test_postgres_starts_and_keeps_data_across_restarts(data_dir: Path) -> None:
    port = free_port()
    started = time.monotonic()
    url = embedded.start_postgres(data_dir, port=port, database="gunma_test")
    first_start = time.monotonic() - started
    assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{port}/gunma_test"
    assert (data_dir / "postgres" / "PG_VERSION").is_file()
    assert (data_dir / "log" / "postgres.log").is_file()
    pgdata_owner = (data_dir / "postgres").stat().st_uid
    if os.geteuid() == 0:
        assert pgdata_owner != 0, "PostgreSQL must not run as root"
    else:
        assert pgdata_owner == os.geteuid()

    one, _, _, encoding, collate = asyncio.run(
        pg_fetch(
            url,
            "SELECT 1",
            "CREATE TABLE town (id int PRIMARY KEY, name text NOT NULL)",
            "INSERT INTO town VALUES (1, '前橋'), (2, '高崎')",
            "SHOW server_encoding",
            "SELECT datcollate FROM pg_database WHERE datname = current_database()",
        )
    )
    assert (one, encoding, collate) == (1, "UTF8", "C")

    # a second start while it runs reuses the server
    status = embedded.postgres_status(data_dir)
    assert status is not None and status.port == port
    assert embedded.start_postgres(data_dir, port=port, database="gunma_test") == url
    assert embedded.postgres_status(data_dir) == status

    embedded.stop_postgres(data_dir)
    assert embedded.postgres_status(data_dir) is None
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    embedded.stop_postgres(data_dir)  # stopping twice is a no-op

    started = time.monotonic()
    assert embedded.start_postgres(data_dir, port=port, database="gunma_test") == url
    warm_start = time.monotonic() - started
    count, names = asyncio.run(
        pg_fetch(url, "SELECT count(*) FROM town", "SELECT string_agg(name, ',' ORDER BY id) FROM town")
    )
    assert (count, names) == (2, "前橋,高崎")
    print(f"\npostgres: first start (initdb) {first_start:.2f}s, warm start {warm_start:.2f}s")


def test_postgres_long_data_dir_uses_short_socket_dir(server_tmp: Path) -> None:
    data_dir = server_tmp / ("long-directory-name-" * 4) / "data"
    assert len(str(data_dir / "postgres" / ".s.PGSQL.65535")) > 107
    port = free_port()
    try:
        url = embedded.start_postgres(data_dir, port=port)
        assert url.endswith(f":{port}/gunma")
        assert asyncio.run(pg_fetch(url, "SELECT current_database()")) == ["gunma"]
        sockets = list(Path("/tmp").glob(f"gunma-pg-*/.s.PGSQL.{port}"))
        assert len(sockets) == 1 and sockets[0].is_socket()
    finally:
        embedded.stop_postgres(data_dir)
    assert not sockets[0].exists()
    sockets[0].parent.rmdir()  # empty once the server is down


def test_redis_keeps_data_across_restarts(data_dir: Path) -> None:
    port = free_port()
    started = time.monotonic()
    url = embedded.start_redis(data_dir, port=port)
    first_start = time.monotonic() - started
    assert url == f"redis://127.0.0.1:{port}/0"
    status = embedded.redis_status(data_dir)
    assert status is not None and status.port == port and status.name == "redis"

    client = redis.Redis.from_url(url)
    try:
        assert client.set("greeting", SUBJECT)
        assert client.get("greeting") == SUBJECT.encode()
        assert client.config_get("appendonly") == {"appendonly": "yes"}
    finally:
        client.close()
    assert embedded.start_redis(data_dir, port=port) == url  # reuse while running

    embedded.stop_redis(data_dir)
    assert embedded.redis_status(data_dir) is None
    assert any((data_dir / "redis").glob("appendonly.aof*"))
    assert (data_dir / "log" / "redis.log").stat().st_size > 0

    started = time.monotonic()
    assert embedded.start_redis(data_dir, port=port) == url
    warm_start = time.monotonic() - started
    client = redis.Redis.from_url(url)
    try:
        assert client.get("greeting") == SUBJECT.encode()
    finally:
        client.close()
    print(f"\nredis: first start {first_start:.2f}s, warm start {warm_start:.2f}s")


def test_redis_port_in_use_is_a_clear_error(data_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(EmbeddedStackError, match="EMBEDDED_REDIS_PORT"):
            embedded.start_redis(data_dir, port=port)


def _japanese_message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "noreply@gunma-sdgs.example"
    msg["To"] = "taro@example.jp"
    msg["Subject"] = SUBJECT
    msg.set_content("群馬県 SDGs 未来都市へようこそ。\n")
    return msg


def _parse(path: Path) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_smtp_sink_writes_eml_files(tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    port = free_port()
    with SmtpSink(mail_dir, port=port) as sink:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            # 1) classic: RFC 2047 encoded-word subject
            smtp.send_message(_japanese_message())
            # 2) SMTPUTF8: the subject travels as raw UTF-8
            raw = _japanese_message().as_bytes(policy=policy.SMTPUTF8)
            smtp.sendmail("noreply@gunma-sdgs.example", ["hanako@example.jp"], raw, mail_options=["SMTPUTF8"])
        files = sink.messages()
    assert not sink.running
    assert len(files) == 2, files
    assert all(f.name.endswith(".eml") and "-" in f.name for f in files)
    assert not list(mail_dir.glob(".*.tmp"))

    recipients = set()
    for path in files:
        msg = _parse(path)
        assert msg["Subject"] == SUBJECT
        assert msg["X-Envelope-From"] == "noreply@gunma-sdgs.example"
        recipients.add(str(msg["X-Envelope-To"]))
        body = msg.get_body()
        assert body is not None and "ようこそ" in body.get_content()
    assert recipients == {"taro@example.jp", "hanako@example.jp"}
    assert any(SUBJECT.encode("utf-8") in f.read_bytes() for f in files)  # raw UTF-8 kept as received


def test_start_stack_and_stop_stack(data_dir: Path) -> None:
    pg_port, redis_port, smtp_port = free_port(), free_port(), free_port()
    stack = embedded.start_stack(data_dir, pg_port=pg_port, redis_port=redis_port, smtp_port=smtp_port)
    try:
        assert stack.database_url.endswith(f"127.0.0.1:{pg_port}/gunma")
        assert stack.redis_url == f"redis://127.0.0.1:{redis_port}/0"
        assert (stack.smtp_host, stack.smtp_port) == ("127.0.0.1", smtp_port)
        assert sorted(p.name for p in stack.processes) == ["postgres", "redis"]
        assert stack.as_env()["SMTP_PORT"] == str(smtp_port)
        assert asyncio.run(pg_fetch(stack.database_url, "SELECT 1")) == [1]
        with smtplib.SMTP(stack.smtp_host, stack.smtp_port, timeout=10) as smtp:
            smtp.send_message(_japanese_message())
        assert len(list((data_dir / "mail").glob("*.eml"))) == 1
    finally:
        embedded.stop_stack(stack)
    assert embedded.postgres_status(data_dir) is None
    assert embedded.redis_status(data_dir) is None


def _cli(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunma.embedded", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_up_status_down(data_dir: Path) -> None:
    pg_port, redis_port = free_port(), free_port()
    env = {**os.environ, "EMBEDDED_PG_PORT": str(pg_port), "EMBEDDED_REDIS_PORT": str(redis_port)}
    up = _cli("up", "--data-dir", str(data_dir), env=env)
    assert up.returncode == 0, up.stderr
    urls = dict(line.split("=", 1) for line in up.stdout.splitlines())
    assert urls == {
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{pg_port}/gunma",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    # the servers outlive the `up` process
    assert asyncio.run(pg_fetch(urls["DATABASE_URL"], "SELECT 1")) == [1]
    client = redis.Redis.from_url(urls["REDIS_URL"])
    try:
        assert client.ping()
    finally:
        client.close()

    status = _cli("status", "--data-dir", str(data_dir), env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"REDIS_URL=redis://127.0.0.1:{redis_port}/0" in status.stdout

    down = _cli("down", "--data-dir", str(data_dir), env=env)
    assert down.returncode == 0, down.stderr
    status = _cli("status", "--data-dir", str(data_dir), env=env)
    assert status.returncode == 3
    assert "postgres: stopped" in status.stdout and "redis: stopped" in status.stdout


def test_cli_smtp_sink_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    mail_dir = tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunma.embedded", "smtp-sink", "--port", str(port), "--dir", str(mail_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_port(port)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(_japanese_message())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SMTP sink listening" in out and "SMTP sink stopped" in out
    files = list(mail_dir.glob("*.eml"))
    assert len(files) == 1
    assert _parse(files[0])["Subject"] == SUBJECT
