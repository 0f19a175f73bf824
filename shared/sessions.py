"""People's accounts and sign-in sessions, verifiable by every service (schema ``auth``).

- ``auth.account``: a staff account (email + Argon2id password, optional TOTP) or a member's
  account (created on the member's first email sign-in; ``member_id`` / ``member_user_id`` point
  into netsugen_booking). The account-management API lives in ``services/netsugen_booking/accounts``.
- ``auth.session``: one sign-in (a browser, a phone). Revoking it ends every token of it.
- ``auth.session_token``: the session's access tokens (``gsa_…``, short-lived) and refresh tokens
  (``gsr_…``, rotated on every use). Only SHA-256 hashes are stored. A refresh token that was
  already used is *reuse*: the whole session is revoked (someone holds a copy).
- ``auth.message``: one-time secrets sent by email (sign-in links and codes, password resets,
  email changes). Only hashes are kept for verification; the clear link and code are kept until
  the notifier has read them once (then erased), so a copy of the database a minute later holds
  nothing usable.

Access tokens are checked by :func:`verify_session_token`, called from
``shared.auth.get_optional_principal`` when a bearer token starts with ``gsa_``. Principals are
cached per process exactly like API tokens': behind the ``auth_tokens`` channel of
``shared/pgnotify.py``, which the triggers of migration 0015 notify whenever an account or a
session changes, so a revoked session or a deactivated account stops working in every process as
soon as the notification arrives.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import ROLE_CHECK_SQL, TOKENS_CHANNEL, AuthBase, Principal, Role
from shared.errors import Unauthorized
from shared.jst import utcnow
from shared.pgnotify import NotifiedCache, invalidate_after_commit

ACCESS_PREFIX = "gsa_"
REFRESH_PREFIX = "gsr_"
LINK_PREFIX = "gml_"

#: Roles a staff account may hold (members sign in by email; ``service`` is for machines only).
STAFF_ROLES: tuple[Role, ...] = ("admin", "staff", "coordinator", "kpi_editor", "accountant", "auditor")


class Account(AuthBase):
    __tablename__ = "account"
    __notify_channel__ = TOKENS_CHANNEL  # a deactivation or role change must reach every process
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(8))
    #: Sign-in address for staff; for members a copy of the address they signed in with.
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    #: The principal's subject: a scope for narrow roles (e.g. a department), the member id for members.
    subject: Mapped[str | None] = mapped_column(String(100))
    member_id: Mapped[uuid.UUID | None] = mapped_column()
    member_user_id: Mapped[uuid.UUID | None] = mapped_column()
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'member')", name="kind"),
        CheckConstraint(ROLE_CHECK_SQL, name="role"),
        CheckConstraint(
            "kind <> 'member' OR (role = 'member' AND member_id IS NOT NULL)", name="member_shape"
        ),
        CheckConstraint("kind <> 'staff' OR role NOT IN ('member', 'service')", name="staff_role"),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts"),
        # Staff sign in by email: one account per address, whatever its case.
        Index(
            "uq_account_staff_email",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("kind = 'staff'"),
        ),
        # One account per member (or named user of a corporate member).
        Index(
            "uq_account_member",
            "member_id",
            text("coalesce(member_user_id, '00000000-0000-0000-0000-000000000000'::uuid)"),
            unique=True,
            postgresql_where=text("kind = 'member'"),
        ),
        {"comment": "People who sign in: staff (password, TOTP) and members (email link)"},
    )


class AuthSession(AuthBase):
    __tablename__ = "session"
    __notify_channel__ = TOKENS_CHANNEL  # a revocation must reach every process
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        CheckConstraint("method IN ('password', 'email_link')", name="method"),
        {"comment": "Sign-in sessions (revoking one ends all its tokens)"},
    )


class SessionToken(AuthBase):
    __tablename__ = "session_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Refresh tokens: when it was exchanged. Presented again after that = reuse.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('access', 'refresh')", name="kind"),
        {"comment": "Access and refresh tokens of sessions (SHA-256 only)"},
    )


class AuthMessage(AuthBase):
    __tablename__ = "message"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID | None] = mapped_column()
    member_user_id: Mapped[uuid.UUID | None] = mapped_column()
    #: Where the message goes (for an email change: the new address, which it confirms).
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    #: The link and code in clear until the notifier has read them once; then NULL.
    secret_clear: Mapped[str | None] = mapped_column(String(400))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("purpose IN ('sign_in', 'password_reset', 'email_change')", name="purpose"),
        CheckConstraint("language IN ('ja', 'en')", name="language"),
        Index("ix_message_email", text("lower(email)"), "created_at"),
        {"comment": "One-time secrets sent by email (hashes; clear text only until sent)"},
    )


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_access_secret() -> str:
    return ACCESS_PREFIX + secrets.token_urlsafe(32)


def new_refresh_secret() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def principal_of(account: Account, session_id: uuid.UUID) -> Principal:
    """The principal a session's access token stands for."""
    role: Role = account.role  # type: ignore[assignment]  # the CHECK constraint keeps it a Role
    # ``name`` ends up in created_by columns: staff by their name, members by account id only.
    name = account.name if account.kind == "staff" else f"member-account:{account.id}"
    return Principal(role=role, subject=account.subject, token_id=str(session_id), name=name)


