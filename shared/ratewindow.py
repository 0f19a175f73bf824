"""Sliding-window counters in Redis, shared by every process and replica of a service.

One Lua script per hit (atomic: no two replicas can both take the last place in a window): for each
key it drops the entries older than the window, and if any key is full it answers how long to wait
without recording anything; otherwise it records the hit under every key. The time is Redis' own
(``TIME``), so replicas with skewed clocks agree. A key holds at most ``limit`` entries and expires
with its window, so a spray of distinct keys costs bounded memory.

While Redis is unreachable the counters fall back to the same window kept in this process (a limit of
``replicas × limit`` instead of ``limit``): the brake stays on, no request waits for Redis, and Redis
is tried again after a few seconds. ``rate_limit_local_fallbacks_total`` counts those hits.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict, deque
from typing import Any

import structlog
from prometheus_client import Counter

log = structlog.get_logger("ratewindow")

RATE_LIMIT_FALLBACKS = Counter(
    "rate_limit_local_fallbacks_total",
    "Rate-limit hits counted in the process because Redis was unreachable",
    ["service", "limiter"],
)

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
"""

#: How long Redis is left alone after a failed call (the local window counts meanwhile).
REDIS_RETRY_AFTER_S = 5.0
#: A Redis call slower than this counts as a failure (the request does not wait longer for a counter).
REDIS_TIMEOUT_S = 1.0
_LOCAL_MAX_KEYS = 10_000


class LocalWindow:
    """The same sliding window in this process only (the fallback, and for code without Redis)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, keys: list[str], now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key in keys:
            hits = self._hits[key]
            while hits and now - hits[0] >= self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = max(wait, self.window_s - (now - hits[0]))
        if wait > 0:
            return wait
        if len(self._hits) > _LOCAL_MAX_KEYS:  # bound memory under a spray of keys
            self._hits.clear()
        for key in keys:
            self._hits[key].append(now)
        return None


class SharedWindow:
    """At most ``limit`` hits per key in any ``window_s`` seconds, counted in Redis."""

    def __init__(self, service: str, name: str, limit: int, window_s: float = 60.0) -> None:
        self.service = service
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self.local = LocalWindow(limit, window_s)
        self._scripts: dict[int, Any] = {}
        self._redis_down_until = 0.0

    def redis_key(self, key: str) -> str:
        return f"ratelimit:{self.service}:{self.name}:{key}"

    async def hit(self, redis: Any, *keys: str) -> float | None:
        """Record one hit under every key; None when allowed, else the seconds to wait (nothing recorded)."""
        if redis is not None and time.monotonic() >= self._redis_down_until:
            try:
                script = self._scripts.get(id(redis))
                if script is None:
                    script = self._scripts[id(redis)] = redis.register_script(_SCRIPT)
                member = f"{time.time_ns()}-{secrets.token_hex(4)}"
                async with asyncio.timeout(REDIS_TIMEOUT_S):  # no extra task, unlike wait_for
                    wait_ms = await script(
                        keys=[self.redis_key(k) for k in keys],
                        args=[int(self.window_s * 1000), self.limit, member],
                    )
                return int(wait_ms) / 1000 if int(wait_ms) > 0 else None
            except Exception as exc:  # Redis down, slow or refusing: the local window takes over
                self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_S
                log.warning("rate_limit_redis_unavailable", limiter=self.name, error=type(exc).__name__)
        RATE_LIMIT_FALLBACKS.labels(self.service, self.name).inc()
        return self.local.hit(list(keys))


def retry_after(wait_s: float) -> str:
    """A ``Retry-After`` value (whole seconds, at least 1) for a wait."""
    return str(max(1, int(wait_s) + 1))
