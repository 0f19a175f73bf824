"""Recipients: email, name and language come over HTTP from the service that owns the person.

Contract with ``netsugen_booking`` (``service`` token):
``GET /v1/members/{id}/contact`` and ``GET /v1/event-registrations/{id}/contact`` →
``{"member_id", "name", "email", "language": "ja"|"en", "status"}``; 404 = no such person,
410 = left or anonymized (both final: ``failed_permanent``); 5xx, 408, 429 and connection errors
are retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from email_validator import EmailNotValidError, validate_email

from services.notifier.dispatch.lookup_http import LookupClient, LookupHttpError, LookupTimeout
from services.notifier.dispatch.render import Language

#: Contact paths per recipient kind (the part before ``:`` in ``delivery.recipient``).
CONTACT_PATHS = {
    "member": "/v1/members/{id}/contact",
    "event_registration": "/v1/event-registrations/{id}/contact",
    # A guest's double opt-in: the answer also carries the link's one-time `confirmation_token`.
    "event_registration_confirmation": "/v1/event-registrations/{id}/confirmation-contact",
    # One-time sign-in links/codes: the owner answers the secret once, then erases it (410 after).
    "auth_message": "/v1/auth/messages/{id}/contact",
}
_KIND_LABEL = {
    "member": "member",
    "event_registration": "event registration",
    "event_registration_confirmation": "event registration",
    "auth_message": "sign-in message",
}
#: A contact in one of these states is never mailed again (defensive: the owner answers 410).
GONE_STATUSES = frozenset({"left", "anonymized", "deleted", "withdrawn"})
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class ContactError(Exception):
    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


@dataclass(frozen=True)
class Contact:
    email: str
    name: str | None
    language: Language
    member_id: str | None
    confirmation_token: str | None = None
    #: One-time values for the template (``auth_message`` contacts only: link, code, minutes).
    secret: dict[str, str] | None = None


def parse_recipient(recipient: str) -> tuple[str, str]:
    kind, _, ident = recipient.partition(":")
    if kind not in CONTACT_PATHS or not ident:
        raise ContactError(f"unknown recipient reference {recipient!r}", permanent=True)
    return kind, ident


class ContactResolver:
    def __init__(self, client: LookupClient) -> None:
        self.client = client

    async def resolve(self, recipient: str) -> Contact:
        kind, ident = parse_recipient(recipient)
        label = _KIND_LABEL[kind]
        try:
            response = await self.client.get(CONTACT_PATHS[kind].format(id=ident))
        except LookupTimeout as exc:
            raise ContactError(f"contact lookup timed out ({exc})", permanent=False) from exc
        except LookupHttpError as exc:
            raise ContactError(f"contact lookup failed: {exc}", permanent=False) from exc
        status = response.status_code
        if status == 404:
            raise ContactError(f"no such {label} ({ident})", permanent=True, status_code=404)
        if status == 410:
            raise ContactError(
                f"the {label} has left or was anonymized ({ident})", permanent=True, status_code=410
            )
        if status >= 500 or status in RETRYABLE_STATUSES or status in (401, 403):
            # 401/403: our service token is wrong or revoked; retrying after it is fixed will work.
            raise ContactError(f"contact lookup answered {status}", permanent=False, status_code=status)
        if status != 200:
            raise ContactError(f"contact lookup answered {status}", permanent=True, status_code=status)
        try:
            body: Any = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ContactError(
                "contact lookup returned invalid JSON", permanent=False, status_code=200
            ) from exc
        if not isinstance(body, dict):
            raise ContactError("contact lookup returned invalid JSON", permanent=False, status_code=200)
        if str(body.get("status") or "").lower() in GONE_STATUSES:
            raise ContactError(f"the {label} has left ({ident})", permanent=True, status_code=200)
        raw_email = body.get("email")
        if not isinstance(raw_email, str) or not raw_email:
            raise ContactError(f"the {label} has no email address", permanent=True, status_code=200)
        try:
            email = validate_email(raw_email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ContactError(f"invalid email address: {exc}", permanent=True, status_code=200) from exc
        language: Language = "en" if str(body.get("language") or "ja").lower().startswith("en") else "ja"
        name = body.get("name")
        member_id = body.get("member_id")
        token = body.get("confirmation_token")
        raw_secret = body.get("secret")
        secret = {str(k): str(v) for k, v in raw_secret.items()} if isinstance(raw_secret, dict) else None
        return Contact(
            email=email,
            name=str(name) if name else None,
            language=language,
            member_id=str(member_id) if member_id else None,
            confirmation_token=token if isinstance(token, str) and token else None,
            secret=secret,
        )


def facts_path(event_type: str, data: dict[str, Any]) -> str | None:
    """Where the facts of an event's object are read (events carry ids only), or ``None``."""
    if event_type in ("booking.confirmed", "booking.cancelled") and data.get("booking_id"):
        return f"/v1/bookings/{data['booking_id']}/facts"
    if event_type == "booking.reminder" and data.get("subject_kind") == "booking" and data.get("subject_id"):
        return f"/v1/bookings/{data['subject_id']}/facts"
    if event_type == "invoice.issued" and data.get("invoice_id"):
        return f"/v1/invoices/{data['invoice_id']}/facts"
    return None


async def read_facts(client: LookupClient, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The facts for the mail (room, date, times, price; invoice number, amount, due date …).

    404 (the object is gone, or an owner that does not know the path) renders the mail without them;
    a failure that may pass (timeouts, 5xx, 429, auth) is retried like a contact lookup."""
    path = facts_path(event_type, data)
    if path is None:
        return {}
    try:
        response = await client.get(path)
    except (LookupTimeout, LookupHttpError) as exc:
        raise ContactError(f"facts lookup failed: {exc}", permanent=False) from exc
    if response.status_code in (404, 410):
        return {}
    if response.status_code != 200:
        raise ContactError(
            f"facts lookup answered {response.status_code}", permanent=False, status_code=response.status_code
        )
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise ContactError("facts lookup returned invalid JSON", permanent=False, status_code=200) from exc
    return dict(body) if isinstance(body, dict) else {}
