"""Public GETs: language, ETag/304 and in-process response caches, all keyed by the registry version.

Every write bumps ``kpi.registry_version`` in its own transaction (:func:`bump_version`); a trigger
on that row notifies the channel ``kpi_registry`` at commit (migration 0007). Each process keeps
the version in memory, trusted while its :class:`~shared.pgnotify.PgNotifyWatcher` token for the
channel is unchanged, so a public GET normally costs **no SQL**:

1. :class:`KpiFastPath` (pure ASGI, inside the platform middleware): a GET whose exact path, query
   and language were answered before under the current token is answered from memory — 304 when
   ``If-None-Match`` matches, else the stored bytes — without routing, validation or a session.
   Only successful answers are stored, so the request was validated when it was first answered.
2. Otherwise :func:`conditional_get` derives the strong ETag from (epoch, version, service version,
   language, path, sorted query), answers a matching ``If-None-Match`` with 304, serves a body from
   the per-process LRU keyed by that ETag, or builds and stores it.

While the watcher is not listening (start-up, PostgreSQL unreachable) the version is read from
the database on every request, as before: no cache can then serve stale data. With it, staleness
is bounded by the delivery of one notification, and a process that commits a change reads it at
once (:func:`shared.pgnotify.invalidate_after_commit`). Replicas each keep their own caches and
agree on ETags.

If the version row is missing (a database that has never been written to), nothing is cached and
the ETag is a hash of the body itself.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request, Response
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kpi_api.core.models import RegistryVersion
from services.kpi_api.core.vocab import Language
from shared.errors import prefers_japanese
from shared.pgnotify import NotifiedCache, PgNotifyWatcher, Token, invalidate_after_commit

JSON: Final = "application/json"
CSV: Final = "text/csv; charset=utf-8"
CACHE_ENTRIES: Final = 256
CACHE_MAX_BODY: Final = 4 * 1024 * 1024
#: The notification channel of the registry version (migration 0007's trigger).
CHANNEL: Final = "kpi_registry"
#: Entries and bytes of the fast path's index before it starts over (it also starts over on every
#: change): distinct queries (``q=`` searches …) must not grow a process's memory without bound.
FAST_ENTRIES: Final = 1024
FAST_BYTES: Final = 64 * 1024 * 1024

Builder = Callable[[Language], Awaitable[bytes]]


def language(request: Request) -> Language:
    """`Accept-Language`: Japanese by default, English when it is preferred."""
    return "ja" if prefers_japanese(request) else "en"


@dataclass(frozen=True)
class _Entry:
    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...]


class ResponseCache:
    """A bounded LRU of response bodies keyed by ETag (per process)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._data: OrderedDict[str, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, etag: str) -> _Entry | None:
        entry = self._data.get(etag)
        if entry is None:
            self.misses += 1
            return None
        self._data.move_to_end(etag)
        self.hits += 1
        return entry

    def put(self, etag: str, entry: _Entry) -> None:
        if len(entry.body) > CACHE_MAX_BODY:
            return
        self._data[etag] = entry
        self._data.move_to_end(etag)
        while len(self._data) > self.entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


def response_cache(request: Request) -> ResponseCache:
    state = request.app.state
    cache: ResponseCache | None = getattr(state, "kpi_response_cache", None)
    if cache is None:
        cache = ResponseCache()
        state.kpi_response_cache = cache
    return cache


Version = tuple[str, int]


@dataclass(frozen=True)
class _Fast:
    """What the fast path needs to answer one exact request again."""

    etag: str
    body: bytes
    headers_200: list[tuple[bytes, bytes]]
    headers_304: list[tuple[bytes, bytes]]
    route: Any


class RegistryState:
    """Per process: the registry version read under a watcher token, and the fast path's index."""

    def __init__(self) -> None:
        #: The registry version (one entry), trusted while the app watcher's token is unchanged.
        self.version: NotifiedCache[None, Version] = NotifiedCache(CHANNEL, max_size=1)
        self.fast_token: Token | None = None
        self.fast: dict[tuple[str, bytes, bytes], _Fast] = {}
        self.fast_bytes = 0
        self.fast_hits = 0

    def remember(self, token: Token, key: tuple[str, bytes, bytes], entry: _Fast) -> None:
        if self.fast_token is None or token > self.fast_token:
            self._clear()  # the registry changed: every older answer is dead
            self.fast_token = token
        elif token < self.fast_token:
            return  # built under an older version than the index holds
        if len(self.fast) >= FAST_ENTRIES or self.fast_bytes + len(entry.body) > FAST_BYTES:
            self._clear()
        previous = self.fast.get(key)
        self.fast_bytes += len(entry.body) - (len(previous.body) if previous is not None else 0)
        self.fast[key] = entry

    def _clear(self) -> None:
        self.fast.clear()
        self.fast_bytes = 0

    def lookup(self, token: Token, key: tuple[str, bytes, bytes]) -> _Fast | None:
        if token != self.fast_token:
            return None
        return self.fast.get(key)


def registry_state(app: Any) -> RegistryState:
    state = app.state
    current: RegistryState | None = getattr(state, "kpi_registry_state", None)
    if current is None:
        current = RegistryState()
        state.kpi_registry_state = current
    return current


def _watcher(app: Any) -> PgNotifyWatcher | None:
    return getattr(app.state, "pg_watcher", None)


async def _read_version(session: AsyncSession) -> Version | None:
    row = (
        await session.execute(
            select(RegistryVersion.epoch, RegistryVersion.version).where(RegistryVersion.id == 1)
        )
    ).first()
    return (str(row.epoch), int(row.version)) if row is not None else None


