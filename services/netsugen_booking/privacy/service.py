"""Export and anonymization of a member's personal data (個人情報保護法 / APPI).

Export: every row NETSUGEN holds about the member, plus the notifier's preferences and delivery
ledger read over HTTP. Hashes of secrets are never exported.

Anonymization (only for a member who has ``left``) removes the personal fields in place, so the
records that must stay (visits for statistics, invoices for the 7 years the tax law requires) stay
consistent but no longer identify a person:

- member: name, email, card token (the hash is replaced by the hash of a random secret nobody
  knows), status reason;
- named users of a corporate member: names, emails, card tokens; deactivated;
- event registrations made as a guest with the member's email address: guest name and email;
- consultations: the topic and the note (free text about the person); bookings: cancel reasons;
- the calendar-feed secret is deleted and the member's API tokens are revoked;
- cached idempotent answers that contain the member (they hold the name, email and card token
  shown at registration) are deleted.

Kept on purpose: the member number and ids (they identify invoices, not a person), visits,
bookings, plans (no personal fields), and **invoices, which keep their own copy of the recipient's
name made at issue**: a qualified invoice (適格請求書) must be kept unaltered for 7 years
(法人税法・消費税法), so that copy is retained until the retention period ends. Anonymization emits
no event (the notifier resolves recipients by id over HTTP, and now gets the anonymized record).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import httpx
import structlog
from pydantic_core import to_jsonable_python
from sqlalchemy import String, Table, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.billing.models import DailyCapReached, Invoice, InvoiceLine, InvoicePayment
from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.consultations.models import Consultation
from services.netsugen_booking.feeds.models import MemberFeedToken
from services.netsugen_booking.frontdesk_common.models import IdempotencyKey
from services.netsugen_booking.members.models import Member, MemberUser, PlanAssignment
from services.netsugen_booking.members.service import get_member
from services.netsugen_booking.privacy.exceptions import MemberNotLeft
from services.netsugen_booking.privacy.schemas import AnonymizeResult, MemberExport, Row
from services.netsugen_booking.programs.models import ProgramRegistration
from services.netsugen_booking.settings import NetsugenSettings
from services.netsugen_booking.visits.models import Visit, VisitAudit
from shared.auth import TOKENS_CHANNEL, ApiToken, hash_token
from shared.http import make_client
from shared.jst import to_jst
from shared.pgnotify import invalidate_after_commit

__all__ = ["anonymize_member", "export_member", "get_member", "read_notifier"]

log = structlog.get_logger("privacy")

#: Addresses under the reserved .invalid TLD (RFC 2606) can never deliver mail.
ANON_DOMAIN = "anonymized.invalid"
ANON_NAME = "(匿名化済み)"
#: Columns that hold hashes of secrets: never exported.
SECRET_COLUMNS = frozenset({"card_token_hash", "cancel_token_hash", "confirm_token_hash", "token_hash"})
RETENTION_NOTE = (
    "Invoices and credit notes keep their own copy of the recipient's name, made at issue: a qualified "
    "invoice (適格請求書) must be kept unaltered for 7 years (法人税法・消費税法). That copy is deleted when the "
    "retention period ends; the member record itself no longer holds a name, email or card token."
)


def _rows(result: Any) -> list[Row]:
    out: list[Row] = []
    for row in result:
        data = {k: v for k, v in row._mapping.items() if k not in SECRET_COLUMNS}
        out.append(to_jsonable_python(data))
    return out


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def _select(session: AsyncSession, model: Any, *where: Any, order: Any = None) -> list[Row]:
    table = _table(model)
    stmt = select(table).where(*where)
    if order is not None:
        stmt = stmt.order_by(order)
    return _rows(await session.execute(stmt))


def _guest_registration_of(email: str) -> Any:
    return func.lower(ProgramRegistration.guest_email) == email.lower()


async def export_member(
    session: AsyncSession,
    member_id: uuid.UUID,
    *,
    now: datetime,
    notifier: dict[str, Any] | None,
    incomplete: list[str],
) -> MemberExport:
    member = await get_member(session, member_id)
    visit_ids = select(Visit.id).where(Visit.member_id == member_id)
    invoice_ids = select(Invoice.id).where(Invoice.member_id == member_id)
    member_row = _rows(await session.execute(select(_table(Member)).where(Member.id == member_id)))[0]
    has_feed = await session.scalar(
        select(func.count()).select_from(MemberFeedToken).where(MemberFeedToken.member_id == member_id)
    )
    tokens = await session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.role == "member", ApiToken.subject == str(member_id))
    )
    return MemberExport(
        member_id=member_id,
        exported_at=to_jst(now),
        member=member_row,
        secrets={
            "card_token": "present (stored as SHA-256 only)",
            "feed_token": "present (stored as SHA-256 only)" if has_feed else "absent",
            "api_tokens": int(tokens or 0),
        },
        users=await _select(
            session, MemberUser, MemberUser.member_id == member_id, order=MemberUser.created_at
        ),
        plan_history=await _select(
            session, PlanAssignment, PlanAssignment.member_id == member_id, order=PlanAssignment.start_date
        ),
        visits=await _select(session, Visit, Visit.member_id == member_id, order=Visit.check_in_at),
        visit_audit=await _select(
            session, VisitAudit, VisitAudit.visit_id.in_(visit_ids), order=VisitAudit.at
        ),
        invoices=await _select(session, Invoice, Invoice.member_id == member_id, order=Invoice.period_start),
        invoice_lines=await _select(
            session, InvoiceLine, InvoiceLine.invoice_id.in_(invoice_ids), order=InvoiceLine.id
        ),
        invoice_payments=await _select(
            session, InvoicePayment, InvoicePayment.invoice_id.in_(invoice_ids), order=InvoicePayment.paid_on
        ),
        daily_caps=await _select(session, DailyCapReached, DailyCapReached.member_id == member_id),
        bookings=await _select(session, Booking, Booking.member_id == member_id, order=Booking.start_at),
        registrations=await _select(
            session,
            ProgramRegistration,
            or_(ProgramRegistration.member_id == member_id, _guest_registration_of(member.email)),
            order=ProgramRegistration.created_at,
        ),
        consultations=await _select(
            session, Consultation, Consultation.member_id == member_id, order=Consultation.created_at
        ),
        notifier=notifier,
        incomplete=incomplete,
    )


async def read_notifier(
    settings: NetsugenSettings, authorization: str | None, member_id: uuid.UUID
) -> tuple[dict[str, Any] | None, list[str]]:
    """The member's notification preferences and delivery ledger, read from the notifier.

    Read with the administrator's own bearer token: the notifier's preference API is for the member
    and staff only (a ``service`` token may not read it).
    """
    if not authorization:
        return None, ["notifier: no bearer token to read it with"]
    client = make_client(settings.notifier_url, timeout_s=settings.http_timeout_s, attempts=2)
    client.headers["Authorization"] = authorization
    try:
        async with client:
            prefs = await client.get(f"/v1/preferences/{member_id}")
            if prefs.status_code != 200:
                return None, [f"notifier: preferences answered {prefs.status_code}"]
            deliveries: list[Any] = []
            cursor: str | None = None
            for _ in range(100):  # 100 pages of 200: far more than one member ever receives
                params: dict[str, Any] = {"recipient": f"member:{member_id}", "limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = await client.get("/v1/deliveries", params=params)
                if page.status_code != 200:
                    return None, [f"notifier: deliveries answered {page.status_code}"]
                body = page.json()
                deliveries += body.get("items", [])
                cursor = body.get("next_cursor")
                if not cursor:
                    break
            return {"preferences": prefs.json(), "deliveries": deliveries}, []
    except httpx.HTTPError as exc:
        log.warning("privacy_export_notifier_unreachable", member_id=str(member_id), error=type(exc).__name__)
        return None, [f"notifier: unreachable ({type(exc).__name__})"]


def _placeholder_email(prefix: str, id_column: Any) -> Any:
    return func.concat(prefix, func.replace(cast(id_column, String), "-", ""), f"@{ANON_DOMAIN}")


async def anonymize_member(session: AsyncSession, member_id: uuid.UUID, *, now: datetime) -> AnonymizeResult:
    member = await get_member(session, member_id, for_update=True)
    if member.status != "left":
        raise MemberNotLeft(
            f"Member {member.member_number} has not left (status: {member.status}); mark them as left first.",
            detail_ja="退会済みの会員のみ匿名化できます。先に退会処理をしてください。",
        )
    kept = {
        "invoices": int(
            await session.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.member_id == member_id)
            )
            or 0
        ),
    }
    already = member.email.endswith(f"@{ANON_DOMAIN}")
    changed: dict[str, int] = {}
    if not already:
        original_email = member.email
        member.name = ANON_NAME
        member.email = f"member-{member.id.hex}@{ANON_DOMAIN}"
        member.card_token_hash = hash_token(secrets.token_urlsafe(32))
        member.status_reason = None
        changed["member"] = 1

        async def run(key: str, stmt: Any) -> None:
            result = await session.execute(stmt)
            changed[key] = int(getattr(result, "rowcount", 0) or 0)

        users = (await session.scalars(select(MemberUser).where(MemberUser.member_id == member_id))).all()
        for user in users:
            user.name = ANON_NAME
            user.email = None
            user.card_token_hash = hash_token(secrets.token_urlsafe(32))
            user.active = False
        changed["users"] = len(users)
        await session.flush()
        await run(
            "guest_registrations",
            update(ProgramRegistration)
            .where(
                ProgramRegistration.member_id.is_(None),
                _guest_registration_of(original_email),
            )
            .values(
                guest_name=ANON_NAME,
                guest_email=_placeholder_email("guest-", ProgramRegistration.id),
                guest_email_normalized=_placeholder_email("guest-", ProgramRegistration.id),
            )
            .execution_options(synchronize_session=False),
        )
        await run(
            "consultations",
            update(Consultation)
            .where(Consultation.member_id == member_id)
            .values(topic=ANON_NAME, note=None)
            .execution_options(synchronize_session=False),
        )
        await run(
            "bookings",
            update(Booking)
            .where(Booking.member_id == member_id, Booking.cancel_reason.is_not(None))
            .values(cancel_reason=None)
            .execution_options(synchronize_session=False),
        )
        await run(
            "feed_tokens",
            delete(MemberFeedToken)
            .where(MemberFeedToken.member_id == member_id)
            .execution_options(synchronize_session=False),
        )
        invalidate_after_commit(session, TOKENS_CHANNEL)
        await run(
            "api_tokens_revoked",
            update(ApiToken)
            .where(
                ApiToken.role == "member",
                ApiToken.subject == str(member_id),
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
            .execution_options(synchronize_session=False),
        )
        await run(
            "idempotency_records",
            delete(IdempotencyKey)
            .where(
                or_(
                    IdempotencyKey.response_body["id"].astext == str(member_id),
                    IdempotencyKey.response_body["member_id"].astext == str(member_id),
                )
            )
            .execution_options(synchronize_session=False),
        )
        await session.flush()
        log.info("member_anonymized", member_id=str(member_id), **changed)
    return AnonymizeResult(
        member_id=member_id,
        member_number=member.member_number,
        anonymized_at=to_jst(now),
        already_anonymized=already,
        changed=changed,
        kept=kept,
        note=RETENTION_NOTE,
    )
