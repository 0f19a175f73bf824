"""Email over SMTP (aiosmtplib) with a small pool of reused connections.

A message's ``Message-ID`` is derived from the delivery id, so a message sent twice (a worker
died after the server accepted it, before the ledger recorded it) carries the same id and mail
systems can tell the copies apart.

Two builders make the same message. :func:`build_outgoing` (the hot path) writes the RFC 5322 /
MIME bytes directly: every header is ASCII (RFC 2047 ``B`` encoded-words for Japanese subjects and
names, folded to 78 columns), both bodies are UTF-8 in base64, quoted-printable or 7bit, so the
message is 7-bit clean and needs no SMTP extension. The stdlib ``email`` package with its default
policy costs several times more CPU than the rest of a delivery put together (header registry
parsing, then flattening a second time in aiosmtplib). :func:`build_message` (``email`` package) is
still used for a recipient whose address is not ASCII (SMTPUTF8), and by the tests as the
reference the fast builder must agree with.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
import uuid
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from functools import lru_cache

import aiosmtplib
import structlog

from services.notifier.dispatch.render import RenderedMail
from shared.jst import utcnow

log = structlog.get_logger("notifier.mail")

#: A pooled connection idle longer than this is checked with NOOP before use.
IDLE_CHECK_S = 10.0


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class InvalidAddress(ValueError):
    """The recipient address cannot go into a header (control characters): retrying cannot help."""


#: Control characters (C0, DEL, C1, and the Unicode line/paragraph separators) have no place in a
#: header's text: in a display name or subject each becomes a space (security finding 10: a CR/LF in
#: a member's name made every attempt of the SMTPUTF8 path fail with ValueError until dead-lettered).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_header_text(value: str) -> str:
    """``value`` with every control character replaced by a space (both builders, every header)."""
    return _CONTROL.sub(" ", value)


def checked_address(address: str) -> str:
    if _CONTROL.search(address):
        raise InvalidAddress("the recipient address contains control characters")
    return address


def message_id(delivery_id: uuid.UUID | str, domain: str) -> str:
    return f"<{delivery_id}@{domain}>"


def build_message(
    mail: RenderedMail,
    *,
    delivery_id: uuid.UUID | str,
    mail_from: str,
    domain: str,
    to_email: str,
    to_name: str | None,
    unsubscribe_url: str | None,
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP_POLICY)
    from_name, from_addr = parseaddr(mail_from)
    from_name = clean_header_text(from_name)
    msg["From"] = Address(display_name=from_name, addr_spec=from_addr) if from_name else from_addr
    # username/domain rather than addr_spec: the email package's address parser refuses a non-ASCII
    # local part (太郎@例え.jp), which SMTPUTF8 allows (aiosmtplib flattens with utf8 then).
    username, _, domain_part = checked_address(to_email).rpartition("@")
    msg["To"] = Address(display_name=clean_header_text(to_name or ""), username=username, domain=domain_part)
    msg["Subject"] = clean_header_text(mail.subject)
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id(delivery_id, domain)
    # RFC 3834: automatic mail; auto-responders should not answer.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Notifier-Template"] = f"{mail.template}@v{mail.version}/{mail.language}"
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    # After the content: set_content() drops every Content-* header set before it.
    msg["Content-Language"] = mail.language
    return msg


# ---- the fast builder --------------------------------------------------------------------------
#: RFC 5322 recommends lines of at most 78 characters (excluding CRLF).
MAX_LINE = 78
_EW_OVERHEAD = len("=?utf-8?b??=")
#: An encoded-word is at most 75 characters (RFC 2047 §2).
_EW_MAX = 75
#: Display names sent as they are: atext and spaces (RFC 5322 §3.2.3); others are quoted or encoded.
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_QUOTABLE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the wire: its envelope and its bytes (7-bit clean, CRLF line ends)."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str


def _encoded_words(text: str, first_room: int) -> list[str]:
    """``text`` as RFC 2047 ``B`` encoded-words (UTF-8), split between characters: the first fits in
    ``first_room`` columns, each further one in 75 (it goes on a continuation line of its own)."""
    words: list[str] = []
    room = min(first_room, _EW_MAX)
    chunk: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if chunk and _EW_OVERHEAD + 4 * -(-(size + n) // 3) > room:
            words.append(_b_word("".join(chunk)))
            chunk, size, room = [], 0, _EW_MAX
        chunk.append(ch)
        size += n
    if chunk or not words:
        words.append(_b_word("".join(chunk)))
    return words


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _fold(name: str, tokens: list[str]) -> str:
    """``name: token token …`` folded before a token that would pass column 78."""
    out = name + ":"
    line = len(out)
    for i, token in enumerate(tokens):
        if i and line + 1 + len(token) > MAX_LINE:
            out += "\r\n " + token
            line = 1 + len(token)
        else:
            out += " " + token
            line += 1 + len(token)
    return out


def _needs_encoding(value: str) -> bool:
    return not _QUOTABLE.fullmatch(value) or "=?" in value


def subject_header(subject: str) -> str:
    """``Subject:`` as it goes on the wire: plain ASCII folded at spaces, otherwise encoded-words."""
    subject = clean_header_text(subject)
    if not subject:
        return "Subject: "
    words = subject.split(" ")
    if not _needs_encoding(subject) and all(len(w) <= MAX_LINE - 10 for w in words) and "" not in words:
        return _fold("Subject", words)
    return _fold("Subject", _encoded_words(subject, MAX_LINE - len("Subject: ")))


def address_header(name: str, display_name: str | None, addr_spec: str) -> str:
    """``To:`` / ``From:`` with an ASCII address and an optional display name (encoded when not ASCII)."""
    if display_name:
        display_name = clean_header_text(display_name)
    if not display_name:
        return f"{name}: {addr_spec}"
    if _needs_encoding(display_name) or len(display_name) > 60:
        phrase = _encoded_words(display_name, MAX_LINE - len(name) - 2)
    elif (
        _ATOM_PHRASE.fullmatch(display_name)
        and display_name.strip() == display_name
        and "  " not in display_name
    ):
        phrase = display_name.split(" ")
    else:
        phrase = ['"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return _fold(name, [*phrase, f"<{addr_spec}>"])


@lru_cache(maxsize=16)
def _from_header(mail_from: str) -> tuple[str, str] | None:
    """(``From:`` header, envelope sender) of the configured sender, computed once; None when its
    address is not ASCII (SMTPUTF8: the stdlib builder's case)."""
    from_name, from_addr = parseaddr(mail_from)
    if not from_addr or not from_addr.isascii():
        return None
    return address_header("From", from_name or None, from_addr), from_addr


def _body(content: str, subtype: str, boundary: bytes) -> bytes:
    """One ``text/*`` part (headers and body): 7bit when it is short-lined ASCII, otherwise the
    shorter of base64 and quoted-printable (line ends CRLF, the canonical form of text)."""
    raw = content.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode("utf-8")
    if raw.isascii() and max(map(len, raw.split(b"\r\n"))) <= MAX_LINE and boundary not in raw:
        cte, body = "7bit", raw
    else:
        b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        qp = binascii.b2a_qp(raw, istext=True)
        # QP output never contains the boundary: its only "=" start an escape or a soft break.
        cte, body = ("quoted-printable", qp) if len(qp) < len(b64) else ("base64", b64)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    return head.encode("ascii") + body


def build_outgoing(
    mail: RenderedMail,
    *,
    delivery_id: uuid.UUID | str,
    mail_from: str,
    domain: str,
    to_email: str,
    to_name: str | None,
    unsubscribe_url: str | None,
) -> Outgoing | EmailMessage:
    """The message of one delivery as wire bytes; an :class:`EmailMessage` (stdlib builder) when
    the recipient's (or the sender's) address is not ASCII: that needs SMTPUTF8 and UTF-8 headers."""
    checked_address(to_email)
    sender_header = _from_header(mail_from)
    if sender_header is None or not to_email.isascii():
        return build_message(
            mail,
            delivery_id=delivery_id,
            mail_from=mail_from,
            domain=domain,
            to_email=to_email,
            to_name=to_name,
            unsubscribe_url=unsubscribe_url,
        )
    from_header, sender = sender_header
    mid = message_id(delivery_id, domain)
    # "=_" occurs in no base64 or quoted-printable text; a 7bit part is checked (and then encoded).
    boundary = "=_" + (delivery_id.hex if isinstance(delivery_id, uuid.UUID) else uuid.uuid4().hex)
    b = boundary.encode("ascii")
    headers = [
        from_header,
        address_header("To", to_name, to_email),
        subject_header(mail.subject),
        "Date: " + format_datetime(utcnow()),
        "Message-ID: " + mid,
        # RFC 3834: automatic mail; auto-responders should not answer.
        "Auto-Submitted: auto-generated",
        f"X-Notifier-Template: {mail.template}@v{mail.version}/{mail.language}",
    ]
    if unsubscribe_url:
        headers.append(f"List-Unsubscribe: <{unsubscribe_url}>")
    headers += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
        "Content-Language: " + mail.language,
    ]
    data = b"".join(
        (
            "\r\n".join(headers).encode("ascii"),
            b"\r\n\r\n",
            b"--",
            b,
            b"\r\n",
            _body(mail.text, "plain", b),
            b"\r\n",
            b"--",
            b,
            b"\r\n",
            _body(mail.html, "html", b),
            b"\r\n",
            b"--",
            b,
            b"--\r\n",
        )
    )
    return Outgoing(sender=sender, recipients=(to_email,), data=data, message_id=mid)


