"""An admin exports everything held about a member, and anonymizes a member who has left.

Personal data (APPI): names, email addresses and card tokens. Invoices keep their own copy of the
recipient's name (7-year retention of qualified invoices); everything else personal goes.
"""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import hash_token
from tests.conftest import TokenFactory, bearer
from tests.netsugen_booking.conftest import Clock, jst
from tests.privacy.conftest import Person, member_headers, scan_database


class TestExport:
    async def test_export_holds_everything_about_the_member(
        self,
        netsugen_client: httpx.AsyncClient,
        person: Person,
        notifier_server: str,
        admin_headers: dict[str, str],
    ) -> None:
        r = await netsugen_client.get(f"/v1/members/{person.id}/export", headers=admin_headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["incomplete"] == []
        assert (body["member"]["name"], body["member"]["email"]) == (person.name, person.email)
        assert [u["name"] for u in body["users"]] == [person.user_name]
        assert [u["email"] for u in body["users"]] == [person.user_email]
        assert [p["plan_code"] for p in body["plan_history"]] == ["corporate_monthly"]
        assert [v["id"] for v in body["visits"]] == [person.ids["visit_id"]]
        assert len(body["invoices"]) == 1 and body["invoices"][0]["recipient_name"] == person.name
        assert body["invoice_lines"] and all(
            line["invoice_id"] == body["invoices"][0]["id"] for line in body["invoice_lines"]
        )
        assert len(body["bookings"]) == 1
        # Registered once as the member and once as a guest with the same email (other case).
        assert sorted((x["member_id"] is None, x["guest_name"]) for x in body["registrations"]) == [
            (False, None),
            (True, person.guest_name),
        ]
        assert [c["topic"] for c in body["consultations"]] == ["赤城 花子の資金調達の相談"]
        assert body["notifier"]["preferences"]["categories"]["activity"] is False
        assert body["notifier"]["deliveries"] == []  # the ledger was read (no worker ran in this test)
        assert body["secrets"] == {
            "card_token": "present (stored as SHA-256 only)",
            "feed_token": "present (stored as SHA-256 only)",
            "api_tokens": 1,
        }
        # No secret and no hash of one leaves the database.
        for secret in (person.card_token, person.user_card_token):
            assert secret not in r.text and hash_token(secret) not in r.text
        assert "token_hash" not in r.text

    async def test_export_without_the_notifier_says_it_is_incomplete(
        self, netsugen_client: httpx.AsyncClient, person: Person, admin_headers: dict[str, str], netsugen_app
    ) -> None:
        settings = netsugen_app.state.settings
        original = settings.notifier_url
        settings.notifier_url = "http://127.0.0.1:9"  # nothing listens there
        try:
            r = await netsugen_client.get(f"/v1/members/{person.id}/export", headers=admin_headers)
        finally:
            settings.notifier_url = original
        assert r.status_code == 200, r.text
        assert r.json()["notifier"] is None
        assert r.json()["incomplete"] == ["notifier: unreachable (ConnectError)"]

    async def test_only_admins_export(
        self,
        netsugen_client: httpx.AsyncClient,
        person: Person,
        staff_headers: dict[str, str],
        admin_headers: dict[str, str],
    ) -> None:
        url = f"/v1/members/{person.id}/export"
        assert (await netsugen_client.get(url)).status_code == 401
        assert (await netsugen_client.get(url, headers=staff_headers)).status_code == 403
        assert (await netsugen_client.get(url, headers=member_headers(person))).status_code == 403
        r = await netsugen_client.get(f"/v1/members/{uuid.uuid4()}/export", headers=admin_headers)
        assert r.status_code == 404 and r.json()["type"] == "urn:gunma-sdgs:problem:member-not-found"


async def _leave(client: httpx.AsyncClient, p: Person, headers: dict[str, str]) -> None:
    r = await client.post(
        f"/v1/members/{p.id}/leave", json={"reason": "転居のため(赤城 花子)"}, headers=headers
    )
    assert r.status_code == 200, r.text


class TestAnonymize:
    async def test_a_member_who_has_not_left_is_409(
        self, netsugen_client: httpx.AsyncClient, person: Person, admin_headers: dict[str, str]
    ) -> None:
        r = await netsugen_client.post(f"/v1/members/{person.id}/anonymize", headers=admin_headers)
        assert r.status_code == 409 and r.json()["type"] == "urn:gunma-sdgs:problem:member-not-left"

    async def test_only_admins_anonymize(
        self, netsugen_client: httpx.AsyncClient, person: Person, staff_headers: dict[str, str]
    ) -> None:
        url = f"/v1/members/{person.id}/anonymize"
        assert (await netsugen_client.post(url)).status_code == 401
        assert (await netsugen_client.post(url, headers=staff_headers)).status_code == 403

    async def test_anonymize_removes_personal_data_and_keeps_invoices(
        self,
        netsugen_client: httpx.AsyncClient,
        person: Person,
        admin_headers: dict[str, str],
        engine: AsyncEngine,
        clock: Clock,
        notifier_server: str,
    ) -> None:
        client = netsugen_client
        await _leave(client, person, admin_headers)
        async with engine.connect() as conn:
            events_before = await conn.scalar(text("SELECT count(*) FROM netsugen.outbox"))
        clock.set(jst(2027, 1, 10, 10))
        r = await client.post(f"/v1/members/{person.id}/anonymize", headers=admin_headers)
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["already_anonymized"] is False
        assert result["changed"] == {
            "member": 1,
            "users": 1,
            "guest_registrations": 1,
            "consultations": 1,
            "bookings": 0,
            "feed_tokens": 1,
            "api_tokens_revoked": 1,
            "idempotency_records": 1,
        }
        assert result["kept"] == {"invoices": 1}
        assert "7 years" in result["note"]

        # Nothing personal is left anywhere in the database but the invoice's own copy of the name.
        for value in person.personal_values:
            assert await scan_database(engine, value) == (
                {"netsugen.invoice": 1} if value == person.name else {}
            ), value
        for secret in (person.card_token, person.user_card_token):
            assert await scan_database(engine, hash_token(secret)) == {}

        member = (await client.get(f"/v1/members/{person.id}", headers=admin_headers)).json()
        assert member["name"] == "(匿名化済み)" and member["email"].endswith("@anonymized.invalid")
        assert member["member_number"] == person.number and member["status"] == "left"
        invoice = (
            await client.get("/v1/invoices", params={"member_id": person.id}, headers=admin_headers)
        ).json()
        assert [i["recipient_name"] for i in invoice["items"]] == [person.name]  # kept: 7-year retention
        export = (await client.get(f"/v1/members/{person.id}/export", headers=admin_headers)).text
        for value in (person.email, person.user_name, person.user_email, person.guest_name, "赤城 花子"):
            assert value not in export
        # The cards, the member's token and its calendar feed stop working.
        assert (
            await client.post("/v1/visits", json={"card_token": person.card_token}, headers=admin_headers)
        ).status_code == 404
        assert (
            await client.get(f"/v1/members/{person.id}", headers=member_headers(person))
        ).status_code == 401
        async with engine.connect() as conn:
            # Nothing was emitted: no event carries the member's data (or news of its erasure).
            assert await conn.scalar(text("SELECT count(*) FROM netsugen.outbox")) == events_before
            assert (
                await conn.scalar(
                    text("SELECT count(*) FROM netsugen.member_feed_token WHERE member_id = :m"),
                    {"m": person.id},
                )
                == 0
            )

        again = await client.post(f"/v1/members/{person.id}/anonymize", headers=admin_headers)
        assert again.status_code == 200
        assert again.json()["already_anonymized"] is True and again.json()["changed"] == {}


async def test_card_and_api_tokens_are_stored_only_as_hashes(
    person: Person, engine: AsyncEngine, make_token: TokenFactory
) -> None:
    api_secret = await make_token("staff", name="desk")
    async with engine.connect() as conn:
        cards = (
            (
                await conn.execute(
                    text(
                        "SELECT card_token_hash FROM netsugen.member WHERE id = :m UNION ALL "
                        "SELECT card_token_hash FROM netsugen.member_user WHERE member_id = :m"
                    ),
                    {"m": person.id},
                )
            )
            .scalars()
            .all()
        )
        tokens = (await conn.execute(text("SELECT token_hash FROM auth.api_token"))).scalars().all()
    assert sorted(cards) == sorted([hash_token(person.card_token), hash_token(person.user_card_token)])
    assert hash_token(api_secret) in tokens and hash_token(person.token) in tokens
    # The secrets themselves are nowhere in the database (the idempotency cache included).
    for secret in (person.card_token, person.user_card_token, api_secret, person.token):
        assert await scan_database(engine, secret) == {}, "a secret is stored in clear"


async def test_member_token_of_someone_else_cannot_export(
    netsugen_client: httpx.AsyncClient, person: Person, make_token: TokenFactory
) -> None:
    other = bearer(await make_token("member", subject=str(uuid.uuid4())))
    assert (await netsugen_client.get(f"/v1/members/{person.id}/export", headers=other)).status_code == 403
