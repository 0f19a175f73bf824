"""Bearer-token authentication with nested roles.

Roles: ``admin`` ⊇ ``staff`` ⊇ (acts for any) ``member``; ``service`` is for calls between services.
Tokens are random secrets shown once at creation; only their SHA-256 is stored (they carry 256
bits of entropy, so a slow password hash adds nothing). ``BOOTSTRAP_ADMIN_TOKEN`` is accepted as
an admin token for setting up a fresh install only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import CheckConstraint, DateTime, String, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import DbSession, make_metadata
from shared.errors import Forbidden, TooManyRequests, Unauthorized
from shared.jst import utcnow
from shared.metrics import AUTH_FAILURES
from shared.pgnotify import invalidate_after_commit, process_token

#: Notified at commit by a trigger on auth.api_token (migration 0008) on every change.
TOKENS_CHANNEL = "auth_tokens"
#: Principals of tokens seen recently, trusted while the channel's token is unchanged (per process).
_PRINCIPALS: dict[str, tuple[tuple[int, int, int], Principal]] = {}
_PRINCIPALS_MAX = 10_000

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
    return hashlib.sha256(secret.encode()).hexdigest()


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

    def can_act_for_member(self, member_id: object) -> bool:
        """Staff act for any member; a member only for itself."""
        if self.is_staff:
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
    return token, secret


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
    session.add(ApiToken(name=name, role=role, token_hash=digest, display_prefix=secret[:10]))
    await session.flush()
    return True


async def revoke_token(session: AsyncSession, token_id: uuid.UUID) -> bool:
    invalidate_after_commit(session, TOKENS_CHANNEL)
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


class FailureLimiter:
    """Sliding one-minute window of failed authentications per client address (per process)."""

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def _window(self, key: str, now: float) -> deque[float]:
        hits = self._hits[key]
        while hits and now - hits[0] > 60:
            hits.popleft()
        return hits

    def check(self, key: str) -> None:
        now = time.monotonic()
        hits = self._window(key, now)
        if len(hits) >= self.limit:
            retry = max(1, int(60 - (now - hits[0])) + 1)
            raise TooManyRequests(
                "Too many failed authentication attempts.",
                detail_ja="認証の失敗が多すぎます。しばらくしてから再度お試しください。",
                headers={"Retry-After": str(retry)},
            )

    def record(self, key: str) -> None:
        self._window(key, time.monotonic()).append(time.monotonic())
        if len(self._hits) > 10_000:  # bound memory under a spray of addresses
            self._hits.clear()


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`")


def _client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def get_optional_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        return None
    limiter: FailureLimiter = request.app.state.auth_limiter
    key = _client_key(request)
    limiter.check(key)
    secret = credentials.credentials
    if secret.startswith("gsa_"):  # an access token of a sign-in session (shared/sessions.py)
        from shared.sessions import verify_session_token

        try:
            return await verify_session_token(session, secret)
        except Unauthorized:
            limiter.record(key)
            AUTH_FAILURES.labels(request.app.title).inc()
            raise
    bootstrap = request.app.state.settings.bootstrap_admin_token
    if bootstrap is not None and hmac.compare_digest(secret, bootstrap.get_secret_value()):
        return Principal(role="admin", subject=None, token_id=None, name="bootstrap-admin")
    digest = hash_token(secret)
    # A token seen before is answered from memory while no token has changed since (any revocation
    # anywhere notifies every process at commit; shared/pgnotify.py). Unknown tokens are not cached.
    generation = process_token(TOKENS_CHANNEL)
    if generation is not None:
        cached = _PRINCIPALS.get(digest)
        if cached is not None and cached[0] == generation:
            return cached[1]
    row = (
        await session.execute(
            select(ApiToken.id, ApiToken.role, ApiToken.subject, ApiToken.name).where(
                ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)
            )
        )
    ).first()
    if row is None:
        limiter.record(key)
        AUTH_FAILURES.labels(request.app.title).inc()
        raise Unauthorized(
            "The bearer token is unknown or revoked.",
            detail_ja="トークンが無効か、失効しています。",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    role: Role = row.role
    principal = Principal(role=role, subject=row.subject, token_id=str(row.id), name=row.name)
    if generation is not None:
        if len(_PRINCIPALS) >= _PRINCIPALS_MAX:
            _PRINCIPALS.clear()
        _PRINCIPALS[digest] = (generation, principal)
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


AdminPrincipal = Annotated[Principal, Depends(require_role("admin"))]
StaffPrincipal = Annotated[Principal, Depends(require_role("staff"))]
ServiceOrAdmin = Annotated[Principal, Depends(require_role("admin", "service"))]
ServiceOrStaff = Annotated[Principal, Depends(require_role("staff", "service"))]
MemberOrStaff = Annotated[Principal, Depends(require_role("member"))]
