"""Bearer-token authentication with nested roles.

Roles: ``admin`` ⊇ ``staff`` ⊇ (acts for any) ``member``; ``service`` is for calls between services.
Tokens are random secrets shown once at creation; only their SHA-256 is stored (they carry 256
bits of entropy, so a slow password hash adds nothing). ``BOOTSTRAP_ADMIN_TOKEN`` is accepted as
an admin token for setting up a fresh install only (32+ characters, refused in production).

A request's credential is verified first (``verify_credential``); only a failure touches the
failed-authentication limiter (``refuse_credential``: per credential and per client address, in
Redis), so a valid token is never refused because of other requests' failures. docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Any, Literal, NoReturn

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import CheckConstraint, DateTime, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import DbSession, make_metadata
from shared.errors import Forbidden, TooManyRequests, Unauthorized
from shared.jst import utcnow
from shared.metrics import AUTH_FAILURES
from shared.pgnotify import NotifiedCache, invalidate_after_commit
from shared.ratewindow import SharedWindow, retry_after

#: Notified at commit by a trigger on auth.api_token (migration 0008) on every change.
TOKENS_CHANNEL = "auth_tokens"
#: Principals of tokens seen recently, trusted while the channel's token is unchanged (per process).
_PRINCIPALS: NotifiedCache[str, Principal] = NotifiedCache(TOKENS_CHANNEL, max_size=10_000)

Role = Literal["admin", "staff", "member", "service", "coordinator", "kpi_editor", "accountant", "auditor"]
ROLES: tuple[Role, ...] = (
    "admin",
    "staff",
    "member",
    "service",
    # Narrow roles: each grants only what its work needs (see the README's role table).
    "coordinator",
    "kpi_editor",
    "accountant",
    "auditor",
)
#: Roles not tied to one member (see ``Principal.can_act_for_member``).
MEMBER_WIDE_ROLES: frozenset[str] = frozenset({"admin", "staff", "auditor", "accountant", "coordinator"})
ROLE_CHECK_SQL = "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")"
TOKEN_PREFIX = "gsk_"


class AuthBase(DeclarativeBase):
    metadata = make_metadata("auth")


class ApiToken(AuthBase):
    __tablename__ = "api_token"
    __notify_channel__ = "auth_tokens"  # TOKENS_CHANNEL: changes invalidate cached principals

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # For `member` tokens: the member's id in netsugen_booking. For others: free text (who holds it).
    subject: Mapped[str | None] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters of the secret, for recognising a token in listings without revealing it.
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # Roles are a closed set; the database refuses anything else.
        CheckConstraint(ROLE_CHECK_SQL, name="role"),
        {"comment": "API bearer tokens (hashed)"},
    )


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str | None
    token_id: str | None
    name: str

    def satisfies(self, required: Role) -> bool:
        if self.role == "admin":
            return True
        if self.role == "staff":
            return required in ("staff", "member")
        return self.role == required

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "staff")

    @property
    def sees_every_member(self) -> bool:
        """Roles whose permissions (shared/permissions.py) reach every member's data: lists are not
        narrowed to one member. What each may do with it is the route's permission."""
        return self.role in MEMBER_WIDE_ROLES

    def can_act_for_member(self, member_id: object) -> bool:
        """Staff act for any member; a member only for itself. The narrow roles that read across
        members (auditor, accountant, coordinator) pass too: every route's permission
        (``shared.permissions.require``) has already limited them to what their row allows."""
        if self.role in MEMBER_WIDE_ROLES:
            return True
        return self.role == "member" and self.subject is not None and self.subject == str(member_id)


async def create_token(
    session: AsyncSession, *, name: str, role: Role, subject: str | None = None
) -> tuple[ApiToken, str]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "member" and not subject:
        raise ValueError("a member token needs the member id as subject")
    secret = new_secret()
    token = ApiToken(
        name=name, role=role, subject=subject, token_hash=hash_token(secret), display_prefix=secret[:10]
    )
    session.add(token)
    await session.flush()
    await _audit_token(
        session, "createToken", token.id, after={"name": name, "role": role, "subject": subject}
    )
    return token, secret