class SmtpPool:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 15.0,
        size: int = 4,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout_s,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendError(f"SMTP connection failed: {type(exc).__name__}: {exc}", permanent=False) from exc
        return client

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, last_used = self._idle.pop()
            if not client.is_connected:
                continue
            if time.monotonic() - last_used > IDLE_CHECK_S:
                try:
                    await client.noop()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    await _close_quietly(client)
                    continue
            return client
        return await self._connect()

    async def send(self, message: Outgoing | EmailMessage) -> None:
        """Send one message; raises :class:`SendError` (``permanent`` for 5xx replies)."""
        async with self._slots:
            client = await self._checkout()
            reusable = False
            try:
                if isinstance(message, Outgoing):
                    await client.sendmail(message.sender, list(message.recipients), message.data)
                else:
                    await client.send_message(message)
                reusable = True
            except aiosmtplib.SMTPRecipientsRefused as exc:
                first = exc.recipients[0] if exc.recipients else None
                code = first.code if first else None
                text = f"{first.code} {first.message}" if first else str(exc)
                raise SendError(
                    f"recipient refused: {text}", permanent=(code or 0) >= 500, code=code
                ) from exc
            except aiosmtplib.SMTPResponseException as exc:
                raise SendError(
                    f"SMTP {exc.code} {exc.message}", permanent=exc.code >= 500, code=exc.code
                ) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise SendError(f"SMTP error: {type(exc).__name__}: {exc}", permanent=False) from exc
            finally:
                if reusable:
                    self._idle.append((client, time.monotonic()))
                else:
                    await _close_quietly(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await asyncio.wait_for(client.quit(), timeout=2)
            except Exception:  # closing anyway
                await _close_quietly(client)


async def _close_quietly(client: aiosmtplib.SMTP) -> None:
    try:
        client.close()
    except Exception as exc:  # a broken connection may fail to close; it is dropped either way
        log.debug("smtp_close_failed", error=type(exc).__name__)
