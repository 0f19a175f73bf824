"""API shapes of the delivery ledger (separate from the ORM models)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.jst import JstDatetime

DeliveryStatus = Literal[
    "queued", "sending", "delivered", "failed_temporary", "failed_permanent", "dead", "suppressed"
]
Channel = Literal["email", "webhook"]
AttemptResult = Literal["delivered", "failed_temporary", "failed_permanent", "interrupted"]

_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "3f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f",
    "event_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    "event_type": "member.registered",
    "category": "transactional",
    "channel": "email",
    "recipient": "member:0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
    "endpoint_id": None,
    "template": "member.registered",
    "template_version": 1,
    "language": "ja",
    "status": "delivered",
    "attempt_count": 1,
    "next_attempt_at": "2026-11-29T10:00:00+09:00",
    "delivered_at": "2026-11-29T10:00:01+09:00",
    "reason": None,
    "last_error": None,
    "created_at": "2026-11-29T10:00:00+09:00",
    "updated_at": "2026-11-29T10:00:01+09:00",
}


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int = Field(description="1, 2, … in the order of the attempts.")
    started_at: JstDatetime
    finished_at: JstDatetime
    result: AttemptResult = Field(
        description="`interrupted`: the worker died during the attempt (found by reconciliation)."
    )
    status_code: int | None = Field(description="SMTP reply code or HTTP status, when there was one.")
    error: str | None
    duration_ms: int | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY_EXAMPLE]})

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    category: str
    channel: Channel
    recipient: str = Field(
        description="`member:<id>`, `event_registration:<id>` or `endpoint:<id>`: a reference, never an address."
    )
    endpoint_id: uuid.UUID | None
    template: str | None
    template_version: int | None
    language: str | None = Field(description="Language of the mail sent (the recipient's), once known.")
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: JstDatetime = Field(
        description="Scheduled time of the next attempt (quiet hours, backoff) while not final."
    )
    delivered_at: JstDatetime | None
    reason: str | None = Field(description="Why a final delivery was not delivered.")
    last_error: str | None
    created_at: JstDatetime
    updated_at: JstDatetime


class DeliveryDetail(DeliveryOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_DELIVERY_EXAMPLE,
                    "attempts": [
                        {
                            "number": 1,
                            "started_at": "2026-11-29T10:00:00+09:00",
                            "finished_at": "2026-11-29T10:00:01+09:00",
                            "result": "delivered",
                            "status_code": 250,
                            "error": None,
                            "duration_ms": 42,
                        }
                    ],
                }
            ]
        }
    )

    attempts: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
