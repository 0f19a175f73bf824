"""Webhook endpoints: administrators register where signed events go."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from services.notifier.settings import NotifierSettings
from services.notifier.webhooks import service
from services.notifier.webhooks.schemas import (
    RotateSecret,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.permissions import P, require

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])


def _settings(request: Request) -> NotifierSettings:
    settings: NotifierSettings = request.app.state.settings
    return settings


_URL_RULES = (
    " The URL must be usable (http/https, host labels ≤ 63 characters, host ≤ 253, a port in 1–65535, no "
    "`user:password@`: 422 `unusable-webhook-url`) and public: loopback, private, link-local (cloud "
    "metadata), multicast, unspecified and reserved addresses, and names resolving to them, get 422 "
    "`webhook-destination-refused`. The worker checks the resolved address again before each connection."
)

_SIGNING = (
    " Every POST carries the Standard Webhooks headers `webhook-id` (the event id, the same on every "
    "retry), `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "
    "'{id}.{timestamp}.{body}'>`, keyed with the base64 part of the secret after `whsec_`)."
)


@router.post(
    "",
    status_code=201,
    summary="Register a webhook endpoint",
    description="Admin. Returns the endpoint with its new secret (`whsec_…`), shown only now."
    + _URL_RULES
    + _SIGNING,
    response_model=WebhookEndpointWithSecret,
    responses=problem_responses(401, 403, 422),
)
async def create_endpoint(
    body: WebhookEndpointCreate,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.WEBHOOKS_WRITE)],
) -> WebhookEndpointWithSecret:
    settings = _settings(request)
    box = settings.secret_box()
    endpoint = await service.create(
        session, body, box, allow_private=settings.webhook_allow_private_destinations
    )
    return service.with_secret(endpoint, box)


@router.get(
    "",
    summary="List webhook endpoints",
    description="Admin. Every endpoint, oldest first (secrets are not shown).",
    response_model=WebhookEndpointList,
    responses=problem_responses(401, 403),
)
async def list_endpoints(
    request: Request, session: DbSession, _: Annotated[Principal, require(P.WEBHOOKS_READ)]
) -> WebhookEndpointList:
    box = _settings(request).secret_box()
    return WebhookEndpointList(items=[service.to_out(e, box) for e in await service.list_all(session)])


@router.get(
    "/{endpoint_id}",
    summary="One webhook endpoint",
    description="Admin. Shows whether it is enabled (a 410 answer disables it) and whether a rotation is running.",
    response_model=WebhookEndpointOut,
    responses=problem_responses(401, 403, 404),
)
async def get_endpoint(
    endpoint_id: uuid.UUID,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.WEBHOOKS_READ)],
) -> WebhookEndpointOut:
    return service.to_out(await service.get(session, endpoint_id), _settings(request).secret_box())


@router.patch(
    "/{endpoint_id}",
    summary="Change a webhook endpoint",
    description="Admin. URL, description, event types, enabled. `enabled: true` re-enables an endpoint a 410 disabled."
    + _URL_RULES,
    response_model=WebhookEndpointOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def update_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.WEBHOOKS_WRITE)],
) -> WebhookEndpointOut:
    settings = _settings(request)
    endpoint = await service.update(
        session, endpoint_id, body, allow_private=settings.webhook_allow_private_destinations
    )
    return service.to_out(endpoint, settings.secret_box())


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="Rotate the signing secret",
    description=(
        "Admin. A new secret signs from now on; during the overlap (default 24 h) the previous secret "
        "signs too, so requests carry two space-separated signatures and receivers can switch at "
        "their own pace. Returns the new secret, shown only now."
    ),
    response_model=WebhookEndpointWithSecret,
    responses=problem_responses(401, 403, 404, 422),
)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.WEBHOOKS_WRITE)],
    body: RotateSecret | None = None,
) -> WebhookEndpointWithSecret:
    settings = _settings(request)
    overlap = (
        body.overlap_s
        if body is not None and body.overlap_s is not None
        else settings.webhook_rotation_overlap_s
    )
    box = settings.secret_box()
    return service.with_secret(await service.rotate_secret(session, endpoint_id, overlap, box), box)


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    summary="Delete a webhook endpoint",
    description="Admin. Its waiting deliveries end as `failed_permanent`; the ledger keeps its history.",
    responses=problem_responses(401, 403, 404),
)
async def delete_endpoint(
    endpoint_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.WEBHOOKS_WRITE)]
) -> Response:
    await service.delete(session, endpoint_id)
    return Response(status_code=204)
