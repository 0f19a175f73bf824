"""The delivery ledger API: list, read with attempts, retry dead letters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request

from services.notifier.deliveries import service
from services.notifier.deliveries.schemas import (
    Channel,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
)
from services.notifier.dispatch.kick import kick_delivery
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import problem_responses
from shared.pagination import DEFAULT_LIMIT, Cursor, Limit
from shared.permissions import P, require

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


@router.get(
    "",
    summary="List deliveries",
    description=(
        "Staff. Newest first, filtered by status, event type, channel, recipient reference "
        "(`member:<id>`, `event_registration:<id>`, `endpoint:<id>`) and creation time "
        "(`from` inclusive, `to` exclusive; a time without offset is JST). Cursor pagination."
    ),
    response_model=DeliveryPage,
    responses=problem_responses(401, 403, 422),
)
async def list_deliveries(
    session: DbSession,
    _: Annotated[Principal, require(P.DELIVERIES_READ)],
    status: Annotated[DeliveryStatus | None, Query(description="Only this status.")] = None,
    event_type: Annotated[str | None, Query(max_length=64, examples=["member.registered"])] = None,
    recipient: Annotated[
        str | None, Query(max_length=80, examples=["member:0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b"])
    ] = None,
    channel: Annotated[Channel | None, Query()] = None,
    created_from: Annotated[datetime | None, Query(alias="from", description="Created at or after.")] = None,
    created_to: Annotated[datetime | None, Query(alias="to", description="Created before.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> DeliveryPage:
    flt = service.DeliveryFilter(
        status=status,
        event_type=event_type,
        recipient=recipient,
        channel=channel,
        created_from=service.aware(created_from),
        created_to=service.aware(created_to),
    )
    items, next_cursor = await service.list_deliveries(session, flt, limit=limit, cursor=cursor)
    return DeliveryPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{delivery_id}",
    summary="One delivery with its attempts",
    description="Staff. The delivery and every attempt (time, result, SMTP/HTTP code, error).",
    response_model=DeliveryDetail,
    responses=problem_responses(401, 403, 404),
)
async def get_delivery(
    delivery_id: uuid.UUID, session: DbSession, _: Annotated[Principal, require(P.DELIVERIES_READ)]
) -> DeliveryDetail:
    return await service.get_delivery(session, delivery_id)


@router.post(
    "/{delivery_id}/retry",
    status_code=202,
    summary="Retry a dead letter",
    description=(
        "Admin. A `dead` (or `failed_permanent`) delivery goes back to `queued` with a fresh retry "
        "cycle and is attempted at once; attempt numbers continue. 409 `delivery-not-retryable` "
        "for any other status."
    ),
    response_model=DeliveryOut,
    responses=problem_responses(401, 403, 404, 409),
)
async def retry_delivery(
    delivery_id: uuid.UUID,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.DELIVERIES_RETRY)],
    background: BackgroundTasks,
) -> DeliveryOut:
    delivery = await service.retry_delivery(session, delivery_id)
    # Queued after the commit (the response is sent after it): the job then sees `queued`.
    background.add_task(kick_delivery, request.app.state.redis, delivery.id, delivery.attempts + 1)
    return service.to_out(delivery)
