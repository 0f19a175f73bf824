"""The fast message builder (``build_outgoing``) against the stdlib ``email`` builder it replaced on
the hot path: the same headers and bodies once parsed, RFC 5322 line lengths, 7-bit clean bytes;
and both kinds of message through the SMTP pool to a real SMTP server."""

from __future__ import annotations

import email
import email.header
import email.policy
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtplib.email import flatten_message

from services.notifier.dispatch.mailer import (
    Outgoing,
    SmtpPool,
    address_header,
    build_message,
    build_outgoing,
    subject_header,
)
from services.notifier.dispatch.render import LANGUAGES, RenderedMail, default_catalog
from tests.notifier.conftest import SmtpServer
from tests.notifier.test_templates import OCCURRED, sample_data

NAMES: list[str | None] = [
    "山田 太郎",
    None,
    "Ann",
    "Dr. Who",
    'John "JJ" O\'Brien, Jr.',
    "back\\slash",
    "Zoë Ünal",
    "とても長い名前の人" * 6,
    "x" * 70,
    "=?utf-8?q?not_an_encoded_word?=",
    "line\r\nBcc: injected@example.com",
]
MAIL_FROM = "NETSUGEN 通知 <noreply@netsugen.example.jp>"
UNSUBSCRIBE = "https://netsugen.example.jp/settings/notifications"


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def raw_header(message: EmailMessage, name: str) -> str:
    """A header decoded by RFC 2047's rules alone (whitespace between encoded-words dropped; the
    stdlib's structured parser keeps it inside display names)."""
    [source] = [v for k, v in message.raw_items() if k.lower() == name.lower()]
    return str(email.header.make_header(email.header.decode_header(str(source).replace("\r\n", ""))))


def render(event_type: str, language: str, name: str | None) -> RenderedMail:
    return default_catalog().render(
        event_type,
        language,  # type: ignore[arg-type]
        name=name,
        data=sample_data(event_type),
        event_id=str(uuid.uuid4()),
        occurred_at=OCCURRED,
        portal_url="https://netsugen.example.jp",
        unsubscribe_url=UNSUBSCRIBE,
    )


def both(
    mail: RenderedMail, name: str | None, to_email: str = "taro@example.jp"
) -> tuple[EmailMessage, Outgoing]:
    kwargs: dict[str, Any] = {
        "delivery_id": uuid.uuid4(),
        "mail_from": MAIL_FROM,
        "domain": "netsugen.example.jp",
        "to_email": to_email,
        "to_name": name,
        "unsubscribe_url": UNSUBSCRIBE,
    }
    reference = build_message(mail, **kwargs)
    fast = build_outgoing(mail, **kwargs)
    assert isinstance(fast, Outgoing)
    return reference, fast


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event_type", sorted(default_catalog().versions))
def test_fast_builder_matches_the_email_package(event_type: str, language: str) -> None:
    mail = render(event_type, language, "山田 太郎")
    reference, fast = both(mail, "山田 太郎")
    assert fast.data.isascii()
    assert all(len(line) <= 78 for line in fast.data.split(b"\r\n")), "RFC 5322 §2.1.1: 78 columns"
    assert b"\n" not in fast.data.replace(b"\r\n", b"")
    a, b = parse(flatten_message(reference)), parse(fast.data)
    assert not b.defects and all(not part.defects for part in b.walk())
    for header in (
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Auto-Submitted",
        "X-Notifier-Template",
        "List-Unsubscribe",
        "Content-Language",
        "MIME-Version",
    ):
        assert str(b[header]) == str(a[header]), header
    assert b["Subject"] == mail.subject and b["Date"].datetime is not None
    assert b.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in b.iter_parts()] == ["text/plain", "text/html"]
    for subtype in ("plain", "html"):
        part_a, part_b = a.get_body(preferencelist=(subtype,)), b.get_body(preferencelist=(subtype,))
        assert part_a is not None and part_b is not None
        assert part_b.get_content_charset() == "utf-8"
        assert part_b.get_content() == part_a.get_content()
    assert fast.sender == "noreply@netsugen.example.jp" and fast.recipients == ("taro@example.jp",)
    assert fast.message_id == str(a["Message-ID"])


