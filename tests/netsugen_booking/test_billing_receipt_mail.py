"""A recorded payment reaches the member as a receipt email in their language, through the real
notifier pipeline (outbox relay, arq queue, worker, SMTP), as the notifier's own tests run it."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.netsugen_booking.billing.invoice_run import Period, run_invoices
from services.netsugen_booking.billing.schemas import PaymentCreate
from services.netsugen_booking.billing.service import record_payment
from services.netsugen_booking.settings import NetsugenSettings
from shared.auth import Principal
from shared.db import session_scope
from tests.netsugen_booking.test_billing_factories import invoices_of
from tests.netsugen_booking.test_invoices import dropin_member_250_500_1000
from tests.notifier.conftest import (  # noqa: F401  (the notifier's fixtures, used by name)
    arq_pool,
    make_settings,
    relay,
    run_worker,
    smtp,
    smtp_session,
    world,
    world_session,
)

STAFF = Principal(role="staff", subject=None, token_id=None, name="front desk")


async def test_payment_emails_the_receipt_in_the_members_language(
    db: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay: Any,  # noqa: F811
    run_worker: Any,  # noqa: F811
    smtp: Any,  # noqa: F811
    world: Any,  # noqa: F811
) -> None:
    settings = NetsugenSettings()
    english = await dropin_member_250_500_1000(db, name="Jane Doe")
    japanese = await dropin_member_250_500_1000(db, name="上州 花子")
    for member, language in ((english, "en"), (japanese, "ja")):
        world.members[str(member.id)] = {
            "member_id": str(member.id),
            "name": member.name,
            "email": member.email,
            "language": language,
            "status": "active",
        }
    async with session_scope(sessionmaker) as session:
        await run_invoices(session, settings, period=Period(2026, 10), trigger="cli", today=date(2026, 11, 1))
    paid = {}
    for member in (english, japanese):
        [invoice] = await invoices_of(db, member)
        async with session_scope(sessionmaker) as session:
            result = await record_payment(
                session,
                invoice.id,
                PaymentCreate(method="cash", amount_yen=1750, paid_on=date(2026, 11, 5)),
                STAFF,
                settings=settings,
                today=date(2026, 11, 5),
            )
        paid[member.id] = result
    assert sorted(r.receipt_number or "" for r in paid.values()) == ["NR-2026-000001", "NR-2026-000002"]

    assert (
        await relay.relay_once() == 6
    )  # per member: invoice.issued, visit.daily_cap_reached, payment.recorded
    await run_worker()

    [en_mail] = [m for m in smtp.handler.to(english.email) if "Receipt" in m.subject]
    assert en_mail.subject == "[NETSUGEN] Receipt for your payment"
    assert f"/payments/{paid[english.id].id}/receipt" in en_mail.part("plain")
    assert en_mail.part("plain").startswith("Dear Jane Doe,")
    [ja_mail] = [m for m in smtp.handler.to(japanese.email) if "領収書" in m.subject]
    assert ja_mail.subject == "【NETSUGEN】お支払いの領収書"
    assert f"/payments/{paid[japanese.id].id}/receipt" in ja_mail.part("plain")
    assert "領収書を表示する" in ja_mail.part("html")