async def current_version(request: Request, session: AsyncSession) -> tuple[Version | None, Token | None]:
    """The registry version, from memory while the watcher vouches for it, else from the database.

    The token is taken *before* the read: a change committed during the read changes the token,
    so what was read is never trusted beyond it.
    """
    watcher = _watcher(request.app)
    token = watcher.token(CHANNEL) if watcher is not None else None
    state = registry_state(request.app)
    cached = state.version.get(None, token)
    if cached is not None:
        return cached, token
    version = await _read_version(session)
    if version is not None:  # an empty registry (no version row yet) is read again next time
        state.version.put(None, token, version)
    return version, token


async def bump_version(session: AsyncSession) -> None:
    """Call in the transaction of every write to the registry (last, to hold the row lock briefly)."""
    statement = insert(RegistryVersion).values(id=1, version=1)
    statement = statement.on_conflict_do_update(
        index_elements=[RegistryVersion.id],
        set_={"version": RegistryVersion.version + 1, "changed_at": func.now()},
    )
    await session.execute(statement)
    invalidate_after_commit(session, CHANNEL)


def _quote(digest: str) -> str:
    return f'"{digest}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires: `W/` prefixes are ignored; `*` matches."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _not_modified(etag: str, lang: Language) -> Response:
    return Response(status_code=304, headers=_headers(etag, lang))


def _headers(etag: str, lang: Language, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    headers = {
        "ETag": etag,
        "Cache-Control": "public, no-cache",
        "Vary": "Accept-Language",
        "Content-Language": lang,
    }
    headers.update(extra)
    return headers


def _raw_headers(
    headers: dict[str, str], *, body_length: int | None, media_type: str | None
) -> list[tuple[bytes, bytes]]:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body_length is not None:
        raw.append((b"content-length", str(body_length).encode()))
    if media_type is not None:
        raw.append((b"content-type", media_type.encode("latin-1")))
    return raw


def _request_key(request: Request, lang: Language, epoch: str, version: int) -> str:
    query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))
    return f"{epoch}|{version}|{request.app.version}|{lang}|{request.url.path}|{query}"


async def conditional_get(
    request: Request,
    session: AsyncSession,
    build: Builder,
    *,
    media_type: str = JSON,
    headers: tuple[tuple[str, str], ...] = (),
    content_language: Language | None = None,
) -> Response:
    """Answer a public GET with ETag, 304 and the version-keyed cache (see the module docstring).

    ``content_language``: the language of the answer when the route chooses it itself (the
    progress site's ``?lang=``); the query is part of every key, so answers never mix.
    """
    header_lang = language(request)
    lang = content_language or header_lang
    if_none_match = request.headers.get("if-none-match")
    version, token = await current_version(request, session)
    if version is None:
        body = await build(lang)
        etag = _quote(hashlib.blake2b(body, digest_size=16).hexdigest())
        if if_none_match and etag_matches(if_none_match, etag):
            return _not_modified(etag, lang)
        return Response(body, media_type=media_type, headers=_headers(etag, lang, headers))

    key = _request_key(request, lang, *version)
    etag = _quote(hashlib.blake2b(key.encode(), digest_size=16).hexdigest())
    if if_none_match and etag_matches(if_none_match, etag):
        return _not_modified(etag, lang)
    cache = response_cache(request)
    entry = cache.get(etag)
    if entry is None:
        entry = _Entry(await build(lang), media_type, headers)
        cache.put(etag, entry)
    response = Response(entry.body, media_type=entry.media_type, headers=_headers(etag, lang, entry.headers))
    # Only answers to requests without credentials are replayed: such a request can only have
    # succeeded on a public route, so the fast path (which runs no dependency) can never serve a
    # route that needs a token, whatever routes are added later.
    if token is not None and len(entry.body) <= CACHE_MAX_BODY and "authorization" not in request.headers:
        registry_state(request.app).remember(
            token,
            (header_lang, request.scope["path"].encode(), request.scope.get("query_string", b"")),
            _Fast(
                etag=etag,
                body=entry.body,
                headers_200=list(response.raw_headers),
                headers_304=_raw_headers(_headers(etag, lang), body_length=None, media_type=None),
                route=request.scope.get("route"),
            ),
        )
    return response


class KpiFastPath:
    """Answer a GET that was answered before under the current registry version from memory.

    See the module docstring. Anything else — another method, a request not seen under this
    version, a watcher that is not listening — goes through the normal route unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            app = scope.get("app")
            watcher = _watcher(app) if app is not None else None
            token = watcher.token(CHANNEL) if watcher is not None else None
            if token is not None:
                accept_language = b""
                if_none_match = b""
                for name, value in scope["headers"]:
                    if name == b"accept-language":
                        accept_language = value
                    elif name == b"if-none-match":
                        if_none_match = value
                lang = "en" if accept_language.strip().lower().startswith(b"en") else "ja"
                state = registry_state(app)
                hit = state.lookup(token, (lang, scope["path"].encode(), scope.get("query_string", b"")))
                if hit is not None:
                    state.fast_hits += 1
                    scope["route"] = hit.route  # the metrics label of the route
                    if if_none_match and etag_matches(if_none_match.decode("latin-1"), hit.etag):
                        await send(
                            {"type": "http.response.start", "status": 304, "headers": list(hit.headers_304)}
                        )
                        await send({"type": "http.response.body", "body": b""})
                        return
                    await send(
                        {"type": "http.response.start", "status": 200, "headers": list(hit.headers_200)}
                    )
                    await send({"type": "http.response.body", "body": hit.body})
                    return
        await self.app(scope, receive, send)
