"""Ledger queries for the API: listing with filters and cursors, one delivery, manual retry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.deliveries.exceptions import DeliveryNotFound, DeliveryNotRetryable
from services.notifier.deliveries.models import Delivery, DeliveryAttempt
from services.notifier.deliveries.schemas import AttemptOut, DeliveryDetail, DeliveryOut
from shared.jst import JST
from shared.pagination import paginate

#: Statuses a manual retry accepts: the dead letters, and permanent failures (for example after
#: the member's address was corrected).
RETRYABLE = ("dead", "failed_permanent")


@dataclass(frozen=True)
class DeliveryFilter:
    status: str | None = None
    event_type: str | None = None
    recipient: str | None = None
    channel: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def aware(value: datetime | None) -> datetime | None:
    """Query times without an offset are JST (the platform's business time zone)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=JST)


def to_out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        event_id=d.event_id,
        event_type=d.event_type,
        category=d.category,
        channel=d.channel,  # type: ignore[arg-type]
        recipient=d.recipient,
        endpoint_id=d.endpoint_id,
        template=d.template,
        template_version=d.template_version,
        language=d.language,
        status=d.status,  # type: ignore[arg-type]
        attempt_count=d.attempts,
        next_attempt_at=d.next_attempt_at,
        delivered_at=d.delivered_at,
        reason=d.reason,
        last_error=d.last_error,
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


async def list_deliveries(
    session: AsyncSession, flt: DeliveryFilter, *, limit: int, cursor: str | None
) -> tuple[list[DeliveryOut], str | None]:
    query = select(Delivery)
    if flt.status:
        query = query.where(Delivery.status == flt.status)
    if flt.event_type:
        query = query.where(Delivery.event_type == flt.event_type)
    if flt.recipient:
        query = query.where(Delivery.recipient == flt.recipient)
    if flt.channel:
        query = query.where(Delivery.channel == flt.channel)
    if flt.created_from:
        query = query.where(Delivery.created_at >= flt.created_from)
    if flt.created_to:
        query = query.where(Delivery.created_at < flt.created_to)
    rows, next_cursor = await paginate(
        session,
        query,
        (Delivery.created_at, Delivery.id),
        limit=limit,
        cursor=cursor,
        descending=True,
        scalars=True,
    )
    return [to_out(d) for d in rows], next_cursor


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> DeliveryDetail:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise _not_found(delivery_id)
    attempts = (
        await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.number)
        )
    ).all()
    return DeliveryDetail(
        **to_out(delivery).model_dump(), attempts=[AttemptOut.model_validate(a) for a in attempts]
    )


async def retry_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery:
    """A dead letter goes back to `queued` with a fresh retry cycle; attempt numbers continue."""
    delivery = (
        await session.scalars(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status.in_(RETRYABLE))
            .values(
                status="queued",
                retry_from=Delivery.attempts,
                next_attempt_at=func.now(),
                reason=None,
                updated_at=func.now(),
            )
            .returning(Delivery)
        )
    ).one_or_none()
    if delivery is not None:
        return delivery
    current = await session.get(Delivery, delivery_id)
    if current is None:
        raise _not_found(delivery_id)
    raise DeliveryNotRetryable(
        f"Only dead letters ({', '.join(RETRYABLE)}) can be retried; this delivery is '{current.status}'.",
        detail_ja=f"再送できるのは配信不能（dead・failed_permanent）の配信のみです。現在の状態: {current.status}",
    )


def _not_found(delivery_id: uuid.UUID) -> DeliveryNotFound:
    return DeliveryNotFound(
        f"No delivery with id {delivery_id}.", detail_ja=f"配信 {delivery_id} は見つかりません。"
    )
