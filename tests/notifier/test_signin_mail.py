"""A member signs in by the link in a real email: netsugen_booking (a real process) → outbox → relay →
the notifier's worker (which reads the one-time link over HTTP with its service token) → SMTP → the
test reads the mail, opens the link's token, and reads the member's own visits and invoices."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from sqlalchemy import text

from shared.auth import ensure_token
from shared.db import session_scope
from tests.conftest import bearer
from tests.netsugen_booking.factories import create_member
from tests.notifier.conftest import SERVICE_TOKEN, ledger
from tests.test_session_revocation import other_process  # noqa: F401  (fixture: a real netsugen_booking)


async def test_member_signs_in_with_the_emailed_link(
    netsugen_client,
    staff_headers,
    other_process,  # noqa: F811  (the fixture imported above)
    sessionmaker,
    relay,
    run_worker,
    make_settings,
    smtp,
    engine,
) -> None:
    async with session_scope(sessionmaker) as session:
        await ensure_token(session, name="notifier", role="service", secret=SERVICE_TOKEN)
    member = await create_member(
        netsugen_client, staff_headers, name="Jane Doe", email="jane@example.jp", language="en"
    )

    async with httpx.AsyncClient(base_url=other_process, timeout=10) as api:
        r = await api.post("/v1/auth/email-link", json={"email": "JANE@example.jp"})
        assert r.status_code == 202
        assert await relay.relay_once() == 2  # member.registered and auth.sign_in_link
        await run_worker(make_settings(netsugen_url=other_process))

        [mail] = [m for m in smtp.messages if "sign-in" in m.subject]
        assert mail.rcpt_tos == ["jane@example.jp"]
        assert mail.subject == "Your NETSUGEN sign-in link"
        body = mail.part("plain")
        [link] = [line for line in body.splitlines() if "#token=" in line]
        [code_line] = [line for line in body.splitlines() if line.startswith("Code: ")]
        assert len(code_line.removeprefix("Code: ")) == 6
        assert link.startswith("http://127.0.0.1:8002/signin#token=gml_")
        [delivery] = await ledger(engine, "template = 'auth.sign_in_link'")
        assert delivery.status == "delivered" and delivery.recipient.startswith("auth_message:")
        async with engine.connect() as conn:
            clear = (await conn.execute(text("SELECT secret_clear FROM auth.message"))).scalar_one()
        assert clear is None  # the link was readable once, by the notifier, and is gone

        token = urlsplit(link.strip()).fragment.removeprefix("token=")
        r = await api.post("/v1/auth/email-link/verify", json={"token": token})
        assert r.status_code == 200, r.text
        auth = bearer(r.json()["access_token"])
        visits = await api.get("/v1/visits", params={"member_id": member["id"]}, headers=auth)
        invoices = await api.get("/v1/invoices", params={"member_id": member["id"]}, headers=auth)
        assert (visits.status_code, visits.json()["items"]) == (200, [])
        assert (invoices.status_code, invoices.json()["items"]) == (200, [])
        me = (await api.get("/v1/auth/me", headers=auth)).json()
        assert me["member_id"] == member["id"] and me["role"] == "member"
        # The access token works on the in-process app too (another process: same database, same cache rules).
        assert (await netsugen_client.get("/v1/auth/me", headers=auth)).status_code == 200