@pytest.mark.parametrize("name", NAMES)
def test_display_names_survive_any_characters(name: str | None) -> None:
    fast = build_outgoing(
        render("member.registered", "ja", name),
        delivery_id=uuid.uuid4(),
        mail_from=MAIL_FROM,
        domain="netsugen.example.jp",
        to_email="taro@example.jp",
        to_name=name,
        unsubscribe_url=None,
    )
    assert isinstance(fast, Outgoing)
    message = parse(fast.data)
    assert all(len(line) <= 78 for line in fast.data.split(b"\r\n"))
    assert message["To"].addresses[0].addr_spec == "taro@example.jp"
    assert message.get_all("Bcc") is None  # a newline in a name cannot start a header
    decoded = raw_header(message, "To")
    if name is None:
        assert decoded == "taro@example.jp"
    else:
        phrase, _, address = decoded.rpartition(" ")
        assert address == "<taro@example.jp>"
        if phrase.startswith('"'):  # a quoted-string
            phrase = phrase[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        assert phrase == name.replace("\r", " ").replace("\n", " ")  # control characters: spaces


@pytest.mark.parametrize(
    "subject",
    [
        "NETSUGENへようこそ",
        "Welcome to NETSUGEN",
        "予約確認：" + "会議室" * 30,
        "word " * 30 + "end",
        "=?utf-8?b?Zm9v?= literal",
        "x" * 100,
        "",
    ],
)
def test_subjects_are_encoded_and_folded(subject: str) -> None:
    header = subject_header(subject)
    assert header.isascii()
    assert all(len(line) <= 78 for line in header.split("\r\n"))
    message = parse((header + "\r\n\r\nbody\r\n").encode("ascii"))
    assert raw_header(message, "Subject") == subject


def test_from_with_a_japanese_name_is_encoded() -> None:
    header = address_header("From", "群馬県 NETSUGEN", "noreply@netsugen.example.jp")
    assert header.isascii() and "=?utf-8?b?" in header
    message = parse((header + "\r\n\r\n").encode("ascii"))
    assert message["From"].addresses[0].display_name == "群馬県 NETSUGEN"


async def test_non_ascii_address_goes_by_the_email_package_and_smtputf8(smtp: SmtpServer) -> None:
    mail = render("member.registered", "ja", "山田 太郎")
    built = build_outgoing(
        mail,
        delivery_id=uuid.uuid4(),
        mail_from=MAIL_FROM,
        domain="netsugen.example.jp",
        to_email="taro@例え.jp",
        to_name="山田 太郎",
        unsubscribe_url=None,
    )
    assert isinstance(built, EmailMessage)  # aiosmtplib's send_message adds SMTPUTF8
    pool = SmtpPool(host="127.0.0.1", port=smtp.port, size=1)
    try:
        await pool.send(built)
    finally:
        await pool.close()
    [received] = smtp.messages
    assert received.rcpt_tos == ["taro@例え.jp"] and received.subject == "NETSUGENへようこそ"


async def test_pool_sends_fast_and_stdlib_messages_on_one_connection(smtp: SmtpServer) -> None:
    pool = SmtpPool(host="127.0.0.1", port=smtp.port, size=1)
    try:
        mail = render("member.registered", "ja", "山田 太郎")
        reference, fast = both(mail, "山田 太郎")
        await pool.send(fast)
        await pool.send(reference)
    finally:
        await pool.close()
    first, second = smtp.messages
    assert first.peer == second.peer
    assert first.rcpt_tos == ["taro@example.jp"] and first.mail_from == "noreply@netsugen.example.jp"
    assert first.subject == second.subject == "NETSUGENへようこそ"
    assert first.message_id == fast.message_id
    assert first.part("plain") == second.part("plain") and first.part("html") == second.part("html")
