"""One pure-ASGI middleware for every service: request id, metrics, body-size limit, security headers.

It is a single layer (not four ``BaseHTTPMiddleware``s) because it sits on the hot path of every
request: the front desk's check-ins and the dashboards' KPI reads.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_JSON, problem_type, unexpected_problem
from shared.logging import request_id_var
from shared.metrics import HTTP_DURATION, HTTP_REQUESTS

log = structlog.get_logger("http")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
# Pages we render ourselves (the front-desk console, invoices) get a CSP; API docs load their own assets.
HTML_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _valid_request_id(value: str) -> bool:
    return 0 < len(value) <= 64 and all(c.isalnum() or c in "-_." for c in value)


class PlatformMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _valid_request_id(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = [500]
        rid_bytes = request_id.encode()

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send, rid_bytes)
            request_id_var.reset(token)
            return

        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                raw = list(message.get("headers", []))
                raw.append((b"x-request-id", rid_bytes))
                raw.extend(SECURITY_HEADERS)
                if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in raw):
                    if not scope["path"].startswith(("/docs", "/redoc")):
                        raw.append((b"content-security-policy", HTML_CSP))
                message["headers"] = raw
            await send(message)

        started_response = False

        async def tracking_send(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
            await send_wrapper(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            await self._too_large(scope, send, rid_bytes)
        except Exception as exc:
            # Rendered here, inside the request-id scope, rather than by Starlette's outermost
            # ServerErrorMiddleware, so 500/503 bodies carry the request id and security headers.
            if started_response:
                raise
            status, slug, title, detail, extra_headers = unexpected_problem(exc)
            status_holder[0] = status
            await self._send_problem(scope, send, rid_bytes, status, slug, title, detail, extra_headers)
        finally:
            if too_large:
                status_holder[0] = 413
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, scope["method"], path, str(status_holder[0])).inc()
            HTTP_DURATION.labels(self.service, scope["method"], path).observe(elapsed)
            request_id_var.reset(token)

    async def _too_large(self, scope: Scope, send: Send, rid: bytes) -> None:
        await self._send_problem(
            scope, send, rid, 413, "payload-too-large", "Request body too large",
            f"The request body exceeds {self.max_body_bytes} bytes.", {"connection": "close"},
        )

    @staticmethod
    async def _send_problem(
        scope: Scope, send: Send, rid: bytes, status: int, slug: str, title: str, detail: str,
        extra_headers: dict[str, str],
    ) -> None:
        body: dict[str, Any] = {
            "type": problem_type(slug),
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope["path"],
            "request_id": rid.decode(),
        }
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", rid),
                    *[(k.encode(), v.encode()) for k, v in extra_headers.items()],
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class _BodyTooLarge(Exception):
    pass
