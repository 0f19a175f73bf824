"""One pure-ASGI middleware for every service: request id, metrics, header- and body-size limits,
text checks of JSON bodies and URLs, a sane ``Host``, relative redirects, security headers.

It is a single layer (not four ``BaseHTTPMiddleware``s) because it sits on the hot path of every
request: the front desk's check-ins and the dashboards' KPI reads.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

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


# Request ids: a random per-process prefix and a counter. Unique across processes and restarts
# (64 random bits), cheaper than uuid4 (no getrandom() system call per request).
_RID_PREFIX = secrets.token_hex(8)
_rid_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_counter):016x}"


#: A ``Host`` header: a registered name (RFC 3986 reg-name characters) or an IP literal, and a port.
#: No ``/``, ``?``, ``#``, ``@`` or spaces, which would let it rewrite the path of a URL built from it.
_HOST = re.compile(rb"^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json_media_type(content_type: bytes | None) -> bool:
    """Whether a body is parsed as JSON by the framework: ``*/json`` or ``*/*+json`` in any casing,
    with any parameters. (FastAPI parses a body that declares no type as JSON too: see
    ``_must_check_as_json``.)"""
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media.endswith((b"/json", b"+json")) and b"/" in media


def _must_check_as_json(method: str, content_type: bytes | None) -> bool:
    if content_type is None or not content_type.strip():
        return method in _BODY_METHODS
    return is_json_media_type(content_type)


def relative_location(location: bytes) -> bytes:
    """``http://any.host/v1/x/?a=1`` → ``/v1/x/?a=1``: the service only ever redirects to itself, and the
    host of an absolute URL would be the request's ``Host`` header, i.e. whatever the client sent."""
    if b"://" not in location and not location.startswith(b"//"):
        return location
    parts = urlsplit(location.decode("latin-1"))
    path = parts.path or "/"
    if path.startswith("//"):  # "//evil.example" as a path would be read as a host again
        path = "/" + path.lstrip("/")
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


class PlatformMiddleware:
    def __init__(
        self, app: ASGIApp, *, service: str, max_body_bytes: int, max_header_bytes: int = 16_384
    ) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers") or []
        headers = dict(raw_headers)
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if incoming and _valid_request_id(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = [500]
        rid_bytes = request_id.encode()

        header_bytes = sum(len(k) + len(v) + 4 for k, v in raw_headers)
        if header_bytes > self.max_header_bytes:
            await self._send_problem(
                scope,
                send,
                rid_bytes,
                431,
                "request-header-fields-too-large",
                "Request header fields too large",
                f"The request's headers exceed {self.max_header_bytes} bytes.",
                {"connection": "close"},
            )
            self._record(scope, 431, started)
            request_id_var.reset(token)
            return

        host = headers.get(b"host")
        if host is not None and not _HOST.match(host):
            await self._send_problem(
                scope,
                send,
                rid_bytes,
                400,
                "invalid-host",
                "Invalid Host header",
                "The Host header is not a host name or address with an optional port.",
                {},
            )
            self._record(scope, 400, started)
            request_id_var.reset(token)
            return

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send, rid_bytes)
            self._record(scope, 413, started)
            request_id_var.reset(token)
            return

        bad = _bad_text_in_url(scope)
        if bad:
            await self._send_problem(scope, send, rid_bytes, 422, "invalid-text", "Invalid text", bad, {})
            self._record(scope, 422, started)
            request_id_var.reset(token)
            return

        received = 0
        too_large = False
        buffered: Message | None = None
        if _must_check_as_json(scope["method"], headers.get(b"content-type")):
            # JSON bodies are small (bounded by max_body_bytes): read them whole and check the text
            # before any handler sees it, so NUL and broken Unicode get one clear 422 everywhere.
            # Media types are case-insensitive and may carry parameters (application/JSON;
            # charset=utf-8, application/vnd.x+json): every form the framework parses is checked.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    await self._too_large(scope, send, rid_bytes)
                    self._record(scope, 413, started)
                    request_id_var.reset(token)
                    return
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            problem = _bad_text_in_json(body)
            if problem:
                await self._send_problem(
                    scope, send, rid_bytes, 422, "invalid-text", "Invalid text", problem, {}
                )
                self._record(scope, 422, started)
                request_id_var.reset(token)
                return
            buffered = {"type": "http.request", "body": body, "more_body": False}

        async def limited_receive() -> Message:
            nonlocal received, too_large, buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        started_response = False

        async def tracking_send(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
                status_holder[0] = message["status"]
                raw = list(message.get("headers", []))
                html = False
                own_csp = False  # a page with its own (stricter) policy keeps it
                for name, value in raw:
                    if value.startswith(b"text/html") and name.lower() == b"content-type":
                        html = True
                    own_csp = own_csp or name.lower() == b"content-security-policy"
                if message["status"] in _REDIRECTS:
                    raw = [
                        (name, relative_location(value) if name.lower() == b"location" else value)
                        for name, value in raw
                    ]
                raw.append((b"x-request-id", rid_bytes))
                raw.extend(SECURITY_HEADERS)
                if html and not own_csp and not scope["path"].startswith(("/docs", "/redoc")):
                    raw.append((b"content-security-policy", HTML_CSP))
                message["headers"] = raw
            await send(message)

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
            self._record(scope, 413 if too_large else status_holder[0], started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        # The labelled children are looked up once per (method, route, status), not per request.
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(self.service, method, path, str(status)),
                HTTP_DURATION.labels(self.service, method, path),
            )
            if len(self._children) < 10_000:  # bounded: routes × methods × statuses
                self._children[key] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - started)

    async def _too_large(self, scope: Scope, send: Send, rid: bytes) -> None:
        await self._send_problem(
            scope,
            send,
            rid,
            413,
            "payload-too-large",
            "Request body too large",
            f"The request body exceeds {self.max_body_bytes} bytes.",
            {"connection": "close"},
        )

    @staticmethod
    async def _send_problem(
        scope: Scope,
        send: Send,
        rid: bytes,
        status: int,
        slug: str,
        title: str,
        detail: str,
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


# PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate is not a character: both are refused
# for every service at the edge (422), so no handler can turn them into a 500. A JSON string that
# literally contains the six characters "\u0000" after an escaped backslash is refused too; that
# is the documented price of a check that needs no JSON parse.
_NUL_ESCAPE = re.compile(rb"\\u0000")
_LONE_HIGH = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})")
_LONE_LOW = re.compile(rb"(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def _bad_text_in_json(body: bytes) -> str | None:
    if b"\x00" in body or _NUL_ESCAPE.search(body):
        return "Text must not contain NUL characters."
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "The request body is not valid UTF-8."
    if b"\\u" in body and (_LONE_HIGH.search(body) or _LONE_LOW.search(body)):
        return "The request body contains an unpaired UTF-16 surrogate."
    return None


def _bad_text_in_url(scope: Scope) -> str | None:
    raw = scope.get("query_string", b"") + b"/" + (scope.get("raw_path") or b"")
    if b"%" not in raw and b"\x00" not in raw:
        return None
    decoded = unquote_to_bytes(raw)
    if b"\x00" in decoded:
        return "The URL must not contain NUL characters."
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "The URL is not valid UTF-8."
    return None
