"""Sign-in, sessions and staff accounts (services/netsugen_booking/accounts) against the real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.netsugen_booking.accounts.passwords import common_passwords
from shared.jst import utcnow
from tests.conftest import bearer
from tests.netsugen_booking.factories import add_user, assert_problem, create_member, outbox_events

PASSWORD = "plum blossoms at akagi"
ADMIN_PASSWORD = "a much longer admin passphrase"


async def make_staff(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    email: str,
    *,
    role: str = "staff",
    password: str = PASSWORD,
) -> dict[str, Any]:
    r = await client.post(
        "/v1/staff-accounts",
        json={"email": email, "name": "受付 一郎", "role": role, "password": password},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password, **extra})


async def signed_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await login(client, email, password)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def read_message(
    client: httpx.AsyncClient, service: dict[str, str], engine: AsyncEngine, purpose: str
) -> dict[str, Any]:
    """What the notifier reads for the newest message of ``purpose`` (once)."""
    async with engine.connect() as conn:
        message_id = (
            await conn.execute(
                text("SELECT id FROM auth.message WHERE purpose = :p ORDER BY created_at DESC LIMIT 1"),
                {"p": purpose},
            )
        ).scalar_one()
    r = await client.get(f"/v1/auth/messages/{message_id}/contact", headers=service)
    assert r.status_code == 200, r.text
    again = await client.get(f"/v1/auth/messages/{message_id}/contact", headers=service)
    assert_problem(again, 410, "message-gone")  # readable once
    async with engine.connect() as conn:
        clear = (
            await conn.execute(
                text("SELECT secret_clear FROM auth.message WHERE id = :id"), {"id": message_id}
            )
        ).scalar_one()
    assert clear is None  # nothing usable left in the database
    return dict(r.json())


def token_of(link_url: str) -> str:
    fragment = urlsplit(link_url).fragment
    assert fragment.startswith("token=")
    return fragment.removeprefix("token=")


class TestStaffSignIn:
    async def test_login_returns_a_pair_that_works_on_all_three_services(
        self, netsugen_client, kpi_client, notifier_client, admin_headers, engine
    ) -> None:
        await make_staff(
            netsugen_client, admin_headers, "Desk@Netsugen.example.jp", role="admin", password=ADMIN_PASSWORD
        )
        pair = await signed_in(netsugen_client, "desk@netsugen.EXAMPLE.jp", ADMIN_PASSWORD)  # any case
        assert pair["token_type"] == "Bearer" and pair["expires_in"] == 15 * 60
        assert pair["access_token"].startswith("gsa_") and pair["refresh_token"].startswith("gsr_")
        auth = bearer(pair["access_token"])
        me = await netsugen_client.get("/v1/auth/me", headers=auth)
        assert me.status_code == 200 and me.json()["role"] == "admin" and me.json()["kind"] == "staff"
        assert (await kpi_client.get("/v1/kpis?limit=1", headers=auth)).status_code == 200
        assert (await notifier_client.get("/v1/deliveries", headers=auth)).status_code == 200
        assert (await netsugen_client.get("/v1/staff-accounts", headers=auth)).status_code == 200
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT token_hash FROM auth.session_token"))).scalars().all()
            hashes = (await conn.execute(text("SELECT password_hash FROM auth.account"))).scalars().all()
        assert pair["access_token"] not in stored and len(stored) == 2 and all(len(h) == 64 for h in stored)
        assert hashes[0].startswith("$argon2id$")

    async def test_same_answer_for_unknown_email_and_wrong_password(
        self, netsugen_client, admin_headers
    ) -> None:
        await make_staff(netsugen_client, admin_headers, "a@netsugen.example.jp")
        unknown = assert_problem(
            await login(netsugen_client, "nobody@netsugen.example.jp"), 401, "invalid-credentials"
        )
        wrong = assert_problem(
            await login(netsugen_client, "a@netsugen.example.jp", "wrong password!!"),
            401,
            "invalid-credentials",
        )
        assert unknown["detail"] == wrong["detail"]

    async def test_lock_out_is_per_account_and_grows(self, netsugen_client, admin_headers, engine) -> None:
        await make_staff(netsugen_client, admin_headers, "victim@netsugen.example.jp")
        await make_staff(netsugen_client, admin_headers, "other@netsugen.example.jp")
        for _ in range(5):
            assert_problem(
                await login(netsugen_client, "victim@netsugen.example.jp", "guess guess guess"),
                401,
                "invalid-credentials",
            )
        # Locked: even the right password is refused, with the same answer.
        assert_problem(await login(netsugen_client, "victim@netsugen.example.jp"), 401, "invalid-credentials")
        # Another account is not affected.
        assert (await login(netsugen_client, "other@netsugen.example.jp")).status_code == 200
        async with engine.begin() as conn:
            failed, until = (
                await conn.execute(
                    text("SELECT failed_attempts, locked_until FROM auth.account WHERE email LIKE 'victim%'")
                )
            ).one()
            assert failed == 5 and timedelta(seconds=55) < until - utcnow() <= timedelta(seconds=60)
            await conn.execute(
                text(
                    "UPDATE auth.account SET locked_until = now() - interval '1 second' WHERE email LIKE 'victim%'"
                )
            )
        # One more failure after the lock: twice as long.
        assert_problem(
            await login(netsugen_client, "victim@netsugen.example.jp", "guess again guess"),
            401,
            "invalid-credentials",
        )
        async with engine.begin() as conn:
            until = (
                await conn.execute(text("SELECT locked_until FROM auth.account WHERE email LIKE 'victim%'"))
            ).scalar_one()
            assert timedelta(seconds=115) < until - utcnow() <= timedelta(seconds=120)
            await conn.execute(
                text(
                    "UPDATE auth.account SET locked_until = now() - interval '1 second' WHERE email LIKE 'victim%'"
                )
            )
        assert (await login(netsugen_client, "victim@netsugen.example.jp")).status_code == 200
        async with engine.connect() as conn:
            failed = (
                await conn.execute(
                    text("SELECT failed_attempts FROM auth.account WHERE email LIKE 'victim%'")
                )
            ).scalar_one()
        assert failed == 0

    async def test_refresh_rotates_and_reuse_revokes_the_session(
        self, netsugen_client, admin_headers
    ) -> None:
        await make_staff(netsugen_client, admin_headers, "r@netsugen.example.jp")
        first = await signed_in(netsugen_client, "r@netsugen.example.jp")
        r = await netsugen_client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200, r.text
        second = r.json()
        assert (
            second["refresh_token"] != first["refresh_token"] and second["session_id"] == first["session_id"]
        )
        assert (
            await netsugen_client.get("/v1/auth/me", headers=bearer(second["access_token"]))
        ).status_code == 200
        # The first refresh token again: reuse. The whole session ends, the new tokens too.
        assert_problem(
            await netsugen_client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
            401,
            "invalid-refresh-token",
        )
        assert_problem(
            await netsugen_client.get("/v1/auth/me", headers=bearer(second["access_token"])),
            401,
            "unauthorized",
        )
        assert_problem(
            await netsugen_client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
            401,
            "invalid-refresh-token",
        )

    async def test_logout_and_own_sessions(self, netsugen_client, admin_headers) -> None:
        await make_staff(netsugen_client, admin_headers, "s@netsugen.example.jp")
        one = await signed_in(netsugen_client, "s@netsugen.example.jp")
        two = await signed_in(netsugen_client, "s@netsugen.example.jp")
        listed = (await netsugen_client.get("/v1/auth/sessions", headers=bearer(one["access_token"]))).json()[
            "items"
        ]
        assert {s["id"]: s["current"] for s in listed} == {one["session_id"]: True, two["session_id"]: False}
        assert listed[0]["created_at"].endswith("+09:00")
        r = await netsugen_client.delete(
            f"/v1/auth/sessions/{two['session_id']}", headers=bearer(one["access_token"])
        )
        assert r.status_code == 204
        assert_problem(
            await netsugen_client.get("/v1/auth/me", headers=bearer(two["access_token"])), 401, "unauthorized"
        )
        assert (
            await netsugen_client.post("/v1/auth/logout", json={}, headers=bearer(one["access_token"]))
        ).status_code == 204
        assert_problem(
            await netsugen_client.get("/v1/auth/me", headers=bearer(one["access_token"])), 401, "unauthorized"
        )
        # Another person's session cannot be revoked.
        await make_staff(netsugen_client, admin_headers, "t@netsugen.example.jp")
        three = await signed_in(netsugen_client, "t@netsugen.example.jp")
        four = await signed_in(netsugen_client, "t@netsugen.example.jp")
        assert_problem(
            await netsugen_client.delete(f"/v1/auth/sessions/{four['session_id']}", headers=admin_headers),
            403,
            "session-required",
        )
        assert (
            await netsugen_client.post("/v1/auth/logout", json={"refresh_token": three["refresh_token"]})
        ).status_code == 204
        assert (
            await netsugen_client.get("/v1/auth/me", headers=bearer(four["access_token"]))
        ).status_code == 200

    async def test_deactivation_and_role_change_apply_to_live_sessions(
        self, netsugen_client, admin_headers
    ) -> None:
        account = await make_staff(netsugen_client, admin_headers, "d@netsugen.example.jp")
        pair = await signed_in(netsugen_client, "d@netsugen.example.jp")
        auth = bearer(pair["access_token"])
        assert (await netsugen_client.get("/v1/members", headers=auth)).status_code == 200
        r = await netsugen_client.patch(
            f"/v1/staff-accounts/{account['id']}", json={"role": "auditor"}, headers=admin_headers
        )
        assert r.status_code == 200 and r.json()["role"] == "auditor"
        assert (await netsugen_client.get("/v1/auth/me", headers=auth)).json()["role"] == "auditor"
        r = await netsugen_client.post(
            f"/v1/staff-accounts/{account['id']}/deactivate", headers=admin_headers
        )
        assert r.status_code == 200 and r.json()["active"] is False
        assert_problem(await netsugen_client.get("/v1/auth/me", headers=auth), 401, "unauthorized")
        assert_problem(await login(netsugen_client, "d@netsugen.example.jp"), 401, "invalid-credentials")

    async def test_totp_required_for_admins_when_the_setting_says_so(
        self, netsugen_client, netsugen_app, admin_headers, monkeypatch
    ) -> None:
        monkeypatch.setattr(netsugen_app.state.settings, "auth_require_totp_for_admins", True)
        await make_staff(
            netsugen_client, admin_headers, "boss@netsugen.example.jp", role="admin", password=ADMIN_PASSWORD
        )
        await make_staff(netsugen_client, admin_headers, "desk2@netsugen.example.jp")
        assert (
            await login(netsugen_client, "desk2@netsugen.example.jp")
        ).status_code == 200  # staff: not required
        assert_problem(
            await login(netsugen_client, "boss@netsugen.example.jp", ADMIN_PASSWORD),
            403,
            "totp-enrolment-required",
        )
        r = await netsugen_client.post(
            "/v1/auth/totp/enrol", json={"email": "boss@netsugen.example.jp", "password": ADMIN_PASSWORD}
        )
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert r.json()["otpauth_uri"].startswith(
            "otpauth://totp/NETSUGEN:boss%40netsugen.example.jp?secret="
        )
        assert_problem(
            await login(netsugen_client, "boss@netsugen.example.jp", ADMIN_PASSWORD), 401, "totp-required"
        )
        wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 10**6:06d}"
        assert_problem(
            await login(netsugen_client, "boss@netsugen.example.jp", ADMIN_PASSWORD, totp=wrong),
            401,
            "invalid-credentials",
        )
        code = pyotp.TOTP(secret).now()
        assert (
            await login(netsugen_client, "boss@netsugen.example.jp", ADMIN_PASSWORD, totp=code)
        ).status_code == 200
        # The same code twice is refused (replay).
        assert_problem(
            await login(netsugen_client, "boss@netsugen.example.jp", ADMIN_PASSWORD, totp=code),
            401,
            "invalid-credentials",
        )

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("short1!", "too_short"),
            ("password123", "common"),
            ("qwertyuiop", "common"),
            ("x" * 129, "too_long"),
            ("rider.kanako-spring", "contains_email"),
        ],
    )
    async def test_password_rules(self, netsugen_client, admin_headers, password, reason) -> None:
        r = await netsugen_client.post(
            "/v1/staff-accounts",
            json={
                "email": "rider.kanako@netsugen.example.jp",
                "name": "n",
                "role": "staff",
                "password": password,
            },
            headers=admin_headers,
        )
        assert assert_problem(r, 422, "weak-password")["reason"] == reason

    async def test_password_rules_accept_passphrases_without_composition_and_admins_need_15(
        self, netsugen_client, admin_headers
    ) -> None:
        assert len(common_passwords()) > 5000
        await make_staff(
            netsugen_client, admin_headers, "p@netsugen.example.jp", password="lowercase only words"
        )
        r = await netsugen_client.post(
            "/v1/staff-accounts",
            json={
                "email": "adm@netsugen.example.jp",
                "name": "n",
                "role": "admin",
                "password": "fourteen chars",
            },
            headers=admin_headers,
        )
        assert assert_problem(r, 422, "weak-password")["reason"] == "too_short"
        dup = await netsugen_client.post(
            "/v1/staff-accounts",
            json={"email": "P@NETSUGEN.example.jp", "name": "n", "role": "staff", "password": PASSWORD},
            headers=admin_headers,
        )
        assert_problem(dup, 409, "email-taken")

    async def test_only_admins_manage_accounts(self, netsugen_client, staff_headers) -> None:
        r = await netsugen_client.post(
            "/v1/staff-accounts",
            json={"email": "x@netsugen.example.jp", "name": "n", "role": "admin", "password": ADMIN_PASSWORD},
            headers=staff_headers,
        )
        assert_problem(r, 403, "forbidden")


class TestMemberSignIn:
    async def test_member_signs_in_by_link_and_reads_own_data(
        self, netsugen_client, staff_headers, service_headers, engine, db
    ) -> None:
        member = await create_member(netsugen_client, staff_headers, email="Taro@Example.jp", language="en")
        other = await create_member(netsugen_client, staff_headers)
        r = await netsugen_client.post("/v1/auth/email-link", json={"email": "taro@example.jp"})
        assert r.status_code == 202
        assert (
            await netsugen_client.post("/v1/auth/email-link", json={"email": "nobody@example.jp"})
        ).status_code == 202
        events = await outbox_events(db, "auth.sign_in_link")
        assert len(events) == 1 and set(events[0]["data"]) == {"message_id"}  # ids only through Redis
        contact = await read_message(netsugen_client, service_headers, engine, "sign_in")
        assert (
            contact["email"] == "Taro@example.jp"
        )  # as the member API normalised it and contact["language"] == "en"
        assert len(contact["secret"]["code"]) == 6 and contact["secret"]["minutes"] == "15"
        assert contact["secret"]["link_url"].startswith("http://127.0.0.1:8002/signin#token=gml_")
        token = token_of(contact["secret"]["link_url"])
        r = await netsugen_client.post("/v1/auth/email-link/verify", json={"token": token})
        assert r.status_code == 200, r.text
        auth = bearer(r.json()["access_token"])
        visits = await netsugen_client.get("/v1/visits", params={"member_id": member["id"]}, headers=auth)
        assert visits.status_code == 200 and visits.json()["items"] == []
        invoices = await netsugen_client.get("/v1/invoices", params={"member_id": member["id"]}, headers=auth)
        assert invoices.status_code == 200 and invoices.json()["items"] == []
        assert (
            await netsugen_client.get("/v1/visits", params={"member_id": other["id"]}, headers=auth)
        ).status_code == 403
        # The link works once.
        assert_problem(
            await netsugen_client.post("/v1/auth/email-link/verify", json={"token": token}),
            400,
            "invalid-link",
        )

    async def test_code_sign_in_with_limited_attempts(
        self, netsugen_client, staff_headers, service_headers, engine
    ) -> None:
        await create_member(netsugen_client, staff_headers, email="hana@example.jp")
        await netsugen_client.post("/v1/auth/email-link", json={"email": "hana@example.jp"})
        code = (await read_message(netsugen_client, service_headers, engine, "sign_in"))["secret"]["code"]
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(5):
            r = await netsugen_client.post(
                "/v1/auth/email-link/verify", json={"email": "hana@example.jp", "code": wrong}
            )
            assert_problem(r, 400, "invalid-link")
        # Five wrong tries spent the message: the right code no longer works.
        r = await netsugen_client.post(
            "/v1/auth/email-link/verify", json={"email": "HANA@example.jp", "code": code}
        )
        assert_problem(r, 400, "invalid-link")
        await netsugen_client.post("/v1/auth/email-link", json={"email": "hana@example.jp"})
        code = (await read_message(netsugen_client, service_headers, engine, "sign_in"))["secret"]["code"]
        r = await netsugen_client.post(
            "/v1/auth/email-link/verify", json={"email": "hana@example.jp", "code": code}
        )
        assert r.status_code == 200, r.text

    async def test_named_user_signs_in_as_themselves(
        self, netsugen_client, staff_headers, service_headers, engine
    ) -> None:
        corp = await create_member(netsugen_client, staff_headers, kind="corporate", plan="corporate_monthly")
        r = await netsugen_client.post(
            f"/v1/members/{corp['id']}/users",
            json={"name": "前橋 花子", "email": "hanako@lab.example.jp"},
            headers=staff_headers,
        )
        user = r.json()
        await netsugen_client.post("/v1/auth/email-link", json={"email": "hanako@lab.example.jp"})
        token = token_of(
            (await read_message(netsugen_client, service_headers, engine, "sign_in"))["secret"]["link_url"]
        )
        pair = (await netsugen_client.post("/v1/auth/email-link/verify", json={"token": token})).json()
        me = (await netsugen_client.get("/v1/auth/me", headers=bearer(pair["access_token"]))).json()
        assert me["member_id"] == corp["id"] and me["member_user_id"] == user["id"] and me["role"] == "member"
        assert_problem(
            await netsugen_client.patch(
                "/v1/auth/me", json={"language": "en"}, headers=bearer(pair["access_token"])
            ),
            422,
            "change-not-allowed",
        )
        await add_user(netsugen_client, staff_headers, corp["id"])

    async def test_member_changes_language_and_email_by_confirmation(
        self, netsugen_client, staff_headers, service_headers, engine
    ) -> None:
        member = await create_member(netsugen_client, staff_headers, email="old@example.jp")
        await netsugen_client.post("/v1/auth/email-link", json={"email": "old@example.jp"})
        token = token_of(
            (await read_message(netsugen_client, service_headers, engine, "sign_in"))["secret"]["link_url"]
        )
        auth = bearer(
            (await netsugen_client.post("/v1/auth/email-link/verify", json={"token": token})).json()[
                "access_token"
            ]
        )
        assert (
            await netsugen_client.patch("/v1/auth/me", json={"language": "en"}, headers=auth)
        ).status_code == 200
        assert (
            await netsugen_client.post(
                "/v1/auth/email-change", json={"email": "new@example.jp"}, headers=auth
            )
        ).status_code == 202
        got = (await netsugen_client.get(f"/v1/members/{member['id']}", headers=staff_headers)).json()
        assert got["email"] == "old@example.jp" and got["language"] == "en"  # not before confirmation
        contact = await read_message(netsugen_client, service_headers, engine, "email_change")
        assert contact["email"] == "new@example.jp" and contact["language"] == "en"
        r = await netsugen_client.post(
            "/v1/auth/email-change/confirm", json={"token": token_of(contact["secret"]["link_url"])}
        )
        assert r.status_code == 204
        got = (await netsugen_client.get(f"/v1/members/{member['id']}", headers=staff_headers)).json()
        assert got["email"] == "new@example.jp"
        assert_problem(await netsugen_client.get("/v1/auth/me", headers=auth), 401, "unauthorized")

    async def test_only_the_service_token_reads_messages(
        self, netsugen_client, admin_headers, staff_headers
    ) -> None:
        member = await create_member(netsugen_client, staff_headers)
        await netsugen_client.post("/v1/auth/email-link", json={"email": member["email"]})
        r = await netsugen_client.get(f"/v1/auth/messages/{member['id']}/contact", headers=admin_headers)
        assert_problem(r, 403, "forbidden")


class TestResetAndEmailChange:
    async def test_password_reset_revokes_sessions(
        self, netsugen_client, admin_headers, service_headers, engine
    ) -> None:
        await make_staff(netsugen_client, admin_headers, "forgot@netsugen.example.jp")
        pair = await signed_in(netsugen_client, "forgot@netsugen.example.jp")
        assert (
            await netsugen_client.post(
                "/v1/auth/password-reset", json={"email": "forgot@netsugen.example.jp"}
            )
        ).status_code == 202
        assert (
            await netsugen_client.post("/v1/auth/password-reset", json={"email": "nope@netsugen.example.jp"})
        ).status_code == 202
        token = token_of(
            (await read_message(netsugen_client, service_headers, engine, "password_reset"))["secret"][
                "link_url"
            ]
        )
        weak = await netsugen_client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": "password1"}
        )
        assert_problem(weak, 422, "weak-password")
        new = "a brand new passphrase"
        r = await netsugen_client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": new}
        )
        assert r.status_code == 204
        assert_problem(
            await netsugen_client.get("/v1/auth/me", headers=bearer(pair["access_token"])),
            401,
            "unauthorized",
        )
        assert_problem(await login(netsugen_client, "forgot@netsugen.example.jp"), 401, "invalid-credentials")
        assert (await login(netsugen_client, "forgot@netsugen.example.jp", new)).status_code == 200
        again = await netsugen_client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": "another new phrase"}
        )
        assert_problem(again, 400, "invalid-link")

    async def test_staff_email_change_takes_effect_on_confirmation(
        self, netsugen_client, admin_headers, service_headers, engine
    ) -> None:
        await make_staff(netsugen_client, admin_headers, "before@netsugen.example.jp")
        pair = await signed_in(netsugen_client, "before@netsugen.example.jp")
        r = await netsugen_client.post(
            "/v1/auth/email-change",
            json={"email": "after@netsugen.example.jp"},
            headers=bearer(pair["access_token"]),
        )
        assert r.status_code == 202
        assert (await login(netsugen_client, "after@netsugen.example.jp")).status_code == 401
        token = token_of(
            (await read_message(netsugen_client, service_headers, engine, "email_change"))["secret"][
                "link_url"
            ]
        )
        assert (
            await netsugen_client.post("/v1/auth/email-change/confirm", json={"token": token})
        ).status_code == 204
        assert (await login(netsugen_client, "after@netsugen.example.jp")).status_code == 200
        assert (await login(netsugen_client, "before@netsugen.example.jp")).status_code == 401


async def test_expired_session_is_refused(netsugen_client, netsugen_app, admin_headers, engine) -> None:
    await make_staff(netsugen_client, admin_headers, "e@netsugen.example.jp")
    pair = await signed_in(netsugen_client, "e@netsugen.example.jp")
    assert (await netsugen_client.get("/v1/auth/me", headers=bearer(pair["access_token"]))).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE auth.session SET expires_at = now() - interval '1 second'"))
    await netsugen_app.state.pg_watcher.barrier()
    assert_problem(
        await netsugen_client.get("/v1/auth/me", headers=bearer(pair["access_token"])), 401, "unauthorized"
    )
    assert_problem(
        await netsugen_client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "invalid-refresh-token",
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_sign_in_mail_carries_the_link_and_code(language: str) -> None:
    from datetime import UTC, datetime

    from services.notifier.dispatch.render import default_catalog

    link = "https://portal.example.jp/signin#token=gml_abc"
    mail = default_catalog().render(
        "auth.sign_in_link",
        language,
        name=None,
        data={"message_id": "m"},
        event_id="e",  # type: ignore[arg-type]
        occurred_at=datetime(2026, 12, 3, tzinfo=UTC),
        portal_url="https://portal.example.jp",
        secret={"link_url": link, "code": "042917", "minutes": "15"},
    )
    assert link in mail.text and f'href="{link}"' in mail.html
    assert "042917" in mail.text and "042917" in mail.html
    assert ("15 分" if language == "ja" else "15 minutes") in mail.text


async def test_cli_creates_an_account_that_signs_in(netsugen_client, stack) -> None:
    import asyncio

    from typer.testing import CliRunner

    from gunma.cli import app

    args = ["accounts", "create", "--email", "cli@netsugen.example.jp", "--name", "受付", "--role", "staff"]
    weak = await asyncio.to_thread(CliRunner().invoke, app, [*args, "--password-stdin"], input="password1\n")
    assert weak.exit_code == 1 and "common or breached" in weak.output
    result = await asyncio.to_thread(
        CliRunner().invoke, app, [*args, "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "created staff account" in result.output
    assert (await login(netsugen_client, "cli@netsugen.example.jp")).status_code == 200
    listed = await asyncio.to_thread(CliRunner().invoke, app, ["accounts", "list"])
    assert (
        listed.exit_code == 0 and "staff" in listed.output and "受付" in listed.output
    )  # narrow terminal: cells wrap


class TestConsoleSession:
    """/frontdesk/session: the refresh token only ever travels in an HttpOnly cookie."""

    @staticmethod
    def cookie_of(response: httpx.Response) -> tuple[str, str]:
        header = response.headers["set-cookie"]
        value = header.split(";", 1)[0].split("=", 1)[1]
        return value, header

    async def test_cookie_session_rotates_and_signs_out(self, netsugen_client, admin_headers) -> None:
        await make_staff(netsugen_client, admin_headers, "fd@netsugen.example.jp")
        r = await netsugen_client.post(
            "/frontdesk/session", json={"email": "fd@netsugen.example.jp", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"access_token", "expires_in", "token_type"}  # no refresh token in the body
        first, header = self.cookie_of(r)
        assert first.startswith("gsr_")
        attrs = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
        assert attrs["path"] == "Path=/frontdesk/session" and "httponly" in attrs and "secure" in attrs
        assert attrs["samesite"].lower() == "samesite=strict"
        access = r.json()["access_token"]
        assert (await netsugen_client.get("/v1/occupancy", headers=bearer(access))).status_code == 200
        netsugen_client.cookies.clear()
        cookie = {"Cookie": f"netsugen_frontdesk_refresh={first}"}
        r = await netsugen_client.post("/frontdesk/session/refresh", headers=cookie)
        assert r.status_code == 200, r.text
        second, _ = self.cookie_of(r)
        assert second != first
        # Another site's page cannot use the cookie.
        evil = await netsugen_client.post(
            "/frontdesk/session/refresh", headers={**cookie, "Origin": "https://evil.example"}
        )
        assert_problem(evil, 403, "forbidden")
        # The old cookie again: reuse ends the session.
        assert_problem(
            await netsugen_client.post("/frontdesk/session/refresh", headers=cookie),
            401,
            "invalid-refresh-token",
        )
        assert_problem(
            await netsugen_client.get("/v1/auth/me", headers=bearer(r.json()["access_token"])),
            401,
            "unauthorized",
        )
        # A fresh sign-in, then sign-out clears the cookie and revokes.
        r = await netsugen_client.post(
            "/frontdesk/session", json={"email": "fd@netsugen.example.jp", "password": PASSWORD}
        )
        third, _ = self.cookie_of(r)
        out = await netsugen_client.post(
            "/frontdesk/session/logout", headers={"Cookie": f"netsugen_frontdesk_refresh={third}"}
        )
        assert out.status_code == 204 and 'netsugen_frontdesk_refresh=""' in out.headers["set-cookie"]
        assert_problem(
            await netsugen_client.get("/v1/auth/me", headers=bearer(r.json()["access_token"])),
            401,
            "unauthorized",
        )
        netsugen_client.cookies.clear()
        assert_problem(await netsugen_client.post("/frontdesk/session/refresh"), 401, "invalid-refresh-token")

    async def test_wrong_password_is_the_same_401(self, netsugen_client, admin_headers) -> None:
        await make_staff(netsugen_client, admin_headers, "fd2@netsugen.example.jp")
        r = await netsugen_client.post(
            "/frontdesk/session", json={"email": "fd2@netsugen.example.jp", "password": "nope nope nope"}
        )
        assert_problem(r, 401, "invalid-credentials")
        assert "set-cookie" not in r.headers


async def test_housekeeping_deletes_expired_tokens_messages_and_old_sessions(
    netsugen_client, admin_headers, staff_headers, engine, sessionmaker
) -> None:
    from services.netsugen_booking.accounts.tasks import purge_sign_in_data

    await make_staff(netsugen_client, admin_headers, "h@netsugen.example.jp")
    old = await signed_in(netsugen_client, "h@netsugen.example.jp")
    live = await signed_in(netsugen_client, "h@netsugen.example.jp")
    await netsugen_client.post("/v1/auth/password-reset", json={"email": "h@netsugen.example.jp"})
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE auth.session SET revoked_at = now() - interval '31 days' WHERE id = :id"),
            {"id": old["session_id"]},
        )
        await conn.execute(text("UPDATE auth.message SET expires_at = now() - interval '2 days'"))
        await conn.execute(
            text(
                "UPDATE auth.session_token SET expires_at = now() - interval '2 days' "
                "WHERE session_id = :id AND kind = 'access'"
            ),
            {"id": live["session_id"]},
        )
    assert await purge_sign_in_data({"sessionmaker": sessionmaker}) == {
        "tokens": 1,
        "messages": 1,
        "sessions": 1,
    }
    assert await purge_sign_in_data({"sessionmaker": sessionmaker}) == {
        "tokens": 0,
        "messages": 0,
        "sessions": 0,
    }
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT session_id, kind FROM auth.session_token"))).all()
    assert [(str(s), k) for s, k in left] == [(live["session_id"], "refresh")]
    r = await netsugen_client.post("/v1/auth/refresh", json={"refresh_token": live["refresh_token"]})
    assert r.status_code == 200


async def test_staff_account_list_pages_and_refuses_forged_cursors(netsugen_client, admin_headers) -> None:
    from shared.pagination import encode_cursor

    for n in range(3):
        await make_staff(netsugen_client, admin_headers, f"page{n}@netsugen.example.jp")
    first = (
        await netsugen_client.get("/v1/staff-accounts", params={"limit": 2}, headers=admin_headers)
    ).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await netsugen_client.get(
        "/v1/staff-accounts", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin_headers
    )
    emails = [a["email"] for a in first["items"] + rest.json()["items"]]
    assert (
        sorted(emails) == [f"page{n}@netsugen.example.jp" for n in range(3)]
        and rest.json()["next_cursor"] is None
    )
    for forged in (
        encode_cursor("2026-12-03T09:00:00", "6f1e9a70-4f0e-4d43-9c55-2f4f0e1d2c3b"),
        encode_cursor("x", "y"),
    ):
        r = await netsugen_client.get("/v1/staff-accounts", params={"cursor": forged}, headers=admin_headers)
        assert_problem(r, 422, "invalid-cursor")


async def test_a_suspended_member_cannot_refresh(
    netsugen_client, staff_headers, service_headers, engine
) -> None:
    member = await create_member(netsugen_client, staff_headers, email="sus@example.jp")
    await netsugen_client.post("/v1/auth/email-link", json={"email": "sus@example.jp"})
    token = token_of(
        (await read_message(netsugen_client, service_headers, engine, "sign_in"))["secret"]["link_url"]
    )
    pair = (await netsugen_client.post("/v1/auth/email-link/verify", json={"token": token})).json()
    r = await netsugen_client.post(
        f"/v1/members/{member['id']}/suspend", json={"reason": "未払い"}, headers=staff_headers
    )
    assert r.status_code == 200, r.text
    assert_problem(
        await netsugen_client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "invalid-refresh-token",
    )
    assert_problem(
        await netsugen_client.get("/v1/auth/me", headers=bearer(pair["access_token"])), 401, "unauthorized"
    )
    # No new link either.
    assert (
        await netsugen_client.post("/v1/auth/email-link", json={"email": "sus@example.jp"})
    ).status_code == 202
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM auth.message"))).scalar_one()
    assert count == 1
