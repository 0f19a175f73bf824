"""Constraint violations: which constraint an ``IntegrityError`` came from, and savepoint flushes."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


def constraint_name(exc: IntegrityError) -> str | None:
    """Name of the violated constraint or unique index, when the driver reports it."""
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if isinstance(name, str) and name:
            return name
    return None


def sqlstate(exc: IntegrityError) -> str | None:
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str) and code:
            return code
    return None


async def flush_in_savepoint(session: AsyncSession, apply: Callable[[], None] | None = None) -> None:
    """Run ``apply`` (session.add / attribute changes) and flush inside a SAVEPOINT.

    Everything already pending is flushed first, *outside* the savepoint: ``begin_nested()`` would
    otherwise flush it while opening the savepoint, and a constraint violation there would break
    the whole transaction instead of raising here. An ``IntegrityError`` leaves the transaction
    usable; the caller turns it into a problem response.
    """
    await session.flush()
    async with session.begin_nested():
        if apply is not None:
            apply()
        await session.flush()
