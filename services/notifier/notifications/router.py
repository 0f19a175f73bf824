"""``POST /v1/notifications``: administrators and services submit an event over HTTP.

The event goes into the notifier's own outbox in the request's transaction and then takes the
same road as every other event (relay → queue → inbox), so the inbox deduplicates it the same way
and a Redis outage delays it without losing it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert

from services.notifier.db import outbox
from services.notifier.deliveries.models import Inbox
from services.notifier.notifications.schemas import NotificationAccepted, NotificationIn
from services.notifier.webhooks.exceptions import UnknownEventType
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import Unprocessable, problem_responses
from shared.events import EVENT_TYPES, Event
from shared.jst import utcnow
from shared.logging import request_id_var
from shared.permissions import P, require

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


class InvalidEventData(Unprocessable):
    slug, title = "invalid-event-data", "Invalid event data"


@router.post(
    "",
    status_code=202,
    summary="Submit an event",
    description=(
        "Admin or service. Sends an event over HTTP instead of a service's outbox. 202 `accepted`: it "
        "will be delivered like any other event. 200 `duplicate`: an event with this `(source, id)` "
        "was already received; nothing more happens. 422 `unknown-event-type` or `invalid-event-data` "
        "(the type's fields, or a source that is not the type's)."
    ),
    response_model=NotificationAccepted,
    responses={
        200: {"model": NotificationAccepted, "description": "Duplicate"},
        **problem_responses(401, 403, 422),
    },
)
async def submit(
    body: NotificationIn,
    request: Request,
    response: Response,
    session: DbSession,
    _: Annotated[Principal, require(P.NOTIFICATIONS_SUBMIT)],
) -> NotificationAccepted:
    cls = EVENT_TYPES.get(body.type)
    if cls is None:
        raise UnknownEventType(
            f"Unknown event type '{body.type}'. Known: {', '.join(sorted(EVENT_TYPES))}.",
            detail_ja=f"イベント種別 '{body.type}' はありません。",
        )
    if body.source != cls.source:
        raise InvalidEventData(
            f"Events of type '{body.type}' come from '{cls.source}', not '{body.source}'.",
            detail_ja=f"イベント種別 '{body.type}' の送信元は '{cls.source}' です。",
        )
    if body.occurred_at is not None and body.occurred_at.tzinfo is None:
        raise InvalidEventData(
            "occurred_at must carry an offset.", detail_ja="occurred_at にはタイムゾーンが必要です。"
        )
    try:
        data = cls.model_validate(body.data)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", "data", *[str(p) for p in e["loc"]]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        raise InvalidEventData(
            f"data does not match '{body.type}': {errors[0]['msg']} at {'.'.join(errors[0]['loc'])}.",
            detail_ja=f"data が '{body.type}' の形式に合いません。",
            errors=errors,
        ) from exc
    event = Event(
        id=body.id,
        type=body.type,
        source=body.source,
        occurred_at=body.occurred_at or utcnow(),
        schema_version=body.schema_version,
        data=data.model_dump(mode="json"),
    )
    seen = await session.scalar(
        select(exists().where(Inbox.source == event.source, Inbox.event_id == event.id))
    )
    inserted = None
    if not seen:
        inserted = (
            await session.execute(
                insert(outbox)
                .values(
                    id=event.id,
                    event_type=event.type,
                    payload=event.model_dump(mode="json"),
                    request_id=request_id_var.get(),
                )
                .on_conflict_do_nothing(index_elements=[outbox.c.id])
                .returning(outbox.c.id)
            )
        ).first()
    if inserted is None:
        response.status_code = 200
        return NotificationAccepted(event_id=event.id, status="duplicate")
    relay = getattr(request.app.state, "outbox_relay", None)
    if relay is not None:
        relay.wake()
    return NotificationAccepted(event_id=event.id, status="accepted")
