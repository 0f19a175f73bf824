"""In-process caches invalidated by PostgreSQL ``LISTEN/NOTIFY``.

A hot read (the KPI registry's version, today's opening hours, a token's principal) can be kept in
process memory only if every process learns at once that the data changed. Triggers on the source
tables ``pg_notify`` a channel in the writing transaction; PostgreSQL delivers the notification
when, and only if, that transaction commits. One :class:`PgNotifyWatcher` per process holds a
dedicated connection that ``LISTEN``s on the channels and counts notifications per channel.

A cache stores, with each value, the :meth:`PgNotifyWatcher.token` of its channel taken *before* it
read the database, and trusts the value only while the token is unchanged. The token changes on
every notification of the channel, on every reconnection (notifications sent while the connection
was down are lost, so everything read before is distrusted) and is ``None`` while the watcher is
not listening: then nothing may be cached and every read goes to the database, as without a cache.

Staleness is bounded by the delivery of one notification (about a millisecond on one host); a
process that commits a change itself invalidates its own caches at once (:func:`invalidate_local`,
called after commit), so a client that writes and then reads through the same process always
reads its write.

Every such cache is a :class:`NotifiedCache` (the one implementation of the rule above); no module
keeps its own dictionary of values and tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
import weakref
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Generic, TypeVar

import asyncpg
import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = structlog.get_logger("pgnotify")

#: The channel :meth:`PgNotifyWatcher.barrier` uses (never an application channel).
BARRIER_CHANNEL: Final = "gunma_barrier"
#: How often an idle listening connection is checked (a half-open TCP connection delivers nothing).
KEEPALIVE_S: Final = 10.0

Token = tuple[int, int]

_watchers: weakref.WeakSet[PgNotifyWatcher] = weakref.WeakSet()


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def invalidate_local(channels: Iterable[str]) -> None:
    """Invalidate the channels in every watcher of this process (after this process committed a change)."""
    for watcher in list(_watchers):
        for channel in channels:
            watcher.invalidate(channel)


def process_token(channel: str) -> tuple[int, int, int] | None:
    """The token of ``channel`` from a live watcher of this process that listens to it, else ``None``.

    For caches that live in a module rather than on an app (the opening hours, token principals).
    The watcher's identity is part of the token, so tokens of two watchers never compare equal.
    """
    for watcher in list(_watchers):
        if channel in watcher.channels:
            token = watcher.token(channel)
            if token is not None:
                return (id(watcher), *token)
    return None


async def barrier_all(timeout: float = 5.0) -> None:
    """:meth:`PgNotifyWatcher.barrier` of every watcher of this process (tests, after raw SQL)."""
    for watcher in list(_watchers):
        await watcher.barrier(timeout)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class NotifiedCache(Generic[K, V]):
    """A bounded in-process cache whose entries are trusted only while their channel's token is unchanged.

    Use::

        _PRICES: NotifiedCache[Key, PriceTable] = NotifiedCache("netsugen_prices", max_size=16)

        token = _PRICES.token()          # BEFORE the database read
        hit = _PRICES.get(key, token)
        if hit is not None:
            return hit
        value = await read_from_the_database(...)
        _PRICES.put(key, token, value)   # stores nothing when token is None (not listening)

    ``token()`` is the channel's token from this process's watcher (:func:`process_token`); a cache kept
    on an app with its own watcher passes ``watcher.token(channel)`` instead. An entry may carry an
    ``expires_at`` (aware): it is not returned from then on (an access token's expiry). ``None`` is not a
    cacheable value (``get`` answers ``None`` for "not cached"). When ``max_size`` entries are held, the
    next ``put`` starts afresh (the entries are cheap to read again; a hot set refills at once).
    """

    #: Every cache created in this process, by channel (the trigger test checks each channel is notified).
    channels: ClassVar[set[str]] = set()

    __slots__ = ("channel", "max_size", "_entries")

    def __init__(self, channel: str, *, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be positive")
        self.channel = channel
        self.max_size = max_size
        self._entries: dict[K, tuple[object, V, datetime | None]] = {}
        NotifiedCache.channels.add(channel)

    def token(self) -> object | None:
        """The channel's token from this process's listening watcher, ``None`` when nothing may be cached."""
        return process_token(self.channel)

    def get(self, key: K, token: object | None, *, now: datetime | None = None) -> V | None:
        """The value stored under ``token`` (unexpired at ``now``, default the current time), else ``None``."""
        if token is None:
            return None
        entry = self._entries.get(key)
        if entry is None or entry[0] != token:
            return None
        expires_at = entry[2]
        if expires_at is not None and expires_at <= (now or datetime.now(UTC)):
            return None
        return entry[1]

    def put(self, key: K, token: object | None, value: V, *, expires_at: datetime | None = None) -> None:
        """Store ``value`` read after ``token`` was taken; nothing when ``token`` is ``None``."""
        if token is None:
            return
        if len(self._entries) >= self.max_size and key not in self._entries:
            self._entries.clear()
        self._entries[key] = (token, value, expires_at)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_PENDING: Final = "pgnotify_invalidate"


def invalidate_after_commit(session: AsyncSession | Session, *channels: str) -> None:
    """Invalidate ``channels`` in this process as soon as ``session``'s transaction commits.

    The trigger's notification does the same for every process a moment later; this makes a
    process read its own write at once.
    """
    session.info.setdefault(_PENDING, set()).update(channels)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: Any) -> None:
    """ORM changes of a model with ``__notify_channel__`` invalidate that channel after commit."""
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        channel = getattr(type(obj), "__notify_channel__", None)
        if channel is not None:
            session.info.setdefault(_PENDING, set()).add(channel)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    channels = session.info.pop(_PENDING, None)
    if channels:
        invalidate_local(channels)


class PgNotifyWatcher:
    """One listening connection per process; per-channel tokens for the caches (see the module docstring)."""

    def __init__(
        self, database_url: str, channels: Iterable[str], *, name: str, keepalive_s: float = KEEPALIVE_S
    ):
        self._dsn = asyncpg_dsn(database_url)
        self.channels = tuple(channels)
        self.name = name
        self.keepalive_s = keepalive_s
        self._generations = dict.fromkeys(self.channels, 0)
        self._epoch = 0
        self._live = False
        self._conn: asyncpg.Connection | None = None
        self._conn_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._listening = asyncio.Event()
        self.notifications = 0
        _watchers.add(self)

    # ---- what the caches use -------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self._live

    def token(self, channel: str) -> Token | None:
        """The channel's current token, or ``None`` when nothing may be cached (not listening)."""
        if not self._live:
            return None
        return (self._epoch, self._generations[channel])

    def invalidate(self, channel: str) -> None:
        if channel in self._generations:
            self._generations[channel] += 1

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"pgnotify-{self.name}")

    async def wait_listening(self, timeout: float) -> bool:
        """Wait until the watcher listens (start-up); ``False`` after ``timeout`` (it keeps trying)."""
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        self._stopping = True
        self._set_down()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close()
        _watchers.discard(self)

    async def barrier(self, timeout: float = 5.0) -> None:
        """Return once every notification committed before this call has been applied.

        Notifications reach a listener in commit order, so a notification this connection sends
        itself and then receives comes after all of them. Tests use it after writing with raw SQL.
        """
        conn = self._conn
        if not self._live or conn is None:
            return  # nothing is trusted while not listening: there is nothing to wait for
        key = uuid.uuid4().hex
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[key] = future
        try:
            async with self._conn_lock:
                await conn.execute("SELECT pg_notify($1, $2)", BARRIER_CHANNEL, key)
            await asyncio.wait_for(future, timeout)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            # The connection failed under us: it is being replaced and every token changes.
            self._set_down()
        finally:
            self._barriers.pop(key, None)

    # ---- the listening connection ----------------------------------------------------------------
    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self.notifications += 1
        if channel == BARRIER_CHANNEL:
            future = self._barriers.get(payload)
            if future is not None and not future.done():
                future.set_result(None)
            return
        self.invalidate(channel)

    def _set_down(self) -> None:
        self._live = False
        self._listening.clear()
        self._epoch += 1

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def _run(self) -> None:
        delay = 0.2
        while not self._stopping:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": f"{self.name}-listen"}
                )
                self._conn = conn
                conn.add_termination_listener(lambda _c, _lost=lost: _lost.set())
                for channel in (*self.channels, BARRIER_CHANNEL):
                    await conn.add_listener(channel, self._on_notify)
                # Listening from here on: whatever was cached before is distrusted (new epoch).
                self._epoch += 1
                self._live = True
                self._listening.set()
                delay = 0.2
                log.info("pgnotify_listening", watcher=self.name, channels=list(self.channels))
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.keepalive_s)
                        break
                    async with self._conn_lock:
                        await conn.execute("SELECT 1", timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, reset, timeout …: retry with back-off
                if not self._stopping:
                    log.warning("pgnotify_down", watcher=self.name, error=f"{type(exc).__name__}: {exc}")
            finally:
                was_live = self._live
                self._set_down()
                await self._close()
                if was_live and not self._stopping:
                    log.warning("pgnotify_lost", watcher=self.name)
            if self._stopping:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
