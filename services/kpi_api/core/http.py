"""Public GETs: language, ETag/304 and an in-process response cache, all keyed by the registry version.

Every write bumps ``kpi.registry_version`` in its own transaction (:func:`bump_version`). A public
GET first reads that row (one primary-key lookup) and derives a strong ETag from
(epoch, version, service version, language, path, sorted query). A matching ``If-None-Match``
is answered 304 at once; otherwise the body comes from a small per-process LRU keyed by the same
ETag, or is built and stored. The cache can never serve stale data: any committed write changes
the version, hence the key. Replicas each keep their own cache and agree on ETags.

If the version row is missing (a database that has never been written to), nothing is cached and
the ETag is a hash of the body itself.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from fastapi import Request, Response
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kpi_api.core.models import RegistryVersion
from services.kpi_api.core.vocab import Language
from shared.errors import prefers_japanese

JSON: Final = "application/json"
CSV: Final = "text/csv; charset=utf-8"
CACHE_ENTRIES: Final = 256
CACHE_MAX_BODY: Final = 4 * 1024 * 1024

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


async def current_version(session: AsyncSession) -> tuple[str, int] | None:
    row = (
        await session.execute(
            select(RegistryVersion.epoch, RegistryVersion.version).where(RegistryVersion.id == 1)
        )
    ).first()
    return (str(row.epoch), int(row.version)) if row is not None else None


async def bump_version(session: AsyncSession) -> None:
    """Call in the transaction of every write to the registry (last, to hold the row lock briefly)."""
    statement = insert(RegistryVersion).values(id=1, version=1)
    statement = statement.on_conflict_do_update(
        index_elements=[RegistryVersion.id],
        set_={"version": RegistryVersion.version + 1, "changed_at": func.now()},
    )
    await session.execute(statement)


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
) -> Response:
    """Answer a public GET with ETag, 304 and the version-keyed cache (see the module docstring)."""
    lang = language(request)
    if_none_match = request.headers.get("if-none-match")
    version = await current_version(session)
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
    return Response(entry.body, media_type=entry.media_type, headers=_headers(etag, lang, entry.headers))