async def _audit_token(
    session: AsyncSession,
    operation: str,
    token_id: object,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Account and role changes go to the audit trail (the CLI's today; shared/audit.py)."""
    from shared.audit import record_audit  # shared.audit builds on this module

    await record_audit(
        session,
        operation=operation,
        object_type="auth.api_token",
        object_id=token_id,
        before=before,
        after=after,
    )


async def ensure_token(session: AsyncSession, *, name: str, role: Role, secret: str) -> bool:
    """Register a secret chosen by the operator (e.g. ``SERVICE_TOKEN`` in a deployment's secrets).

    Idempotent: returns False when that secret is already registered.
    """
    if len(secret) < 24:
        raise ValueError("a token secret needs at least 24 characters")
    digest = hash_token(secret)
    exists = await session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest))
    if exists is not None:
        return False
    token = ApiToken(name=name, role=role, token_hash=digest, display_prefix=secret[:10])
    session.add(token)
    await session.flush()
    await _audit_token(session, "registerToken", token.id, after={"name": name, "role": role})
    return True


async def revoke_token(session: AsyncSession, token_id: uuid.UUID) -> bool:
    invalidate_after_commit(session, TOKENS_CHANNEL)
    revoked = (
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiToken.name, ApiToken.role, ApiToken.revoked_at)
        )
    ).first()
    if revoked is None:
        return False
    await _audit_token(
        session,
        "revokeToken",
        token_id,
        before={"name": revoked.name, "role": revoked.role, "revoked_at": None},
        after={"name": revoked.name, "role": revoked.role, "revoked_at": revoked.revoked_at},
    )
    return True


class FailureLimiter:
    """Failed authentications in any 60 s, per presented credential and per client address.

    Only failures are counted and only failures are refused: a request presenting a valid credential
    is answered whatever other requests did (verification comes first), so a guesser behind the same
    address (a NAT, a proxy, a pod's own address) cannot lock anyone out, service calls included.
    The counters are in Redis (shared/ratewindow.py: every process and replica of the service counts
    together); while Redis is unreachable each process counts on its own.
    """

    def __init__(self, limit_per_minute: int, service: str = "app") -> None:
        self.limit = limit_per_minute
        self.window = SharedWindow(service, "auth-failures", limit_per_minute)

    @staticmethod
    def keys(credential_digest: str, address: str) -> tuple[str, str]:
        return f"cred:{credential_digest}", f"addr:{address}"

    async def record_failure(self, redis: Any, credential_digest: str, address: str) -> float | None:
        """Count one failure; None while under the limit, else the seconds to wait (429)."""
        return await self.window.hit(redis, *self.keys(credential_digest, address))


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def _networks(request: Request) -> tuple[IPv4Network | IPv6Network, ...]:
    state = request.app.state
    cached: tuple[IPv4Network | IPv6Network, ...] | None = getattr(state, "trusted_proxy_networks", None)
    if cached is None:
        configured = getattr(getattr(state, "settings", None), "trusted_proxies", None) or []
        cached = state.trusted_proxy_networks = tuple(ip_network(n.strip(), strict=False) for n in configured)
    return cached


def _canonical(address: str) -> tuple[str, IPv4Address | IPv6Address | None]:
    text = address.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    try:
        ip = ip_address(text)
    except ValueError:
        if text.count(":") == 1:  # v4:port
            try:
                ip = ip_address(text.split(":", 1)[0])
            except ValueError:
                return text[:100], None
        else:
            return text[:100], None
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), ip


