"""The front-desk console: one server-rendered page plus its own JavaScript and CSS.

The page holds no data. Its script calls this service's JSON API (members, visits, occupancy,
calendar, quote, bookings, programs) with an access token from the staff member's own sign-in
(email, password and, when enabled, TOTP) held **in memory only**. The refresh token lives in an
``HttpOnly; SameSite=Strict`` cookie scoped to ``/frontdesk/session`` (``Secure`` except on plain
http to a loopback address, for development), which only the three session endpoints below read:
the script never sees it. The script refreshes the access token silently before it expires and
signs out after ``FRONTDESK_IDLE_MINUTES`` without activity.

Every page and asset is served with a strict Content-Security-Policy (``script-src 'self'``, no
``'unsafe-inline'``): the page has no inline script or handler (its configuration travels in
``<script type="application/json">`` data blocks, which are never executed). Assets are served from
``/frontdesk/static/`` on the same origin: no CDN, no build step.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ConfigDict

from services.netsugen_booking.accounts import service as accounts
from services.netsugen_booking.accounts.exceptions import InvalidRefreshToken
from services.netsugen_booking.accounts.schemas import LoginRequest
from services.netsugen_booking.accounts.service import CommitThenRaise, TokenPair
from services.netsugen_booking.accounts.signin_audit import audit_sign_in_failed, audit_signed_in
from services.netsugen_booking.frontdesk import i18n
from services.netsugen_booking.frontdesk.i18n import Language
from services.netsugen_booking.members.cards import CARD_PREFIX
from services.netsugen_booking.settings import NetsugenSettings
from shared.db import DbSession
from shared.errors import Forbidden, NotFound, ProblemError, prefers_japanese, problem_responses
from shared.jst import utcnow

router = APIRouter(tags=["front desk console"])

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css)$")

# Near-capacity warning from this share of the capacity (the issue: "whether the space is near capacity").
NEAR_CAPACITY_RATIO = 0.9
# How often the page re-reads occupancy and charges (seconds); durations tick every second locally.
REFRESH_SECONDS = 30

#: The console's pages and assets: scripts and styles from this origin only, nothing inline.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REFRESH_COOKIE = "netsugen_frontdesk_refresh"
SESSION_PATH = "/frontdesk/session"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Asset:
    content: bytes
    media_type: str
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


def load_assets() -> dict[str, Asset]:
    """The files that may be served, read once: no path from a URL ever reaches the disk."""
    assets = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and _STATIC_NAME.match(path.name):
            content = path.read_bytes()
            etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
            assets[path.name] = Asset(content, _MEDIA_TYPES[path.suffix], etag)
    return assets


_ASSETS = load_assets()


def _json_for_script(value: object) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` break-out)."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def render_page(language: Language, idle_minutes: int = 15) -> str:
    def t(key: str) -> str:
        return i18n.text(key, language)

    config = {
        "idle_minutes": idle_minutes,
        "near_capacity_ratio": NEAR_CAPACITY_RATIO,
        "refresh_seconds": REFRESH_SECONDS,
        "language": language,
        # Card tokens start with this: a card scanned into the search field still checks in.
        "card_prefix": CARD_PREFIX,
    }
    return _env.get_template("frontdesk.html.j2").render(
        lang=language,
        t=t,
        asset_version={name: asset.version for name, asset in _ASSETS.items()},
        catalog_json=_json_for_script(i18n.catalog()),
        config_json=_json_for_script(config),
    )


@router.get(
    "/frontdesk",
    response_class=HTMLResponse,
    summary="Front-desk console (HTML)",
    description=(
        "The web page the front desk runs the day from: staff sign in with email and password, check members "
        "in by card scan, member number or name, see who is in with the charge so far, check them out "
        "with the day's charge explained, and see today's hours, bookings and events. Japanese by "
        "default (Accept-Language or `lang`), English by a switch on the page. The page itself needs "
        "no token; every action calls this API with the access token of the signed-in session."
    ),
    responses=problem_responses(422),
)
async def frontdesk_page(
    request: Request,
    lang: Annotated[
        Language | None, Query(description="Page language; default from Accept-Language (Japanese).")
    ] = None,
) -> HTMLResponse:
    language: Language = lang or ("ja" if prefers_japanese(request) else "en")
    settings: NetsugenSettings = request.app.state.settings
    return HTMLResponse(
        render_page(language, settings.frontdesk_idle_minutes),
        headers={
            "Cache-Control": "no-store",
            "Content-Language": language,
            "Content-Security-Policy": CONSOLE_CSP,
        },
    )


@router.get("/frontdesk/static/{name}", include_in_schema=False)
async def frontdesk_static(name: str, request: Request) -> Response:
    asset = _ASSETS.get(name)
    if asset is None:
        raise NotFound(f"No console asset named {name!r}.", detail_ja="該当するファイルはありません。")
    # The page links assets as ?v=<content hash>, so a changed file is a new URL; revalidate anyway.
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "public, max-age=300, must-revalidate",
        "Content-Security-Policy": CONSOLE_CSP,
    }
    if asset.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.content, media_type=asset.media_type, headers=headers)


# ---- the console's session (refresh token in an HttpOnly cookie) ---------------------------------------
class SessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"access_token": "gsa_3q2…", "expires_in": 900, "token_type": "Bearer"}]
        }
    )
    access_token: str
    expires_in: int
    token_type: str = "Bearer"


def _same_origin(request: Request) -> None:
    """Cookie-authenticated POSTs: refuse another site's page (SameSite=Strict does most of it)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(
            "Cross-site request refused.", detail_ja="他のサイトからのリクエストは受け付けません。"
        )


