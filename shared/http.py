"""Service-to-service HTTP: timeouts, a bounded retry for idempotent calls, the service token and
request-id propagation."""

from __future__ import annotations

import asyncio
import random

import httpx

from shared.logging import request_id_var

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retries idempotent requests on connection errors and 502/503/504, with jittered backoff.

    Non-idempotent requests are retried only when they carry an ``Idempotency-Key`` header.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, attempts: int = 3, base_delay_s: float = 0.2):
        self.inner = inner
        self.attempts = attempts
        self.base_delay_s = base_delay_s

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        retryable = request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError):
                if not retryable or attempt >= self.attempts:
                    raise
            else:
                if not retryable or attempt >= self.attempts or response.status_code not in RETRY_STATUSES:
                    return response
                await response.aclose()
            await asyncio.sleep(self.base_delay_s * (2 ** (attempt - 1)) * (0.5 + random.random()))

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _propagate_request_id(request: httpx.Request) -> None:
    rid = request_id_var.get()
    if rid and "x-request-id" not in request.headers:
        request.headers["X-Request-ID"] = rid


def make_client(
    base_url: str,
    *,
    service_token: str | None = None,
    timeout_s: float = 10.0,
    attempts: int = 3,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    headers = {"User-Agent": "gunma-sdgs-platform/0.1"}
    if service_token:
        headers["Authorization"] = f"Bearer {service_token}"
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s)),
        transport=RetryingTransport(transport or httpx.AsyncHTTPTransport(), attempts=attempts),
        event_hooks={"request": [_propagate_request_id]},
        follow_redirects=False,
    )
