"""Sign-in (``/v1/auth/…``) and staff accounts (``/v1/staff-accounts``). See accounts/README.md."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.accounts import schemas, service
from services.netsugen_booking.accounts.service import CommitThenRaise, TokenPair
from services.netsugen_booking.accounts.signin_audit import audit_sign_in_failed, audit_signed_in
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import Principal, get_principal
from shared.db import DbSession
from shared.errors import Forbidden, ProblemError, prefers_japanese, problem_responses
from shared.jst import to_jst
from shared.pagination import Cursor, Limit
from shared.permissions import P, require
from shared.sessions import Account

router = APIRouter(tags=["sign-in and accounts"])


def settings_of(request: Request) -> NetsugenSettings:
    settings: NetsugenSettings = request.app.state.settings
    return settings


async def commit_then_raise(session: AsyncSession, exc: CommitThenRaise) -> NoReturn:
    await session.commit()
    raise exc.problem from None


def pair_out(pair: TokenPair) -> schemas.TokenPairOut:
    return schemas.TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
    )


def _jst(value: datetime | None) -> datetime | None:
    return to_jst(value) if value is not None else None


def account_out(account: Account) -> schemas.StaffAccountOut:
    return schemas.StaffAccountOut(
        id=account.id,
        email=account.email,
        name=account.name,
        role=account.role,
        subject=account.subject,
        active=account.active,
        totp_enabled=account.totp_enabled,
        locked_until=_jst(account.locked_until),
        created_at=to_jst(account.created_at),
        last_sign_in_at=_jst(account.last_sign_in_at),
    )


NO_STORE = {"Cache-Control": "no-store"}


# ---- sign-in ----------------------------------------------------------------------------------------
@router.post(
    "/v1/auth/login",
    response_model=schemas.TokenPairOut,
    summary="Sign in with email and password (staff)",
    description=(
        "Staff sign in with their email and password, plus `totp` (the 6-digit code of their "
        "authenticator app) when two-factor authentication is on. Returns a short-lived access token "
        "(use it as `Authorization: Bearer …` on all three services) and a refresh token. Wrong email, "
        "wrong password, wrong code and a temporarily locked account all get the same 401 "
        "`invalid-credentials`. 401 `totp-required`: send `totp`; 403 `totp-enrolment-required`: "
        "administrators must enrol first (`POST /v1/auth/totp/enrol`)."
    ),
    responses=problem_responses(401, 403, 422, 429),
)
async def login(
    body: schemas.LoginRequest, request: Request, response: Response, session: DbSession
) -> schemas.TokenPairOut:
    try:
        pair = await service.password_login(
            session,
            settings_of(request),
            email=body.email,
            password=body.password,
            totp=body.totp,
            user_agent=request.headers.get("user-agent"),
        )
    except CommitThenRaise as exc:
        await audit_sign_in_failed(request, "password", body.email, exc.problem)
        await commit_then_raise(session, exc)
    except ProblemError as problem:
        await audit_sign_in_failed(request, "password", body.email, problem)
        raise
    await audit_signed_in(session, request, pair, "password")
    response.headers.update(NO_STORE)
    return pair_out(pair)


@router.post(
    "/v1/auth/refresh",
    response_model=schemas.TokenPairOut,
    summary="Exchange a refresh token for a new token pair",
    description=(
        "Every refresh token works once: the answer carries a new one. Presenting a refresh token a "
        "second time revokes the whole session (someone else holds a copy) and answers 401."
    ),
    responses=problem_responses(401, 422, 429),
)
async def refresh(
    body: schemas.RefreshRequest, request: Request, response: Response, session: DbSession
) -> schemas.TokenPairOut:
    try:
        pair = await service.refresh(session, settings_of(request), body.refresh_token)
    except CommitThenRaise as exc:
        await commit_then_raise(session, exc)
    response.headers.update(NO_STORE)
    return pair_out(pair)


@router.post(
    "/v1/auth/logout",
    status_code=204,
    summary="Sign out (revoke the session)",
    description=(
        "Revokes the session of the refresh token in the body, or else of the bearer access token. "
        "Every token of the session stops working on every service within a second."
    ),
    responses=problem_responses(401, 403, 422, 429),
)
async def logout(body: schemas.LogoutRequest, request: Request, session: DbSession) -> Response:
    if body.refresh_token is not None:
        await service.logout_by_refresh(session, body.refresh_token)
        return Response(status_code=204)
    principal = await _principal_from_request(request, session)
    auth_session = await service.current_session(session, principal)
    await service.revoke_session(session, auth_session, "logout")
    return Response(status_code=204)


async def _principal_from_request(request: Request, session: AsyncSession) -> Principal:
    from fastapi.security import HTTPAuthorizationCredentials

    from shared.auth import get_optional_principal

    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=value.strip())
        if scheme.lower() == "bearer" and value.strip()
        else None
    )
    return await get_principal(await get_optional_principal(request, session, credentials))


@router.post(
    "/v1/auth/email-link",
    status_code=202,
    response_model=schemas.Accepted,
    summary="Email a member a sign-in link and code",
    description=(
        "Always 202, whether or not the address belongs to a member (no account discovery). An active "
        "member, or a named user of a corporate member, with this address receives an email in their "
        "language with a one-time link and a 6-digit code, valid for `AUTH_EMAIL_LINK_TTL_MINUTES`."
    ),
    responses=problem_responses(422, 429),
)
async def email_link(
    body: schemas.EmailLinkRequest, request: Request, session: DbSession
) -> schemas.Accepted:
    await service.request_email_link(session, settings_of(request), body.email)
    return schemas.Accepted()


@router.post(
    "/v1/auth/email-link/verify",
    response_model=schemas.TokenPairOut,
    summary="Sign in with the emailed link's token, or the email and code",
    description=(
        "Give `token` (from the link) or `email` and `code`. Each message works once; a code allows "
        "`AUTH_EMAIL_CODE_MAX_ATTEMPTS` tries. 400 `invalid-link` for anything wrong, expired or used."
    ),
    responses=problem_responses(400, 422, 429),
)
async def email_link_verify(
    body: schemas.EmailLinkVerify, request: Request, response: Response, session: DbSession
) -> schemas.TokenPairOut:
    try:
        pair = await service.verify_email_link(
            session,
            settings_of(request),
            token=body.token,
            email=body.email,
            code=body.code,
            user_agent=request.headers.get("user-agent"),
        )
    except CommitThenRaise as exc:
        await audit_sign_in_failed(request, "email_link", body.email, exc.problem)
        await commit_then_raise(session, exc)
    except ProblemError as problem:
        await audit_sign_in_failed(request, "email_link", body.email, problem)
        raise
    await audit_signed_in(session, request, pair, "email_link")
    response.headers.update(NO_STORE)
    return pair_out(pair)


@router.post(
    "/v1/auth/totp/enrol",
    response_model=schemas.TotpEnrolOut,
    summary="Start two-factor (TOTP) enrolment",
    description=(
        "With the account's email and password: a new TOTP secret and its `otpauth://` URI (for a QR "
        "code). Nothing changes until the next sign-in with a code from it, which turns TOTP on."
    ),
    responses=problem_responses(401, 409, 422, 429),
)
async def totp_enrol(
    body: schemas.TotpEnrolRequest, request: Request, response: Response, session: DbSession
) -> schemas.TotpEnrolOut:
    try:
        secret, uri = await service.enrol_totp(
            session, settings_of(request), email=body.email, password=body.password
        )
    except CommitThenRaise as exc:
        await commit_then_raise(session, exc)
    response.headers.update(NO_STORE)
    return schemas.TotpEnrolOut(secret=secret, otpauth_uri=uri)


@router.post(
    "/v1/auth/password-reset",
    status_code=202,
    response_model=schemas.Accepted,
    summary="Email a staff member a password-reset link",
    description="Always 202 (no account discovery). The link works once and expires in minutes.",
    responses=problem_responses(422, 429),
)
async def password_reset(
    body: schemas.EmailLinkRequest, request: Request, session: DbSession
) -> schemas.Accepted:
    language = "ja" if prefers_japanese(request) else "en"
    await service.request_password_reset(session, settings_of(request), body.email, language)
    return schemas.Accepted()


@router.post(
    "/v1/auth/password-reset/confirm",
    status_code=204,
    summary="Set a new password with the reset link's token",
    description="The password follows the same rules as at creation. Every session of the account is revoked.",
    responses=problem_responses(400, 422, 429),
)
async def password_reset_confirm(
    body: schemas.PasswordResetConfirm, request: Request, session: DbSession
) -> Response:
    await service.confirm_password_reset(
        session, settings_of(request), token=body.token, password=body.password
    )
    return Response(status_code=204)


@router.post(
    "/v1/auth/email-change/confirm",
    status_code=204,
    summary="Confirm a new email address with the link sent to it",
    description=(
        "The change takes effect only now: a staff member's sign-in address, or a member's (or named "
        "user's) notification address. Every session of the account is revoked."
    ),
    responses=problem_responses(400, 409, 422, 429),
)
async def email_change_confirm(body: schemas.TokenOnly, session: DbSession) -> Response:
    await service.confirm_email_change(session, token=body.token)
    return Response(status_code=204)


# ---- one's own sessions and account ----------------------------------------------------------------
async def _me(session: AsyncSession, principal: Principal) -> tuple[Account, uuid.UUID]:
    auth_session = await service.current_session(session, principal)
    account = await session.get(Account, auth_session.account_id)
    assert account is not None  # the session's FK
    return account, auth_session.id


@router.get(
    "/v1/auth/me",
    response_model=schemas.MeOut,
    summary="Who am I (the signed-in account)",
    responses=problem_responses(401, 403, 429),
)
async def me(principal: Annotated[Principal, require(P.SELF)], session: DbSession) -> schemas.MeOut:
    account, session_id = await _me(session, principal)
    return schemas.MeOut(
        account_id=account.id,
        kind="staff" if account.kind == "staff" else "member",
        email=account.email or None,
        name=account.name or None,
        role=account.role,
        member_id=account.member_id,
        member_user_id=account.member_user_id,
        totp_enabled=account.totp_enabled,
        session_id=session_id,
    )


@router.patch(
    "/v1/auth/me",
    response_model=schemas.Accepted,
    summary="Change one's own language (members)",
    description="A member's own account sets the language of the member's emails; named users cannot (422).",
    responses=problem_responses(401, 403, 422, 429),
)
async def update_me(
    body: schemas.MeUpdate, principal: Annotated[Principal, require(P.SELF)], session: DbSession
) -> schemas.Accepted:
    account, _ = await _me(session, principal)
    await service.change_member_language(session, account, body.language)
    return schemas.Accepted()


@router.post(
    "/v1/auth/email-change",
    status_code=202,
    response_model=schemas.Accepted,
    summary="Change one's email address (confirmed by a link sent to the new address)",
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def email_change(
    body: schemas.EmailChangeRequest,
    request: Request,
    principal: Annotated[Principal, require(P.SELF)],
    session: DbSession,
) -> schemas.Accepted:
    account, _ = await _me(session, principal)
    language = "ja" if prefers_japanese(request) else "en"
    await service.request_email_change(session, settings_of(request), account, body.email, language)
    return schemas.Accepted()


@router.get(
    "/v1/auth/sessions",
    response_model=schemas.SessionList,
    summary="List one's own live sessions",
    responses=problem_responses(401, 403, 429),
)
async def list_sessions(
    principal: Annotated[Principal, require(P.SELF)], session: DbSession
) -> schemas.SessionList:
    account, current = await _me(session, principal)
    rows = await service.list_sessions(session, account.id)
    return schemas.SessionList(
        items=[
            schemas.SessionOut(
                id=s.id,
                method=s.method,
                user_agent=s.user_agent,
                created_at=to_jst(s.created_at),
                last_used_at=to_jst(s.last_used_at),
                expires_at=to_jst(s.expires_at),
                current=s.id == current,
            )
            for s in rows
        ],
        next_cursor=None,
    )


@router.delete(
    "/v1/auth/sessions/{session_id}",
    status_code=204,
    summary="Revoke one of one's own sessions",
    responses=problem_responses(401, 403, 404, 429),
)
async def delete_session(
    session_id: uuid.UUID, principal: Annotated[Principal, require(P.SELF)], session: DbSession
) -> Response:
    account, _ = await _me(session, principal)
    await service.revoke_own_session(session, account.id, session_id)
    return Response(status_code=204)


# ---- for the notifier ---------------------------------------------------------------------------------
async def _service_only(principal: Annotated[Principal, require(P.AUTH_MESSAGES_READ)]) -> Principal:
    if principal.role != "service":
        raise Forbidden(
            "Only the notifier's service token may read a sign-in message.",
            detail_ja="サインイン用メッセージを読めるのは通知サービスだけです。",
        )
    return principal


@router.get(
    "/v1/auth/messages/{message_id}/contact",
    response_model=schemas.MessageContact,
    summary="Recipient and one-time values of a sign-in message (notifier, once)",
    description=(
        "For the notifier's `service` token only. Answers the address, language and the link/code "
        "**once**: they are erased as they are read (410 after that, or when used or expired)."
    ),
    responses=problem_responses(401, 403, 404, 410, 429),
)
async def message_contact(
    message_id: uuid.UUID,
    session: DbSession,
    _: Annotated[Principal, Depends(_service_only)],
    response: Response,
) -> schemas.MessageContact:
    contact = await service.read_message_contact(session, message_id)
    response.headers.update(NO_STORE)
    return schemas.MessageContact.model_validate(contact)


# ---- staff accounts (administrators) ---------------------------------------------------------------------
@router.post(
    "/v1/staff-accounts",
    status_code=201,
    response_model=schemas.StaffAccountOut,
    summary="Create a staff account",
    description=(
        "Email (unique whatever its case), name, role and an initial password (NIST SP 800-63B rules: "
        "length, not a common or breached password, not containing the email's name; 422 `weak-password`)."
    ),
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def create_staff_account(
    body: schemas.StaffAccountCreate,
    request: Request,
    principal: Annotated[Principal, require(P.ACCOUNTS_WRITE)],
    session: DbSession,
) -> schemas.StaffAccountOut:
    account = await service.create_staff_account(
        session,
        settings_of(request),
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        subject=body.subject,
        created_by=principal.name,
    )
    return account_out(account)


@router.get(
    "/v1/staff-accounts",
    response_model=schemas.StaffAccountList,
    summary="List staff accounts",
    responses=problem_responses(401, 403, 422, 429),
)
async def list_staff_accounts(
    _: Annotated[Principal, require(P.ACCOUNTS_READ)],
    session: DbSession,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> schemas.StaffAccountList:
    rows, next_cursor = await service.list_staff_accounts(session, limit=limit, cursor=cursor)
    return schemas.StaffAccountList(items=[account_out(a) for a in rows], next_cursor=next_cursor)


@router.get(
    "/v1/staff-accounts/{account_id}",
    response_model=schemas.StaffAccountOut,
    summary="Get a staff account",
    responses=problem_responses(401, 403, 404, 429),
)
async def get_staff_account(
    account_id: uuid.UUID, _: Annotated[Principal, require(P.ACCOUNTS_READ)], session: DbSession
) -> schemas.StaffAccountOut:
    return account_out(await service.get_staff_account(session, account_id))


@router.patch(
    "/v1/staff-accounts/{account_id}",
    response_model=schemas.StaffAccountOut,
    summary="Change a staff account's role, name or scope",
    description="A role change applies to the account's live sessions on every service within a second.",
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def update_staff_account(
    account_id: uuid.UUID,
    body: schemas.StaffAccountUpdate,
    _: Annotated[Principal, require(P.ACCOUNTS_WRITE)],
    session: DbSession,
) -> schemas.StaffAccountOut:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("role", "") is None or changes.get("name", "") is None:
        changes = {k: v for k, v in changes.items() if not (k in ("role", "name") and v is None)}
    return account_out(await service.update_staff_account(session, account_id, changes))


@router.post(
    "/v1/staff-accounts/{account_id}/deactivate",
    response_model=schemas.StaffAccountOut,
    summary="Deactivate a staff account (revokes its sessions)",
    description="The account can no longer sign in; its sessions stop working on every service within a second.",
    responses=problem_responses(401, 403, 404, 429),
)
async def deactivate_staff_account(
    account_id: uuid.UUID, _: Annotated[Principal, require(P.ACCOUNTS_WRITE)], session: DbSession
) -> schemas.StaffAccountOut:
    return account_out(await service.deactivate_staff_account(session, account_id))


@router.delete(
    "/v1/staff-accounts/{account_id}/totp",
    response_model=schemas.StaffAccountOut,
    summary="Reset a staff account's two-factor authentication (lost device)",
    responses=problem_responses(401, 403, 404, 429),
)
async def reset_totp(
    account_id: uuid.UUID, _: Annotated[Principal, require(P.ACCOUNTS_WRITE)], session: DbSession
) -> schemas.StaffAccountOut:
    return account_out(await service.reset_totp(session, account_id))
