"""Sign-ins and refused sign-ins are in the audit trail (issue 17): who, how, when, from where."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import TokenFactory, bearer
from tests.netsugen_booking.test_signin import PASSWORD, login, make_staff


async def _entries(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/v1/audit", params={"limit": 200, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_sign_in_and_refusals_are_audited(
    netsugen_client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    make_token: TokenFactory,
    clean_db: None,
) -> None:
    account = await make_staff(netsugen_client, admin_headers, "desk-audit@example.jp")
    auditor = bearer(await make_token("auditor", name="audit office"))

    ok = await login(netsugen_client, "desk-audit@example.jp")
    assert ok.status_code == 200, ok.text
    wrong = await login(netsugen_client, "Desk-Audit@example.jp", "not the password at all")
    assert wrong.status_code == 401
    unknown = await login(netsugen_client, "nobody-here@example.jp", PASSWORD)
    assert unknown.status_code == 401

    items = await _entries(netsugen_client, auditor)
    [signed] = [e for e in items if e["operation"] == "signIn"]
    assert signed["actor_kind"] == "account" and signed["actor_id"] == account["id"]
    assert signed["role"] == "staff" and signed["object_type"] == "auth.session"
    assert signed["object_id"] == ok.json()["session_id"]
    assert signed["after"]["method"] == "password" and signed["at"].endswith("+09:00")
    failed = [e for e in items if e["operation"] == "signInFailed"]
    assert len(failed) == 2
    by_account = {e["object_id"]: e for e in failed}
    assert set(by_account) == {account["id"], None}  # the unknown email names no account
    assert by_account[account["id"]]["after"]["answer"] == 401
    assert by_account[account["id"]]["after"]["email"] == "***"  # personal data masked
    assert all(e["actor_kind"] == "anonymous" and e["client_address"] for e in failed)
    # The trail can be filtered by the account.
    mine = await _entries(netsugen_client, auditor, object=account["id"])
    assert [e["operation"] for e in mine].count("signInFailed") == 1
