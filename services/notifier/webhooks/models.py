"""Webhook endpoints: where signed events are POSTed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.notifier.db import Base


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    #: Event types this endpoint receives; empty means every type.
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    #: The ``whsec_<base64 key>`` signing secret, encrypted (a Fernet token, ``webhooks/secretbox.py``,
    #: keys from ``WEBHOOK_SECRET_KEYS``): never stored in clear.
    secret: Mapped[str] = mapped_column(Text)
    #: The secret before the last rotation, encrypted likewise; it keeps signing (second signature)
    #: until it expires.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = ({"comment": "Webhook endpoints (Standard Webhooks signing)"},)
