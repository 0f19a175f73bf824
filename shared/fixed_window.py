"""Fixed-window counters in Redis, shared by every process and replica: ``INCR`` + ``EXPIRE``.

``await hit(redis, "guest-registration:address:203.0.113.7", limit=20, window_s=3600)`` counts one
attempt and answers ``None`` while the count is within ``limit``, else the seconds until the window
ends (for ``Retry-After``). ``SET key 0 EX window NX`` opens a window with its expiry and ``INCR``
counts, in one ``MULTI`` transaction, so no counter can exist without an expiry. Refused
attempts count too: someone hammering stays refused until the window ends.

Use :func:`raise_if_limited` from a route to answer a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

from redis.asyncio import Redis

from shared.errors import TooManyRequests

KEY_PREFIX = "ratelimit:"


async def hit(redis: Redis, key: str, *, limit: int, window_s: int) -> int | None:
    """Count one attempt under ``key``; ``None`` if allowed, else the seconds left in the window."""
    name = KEY_PREFIX + key
    async with redis.pipeline(transaction=True) as pipe:
        # SET ... NX EX starts a window with its expiry in one command (works on Redis 6.2, the
        # embedded server's; EXPIRE NX would need 7); INCR keeps the expiry.
        pipe.set(name, 0, ex=window_s, nx=True)
        pipe.incr(name)
        pipe.ttl(name)
        _, count, ttl = await pipe.execute()
    if int(count) <= limit:
        return None
    return max(1, int(ttl)) if int(ttl) > 0 else window_s


async def raise_if_limited(
    redis: Redis, key: str, *, limit: int, window_s: int, what_en: str, what_ja: str
) -> None:
    """:func:`hit`, raising a 429 ``rate-limited`` problem with ``Retry-After`` when over the limit."""
    retry = await hit(redis, key, limit=limit, window_s=window_s)
    if retry is not None:
        raise TooManyRequests(
            f"Too many {what_en}; try again in {retry} seconds.",
            detail_ja=f"{what_ja}が多すぎます。{retry}秒後に再度お試しください。",
            headers={"Retry-After": str(retry)},
            retry_after_s=retry,
        )