def _secure(request: Request) -> bool:
    # Plain http on a loopback address (development, the browser test): Secure would drop the cookie.
    return not (request.url.scheme == "http" and (request.url.hostname or "") in _LOOPBACK)


def _session_response(request: Request, pair: TokenPair) -> JSONResponse:
    response = JSONResponse(
        SessionOut(access_token=pair.access_token, expires_in=pair.expires_in).model_dump(),
        headers={"Cache-Control": "no-store"},
    )
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=max(1, int((pair.refresh_expires_at - utcnow()).total_seconds())),
        path=SESSION_PATH,
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
    return response


def _ended(request: Request, status: int = 204) -> Response:
    response = Response(status_code=status, headers={"Cache-Control": "no-store"})
    response.delete_cookie(
        REFRESH_COOKIE, path=SESSION_PATH, httponly=True, secure=_secure(request), samesite="strict"
    )
    return response


@router.post(
    SESSION_PATH,
    response_model=SessionOut,
    summary="Front-desk console: sign in (sets the refresh cookie)",
    description=(
        "The console's sign-in: like `POST /v1/auth/login`, but the refresh token goes into an HttpOnly, "
        "SameSite=Strict cookie scoped to `/frontdesk/session`; the body carries only the access token."
    ),
    responses=problem_responses(401, 403, 422, 429),
)
async def console_sign_in(body: LoginRequest, request: Request, session: DbSession) -> JSONResponse:
    _same_origin(request)
    try:
        pair = await accounts.password_login(
            session,
            request.app.state.settings,
            email=body.email,
            password=body.password,
            totp=body.totp,
            user_agent=request.headers.get("user-agent"),
        )
    except CommitThenRaise as exc:
        await audit_sign_in_failed(request, "password", body.email, exc.problem)
        await session.commit()
        raise exc.problem from None
    except ProblemError as problem:
        await audit_sign_in_failed(request, "password", body.email, problem)
        raise
    await audit_signed_in(session, request, pair, "password")
    return _session_response(request, pair)


@router.post(
    f"{SESSION_PATH}/refresh",
    response_model=SessionOut,
    summary="Front-desk console: a new access token from the refresh cookie",
    description="Rotates the cookie. A cookie used twice ends the session (401), as `POST /v1/auth/refresh`.",
    responses=problem_responses(401, 403, 429),
)
async def console_refresh(request: Request, session: DbSession) -> JSONResponse:
    _same_origin(request)
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise InvalidRefreshToken(
            "Not signed in.", detail_ja="サインインしていません。", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        pair = await accounts.refresh(session, request.app.state.settings, token)
    except CommitThenRaise as exc:
        await session.commit()
        raise exc.problem from None
    return _session_response(request, pair)


@router.post(
    f"{SESSION_PATH}/logout",
    status_code=204,
    summary="Front-desk console: sign out (revokes the session, clears the cookie)",
    responses=problem_responses(403, 429),
)
async def console_sign_out(request: Request, session: DbSession) -> Response:
    _same_origin(request)
    token = request.cookies.get(REFRESH_COOKIE)
    if token:
        await accounts.logout_by_refresh(session, token)
    return _ended(request)
