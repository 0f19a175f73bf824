"""A small HTTP/1.1 GET client for the contact lookups: keep-alive connections, httptools' parser.

Every delivery makes one lookup, so its cost is on the hot path. httpx (with httpcore and anyio
under it) spent about a quarter of the worker's CPU on these GETs, more than the rest of the
delivery; this client does the same request with a fraction of the work. It does what the lookup
needs and no more: ``GET`` with fixed headers (service token, User-Agent) plus the request id,
responses delimited by ``Content-Length``, chunked encoding or the end of the connection, no
redirects, no compression, no TLS proxying (``https`` is supported through ``ssl``).

Connections are kept open and reused (at most ``size`` at once, the others wait). A reused
connection the server closed while idle is noticed when the request finds it dead before any
response byte: the request is then sent again once on a fresh connection (a GET is idempotent).
Every other failure is raised as :class:`LookupHttpError` and the connection is dropped.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import quote, urlsplit

import httptools

from shared.logging import request_id_var

USER_AGENT = "gunma-sdgs-platform/0.1"


class LookupHttpError(Exception):
    """The request failed without an HTTP response (connection refused or lost, bad response)."""


class LookupTimeout(LookupHttpError):
    """No (complete) response within the timeout."""


@dataclass
class LookupResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes


@dataclass
class _Message:
    status_code: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    headers_done: bool = False


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.message = _Message()
        self.waiter: asyncio.Future[LookupResponse] | None = None
        self.received_any = False
        self.keep_alive = True
        self.lost = False

    # ---- asyncio.Protocol ----
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's TCPTransport is one without subclassing asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(LookupHttpError("unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(LookupHttpError(f"invalid HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.keep_alive = False
        m = self.message
        if (
            m.headers_done
            and "content-length" not in m.headers
            and "chunked" not in m.headers.get("transfer-encoding", "")
        ):
            self.on_message_complete()  # the body ended with the connection (RFC 9112 §6.3)
        else:
            self._fail(
                LookupHttpError(f"connection lost ({type(exc).__name__ if exc else 'closed by the server'})")
            )

    # ---- httptools callbacks ----
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.message.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self.message.status_code = self.parser.get_status_code()
        self.message.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.message.body.append(body)

    def on_message_complete(self) -> None:
        m = self.message
        if not self.lost:
            self.keep_alive = bool(self.parser.should_keep_alive())
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(LookupResponse(m.status_code, m.headers, b"".join(m.body)))

    # ---- use ----
    def _fail(self, exc: LookupHttpError) -> None:
        self.keep_alive = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    @property
    def usable(self) -> bool:
        return (
            self.keep_alive
            and not self.lost
            and self.transport is not None
            and not self.transport.is_closing()
        )

    async def request(self, data: bytes) -> LookupResponse:
        assert self.transport is not None
        self.message = _Message()
        self.received_any = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        try:
            return await self.waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()


class LookupClient:
    """``GET`` against one base URL over a few kept-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        service_token: str | None = None,
        timeout_s: float = 10.0,
        connect_timeout_s: float | None = None,
        size: int = 20,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(3.0, timeout_s) if connect_timeout_s is None else connect_timeout_s
        default_port = (parts.scheme == "https" and self.port == 443) or (
            parts.scheme == "http" and self.port == 80
        )
        host_header = parts.netloc.rpartition("@")[2] if not default_port else self.host
        fixed = [f"Host: {host_header}", f"User-Agent: {USER_AGENT}", "Accept: */*"]
        if service_token:
            fixed.append(f"Authorization: Bearer {service_token}")
        self._fixed_headers = "\r\n".join(fixed)
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []
        self.connections_opened = 0

    def _request_bytes(self, path: str) -> bytes:
        rid = request_id_var.get()
        extra = f"\r\nX-Request-ID: {rid}" if rid and rid.isprintable() and rid.isascii() else ""
        target = quote(
            self.prefix + path, safe="/:@!$&'()*+,;=-._~%?"
        )  # no space or CR/LF in the request line
        return f"GET {target} HTTP/1.1\r\n{self._fixed_headers}{extra}\r\n\r\n".encode("latin-1")

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, protocol = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError as exc:
            raise LookupTimeout(f"connect timed out after {self.connect_timeout_s:g} s") from exc
        except OSError as exc:
            raise LookupHttpError(f"connect failed: {type(exc).__name__}: {exc}") from exc
        self.connections_opened += 1
        return protocol

    async def get(self, path: str) -> LookupResponse:
        """``GET base_url + path``; raises :class:`LookupTimeout` / :class:`LookupHttpError`."""
        data = self._request_bytes(path)
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._send(data)
            except TimeoutError as exc:
                raise LookupTimeout(f"no response within {self.timeout_s:g} s") from exc

    async def _send(self, data: bytes) -> LookupResponse:
        while self._idle:
            conn = self._idle.pop()
            if not conn.usable:
                conn.close()
                continue
            try:
                response = await self._exchange(conn, data)
            except LookupHttpError:
                if conn.received_any:
                    raise
                continue  # the server had closed the idle connection: next one (or a new one)
            return response
        return await self._exchange(await self._connect(), data)

    async def _exchange(self, conn: _Connection, data: bytes) -> LookupResponse:
        reusable = False
        try:
            response = await conn.request(data)
            reusable = conn.usable
            return response
        finally:  # also on cancellation (timeout): a half-read connection is never reused
            if reusable:
                self._idle.append(conn)
            else:
                conn.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
