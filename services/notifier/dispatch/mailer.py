"""Email over SMTP (aiosmtplib) with a small pool of reused connections.

A message's ``Message-ID`` is derived from the delivery id, so a message sent twice (a worker
died after the server accepted it, before the ledger recorded it) carries the same id and mail
systems can tell the copies apart.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

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
    msg["From"] = Address(display_name=from_name, addr_spec=from_addr) if from_name else from_addr
    msg["To"] = Address(display_name=to_name or "", addr_spec=to_email)
    msg["Subject"] = mail.subject
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

    async def send(self, message: EmailMessage) -> None:
        """Send one message; raises :class:`SendError` (``permanent`` for 5xx replies)."""
        async with self._slots:
            client = await self._checkout()
            reusable = False
            try:
                await client.send_message(message)
                reusable = True
            except aiosmtplib.SMTPRecipientsRefused as exc:
                first = exc.recipients[0] if exc.recipients else None
                code = first.code if first else None
                text = f"{first.code} {first.message}" if first else str(exc)
                raise SendError(f"recipient refused: {text}", permanent=(code or 0) >= 500, code=code) from exc
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
