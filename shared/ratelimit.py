"""Per-token rate limits for operations a script could abuse (the front desk's check-in).

A sliding one-minute window per (operation, token), counted in Redis (shared/ratewindow.py): every
process and replica of the service counts together, so n replicas still allow ``limit`` calls a
minute, not n × ``limit``. While Redis is unreachable each process counts on its own (the brake stays
on, at replicas × limit). Every attempt counts, refused ones included: a check-in with a wrong card
is exactly what the limit is for.

Use as a route dependency::

    @router.post("/visits", dependencies=[Depends(per_token_limit("check-in", "checkin_rate_limit_per_minute"))])

The limit is read from the app's settings by name (so each service declares its own setting).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from shared.auth import CurrentPrincipal, Principal
from shared.errors import TooManyRequests
from shared.ratewindow import LocalWindow, SharedWindow, retry_after

__all__ = ["LocalWindow", "SharedWindow", "per_token_limit", "token_key"]


def token_key(principal: Principal) -> str:
    return principal.token_id or f"{principal.role}:{principal.name}"


def per_token_limit(
    operation: str, setting: str, default: int = 120
) -> Callable[[Request, Principal], Coroutine[Any, Any, Principal]]:
    """Dependency: 429 + ``Retry-After`` once a token exceeds ``settings.<setting>`` calls a minute."""

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        limit = int(getattr(request.app.state.settings, setting, default))
        limiters: dict[str, SharedWindow] | None = getattr(request.app.state, "rate_limiters", None)
        if limiters is None:
            limiters = request.app.state.rate_limiters = {}
        limiter = limiters.get(operation)
        if limiter is None or limiter.limit != limit:
            service = str(getattr(request.app.state, "service", request.app.title))
            limiter = limiters[operation] = SharedWindow(service, operation, limit)
        wait = await limiter.hit(getattr(request.app.state, "redis", None), token_key(principal))
        if wait is not None:
            raise TooManyRequests(
                f"Too many {operation} requests with this token: at most {limit} a minute.",
                detail_ja=f"このトークンでの{operation}が多すぎます(1分間に{limit}回まで)。しばらくしてから再度お試しください。",
                headers={"Retry-After": retry_after(wait)},
            )
        return principal

    dependency.__name__ = f"limit_{operation.replace('-', '_')}"
    return dependency
