"""Event types and the per-type pause switch.

While a type is paused its deliveries are planned as `queued` and wait; resuming queues them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.dispatch.kick import kick_resume
from services.notifier.dispatch.render import default_catalog
from services.notifier.event_types.models import EventTypePause
from services.notifier.event_types.schemas import EventTypeList, EventTypeOut, PauseRequest
from shared.auth import Principal
from shared.db import DbSession
from shared.errors import NotFound, problem_responses
from shared.events import EVENT_TYPES
from shared.permissions import P, require

router = APIRouter(prefix="/v1/event-types", tags=["event types"])

EventTypePath = Annotated[str, Path(max_length=64, examples=["booking.reminder"])]


def _versions() -> dict[str, int]:
    return default_catalog().versions


class EventTypeNotFound(NotFound):
    slug, title = "event-type-not-found", "Event type not found"


def _known(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise EventTypeNotFound(
            f"No event type '{event_type}'. Known: {', '.join(sorted(EVENT_TYPES))}.",
            detail_ja=f"イベント種別 '{event_type}' はありません。",
        )
    return event_type


def _out(event_type: str, pause: EventTypePause | None) -> EventTypeOut:
    cls = EVENT_TYPES[event_type]
    return EventTypeOut(
        type=event_type,
        source=cls.source,
        category=cls.category,
        urgent=cls.urgent,
        recipient_kind=cls.recipient_kind,
        template_version=_versions().get(event_type, 0),
        paused=pause is not None,
        paused_at=pause.paused_at if pause else None,
        paused_by=pause.paused_by if pause else None,
        reason=pause.reason if pause else None,
    )


async def _pause_of(session: AsyncSession, event_type: str) -> EventTypePause | None:
    return (
        await session.scalars(
            select(EventTypePause)
            .where(EventTypePause.event_type == event_type)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


@router.get(
    "",
    summary="Event types",
    description="Staff. Every event type with its category, urgency, template version and pause state.",
    response_model=EventTypeList,
    responses=problem_responses(401, 403),
)
async def list_event_types(
    session: DbSession, _: Annotated[Principal, require(P.EVENT_TYPES_READ)]
) -> EventTypeList:
    pauses = {p.event_type: p for p in (await session.scalars(select(EventTypePause))).all()}
    return EventTypeList(items=[_out(t, pauses.get(t)) for t in sorted(EVENT_TYPES)])


@router.put(
    "/{event_type}/pause",
    summary="Pause sending an event type",
    description=(
        "Admin. From now on deliveries of this type are recorded as `queued` and wait (nothing is "
        "lost); attempts already running finish. Pausing a paused type changes nothing."
    ),
    response_model=EventTypeOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def pause(
    event_type: EventTypePath,
    session: DbSession,
    principal: Annotated[Principal, require(P.EVENT_TYPES_WRITE)],
    body: PauseRequest | None = None,
) -> EventTypeOut:
    _known(event_type)
    await session.execute(
        insert(EventTypePause)
        .values(
            event_type=event_type,
            paused_by=f"{principal.role}:{principal.name}"[:200],
            reason=body.reason if body else None,
        )
        .on_conflict_do_nothing(index_elements=[EventTypePause.event_type])
    )
    return _out(event_type, await _pause_of(session, event_type))


@router.delete(
    "/{event_type}/pause",
    summary="Resume sending an event type",
    description="Admin. The waiting deliveries of the type are queued at once. Resuming a running type changes nothing.",
    response_model=EventTypeOut,
    responses=problem_responses(401, 403, 404),
)
async def resume(
    event_type: EventTypePath,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require(P.EVENT_TYPES_WRITE)],
    background: BackgroundTasks,
) -> EventTypeOut:
    _known(event_type)
    removed = await session.execute(
        delete(EventTypePause)
        .where(EventTypePause.event_type == event_type)
        .returning(EventTypePause.event_type)
    )
    if removed.first() is not None:
        # After the commit (the response is sent after it), so the worker sees the type running.
        background.add_task(kick_resume, request.app.state.redis, event_type)
    return _out(event_type, None)
