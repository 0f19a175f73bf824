"""Submitting an event over HTTP: the same envelope as the outbox's."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Source


class NotificationIn(BaseModel):
    """An event envelope (``shared.events.Event``). ``data`` carries ids only, never personal data."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                    "type": "member.registered",
                    "source": "netsugen_booking",
                    "occurred_at": "2026-11-29T10:00:00+09:00",
                    "schema_version": 1,
                    "data": {"member_id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b"},
                }
            ]
        },
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="The event id. Send one to make retries safe: a repeated id is acknowledged as a duplicate.",
    )
    type: str = Field(min_length=1, max_length=64, description="One of `GET /v1/event-types`.")
    source: Source = Field(description="The service the event comes from; must be the type's own source.")
    occurred_at: datetime | None = Field(default=None, description="Defaults to now. Must carry an offset.")
    schema_version: int = Field(default=1, ge=1, le=1000)
    data: dict[str, Any] = Field(description="The event's fields (ids), validated against its type.")


class NotificationAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"event_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "status": "accepted"}]
        }
    )

    event_id: uuid.UUID
    status: Literal["accepted", "duplicate"] = Field(
        description="`accepted`: queued for delivery. `duplicate`: this event id was already received; nothing more happens."
    )
