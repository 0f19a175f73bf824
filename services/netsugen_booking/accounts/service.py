"""Accounts, sign-in, sessions and one-time email messages (see accounts/README.md).

Services flush, never commit — except that a *failed* sign-in must leave its trace (the failure
counter, a spent code attempt, a revoked session after refresh-token reuse) although the request
ends in an error. Those functions raise :class:`CommitThenRaise`; the router commits the session
and then raises the problem it carries.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import pyotp
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.accounts import passwords
from services.netsugen_booking.accounts.config import AuthSettings
from services.netsugen_booking.accounts.exceptions import (
    AccountNotFound,
    ChangeNotAllowed,
    EmailTaken,
    InvalidCredentials,
    InvalidLink,
    InvalidRefreshToken,
    MessageGone,
    NotSignedIn,
    SessionNotFound,
    TotpEnrolmentRequired,
    TotpRequired,
)
from services.netsugen_booking.db import outbox
from services.netsugen_booking.members.models import Member, MemberUser
from shared.auth import Principal, Role
from shared.errors import Conflict, ProblemError
from shared.events import AuthEmailChange, AuthPasswordReset, AuthSignInLink, EventData
from shared.jst import utcnow
from shared.outbox import emit
from shared.pagination import paginate
from shared.sessions import (
    LINK_PREFIX,
    Account,
    AuthMessage,
    AuthSession,
    SessionToken,
    digest,
    new_access_secret,
    new_refresh_secret,
    revoke_sessions,
    session_id_of,
)

TOTP_ISSUER = "NETSUGEN"
#: Messages one email request may create at most (an address shared by several members).
MAX_MATCHES = 5


class CommitThenRaise(Exception):
    """Commit what the failed attempt recorded, then answer ``problem``."""

    def __init__(self, problem: ProblemError) -> None:
        super().__init__(problem.detail)
        self.problem = problem


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    refresh_expires_at: datetime


def _bad_credentials() -> InvalidCredentials:
    # One answer for an unknown email, a wrong password, a wrong code and a locked account.
    return InvalidCredentials(
        "The email, password or code is wrong, or the account is locked for a while after repeated failures.",
        detail_ja="メールアドレス、パスワードまたはコードが正しくないか、失敗が続いたため一時的にロックされています。",
        headers={"WWW-Authenticate": "Bearer"},
    )


def normalise_email(email: str) -> str:
    return email.strip()


# ---- staff accounts -------------------------------------------------------------------------------
def min_length_for(settings: AuthSettings, role: str) -> int:
    if role == "admin":
        return max(settings.auth_password_min_length, settings.auth_admin_password_min_length)
    return settings.auth_password_min_length


async def create_staff_account(
    session: AsyncSession,
    settings: AuthSettings,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    subject: str | None,
    created_by: str,
) -> Account:
    email = normalise_email(email)
    passwords.check_password(password, email=email, min_length=min_length_for(settings, role))
    taken = await session.scalar(
        select(Account.id).where(Account.kind == "staff", func.lower(Account.email) == email.lower())
    )
    if taken is not None:
        raise EmailTaken(
            "A staff account with this email exists.",
            detail_ja="このメールアドレスのスタッフアカウントは既にあります。",
        )
    account = Account(
        kind="staff",
        email=email,
        name=name,
        role=role,
        subject=subject,
        password_hash=await passwords.hash_password(password),
        created_by=created_by,
    )
    session.add(account)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same address
        raise EmailTaken(
            "A staff account with this email exists.",
            detail_ja="このメールアドレスのスタッフアカウントは既にあります。",
        ) from exc
    return account


async def get_staff_account(session: AsyncSession, account_id: uuid.UUID, *, lock: bool = False) -> Account:
    stmt = select(Account).where(Account.id == account_id, Account.kind == "staff")
    if lock:
        stmt = stmt.with_for_update()
    account = await session.scalar(stmt)
    if account is None:
        raise AccountNotFound(
            f"No staff account {account_id}.", detail_ja="該当するスタッフアカウントはありません。"
        )
    return account


async def list_staff_accounts(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[Account], str | None]:
    """Staff accounts, oldest first (keyset on ``(created_at, id)``): ``(accounts, next_cursor)``."""
    stmt = select(Account).where(Account.kind == "staff")
    return await paginate(
        session, stmt, (Account.created_at, Account.id), limit=limit, cursor=cursor, scalars=True
    )


async def update_staff_account(
    session: AsyncSession, account_id: uuid.UUID, changes: dict[str, Any]
) -> Account:
    account = await get_staff_account(session, account_id, lock=True)
    for key in ("role", "name", "subject"):
        if key in changes:
            setattr(account, key, changes[key])
    await session.flush()
    return account


async def deactivate_staff_account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await get_staff_account(session, account_id, lock=True)
    account.active = False
    await session.flush()
    await revoke_sessions(session, account.id, reason="account_deactivated")
    return account


async def reset_totp(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await get_staff_account(session, account_id, lock=True)
    account.totp_secret, account.totp_enabled, account.totp_last_step = None, False, None
    await session.flush()
    return account


# ---- sessions -------------------------------------------------------------------------------------
async def issue_session(
    session: AsyncSession, settings: AuthSettings, account: Account, *, method: str, user_agent: str | None
) -> TokenPair:
    now = utcnow()
    auth_session = AuthSession(
        account_id=account.id,
        method=method,
        user_agent=(user_agent or "")[:300] or None,
        expires_at=now + timedelta(days=settings.auth_session_max_days),
    )
    session.add(auth_session)
    account.last_sign_in_at = now
    await session.flush()
    return await _issue_tokens(session, settings, auth_session, now)


async def _issue_tokens(
    session: AsyncSession, settings: AuthSettings, auth_session: AuthSession, now: datetime
) -> TokenPair:
    access, refresh = new_access_secret(), new_refresh_secret()
    access_exp = min(now + timedelta(minutes=settings.auth_access_ttl_minutes), auth_session.expires_at)
    refresh_exp = min(now + timedelta(hours=settings.auth_refresh_ttl_hours), auth_session.expires_at)
    session.add_all(
        [
            SessionToken(
                token_hash=digest(access), session_id=auth_session.id, kind="access", expires_at=access_exp
            ),
            SessionToken(
                token_hash=digest(refresh), session_id=auth_session.id, kind="refresh", expires_at=refresh_exp
            ),
        ]
    )
    await session.flush()
    return TokenPair(
        access, refresh, max(1, int((access_exp - now).total_seconds())), auth_session.id, refresh_exp
    )


def _lock_seconds(settings: AuthSettings, failures: int) -> int:
    over = failures - settings.auth_lockout_threshold
    if over < 0:
        return 0
    return int(
        min(settings.auth_lockout_base_seconds * (2 ** min(over, 30)), settings.auth_lockout_max_seconds)
    )


def _record_failure(settings: AuthSettings, account: Account, now: datetime) -> None:
    account.failed_attempts += 1
    seconds = _lock_seconds(settings, account.failed_attempts)
    if seconds:
        account.locked_until = now + timedelta(seconds=seconds)


def _totp_step_accepted(account: Account, code: str, now: datetime) -> int | None:
    if not account.totp_secret or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(account.totp_secret)
    current = int(now.timestamp()) // 30
    for step in (current - 1, current, current + 1):
        if account.totp_last_step is not None and step <= account.totp_last_step:
            continue
        if hmac.compare_digest(totp.at(step * 30), code):
            return step
    return None


async def _check_password(
    session: AsyncSession, settings: AuthSettings, email: str, password: str
) -> tuple[Account, datetime]:
    """The active staff account whose password this is; else the failure is recorded and 401."""
    email = normalise_email(email)
    account = await session.scalar(
        select(Account)
        .where(Account.kind == "staff", func.lower(Account.email) == email.lower())
        .with_for_update()
    )
    now = utcnow()
    if account is None or not account.active:
        await passwords.verify_password(None, password)  # the same time as a real check
        raise _bad_credentials()
    ok = await passwords.verify_password(account.password_hash, password)
    if account.locked_until is not None and account.locked_until > now:
        raise _bad_credentials()  # locked: not even the right password; failures are not counted
    if not ok:
        _record_failure(settings, account, now)
        await session.flush()
        raise CommitThenRaise(_bad_credentials())
    return account, now


async def password_login(
    session: AsyncSession,
    settings: AuthSettings,
    *,
    email: str,
    password: str,
    totp: str | None,
    user_agent: str | None,
) -> TokenPair:
    account, now = await _check_password(session, settings, email, password)
    needs_totp = account.totp_enabled or (account.role == "admin" and settings.auth_require_totp_for_admins)
    if totp is not None and account.totp_secret:
        step = _totp_step_accepted(account, totp, now)
        if step is None:
            _record_failure(settings, account, now)
            await session.flush()
            raise CommitThenRaise(_bad_credentials())
        account.totp_last_step = step
        account.totp_enabled = True  # the first good code confirms a pending enrolment
    elif needs_totp:
        if not account.totp_secret:
            raise TotpEnrolmentRequired(
                "Administrators must use two-factor authentication: enrol with POST /v1/auth/totp/enrol.",
                detail_ja="管理者は二要素認証が必要です。POST /v1/auth/totp/enrol で登録してください。",
            )
        raise TotpRequired(
            "This account needs the 6-digit code of its authenticator app (`totp`).",
            detail_ja="この アカウントには認証アプリの6桁のコード(totp)が必要です。",
            headers={"WWW-Authenticate": "Bearer"},
        )
    account.failed_attempts = 0
    account.locked_until = None
    if account.password_hash and passwords.needs_rehash(account.password_hash):
        account.password_hash = await passwords.hash_password(password)
    return await issue_session(session, settings, account, method="password", user_agent=user_agent)


async def enrol_totp(
    session: AsyncSession, settings: AuthSettings, *, email: str, password: str
) -> tuple[str, str]:
    """A new (pending) TOTP secret; the next sign-in with a code from it turns TOTP on."""
    account, _now = await _check_password(session, settings, email, password)
    if account.totp_enabled:
        raise Conflict(
            "Two-factor authentication is already on; an administrator can reset it.",
            detail_ja="二要素認証は設定済みです。再設定は管理者に依頼してください。",
        )
    account.totp_secret = pyotp.random_base32()
    account.failed_attempts, account.locked_until = 0, None
    await session.flush()
    uri = pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.email, issuer_name=TOTP_ISSUER)
    return account.totp_secret, uri


async def refresh(session: AsyncSession, settings: AuthSettings, refresh_token: str) -> TokenPair:
    now = utcnow()
    token = await session.scalar(
        select(SessionToken)
        .where(SessionToken.token_hash == digest(refresh_token), SessionToken.kind == "refresh")
        .with_for_update()
    )
    invalid = InvalidRefreshToken(
        "The refresh token is unknown, expired, already used or its session ended.",
        detail_ja="リフレッシュトークンが無効、期限切れ、使用済みか、セッションが終了しています。",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    if token is None:
        raise invalid
    auth_session = await session.scalar(
        select(AuthSession).where(AuthSession.id == token.session_id).with_for_update()
    )
    if auth_session is None:
        raise invalid
    if token.used_at is not None:
        # Reuse: someone else holds a copy of this token. End the whole session.
        if auth_session.revoked_at is None:
            auth_session.revoked_at, auth_session.revoked_reason = now, "refresh_reuse"
            await session.flush()
        raise CommitThenRaise(invalid)
    account = await session.get(Account, auth_session.account_id)
    if (
        token.expires_at <= now
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
        or account is None
        or not account.active
    ):
        raise invalid
    if account.kind == "member" and not await _member_active(
        session, account.member_id, account.member_user_id
    ):
        # The member left or was suspended (or the named user removed): the session ends here.
        auth_session.revoked_at, auth_session.revoked_reason = now, "member_inactive"
        await session.flush()
        raise CommitThenRaise(invalid)
    token.used_at = now
    auth_session.last_used_at = now
    await session.flush()
    return await _issue_tokens(session, settings, auth_session, now)


async def current_session(session: AsyncSession, principal: Principal) -> AuthSession:
    session_id = session_id_of(principal)
    auth_session = await session.get(AuthSession, session_id) if session_id else None
    if auth_session is None or auth_session.revoked_at is not None:
        raise NotSignedIn(
            "This operation needs a signed-in session (an access token from /v1/auth/login), not an API token.",
            detail_ja="この操作にはサインインしたセッション(アクセストークン)が必要です。APIトークンでは使えません。",
        )
    return auth_session


async def revoke_session(session: AsyncSession, auth_session: AuthSession, reason: str) -> None:
    if auth_session.revoked_at is None:
        auth_session.revoked_at, auth_session.revoked_reason = utcnow(), reason
        await session.flush()


async def logout_by_refresh(session: AsyncSession, refresh_token: str) -> bool:
    token = await session.scalar(select(SessionToken).where(SessionToken.token_hash == digest(refresh_token)))
    if token is None or token.kind != "refresh":
        return False
    auth_session = await session.get(AuthSession, token.session_id)
    if auth_session is None:
        return False
    await revoke_session(session, auth_session, "logout")
    return True


async def list_sessions(session: AsyncSession, account_id: uuid.UUID) -> list[AuthSession]:
    now = utcnow()
    rows = await session.scalars(
        select(AuthSession)
        .where(
            AuthSession.account_id == account_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .order_by(AuthSession.created_at.desc(), AuthSession.id)
    )
    return list(rows.all())


async def revoke_own_session(session: AsyncSession, account_id: uuid.UUID, session_id: uuid.UUID) -> None:
    target = await session.get(AuthSession, session_id)
    if target is None or target.account_id != account_id:
        raise SessionNotFound("No such session of yours.", detail_ja="該当するセッションはありません。")
    await revoke_session(session, target, "revoked_by_owner")


# ---- one-time messages ----------------------------------------------------------------------------
LINK_PATHS = {"sign_in": "/signin", "password_reset": "/password-reset", "email_change": "/email-change"}
EVENTS: dict[str, type[EventData]] = {
    "sign_in": AuthSignInLink,
    "password_reset": AuthPasswordReset,
    "email_change": AuthEmailChange,
}


async def _recent_count(session: AsyncSession, settings: AuthSettings, email: str, purpose: str) -> int:
    since = utcnow() - timedelta(minutes=settings.auth_email_link_ttl_minutes)
    count = await session.scalar(
        select(func.count())
        .select_from(AuthMessage)
        .where(
            func.lower(AuthMessage.email) == email.lower(),
            AuthMessage.purpose == purpose,
            AuthMessage.created_at > since,
        )
    )
    return int(count or 0)


async def _send_message(
    session: AsyncSession,
    settings: AuthSettings,
    *,
    purpose: str,
    email: str,
    language: str,
    name: str | None = None,
    account_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    member_user_id: uuid.UUID | None = None,
    with_code: bool = False,
) -> AuthMessage:
    message_id = uuid.uuid4()
    token = LINK_PREFIX + secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**6):06d}" if with_code else ""
    link = f"{settings.auth_public_base_url.rstrip('/')}{LINK_PATHS[purpose]}#token={token}"
    minutes = settings.auth_email_link_ttl_minutes
    message = AuthMessage(
        id=message_id,
        purpose=purpose,
        account_id=account_id,
        member_id=member_id,
        member_user_id=member_user_id,
        email=email,
        name=name,
        language=language if language in ("ja", "en") else "ja",
        token_hash=digest(token),
        code_hash=digest(f"{message_id}:{code}") if with_code else None,
        secret_clear=orjson.dumps({"link_url": link, "code": code, "minutes": str(minutes)}).decode(),
        expires_at=utcnow() + timedelta(minutes=minutes),
    )
    session.add(message)
    await session.flush()
    await emit(session, outbox, EVENTS[purpose](message_id=message_id))  # type: ignore[call-arg]
    return message


async def request_email_link(session: AsyncSession, settings: AuthSettings, email: str) -> int:
    """Email a sign-in link + code to every active member or named user with this address.

    Returns how many messages were sent (never shown to the caller: the answer is always 202).
    """
    email = normalise_email(email)
    if await _recent_count(session, settings, email, "sign_in") >= settings.auth_email_max_per_window:
        return 0
    lowered = email.lower()
    members = (
        await session.scalars(
            select(Member)
            .where(func.lower(Member.email) == lowered, Member.status == "active")
            .limit(MAX_MATCHES)
        )
    ).all()
    users = (
        await session.execute(
            select(MemberUser, Member)
            .join(Member, Member.id == MemberUser.member_id)
            .where(
                func.lower(MemberUser.email) == lowered,
                MemberUser.active.is_(True),
                Member.status == "active",
            )
            .limit(MAX_MATCHES)
        )
    ).all()
    targets: list[tuple[Member, MemberUser | None]] = [(m, None) for m in members] + [
        (m, u) for u, m in users
    ]
    for member, user in targets[:MAX_MATCHES]:
        await _send_message(
            session,
            settings,
            purpose="sign_in",
            email=user.email if user and user.email else member.email,
            language=member.language,
            member_id=member.id,
            member_user_id=user.id if user else None,
            with_code=True,
        )
    return len(targets[:MAX_MATCHES])


async def _member_account(
    session: AsyncSession, member_id: uuid.UUID, member_user_id: uuid.UUID | None
) -> Account:
    stmt = select(Account).where(Account.kind == "member", Account.member_id == member_id)
    stmt = stmt.where(
        Account.member_user_id == member_user_id if member_user_id else Account.member_user_id.is_(None)
    )
    account = await session.scalar(stmt)
    if account is None:
        # Personal data stays in netsugen.member: the account holds ids only.
        account = Account(
            kind="member",
            email="",
            name="",
            role="member",
            subject=str(member_id),
            member_id=member_id,
            member_user_id=member_user_id,
            created_by="email sign-in",
        )
        session.add(account)
        await session.flush()
    return account


async def _member_active(
    session: AsyncSession, member_id: uuid.UUID | None, member_user_id: uuid.UUID | None
) -> bool:
    member = await session.get(Member, member_id) if member_id else None
    if member is None or member.status != "active":
        return False
    if member_user_id:
        user = await session.get(MemberUser, member_user_id)
        return user is not None and user.active and user.member_id == member.id
    return True


async def _member_still_active(session: AsyncSession, message: AuthMessage) -> bool:
    return await _member_active(session, message.member_id, message.member_user_id)


def _invalid_link() -> InvalidLink:
    return InvalidLink(
        "The link or code is wrong, expired or already used. Ask for a new one.",
        detail_ja="リンクまたはコードが正しくないか、期限切れか、使用済みです。もう一度お送りください。",
    )


async def _message_by_token(session: AsyncSession, purpose: str, token: str) -> AuthMessage:
    message = await session.scalar(
        select(AuthMessage)
        .where(AuthMessage.token_hash == digest(token), AuthMessage.purpose == purpose)
        .with_for_update()
    )
    if message is None or message.used_at is not None or message.expires_at <= utcnow():
        raise _invalid_link()
    return message


async def verify_email_link(
    session: AsyncSession,
    settings: AuthSettings,
    *,
    token: str | None,
    email: str | None,
    code: str | None,
    user_agent: str | None,
) -> TokenPair:
    now = utcnow()
    if token is not None:
        message = await _message_by_token(session, "sign_in", token)
    else:
        assert email is not None and code is not None
        candidates = (
            await session.scalars(
                select(AuthMessage)
                .where(
                    func.lower(AuthMessage.email) == normalise_email(email).lower(),
                    AuthMessage.purpose == "sign_in",
                    AuthMessage.used_at.is_(None),
                    AuthMessage.expires_at > now,
                    AuthMessage.attempts < settings.auth_email_code_max_attempts,
                )
                .order_by(AuthMessage.created_at.desc())
                .with_for_update()
            )
        ).all()
        found = None
        for candidate in candidates:
            candidate.attempts += 1
            if candidate.code_hash and hmac.compare_digest(
                candidate.code_hash, digest(f"{candidate.id}:{code}")
            ):
                found = candidate
                break
        if found is None:
            await session.flush()
            raise CommitThenRaise(_invalid_link())
        message = found
    message.used_at = now
    message.secret_clear = None
    if not await _member_still_active(session, message):
        await session.flush()
        raise CommitThenRaise(_invalid_link())
    assert message.member_id is not None
    account = await _member_account(session, message.member_id, message.member_user_id)
    if not account.active:
        raise CommitThenRaise(_invalid_link())
    return await issue_session(session, settings, account, method="email_link", user_agent=user_agent)


async def read_message_contact(session: AsyncSession, message_id: uuid.UUID) -> dict[str, Any]:
    """For the notifier (service token): the address and the one-time values, once."""
    message = await session.scalar(select(AuthMessage).where(AuthMessage.id == message_id).with_for_update())
    if message is None:
        raise AccountNotFound("No such message.", detail_ja="該当するメッセージはありません。")
    if message.secret_clear is None or message.used_at is not None or message.expires_at <= utcnow():
        raise MessageGone(
            "This message was already sent, used or has expired.",
            detail_ja="このメッセージは送信済み、使用済みか、期限切れです。",
        )
    secret = orjson.loads(message.secret_clear)
    message.secret_clear = None
    await session.flush()
    return {
        "member_id": str(message.member_id) if message.member_id else None,
        "name": message.name,
        "email": message.email,
        "language": message.language,
        "status": "active",
        "secret": secret,
    }


async def request_password_reset(
    session: AsyncSession, settings: AuthSettings, email: str, language: str
) -> bool:
    email = normalise_email(email)
    account = await session.scalar(
        select(Account).where(
            Account.kind == "staff", func.lower(Account.email) == email.lower(), Account.active
        )
    )
    if (
        account is None
        or await _recent_count(session, settings, email, "password_reset")
        >= settings.auth_email_max_per_window
    ):
        return False
    await _send_message(
        session,
        settings,
        purpose="password_reset",
        email=account.email,
        language=language,
        name=account.name,
        account_id=account.id,
    )
    return True


async def confirm_password_reset(
    session: AsyncSession, settings: AuthSettings, *, token: str, password: str
) -> Account:
    message = await _message_by_token(session, "password_reset", token)
    account = (
        await session.get(Account, message.account_id, with_for_update=True) if message.account_id else None
    )
    if account is None or not account.active:
        raise _invalid_link()
    passwords.check_password(password, email=account.email, min_length=min_length_for(settings, account.role))
    account.password_hash = await passwords.hash_password(password)
    account.failed_attempts, account.locked_until = 0, None
    message.used_at, message.secret_clear = utcnow(), None
    await session.flush()
    await revoke_sessions(session, account.id, reason="password_reset")
    return account


async def request_email_change(
    session: AsyncSession, settings: AuthSettings, account: Account, new_email: str, language: str
) -> None:
    new_email = normalise_email(new_email)
    if account.kind == "staff":
        taken = await session.scalar(
            select(Account.id).where(
                Account.kind == "staff",
                func.lower(Account.email) == new_email.lower(),
                Account.id != account.id,
            )
        )
        if taken is not None:
            raise EmailTaken(
                "Another staff account uses this email.",
                detail_ja="このメールアドレスは他のアカウントで使われています。",
            )
    if (
        await _recent_count(session, settings, new_email, "email_change")
        >= settings.auth_email_max_per_window
    ):
        return
    if account.kind == "member" and account.member_id is not None:
        member = await session.get(Member, account.member_id)
        language = member.language if member is not None else language
    await _send_message(
        session,
        settings,
        purpose="email_change",
        email=new_email,
        language=language,
        name=account.name or None,
        account_id=account.id,
        member_id=account.member_id,
        member_user_id=account.member_user_id,
    )


async def confirm_email_change(session: AsyncSession, *, token: str) -> Account:
    message = await _message_by_token(session, "email_change", token)
    account = (
        await session.get(Account, message.account_id, with_for_update=True) if message.account_id else None
    )
    if account is None or not account.active:
        raise _invalid_link()
    if account.kind == "staff":
        account.email = message.email
    elif message.member_user_id is not None:
        await session.execute(
            update(MemberUser).where(MemberUser.id == message.member_user_id).values(email=message.email)
        )
    elif message.member_id is not None:
        await session.execute(
            update(Member).where(Member.id == message.member_id).values(email=message.email)
        )
    message.used_at, message.secret_clear = utcnow(), None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise EmailTaken(
            "Another staff account uses this email.",
            detail_ja="このメールアドレスは他のアカウントで使われています。",
        ) from exc
    # The account's address changed: every session signs in again.
    await revoke_sessions(session, account.id, reason="email_changed")
    return account


async def change_member_language(session: AsyncSession, account: Account, language: str) -> None:
    if account.kind != "member" or account.member_id is None or account.member_user_id is not None:
        raise ChangeNotAllowed(
            "Only a member's own account can change the member's language.",
            detail_ja="言語を変更できるのは会員本人のアカウントだけです。",
        )
    await session.execute(update(Member).where(Member.id == account.member_id).values(language=language))
