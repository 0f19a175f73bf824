"""Housekeeping of sign-in data: expired tokens, spent messages and old sessions are deleted.

- ``auth.session_token`` rows whose token expired more than a day ago (every refresh adds two);
- ``auth.message`` rows (they hold an email address) a day after they expired;
- ``auth.session`` rows revoked or expired more than 30 days ago (their tokens go with them).
Each run is idempotent; the cron runs hourly at minute 35.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arq.cron import CronJob, cron
from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import session_scope
from shared.jst import utcnow
from shared.sessions import AuthMessage, AuthSession, SessionToken

TOKEN_GRACE = timedelta(days=1)
MESSAGE_GRACE = timedelta(days=1)
SESSION_KEEP = timedelta(days=30)


async def purge(session: AsyncSession, *, now: datetime) -> dict[str, int]:
    tokens = await session.execute(delete(SessionToken).where(SessionToken.expires_at < now - TOKEN_GRACE))
    messages = await session.execute(delete(AuthMessage).where(AuthMessage.expires_at < now - MESSAGE_GRACE))
    sessions = await session.execute(
        delete(AuthSession).where(
            or_(AuthSession.revoked_at < now - SESSION_KEEP, AuthSession.expires_at < now - SESSION_KEEP)
        )
    )
    return {
        "tokens": int(getattr(tokens, "rowcount", 0)),
        "messages": int(getattr(messages, "rowcount", 0)),
        "sessions": int(getattr(sessions, "rowcount", 0)),
    }


async def purge_sign_in_data(ctx: dict[str, Any]) -> dict[str, int]:
    async with session_scope(ctx["sessionmaker"]) as session:
        return await purge(session, now=utcnow())


FUNCTIONS: list[Any] = [purge_sign_in_data]
CRON_JOBS: list[CronJob] = [cron(purge_sign_in_data, minute={35}, unique=True)]