def client_address(request: Request) -> str:
    """The client's address: the direct peer, unless that peer is a trusted proxy (``TRUSTED_PROXIES``).

    Behind trusted proxies, ``X-Forwarded-For`` is read from the right: each trusted proxy appended
    the address it received the request from, so the right-most entry that is not itself a trusted
    proxy is the client; anything left of it was written by the client and is ignored.
    """
    peer = request.client.host if request.client else ""
    networks = _networks(request)
    peer_text, peer_ip = _canonical(peer)
    if not networks or peer_ip is None or not any(peer_ip in n for n in networks):
        return peer_text or "unknown"
    hops = [h for value in request.headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        text, ip = _canonical(hop)
        if ip is None or not any(ip in n for n in networks):
            return text
    return peer_text  # every hop is a trusted proxy: the request started inside


def _is_bootstrap(request: Request, secret: str) -> bool:
    bootstrap = request.app.state.settings.bootstrap_admin_token
    if bootstrap is None:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII str (a TypeError, once an anonymous 500).
    return hmac.compare_digest(
        secret.encode("utf-8", "surrogateescape"), bootstrap.get_secret_value().encode()
    )


async def verify_credential(request: Request, session: AsyncSession, secret: str) -> Principal | None:
    """The principal a presented secret stands for; None when it is unknown, revoked or malformed.

    Touches no rate limit: callers count the failures (``get_optional_principal``).
    """
    if not secret.isascii() or not secret.isprintable():
        return None  # every token and the bootstrap token are printable ASCII
    if _is_bootstrap(request, secret):
        return Principal(role="admin", subject=None, token_id=None, name="bootstrap-admin")
    if secret.startswith("gsa_"):  # an access token of a sign-in session (shared/sessions.py)
        from shared.sessions import verify_session_token

        try:
            return await verify_session_token(session, secret)
        except Unauthorized:
            return None
    digest = hash_token(secret)
    # A token seen before is answered from memory while no token has changed since (any revocation
    # anywhere notifies every process at commit; shared/pgnotify.py). Unknown tokens are not cached.
    generation = _PRINCIPALS.token()
    cached = _PRINCIPALS.get(digest, generation)
    if cached is not None:
        return cached
    row = (
        await session.execute(
            select(ApiToken.id, ApiToken.role, ApiToken.subject, ApiToken.name).where(
                ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)
            )
        )
    ).first()
    if row is None:
        return None
    role: Role = row.role
    principal = Principal(role=role, subject=row.subject, token_id=str(row.id), name=row.name)
    _PRINCIPALS.put(digest, generation, principal)
    return principal


async def refuse_credential(request: Request, secret: str) -> NoReturn:
    """A presented credential failed: count it (per credential and per client address) and answer
    401, or 429 + ``Retry-After`` once either counter is over the limit."""
    AUTH_FAILURES.labels(getattr(request.app.state, "service", request.app.title)).inc()
    limiter: FailureLimiter = request.app.state.auth_limiter
    digest = hash_token(secret)
    wait = await limiter.record_failure(
        getattr(request.app.state, "redis", None), digest, client_address(request)
    )
    if wait is not None:
        raise TooManyRequests(
            "Too many failed authentication attempts.",
            detail_ja="認証の失敗が多すぎます。しばらくしてから再度お試しください。",
            headers={"Retry-After": retry_after(wait)},
        )
    raise Unauthorized(
        "The bearer token is unknown or revoked.",
        detail_ja="トークンが無効か、失効しています。",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def get_optional_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """Verify the credential first; only a failure touches the failure limiter."""
    if credentials is None:
        return None
    principal = await verify_credential(request, session, credentials.credentials)
    if principal is None:
        await refuse_credential(request, credentials.credentials)
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


async def get_principal(principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise Unauthorized(
            "This operation needs a bearer token.",
            detail_ja="この操作には認証トークンが必要です。",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_role(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """Dependency: the caller must satisfy one of ``roles`` (roles nest: admin ⊇ staff ⊇ member)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not any(principal.satisfies(r) for r in roles):
            raise Forbidden(
                f"This operation needs the role {' or '.join(roles)}; the token has '{principal.role}'.",
                detail_ja=f"この操作には {' または '.join(roles)} の権限が必要です。",
            )
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


# Legacy: routes declare permissions with shared.permissions.require(P.X), which also opens the audit
# context; these remain for code not yet moved (the authorization matrix flags such routes).
AdminPrincipal = Annotated[Principal, Depends(require_role("admin"))]
StaffPrincipal = Annotated[Principal, Depends(require_role("staff"))]
ServiceOrAdmin = Annotated[Principal, Depends(require_role("admin", "service"))]
ServiceOrStaff = Annotated[Principal, Depends(require_role("staff", "service"))]
MemberOrStaff = Annotated[Principal, Depends(require_role("member"))]
