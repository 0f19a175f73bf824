"""Factories for the billing tests: members, plan assignments and visits written straight to the
database (billing reads them; the front-desk rules that make them are tested elsewhere)."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.billing.models import Invoice, InvoiceLine
from services.netsugen_booking.members.models import Member, MemberUser, PlanAssignment
from services.netsugen_booking.visits.models import Visit
from shared.jst import JST

_seq = itertools.count(1)


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


async def make_member(
    session: AsyncSession,
    *,
    plan: str | None = "dropin",
    plan_start: date = date(2026, 1, 1),
    plan_end: date | None = None,
    kind: str = "individual",
    name: str | None = None,
    number: int | None = None,
) -> Member:
    n = number if number is not None else next(_seq)
    member = Member(
        member_number=f"M{n:06d}",
        kind=kind,
        name=name or f"請求 太郎{n}",
        email=f"billing{n}-{uuid.uuid4().hex[:6]}@example.jp",
        language="ja",
        status="active",
        card_token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
    )
    session.add(member)
    await session.flush()
    if plan is not None:
        await assign(session, member, plan=plan, start=plan_start, end=plan_end)
    return member


async def assign(
    session: AsyncSession, member: Member, *, plan: str, start: date, end: date | None = None
) -> PlanAssignment:
    row = PlanAssignment(
        member_id=member.id, plan_code=plan, start_date=start, end_date=end, created_by="test"
    )
    session.add(row)
    await session.flush()
    return row


async def make_user(session: AsyncSession, member: Member, *, name: str = "法人 利用者") -> MemberUser:
    user = MemberUser(member_id=member.id, name=name, card_token_hash=uuid.uuid4().hex + uuid.uuid4().hex)
    session.add(user)
    await session.flush()
    return user


async def visit(
    session: AsyncSession,
    member: Member,
    start: datetime,
    minutes: int,
    *,
    user: MemberUser | None = None,
    plan: str = "dropin",
) -> Visit:
    row = Visit(
        member_id=member.id,
        member_user_id=user.id if user else None,
        check_in_at=start,
        check_out_at=start + timedelta(minutes=minutes),
        source="manual",
        plan_code=plan,
        created_by="test",
    )
    session.add(row)
    await session.flush()
    return row


async def invoices_of(
    session: AsyncSession, member: Member | uuid.UUID, kind: str = "invoice"
) -> list[Invoice]:
    member_id = member if isinstance(member, uuid.UUID) else member.id
    await session.commit()
    rows = await session.scalars(
        select(Invoice)
        .where(Invoice.member_id == member_id, Invoice.kind == kind)
        .order_by(Invoice.period_start)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def lines_of(session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    rows = await session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
    )
    return list(rows.all())


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    await session.commit()
    return (await session.execute(text(sql), params)).scalar_one()
