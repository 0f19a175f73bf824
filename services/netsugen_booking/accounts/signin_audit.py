"""The audit trail of sign-ins (issue 17): every sign-in and every refused one, with who and how.

A successful sign-in is recorded in the request's own transaction (the actor is the account). A
refused one is recorded in a transaction of its own, because the request's is rolled back (or only
commits the lock-out counter) and the refusal must be in the trail either way.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.accounts.service import TokenPair
from shared.audit import Actor, record_audit
from shared.db import session_scope
from shared.errors import ProblemError
from shared.sessions import Account, AuthSession


async def audit_signed_in(session: AsyncSession, request: Request, pair: TokenPair, method: str) -> None:
    """A successful sign-in: one entry in the request's own transaction (who: the account)."""
    row = (
        await session.execute(
            select(Account.id, Account.name, Account.role, Account.kind)
            .join(AuthSession, AuthSession.account_id == Account.id)
            .where(AuthSession.id == pair.session_id)
        )
    ).one()
    await record_audit(
        session,
        operation="signIn",
        object_type="auth.session",
        object_id=pair.session_id,
        after={"method": method, "account_id": str(row.id), "account_kind": row.kind},
        actor=Actor(kind="account", id=str(row.id), name=row.name, role=row.role),
        request=request,
    )


async def audit_sign_in_failed(
    request: Request, method: str, email: str | None, problem: ProblemError
) -> None:
    """A refused sign-in, recorded in a transaction of its own: the request's is rolled back (or
    committed for the lock-out counter), and the refusal must be in the trail either way."""
    async with session_scope(request.app.state.sessionmaker) as audit_session:
        account_id = None
        if email:
            account_id = await audit_session.scalar(
                select(Account.id).where(func.lower(Account.email) == email.strip().lower())
            )
        await record_audit(
            audit_session,
            operation="signInFailed",
            object_type="auth.account",
            object_id=account_id,
            after={"method": method, "email": email, "answer": problem.status, "problem": problem.slug},
            request=request,
        )
