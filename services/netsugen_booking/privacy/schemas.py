"""Export and anonymization documents.

The export is a JSON document of every row held about the member, grouped by kind; rows keep their
database column names, so nothing is lost or renamed in translation. Secrets are never exported:
card tokens, feed tokens and API tokens are stored only as SHA-256 hashes and appear as ``present``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Row = dict[str, Any]

_EXPORT_EXAMPLE: dict[str, Any] = {
    "member_id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
    "exported_at": "2026-12-01T10:00:00+09:00",
    "member": {
        "id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
        "member_number": "M000123",
        "name": "上州 太郎",
        "email": "taro@example.jp",
        "status": "active",
    },
    "secrets": {"card_token": "present (SHA-256 only)", "feed_token": "absent", "api_tokens": 0},
    "users": [],
    "plan_history": [],
    "visits": [],
    "visit_audit": [],
    "invoices": [],
    "invoice_lines": [],
    "invoice_payments": [],
    "daily_caps": [],
    "bookings": [],
    "registrations": [],
    "consultations": [],
    "notifier": {
        "preferences": {
            "member_id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
            "opted_out": ["news"],
            "categories": {"transactional": True, "activity": True, "reminders": True, "news": False},
        },
        "deliveries": [],
    },
    "incomplete": [],
}


class MemberExport(BaseModel):
    """Everything NETSUGEN (and, over HTTP, the notifier) holds about one member."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXPORT_EXAMPLE]})

    member_id: uuid.UUID
    exported_at: datetime
    member: Row
    secrets: dict[str, Any] = Field(
        description="Which secrets exist. Only their hashes are stored; none is exported."
    )
    users: list[Row] = Field(description="Named users of a corporate member.")
    plan_history: list[Row]
    visits: list[Row]
    visit_audit: list[Row] = Field(description="Manual entries and corrections of the member's visits.")
    invoices: list[Row]
    invoice_lines: list[Row]
    invoice_payments: list[Row]
    daily_caps: list[Row]
    bookings: list[Row]
    registrations: list[Row] = Field(
        description="Event registrations as a member, and as a guest with the member's email address."
    )
    consultations: list[Row]
    notifier: dict[str, Any] | None = Field(
        description="Notification preferences and the delivery ledger, read from the notifier (null if unreachable)."
    )
    incomplete: list[str] = Field(
        description="Parts that could not be read (empty when the export is complete)."
    )


class AnonymizeResult(BaseModel):
    """What the anonymization changed (counts of rows), and what it kept on purpose."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
                    "member_number": "M000123",
                    "anonymized_at": "2027-01-10T10:00:00+09:00",
                    "already_anonymized": False,
                    "changed": {
                        "member": 1,
                        "users": 2,
                        "guest_registrations": 1,
                        "consultations": 3,
                        "bookings": 1,
                        "feed_tokens": 1,
                        "api_tokens_revoked": 1,
                        "idempotency_records": 1,
                    },
                    "kept": {"invoices": 12},
                    "note": "Invoices keep their own copy of the recipient's name ...",
                }
            ]
        }
    )

    member_id: uuid.UUID
    member_number: str = Field(description="Kept: it identifies the member's invoices, not the person.")
    anonymized_at: datetime
    already_anonymized: bool
    changed: dict[str, int]
    kept: dict[str, int]
    note: str
