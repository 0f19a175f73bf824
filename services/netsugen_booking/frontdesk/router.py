"""The front-desk console: one server-rendered page plus its own JavaScript and CSS.

The page holds no data. Its script calls this service's JSON API (members, visits, occupancy,
calendar, quote, bookings, programs) with the staff token the user signs in with, which it keeps in
``sessionStorage`` only. Assets are served from ``/frontdesk/static/`` on the same origin, as the
platform's Content-Security-Policy (``default-src 'self'``) requires: no CDN, no build step.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.netsugen_booking.frontdesk import i18n
from services.netsugen_booking.frontdesk.i18n import Language
from services.netsugen_booking.members.cards import CARD_PREFIX
from shared.errors import NotFound, prefers_japanese, problem_responses

router = APIRouter(tags=["front desk console"])

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css)$")

# Near-capacity warning from this share of the capacity (the issue: "whether the space is near capacity").
NEAR_CAPACITY_RATIO = 0.9
# How often the page re-reads occupancy and charges (seconds); durations tick every second locally.
REFRESH_SECONDS = 30

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


def render_page(language: Language) -> str:
    def t(key: str) -> str:
        return i18n.text(key, language)

    config = {
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
        "The web page the front desk runs the day from: staff sign in with a staff token, check members "
        "in by card scan, member number or name, see who is in with the charge so far, check them out "
        "with the day's charge explained, and see today's hours, bookings and events. Japanese by "
        "default (Accept-Language or `lang`), English by a switch on the page. The page itself needs "
        "no token; every action calls this API with the token entered on the page."
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
    return HTMLResponse(
        render_page(language),
        headers={"Cache-Control": "no-store", "Content-Language": language},
    )


@router.get("/frontdesk/static/{name}", include_in_schema=False)
async def frontdesk_static(name: str, request: Request) -> Response:
    asset = _ASSETS.get(name)
    if asset is None:
        raise NotFound(f"No console asset named {name!r}.", detail_ja="該当するファイルはありません。")
    # The page links assets as ?v=<content hash>, so a changed file is a new URL; revalidate anyway.
    headers = {"ETag": asset.etag, "Cache-Control": "public, max-age=300, must-revalidate"}
    if asset.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.content, media_type=asset.media_type, headers=headers)