async def revoke_sessions(
    session: AsyncSession, account_id: uuid.UUID, *, reason: str, except_session: uuid.UUID | None = None
) -> int:
    """Revoke every live session of an account (optionally but one); returns how many."""
    invalidate_after_commit(session, TOKENS_CHANNEL)
    stmt = (
        update(AuthSession)
        .where(AuthSession.account_id == account_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    if except_session is not None:
        stmt = stmt.where(AuthSession.id != except_session)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0))


# ---- verification on every service ----------------------------------------------------------------
#: digest → principal until the access token expires; trusted while the channel's token is unchanged.
_SESSION_PRINCIPALS: NotifiedCache[str, Principal] = NotifiedCache(TOKENS_CHANNEL, max_size=10_000)


def _invalid() -> Unauthorized:
    return Unauthorized(
        "The access token is unknown, expired or its session was revoked.",
        detail_ja="アクセストークンが無効か、期限切れか、セッションが失効しています。",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def verify_session_token(session: AsyncSession, secret: str) -> Principal:
    """The principal of an access token (``gsa_…``), or 401 ``unauthorized``.

    A token seen before is answered from process memory while nothing in ``auth`` changed since
    (the ``auth_tokens`` channel) and it has not expired; unknown tokens are never cached.
    """
    key = digest(secret)
    now = utcnow()
    generation = _SESSION_PRINCIPALS.token()
    cached = _SESSION_PRINCIPALS.get(key, generation, now=now)
    if cached is not None:
        return cached
    row = (
        await session.execute(
            select(Account, SessionToken.session_id, SessionToken.expires_at)
            .join(AuthSession, AuthSession.id == SessionToken.session_id)
            .join(Account, Account.id == AuthSession.account_id)
            .where(
                SessionToken.token_hash == key,
                SessionToken.kind == "access",
                SessionToken.expires_at > now,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                Account.active.is_(True),
            )
        )
    ).first()
    if row is None:
        raise _invalid()
    account, session_id, expires_at = row
    principal = principal_of(account, session_id)
    _SESSION_PRINCIPALS.put(key, generation, principal, expires_at=expires_at)
    return principal


def session_id_of(principal: Principal) -> uuid.UUID | None:
    """The session behind a principal from an access token, else ``None`` (API tokens, bootstrap)."""
    if principal.token_id is None:
        return None
    try:
        return uuid.UUID(principal.token_id)
    except ValueError:
        return None


def access_expiry(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)
