"""Per-token rate limits for operations a script could abuse (the front desk's check-in).

A sliding one-minute window per (operation, token), in the process: each API replica limits on its
own, which bounds a leaked or runaway token to ``replicas × limit`` per minute, enough to stop card
guessing and runaway kiosks without shared state. Every attempt counts, refused ones included: a
check-in with a wrong card is exactly what the limit is for.

Use as a route dependency::

    @router.post("/visits", dependencies=[Depends(per_token_limit("check-in", "checkin_rate_limit_per_minute"))])

The limit is read from the app's settings by name (so each service declares its own setting).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from shared.auth import CurrentPrincipal, Principal
from shared.errors import TooManyRequests

_MAX_KEYS = 10_000


class SlidingWindowLimiter:
    """At most ``limit`` hits per key in any 60-second window."""

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Record a hit; returns None when allowed, else the seconds to wait (the hit is not recorded)."""
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and now - hits[0] >= 60:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(60 - (now - hits[0])) + 1)
        if len(self._hits) > _MAX_KEYS:  # bound memory under a spray of tokens
            self._hits.clear()
            hits = self._hits[key]
        hits.append(now)
        return None


def token_key(principal: Principal) -> str:
    return principal.token_id or f"{principal.role}:{principal.name}"


def per_token_limit(
    operation: str, setting: str, default: int = 120
) -> Callable[[Request, Principal], Coroutine[Any, Any, Principal]]:
    """Dependency: 429 + ``Retry-After`` once a token exceeds ``settings.<setting>`` calls a minute."""

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        limit = int(getattr(request.app.state.settings, setting, default))
        limiters: dict[str, SlidingWindowLimiter] | None = getattr(request.app.state, "rate_limiters", None)
        if limiters is None:
            limiters = request.app.state.rate_limiters = {}
        limiter = limiters.get(operation)
        if limiter is None or limiter.limit != limit:
            limiter = limiters[operation] = SlidingWindowLimiter(limit)
        retry = limiter.hit(token_key(principal))
        if retry is not None:
            raise TooManyRequests(
                f"Too many {operation} requests with this token: at most {limit} a minute.",
                detail_ja=f"このトークンでの{operation}が多すぎます(1分間に{limit}回まで)。しばらくしてから再度お試しください。",
                headers={"Retry-After": str(retry)},
            )
        return principal

    dependency.__name__ = f"limit_{operation.replace('-', '_')}"
    return dependency
