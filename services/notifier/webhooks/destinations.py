"""Where the worker may POST webhooks (SSRF defence, security finding 5), and which URLs it can use
at all (finding 6).

Two checks, both with the same address policy (:func:`forbidden_reason`):

- **at registration** (``POST``/``PATCH /v1/webhook-endpoints``, :func:`check_url`): the URL must
  be one the worker can use (http/https, a host name whose labels fit DNS, a port in range, no
  credentials) and its host must not be, or resolve to, a forbidden address;
- **at connect time** (:class:`GuardedBackend`, the network backend of the worker's webhook
  client): the host is resolved once (cached for ``WEBHOOK_DNS_CACHE_S``), every address it
  resolves to is checked, and the connection goes to one of those checked addresses (pinned):
  a name whose DNS changed after registration (DNS rebinding) cannot reach an internal address.
  The URL keeps its host name, so the ``Host`` header, TLS SNI and certificate verification are
  for the registered name.

Forbidden: loopback, private (RFC 1918, RFC 6598 shared, IPv6 ULA), link-local (the cloud metadata
address 169.254.169.254 among them), multicast, unspecified, reserved and documentation ranges,
and IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4, Teredo) that are any of those; also the
names ``localhost``, ``*.localhost``, ``*.internal`` and ``metadata``. ``WEBHOOK_ALLOW_PRIVATE_DESTINATIONS``
(development and tests only, off by default) allows them all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``async (host, port) -> addresses``: the system resolver by default; tests inject their own.
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_FORBIDDEN_NAMES = ("localhost", "metadata", "metadata.google.internal")
_FORBIDDEN_SUFFIXES = (".localhost", ".internal", ".local")


class UnusableUrl(ValueError):
    """The URL cannot be used as a webhook destination; ``str()`` says why (English), ``ja`` in Japanese."""

    def __init__(self, message: str, ja: str) -> None:
        super().__init__(message)
        self.ja = ja


class ForbiddenDestination(UnusableUrl):
    """The URL is usable but its destination is internal (loopback, private, metadata …)."""


class DestinationRefused(Exception):
    """The destination is (or resolves to) a forbidden address. Not an httpx/httpcore error on
    purpose: it reaches the engine as itself."""


class ResolutionFailed(Exception):
    """The host name did not resolve (temporary: DNS may answer later)."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why the worker must not connect to ``ip`` (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = forbidden_reason(embedded)
            return f"embeds {embedded}, which is {reason}" if reason else None
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _forbidden_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name in _FORBIDDEN_NAMES or name.endswith(_FORBIDDEN_SUFFIXES)


def parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check_host_syntax(host: str) -> str:
    """The host in ASCII (IDNA) form, or :class:`UnusableUrl`."""
    if not host:
        raise UnusableUrl("The URL has no host.", "URLにホスト名がありません。")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise UnusableUrl(
            "The host name cannot be encoded for DNS (IDNA).", "ホスト名をDNS用（IDNA）に変換できません。"
        ) from exc
    name = ascii_host.rstrip(".")
    if len(name) > MAX_HOST_LENGTH:
        raise UnusableUrl(
            f"The host name is longer than {MAX_HOST_LENGTH} characters.",
            f"ホスト名が{MAX_HOST_LENGTH}文字を超えています。",
        )
    for label in name.split("."):
        if not label:
            raise UnusableUrl(
                "The host name has an empty label ('..').", "ホスト名に空のラベル（..）があります。"
            )
        if len(label) > MAX_LABEL_LENGTH:
            raise UnusableUrl(
                f"A label of the host name is longer than {MAX_LABEL_LENGTH} characters.",
                f"ホスト名のラベルが{MAX_LABEL_LENGTH}文字を超えています。",
            )
    return ascii_host


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # ASCII form; an IPv6 literal without brackets
    port: int
    ip: IPAddress | None


