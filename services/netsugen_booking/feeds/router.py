"""iCalendar (RFC 5545) feeds.

Calendar apps subscribe to a URL and cannot send a bearer token, so the per-member feed accepts
either the member's (or staff's) bearer token or a per-member secret in the URL (`?token=`), made
with `POST /v1/feeds/members/{id}/token`. Only the secret's hash is stored; making a new one revokes
the old URL.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from services.netsugen_booking.bookings.common import ensure_can_act_for
from services.netsugen_booking.bookings.exceptions import UnknownMember
from services.netsugen_booking.feeds import service
from services.netsugen_booking.feeds.schemas import FeedToken
from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.members.models import Member
from shared.auth import OptionalPrincipal, Principal
from shared.db import DbSession
from shared.errors import NotFound, Unauthorized, problem_responses
from shared.permissions import P, require

router = APIRouter(prefix="/v1/feeds", tags=["calendar feeds"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
ICS_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/calendar": {"schema": {"type": "string"}}}, "description": "An iCalendar feed."}
}


class FeedNotFound(NotFound):
    slug, title = "feed-not-found", "Unknown feed"


def _ics(body: str, filename: str) -> Response:
    return Response(
        content=body.encode("utf-8"),
        media_type=ICS_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=300",
        },
    )


@router.get(
    "/events.ics",
    summary="iCalendar feed of public events",
    description="Public. Events from 90 days ago to 400 days ahead; titles in `lang` (ja by default).",
    response_class=Response,
    responses=ICS_RESPONSE,
)
async def events_feed(
    request: Request,
    session: DbSession,
    now: Now,
    lang: Annotated[Literal["ja", "en"], Query(description="Language of titles and descriptions.")] = "ja",
) -> Response:
    # Event URLs open the member portal on the public origin (AUTH_PUBLIC_BASE_URL).
    body = await service.public_events(
        session, now=now, lang=lang, base_url=request.app.state.settings.auth_public_base_url
    )
    return _ics(body, "netsugen-events.ics")


@router.get(
    "/members/{member_id}.ics",
    summary="A member's own iCalendar feed",
    description=(
        "The member's confirmed bookings, event registrations (waitlisted ones as TENTATIVE) and "
        "consultations. Authenticate with the member's (or staff's) bearer token, or with the feed "
        "secret in `?token=` for calendar apps."
    ),
    response_class=Response,
    responses={**ICS_RESPONSE, **problem_responses(401, 403, 404)},
)
async def member_feed(
    member_id: uuid.UUID,
    request: Request,
    session: DbSession,
    now: Now,
    principal: OptionalPrincipal,
    token: Annotated[str | None, Query(max_length=200, description="The member's feed secret.")] = None,
) -> Response:
    if token is not None:
        if not await service.feed_token_matches(session, member_id, token):
            raise FeedNotFound("No feed for this URL.", detail_ja="このURLのカレンダーはありません。")
    elif principal is None:
        raise Unauthorized(
            "This feed needs the member's token or the feed secret (?token=).",
            detail_ja="このカレンダーには会員トークンまたはカレンダー用URLが必要です。",
            headers={"WWW-Authenticate": "Bearer"},
        )
    else:
        ensure_can_act_for(principal, member_id)
    member = await session.get(Member, member_id)
    if member is None:
        raise FeedNotFound("No feed for this URL.", detail_ja="このURLのカレンダーはありません。")
    body = await service.member_calendar(
        session, member, now=now, base_url=request.app.state.settings.auth_public_base_url
    )
    return _ics(body, f"netsugen-{member.member_number}.ics")


@router.post(
    "/members/{member_id}/token",
    status_code=status.HTTP_201_CREATED,
    summary="Make (or remake) a member's feed URL",
    description="The member itself or staff. Returns the subscription URL with a new secret; the old URL stops working.",
    responses=problem_responses(401, 403, 422),
)
async def make_feed_token(
    member_id: uuid.UUID,
    request: Request,
    session: DbSession,
    now: Now,
    principal: Annotated[Principal, require(P.FEEDS_MEMBER)],
) -> FeedToken:
    ensure_can_act_for(principal, member_id)
    if await session.get(Member, member_id) is None:
        raise UnknownMember(f"No member {member_id}.", detail_ja="指定された会員は存在しません。")
    secret = await service.new_feed_token(session, member_id, now=now)
    base = str(request.app.state.settings.netsugen_url).rstrip("/")
    return FeedToken(url=f"{base}/v1/feeds/members/{member_id}.ics?token={secret}", token=secret)
