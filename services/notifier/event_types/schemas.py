"""API shapes of event types and their pause switch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.jst import JstDatetime


class EventTypeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "booking.reminder",
                    "source": "netsugen_booking",
                    "category": "reminders",
                    "urgent": False,
                    "recipient_kind": "member",
                    "template_version": 1,
                    "paused": True,
                    "paused_at": "2026-11-29T10:00:00+09:00",
                    "paused_by": "admin:ops",
                    "reason": "wrong room names in the reminder text",
                }
            ]
        }
    )

    type: str
    source: str
    category: str = Field(description="transactional, activity, reminders or kpi.")
    urgent: bool = Field(description="Non-urgent email waits for the end of quiet hours (21:00–08:00 JST).")
    recipient_kind: str = Field(
        description="Whom the email goes to: member, event_registration, or none (webhooks only)."
    )
    template_version: int
    paused: bool
    paused_at: JstDatetime | None
    paused_by: str | None
    reason: str | None


class EventTypeList(BaseModel):
    items: list[EventTypeOut]
    next_cursor: str | None = None


class PauseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "template fix in progress"}]}
    )

    reason: str | None = Field(default=None, max_length=500)
