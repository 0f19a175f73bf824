"""API shapes of webhook endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from shared.jst import JstDatetime

WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]
EventTypeName = Annotated[str, Field(min_length=1, max_length=64)]

_OUT_EXAMPLE: dict[str, Any] = {
    "id": "5d6e7f80-1a2b-4c3d-8e4f-5a6b7c8d9e0f",
    "url": "https://hooks.example.jp/gunma",
    "description": "KPI dashboard of the SDGs office",
    "event_types": ["kpi.observation_recorded", "kpi.status_changed"],
    "enabled": True,
    "disabled_reason": None,
    "disabled_at": None,
    "secret_hint": "whsec_MfKQ…",
    "previous_secret_expires_at": None,
    "created_at": "2026-11-29T10:00:00+09:00",
    "updated_at": "2026-11-29T10:00:00+09:00",
}


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.jp/gunma",
                    "description": "KPI dashboard of the SDGs office",
                    "event_types": ["kpi.observation_recorded", "kpi.status_changed"],
                }
            ]
        },
    )

    url: WebhookUrl = Field(description="Receives POSTs. Redirects are not followed: give the final URL.")
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventTypeName] = Field(
        default_factory=list, max_length=50, description="Event types to receive; empty means every type."
    )
    enabled: bool = True


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": True}, {"event_types": ["member.registered"]}]},
    )

    url: WebhookUrl | None = None
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventTypeName] | None = Field(default=None, max_length=50)
    enabled: bool | None = Field(default=None, description="`true` re-enables an endpoint disabled by a 410.")


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"overlap_s": 86400}]})

    overlap_s: float | None = Field(
        default=None,
        ge=0,
        le=30 * 86400,
        description="How long the previous secret keeps signing too (default: the service setting, 24 h).",
    )


class WebhookEndpointOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_OUT_EXAMPLE]})

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: JstDatetime | None
    secret_hint: str = Field(description="The secret's first characters, to recognise it.")
    previous_secret_expires_at: JstDatetime | None = Field(
        description="While set and in the future, requests carry two signatures (rotation)."
    )
    created_at: JstDatetime
    updated_at: JstDatetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_OUT_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]}
    )

    secret: str = Field(description="`whsec_<base64 key>`. Shown only at creation and rotation: store it.")


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpointOut]
    next_cursor: str | None = None
