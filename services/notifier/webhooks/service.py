"""Webhook endpoint administration."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.webhooks import destinations
from services.notifier.webhooks.exceptions import (
    EndpointNotFound,
    UnknownEventType,
    UnusableWebhookUrl,
    WebhookDestinationRefused,
)
from services.notifier.webhooks.models import WebhookEndpoint
from services.notifier.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from services.notifier.webhooks.secretbox import SecretBox, UndecryptableSecret
from services.notifier.webhooks.signing import new_secret
from shared.events import EVENT_TYPES
from shared.jst import utcnow


def check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise UnknownEventType(
            f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(sorted(EVENT_TYPES))}.",
            detail_ja=f"存在しないイベント種別です: {', '.join(unknown)}",
        )
    return sorted(set(event_types))


async def check_url(url: str, *, allow_private: bool) -> str:
    """The URL as stored, or a 422 problem: unusable (finding 6) or an internal destination (finding 5)."""
    try:
        await destinations.check_url(url, allow_private=allow_private)
    except destinations.ForbiddenDestination as exc:
        raise WebhookDestinationRefused(str(exc), detail_ja=exc.ja) from exc
    except destinations.UnusableUrl as exc:
        raise UnusableWebhookUrl(str(exc), detail_ja=exc.ja) from exc
    return url


def _hint(stored: str, box: SecretBox) -> str:
    try:
        return box.decrypt(stored)[:10] + "…"
    except UndecryptableSecret:
        # A key left WEBHOOK_SECRET_KEYS too early: the endpoint stays readable (rotate its secret,
        # or put the key back); the worker records `secret_undecryptable` meanwhile.
        return "(no configured key decrypts this secret)"


def to_out(e: WebhookEndpoint, box: SecretBox) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=e.id,
        url=e.url,
        description=e.description,
        event_types=list(e.event_types),
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        disabled_at=e.disabled_at,
        secret_hint=_hint(e.secret, box),
        previous_secret_expires_at=e.previous_secret_expires_at,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def with_secret(e: WebhookEndpoint, box: SecretBox) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(**to_out(e, box).model_dump(), secret=box.decrypt(e.secret))


async def create(
    session: AsyncSession, body: WebhookEndpointCreate, box: SecretBox, *, allow_private: bool
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url=await check_url(str(body.url), allow_private=allow_private),
        description=body.description,
        event_types=check_event_types(body.event_types),
        secret=box.encrypt(new_secret()),
        enabled=body.enabled,
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def get(session: AsyncSession, endpoint_id: uuid.UUID, *, for_update: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        query = query.with_for_update()
    endpoint = (await session.scalars(query)).one_or_none()
    if endpoint is None:
        raise EndpointNotFound(
            f"No webhook endpoint with id {endpoint_id}.",
            detail_ja=f"Webhookエンドポイント {endpoint_id} は見つかりません。",
        )
    return endpoint


async def list_all(session: AsyncSession) -> list[WebhookEndpoint]:
    return list((await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))).all())


async def update(
    session: AsyncSession, endpoint_id: uuid.UUID, body: WebhookEndpointUpdate, *, allow_private: bool
) -> WebhookEndpoint:
    changes = body.model_dump(exclude_unset=True)
    url = await check_url(str(body.url), allow_private=allow_private) if body.url is not None else None
    endpoint = await get(session, endpoint_id, for_update=True)
    if "url" in changes and url is not None:
        endpoint.url = url
    if "description" in changes:
        endpoint.description = body.description
    if "event_types" in changes and body.event_types is not None:
        endpoint.event_types = check_event_types(body.event_types)
    if "enabled" in changes and body.enabled is not None:
        endpoint.enabled = body.enabled
        if body.enabled:
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
        elif endpoint.disabled_at is None:
            endpoint.disabled_at = utcnow()
            endpoint.disabled_reason = "disabled by an administrator"
    endpoint.updated_at = func.now()
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def rotate_secret(
    session: AsyncSession, endpoint_id: uuid.UUID, overlap_s: float, box: SecretBox
) -> WebhookEndpoint:
    """A new secret signs from now on; the previous one keeps signing too for ``overlap_s``."""
    endpoint = await get(session, endpoint_id, for_update=True)
    endpoint.previous_secret = endpoint.secret if overlap_s > 0 else None
    endpoint.previous_secret_expires_at = utcnow() + timedelta(seconds=overlap_s) if overlap_s > 0 else None
    endpoint.secret = box.encrypt(new_secret())
    endpoint.updated_at = func.now()
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def delete(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    endpoint = await get(session, endpoint_id, for_update=True)
    await session.delete(endpoint)
    await session.flush()
