"""Security finding 10: a CR/LF (or any control character) in a recipient's name.

The attack / the bug: a member registered as ``"Taro\\r\\nBcc: victim@example.jp"`` with an
internationalised address (``太郎@例え.jp``, the SMTPUTF8 path through the ``email`` package). Every
attempt failed with ``ValueError`` and was retried until dead-lettered, and a header injection was
one encoding slip away. Now the API refuses such names, and the mailer turns control characters of
display names and subjects into spaces on both builders, so mail to names already stored is sent.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import uuid

import pytest

from services.notifier.dispatch.mailer import Outgoing, build_message, build_outgoing
from services.notifier.dispatch.render import default_catalog
from shared.events import EventRegistrationConfirmed, MemberRegistered
from shared.jst import now_jst
from tests.notifier.conftest import attempts_of, ledger

INJECTED = "Taro\r\nBcc: victim@example.jp"
CONTROL_NAMES = [INJECTED, "上州\n太郎", "A\x00B", "tab\tname", "esc\x1b[31m", "line\u2028sep", "c1\x85next"]


async def test_member_with_crlf_name_and_international_address_gets_the_mail(
    emit_event, relay, run_worker, smtp, world, engine
) -> None:
    member_id = world.add_member(name=INJECTED, email_="太郎@例え.jp")
    await emit_event(MemberRegistered(member_id=member_id))
    await relay.relay_once()
    await run_worker()
    [delivery] = await ledger(engine)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)  # not retried until dead
    [attempt] = await attempts_of(engine, delivery.id)
    assert (attempt.result, attempt.status_code) == ("delivered", 250)
    [received] = smtp.messages
    assert received.rcpt_tos == ["太郎@例え.jp"]  # nobody else
    # An SMTPUTF8 message: UTF-8 headers.
    message = email.message_from_string(received.raw.decode("utf-8"), policy=email.policy.default)
    assert message.get_all("Bcc") is None
    [address] = message["To"].addresses
    assert address.display_name == "Taro  Bcc: victim@example.jp"
    assert address.addr_spec == "太郎@例え.jp"


async def test_guest_with_control_characters_in_the_name_gets_the_mail(
    emit_event, relay, run_worker, smtp, world, engine
) -> None:
    registration_id = world.add_registration(name="Guest\r\nX-Injected: yes\x00!")
    await emit_event(EventRegistrationConfirmed(registration_id=registration_id, event_id=uuid.uuid4()))
    await relay.relay_once()
    await run_worker()
    [delivery] = await ledger(engine)
    assert delivery.status == "delivered"
    [received] = smtp.messages
    assert received.message.get_all("X-Injected") is None
    assert received.message["To"].addresses[0].display_name == "Guest  X-Injected: yes !"


@pytest.mark.parametrize("name", CONTROL_NAMES)
@pytest.mark.parametrize("to_email", ["taro@example.jp", "太郎@例え.jp"])
def test_both_builders_strip_control_characters(name: str, to_email: str) -> None:
    mail = default_catalog().render(
        "member.registered",
        "ja",
        name=name,
        data={"member_id": str(uuid.uuid4())},
        event_id=str(uuid.uuid4()),
        occurred_at=now_jst(),
        portal_url="https://netsugen.example.jp",
        unsubscribe_url=None,
    )
    mail = dataclasses.replace(mail, subject="件名\r\nBcc: x@example.jp")
    built = build_outgoing(
        mail,
        delivery_id=uuid.uuid4(),
        mail_from="NETSUGEN <noreply@netsugen.example.jp>",
        domain="netsugen.example.jp",
        to_email=to_email,
        to_name=name,
        unsubscribe_url=None,
    )
    if isinstance(built, Outgoing):
        message = email.message_from_bytes(built.data, policy=email.policy.default)
    else:
        message = built
        # the email package serialises it as aiosmtplib does (raised ValueError before the fix)
        message.as_bytes(policy=email.policy.SMTPUTF8)
    assert message.get_all("Bcc") is None
    display = message["To"].addresses[0].display_name
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029" for ch in display)
    assert str(message["Subject"]) == "件名  Bcc: x@example.jp"


def test_stdlib_builder_alone_accepts_a_crlf_name() -> None:
    mail = default_catalog().render(
        "member.registered",
        "en",
        name="x",
        data={"member_id": str(uuid.uuid4())},
        event_id=str(uuid.uuid4()),
        occurred_at=now_jst(),
        portal_url="https://netsugen.example.jp",
        unsubscribe_url=None,
    )
    message = build_message(
        mail,
        delivery_id=uuid.uuid4(),
        mail_from="NETSUGEN <noreply@netsugen.example.jp>",
        domain="netsugen.example.jp",
        to_email="太郎@例え.jp",
        to_name=INJECTED,
        unsubscribe_url=None,
    )
    assert b"\r\nBcc:" not in message.as_bytes(policy=email.policy.SMTPUTF8)


class TestApiRefusesControlCharactersInNames:
    """The names come from netsugen_booking (members, their users, event guests)."""

    @pytest.mark.parametrize("name", [INJECTED, "A\x1bB", "line\u2028sep"])
    async def test_member_name(self, netsugen_client, staff_headers, name: str) -> None:
        body = {
            "kind": "individual",
            "name": name,
            "email": "taro@example.jp",
            "language": "ja",
            "plan": "individual_monthly",
            "plan_start": "2026-04-01",
        }
        r = await netsugen_client.post("/v1/members", json=body, headers=staff_headers)
        assert r.status_code == 422, r.text
        assert r.json()["type"] == "urn:gunma-sdgs:problem:validation-error"
        assert "control characters" in r.text
        r = await netsugen_client.patch(
            f"/v1/members/{uuid.uuid4()}", json={"name": name}, headers=staff_headers
        )
        assert r.status_code == 422, r.text

    async def test_guest_name(self, netsugen_client) -> None:
        r = await netsugen_client.post(
            f"/v1/programs/{uuid.uuid4()}/registrations",
            json={"guest": {"name": INJECTED, "email": "guest@example.jp", "language": "en"}},
        )
        assert r.status_code == 422, r.text
        assert "control characters" in r.text