def parse_destination(url: str) -> Destination:
    """What the worker would connect to for ``url``; :class:`UnusableUrl` when it cannot use it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise UnusableUrl("The URL cannot be parsed.", "URLを解釈できません。") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnusableUrl(
            "Only http and https URLs are accepted.", "http または https のURLのみ登録できます。"
        )
    if parsed.userinfo:
        raise UnusableUrl(
            "The URL must not contain credentials (user:password@); authenticate with the signature.",
            "URLに認証情報（user:password@）を含めることはできません。署名で認証してください。",
        )
    ip = parse_ip(parsed.raw_host.decode("ascii", "replace"))
    host = str(ip) if ip is not None else _check_host_syntax(parsed.raw_host.decode("ascii", "replace"))
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise UnusableUrl("The port must be between 1 and 65535.", "ポート番号は1〜65535で指定してください。")
    return Destination(parsed.scheme, host, port, ip)


async def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionFailed(f"{host} does not resolve") from exc
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def refused_addresses(addresses: list[str]) -> list[tuple[str, str]]:
    """``(address, reason)`` of each forbidden address (an unparsable one is forbidden too)."""
    refused = []
    for address in addresses:
        ip = parse_ip(address.split("%", 1)[0])
        reason = "not an address" if ip is None else forbidden_reason(ip)
        if reason:
            refused.append((address, reason))
    return refused


async def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """Registration check: :class:`UnusableUrl` with a clear message when the URL may not be used.

    A literal address is checked as it is; a name is resolved and refused when any address is
    forbidden. A name that does not resolve (yet) is accepted: the worker checks again at
    connect time, and refuses then."""
    dest = parse_destination(url)
    if allow_private:
        return
    if dest.ip is not None:
        reason = forbidden_reason(dest.ip)
        if reason:
            raise ForbiddenDestination(
                f"Webhook destinations must be public: {dest.ip} is {reason}.",
                f"Webhookの送信先は公開アドレスに限ります（{dest.ip} は内部・予約アドレスです）。",
            )
        return
    try:
        addresses = await asyncio.wait_for(resolver(dest.host, dest.port), timeout=5.0)
    except (ResolutionFailed, TimeoutError):
        addresses = []
    refused = refused_addresses(addresses)
    if refused:
        raise ForbiddenDestination(
            f"Webhook destinations must be public: {dest.host} resolves to {refused[0][0]}, which is {refused[0][1]}.",
            f"Webhookの送信先は公開アドレスに限ります（{dest.host} は内部・予約アドレスに解決されます）。",
        )
    if _forbidden_name(dest.host):
        raise ForbiddenDestination(
            f"Webhook destinations must be public: {dest.host} is an internal name.",
            f"Webhookの送信先は公開アドレスに限ります（{dest.host} は内部向けの名前です）。",
        )


class PinnedResolver:
    """Resolve-and-check with a short per-host cache. An entry is only ever a list of addresses that
    passed the check; when it expires the host is resolved and checked again."""

    def __init__(self, *, allow_private: bool, ttl_s: float, resolver: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self.ttl_s = ttl_s
        self.resolver = resolver
        self._cache: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self.resolutions = 0

    async def addresses(self, host: str, port: int) -> list[str]:
        """Checked addresses to connect to (in resolver order); :class:`DestinationRefused` or
        :class:`ResolutionFailed` otherwise."""
        ip = parse_ip(host)
        if ip is not None:
            reason = None if self.allow_private else forbidden_reason(ip)
            if reason:
                raise DestinationRefused(f"{ip} is {reason}")
            return [str(ip)]
        key = (host.lower(), port)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if not self.allow_private and _forbidden_name(host):
            raise DestinationRefused(f"{host} is an internal name")
        self.resolutions += 1
        addresses = await self.resolver(host, port)
        if not addresses:
            raise ResolutionFailed(f"{host} has no address")
        if not self.allow_private:
            refused = refused_addresses(addresses)
            if refused:
                self._cache.pop(key, None)
                raise DestinationRefused(f"{host} resolves to {refused[0][0]} ({refused[0][1]})")
        if self.ttl_s > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + self.ttl_s, addresses)
        return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend: every new connection goes to a checked, pinned address."""

    def __init__(self, resolver: PinnedResolver, backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.resolver = resolver
        self.backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.resolver.addresses(host, port), timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.backend.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("unix sockets are not webhook destinations")

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on a :class:`GuardedBackend`; no proxy from the
    environment (a proxy would connect on the worker's behalf, unchecked)."""

    def __init__(
        self,
        resolver: PinnedResolver,
        *,
        limits: httpx.Limits = httpx.Limits(),
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(trust_env=False, limits=limits)
        ssl_context = (
            verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify=verify)
        )
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(resolver),
        )
