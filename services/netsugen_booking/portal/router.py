"""The member portal at ``/portal``: server-rendered pages over this service's own JSON API.

A member signs in with the emailed link (``/signin#token=…`` redirects here and the page posts the
token) or types the code. The session is the one of ``POST /v1/auth/email-link/verify``: its access
and refresh tokens live in two ``HttpOnly; SameSite=Lax`` cookies scoped to ``/portal`` (``Secure``
except on plain http to a loopback address, as the front-desk console). Every page calls the JSON API
in process (``httpx.ASGITransport``) **with the member's own access token**, so the API's rules decide
what a member may see or do: another member's object answers 403 here as there. An expired access
token is renewed once with the refresh cookie (rotated). Forms POST to the same origin only (the
``Origin`` header is checked; SameSite=Lax keeps the cookies off other sites' POSTs) and answer with
a redirect (POST/redirect/GET).

Pages carry a strict Content-Security-Policy with no inline script or style; the only script
(``static/portal.js``) submits the emailed link's token from the URL fragment and nothing else.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select

from services.netsugen_booking.frontdesk_common.clock import Now
from services.netsugen_booking.portal import i18n
from services.netsugen_booking.portal.i18n import Language
from services.netsugen_booking.programs.models import ProgramRegistration
from shared.db import DbSession
from shared.errors import NotFound, prefers_japanese
from shared.jst import JST

router = APIRouter(tags=["member portal"], include_in_schema=False)

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:js|css)$")

PORTAL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ACCESS_COOKIE = "netsugen_portal_access"
REFRESH_COOKIE = "netsugen_portal_refresh"
LANG_COOKIE = "netsugen_portal_lang"
PATH = "/portal"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: Messages a redirect may name (``?done=``): only these keys, never free text from a URL.
DONE_KEYS = {
    "rooms.booked", "rooms.cancelled", "events.done", "events.cancelled", "consult.done",
    "consult.cancelled", "settings.saved", "settings.email.sent", "signin.sent", "users.added", "users.changed",
}  # fmt: skip

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _assets() -> dict[str, tuple[bytes, str, str]]:
    out = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and _STATIC_NAME.match(path.name):
            content = path.read_bytes()
            out[path.name] = (content, _MEDIA_TYPES[path.suffix], hashlib.sha256(content).hexdigest()[:16])
    return out


_ASSETS = _assets()


# ---- formatting ------------------------------------------------------------------------------------
def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(JST) if value else None


def fmt_datetime(value: str | None) -> str:
    moment = _parse(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def fmt_time(value: str | None) -> str:
    moment = _parse(value)
    return moment.strftime("%H:%M") if moment else ""


def fmt_date(value: str | None) -> str:
    moment = _parse(value)
    return moment.strftime("%Y-%m-%d") if moment else ""


def _language(request: Request, lang: str | None) -> Language:
    if lang in ("ja", "en"):
        return lang  # type: ignore[return-value]
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in ("ja", "en"):
        return cookie  # type: ignore[return-value]
    return "ja" if prefers_japanese(request) else "en"


def _secure(request: Request) -> bool:
    return not (request.url.scheme == "http" and (request.url.hostname or "") in _LOOPBACK)


# ---- the member's session and the in-process API client ----------------------------------------------
class SignedOut(Exception):
    """No session, or one that can no longer be renewed."""


class ApiProblem(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.status = response.status_code
        try:
            self.body: dict[str, Any] = dict(response.json())
        except ValueError:
            self.body = {}

    def message(self, language: Language) -> str:
        key = "detail_ja" if language == "ja" else "detail"
        return str(self.body.get(key) or self.body.get("detail") or self.body.get("title") or self.status)


@dataclass
class Portal:
    request: Request
    language: Language
    access: str | None
    refresh: str | None
    renewed: dict[str, Any] | None = None
    me: dict[str, Any] = field(default_factory=dict)
    member: dict[str, Any] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.request.app, client=("127.0.0.1", 0))
        headers: dict[str, str] = {"accept-language": self.language}
        if request_id := self.request.headers.get("x-request-id"):
            headers["x-request-id"] = request_id
        return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The API with the member's token; renews an expired access token once."""
        if self.access is None and self.refresh is None:
            raise SignedOut
        async with self.client() as client:
            if self.access is not None:
                response = await client.request(
                    method, path, headers={"Authorization": f"Bearer {self.access}"}, **kwargs
                )
                if response.status_code != 401:
                    return response
            if self.refresh is None:
                raise SignedOut
            renewed = await client.post("/v1/auth/refresh", json={"refresh_token": self.refresh})
            if renewed.status_code != 200:
                self.refresh = None
                raise SignedOut
            self.renewed = renewed.json()
            self.access, self.refresh = self.renewed["access_token"], self.renewed["refresh_token"]
            response = await client.request(
                method, path, headers={"Authorization": f"Bearer {self.access}"}, **kwargs
            )
            if response.status_code == 401:
                raise SignedOut
            return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiProblem(response)
        return response.json() if response.content else None

    async def load_me(self) -> None:
        self.me = await self.json("GET", "/v1/auth/me")
        if self.me.get("kind") != "member" or not self.me.get("member_id"):
            # Staff have the console; the portal is for members only.
            raise SignedOut
        self.member = await self.json("GET", f"/v1/members/{self.me['member_id']}")

    @property
    def corporate_admin(self) -> bool:
        """The corporate member's own account (not a named user) manages the named users."""
        return self.member.get("kind") == "corporate" and not self.me.get("member_user_id")

    @property
    def member_id(self) -> str:
        return str(self.me["member_id"])


def _portal(request: Request, lang: str | None) -> Portal:
    return Portal(
        request=request,
        language=_language(request, lang),
        access=request.cookies.get(ACCESS_COOKIE),
        refresh=request.cookies.get(REFRESH_COOKIE),
    )


def set_session_cookies(request: Request, response: Response, pair: Mapping[str, Any]) -> None:
    secure = _secure(request)
    response.set_cookie(
        ACCESS_COOKIE, pair["access_token"], max_age=int(pair["expires_in"]), path=PATH,
        httponly=True, secure=secure, samesite="lax",
    )  # fmt: skip
    refresh_age = 60 * 60 * 24 * 30
    response.set_cookie(
        REFRESH_COOKIE, pair["refresh_token"], max_age=refresh_age, path=PATH,
        httponly=True, secure=secure, samesite="lax",
    )  # fmt: skip


def clear_session_cookies(request: Request, response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=PATH, httponly=True, secure=_secure(request), samesite="lax")


def _finish(portal: Portal, response: Response, lang: str | None) -> Response:
    if portal.renewed is not None:
        set_session_cookies(portal.request, response, portal.renewed)
    if lang in ("ja", "en"):
        response.set_cookie(
            LANG_COOKIE, lang, max_age=60 * 60 * 24 * 365, path=PATH, secure=_secure(portal.request),
            samesite="lax",
        )  # fmt: skip
    return response


def _signed_out(portal: Portal) -> Response:
    response = RedirectResponse(f"{PATH}/signin?expired=1", status_code=303)
    clear_session_cookies(portal.request, response)
    return response


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


# ---- rendering --------------------------------------------------------------------------------------
def render(
    portal: Portal | None,
    request: Request,
    language: Language,
    template: str,
    *,
    status: int = 200,
    error: str | None = None,
    **values: Any,
) -> HTMLResponse:
    def t(key: str, **kw: object) -> str:
        return i18n.text(key, language, **kw)

    done = request.query_params.get("done")
    other: Language = "en" if language == "ja" else "ja"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "done")}
    switch_url = f"{request.url.path}?{urlencode({**query, 'lang': other})}"
    html = _env.get_template(template).render(
        lang=language,
        t=t,
        yen=lambda n: i18n.yen(int(n), language),
        dt=fmt_datetime,
        tm=fmt_time,
        d=fmt_date,
        path=request.url.path,
        me=portal.me if portal else {},
        corporate_admin=bool(portal and portal.me and portal.corporate_admin),
        signed_in=bool(portal and portal.me),
        switch_url=switch_url,
        done=t(done) if done in DONE_KEYS else None,
        error=error,
        asset=lambda name: f"{PATH}/static/{name}?v={_ASSETS[name][2]}",
        **values,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Language": language,
            "Content-Security-Policy": PORTAL_CSP,
        },
    )


def _error_page(portal: Portal, problem: ApiProblem) -> HTMLResponse:
    """An object the API will not show this member (403) or hides from them (404) is a 403 page here:
    the portal never tells whether another member's booking or invoice exists."""
    hidden = problem.status in (403, 404)
    message = i18n.text("error.forbidden", portal.language) if hidden else problem.message(portal.language)
    status = 403 if hidden else problem.status
    return render(portal, portal.request, portal.language, "error.html.j2", status=status, error=message)


async def _page(portal: Portal, lang: str | None, build: Any) -> Response:
    """Load the member, build the page, and turn sign-out and API problems into pages."""
    try:
        await portal.load_me()
        response = await build()
    except SignedOut:
        return _signed_out(portal)
    except ApiProblem as problem:
        response = _error_page(portal, problem)
    return _finish(portal, response, lang)


Lang = Annotated[str | None, Query(pattern="^(ja|en)$")]


# ---- a guest's double opt-in (no sign-in: the emailed token is the credential) ------------------------
@router.get(f"{PATH}/events/registrations/{{registration_id}}/confirm")
async def guest_confirm_page(
    request: Request,
    registration_id: uuid.UUID,
    token: Annotated[str, Query(max_length=200)] = "",
    lang: Lang = None,
) -> Response:
    """The link of the guest's confirmation email. A GET only shows the button: mail scanners that
    open links must not confirm (or waste) a registration; the guest's POST does."""
    language = _language(request, lang)
    response = render(None, request, language, "guest_confirm.html.j2", token=token, outcome=None)
    return _finish(Portal(request, language, None, None), response, lang)


@router.post(f"{PATH}/events/registrations/{{registration_id}}/confirm")
async def guest_confirm(
    request: Request,
    registration_id: uuid.UUID,
    token: Annotated[str, Form(max_length=200)],
    lang: Lang = None,
) -> Response:
    language = _language(request, lang)
    portal = Portal(request, language, None, None)
    if not _same_origin(request):
        return render(None, request, language, "guest_confirm.html.j2", status=403,
                      error=i18n.text("error.forbidden", language), token="", outcome=None)  # fmt: skip
    async with portal.client() as client:
        answer = await client.post(
            f"/v1/event-registrations/{registration_id}/confirm", json={"token": token}
        )
    if answer.status_code != 200:
        problem = ApiProblem(answer)
        response = render(None, request, language, "guest_confirm.html.j2", status=problem.status,
                          error=problem.message(language), token="", outcome=None)  # fmt: skip
        return _finish(portal, response, lang)
    body = answer.json()
    if body.get("status") == "waitlisted":
        outcome = i18n.text("guest.waitlisted", language, position=body.get("waitlist_position") or "?")
    else:
        outcome = i18n.text("guest.confirmed", language)
    response = render(None, request, language, "guest_confirm.html.j2", outcome=outcome, token="")
    return _finish(portal, response, lang)


# ---- sign-in -----------------------------------------------------------------------------------------
@router.get("/signin")
async def signin_link_redirect() -> Response:
    """The emailed link (``AUTH_PUBLIC_BASE_URL/signin#token=…``): the browser keeps the fragment."""
    return RedirectResponse(f"{PATH}/signin", status_code=302)


@router.get(f"{PATH}/signin")
async def signin_page(request: Request, lang: Lang = None) -> Response:
    language = _language(request, lang)
    expired = request.query_params.get("expired") == "1"
    response = render(
        None, request, language, "signin.html.j2",
        error=i18n.text("signin.expired", language) if expired else None,
        email=request.query_params.get("email", "")[:320],
    )  # fmt: skip
    return _finish(Portal(request, language, None, None), response, lang)


@router.post(f"{PATH}/signin/request")
async def signin_request(request: Request, email: Annotated[str, Form(max_length=320)]) -> Response:
    portal = _portal(request, None)
    if not _same_origin(request):
        return render(
            None,
            request,
            portal.language,
            "error.html.j2",
            status=403,
            error=i18n.text("error.cross_site", portal.language),
        )
    async with portal.client() as client:
        r = await client.post("/v1/auth/email-link", json={"email": email.strip()})
    if r.status_code >= 400:
        return render(
            None, request, portal.language, "signin.html.j2", status=r.status_code,
            error=ApiProblem(r).message(portal.language), email=email,
        )  # fmt: skip
    return RedirectResponse(
        f"{PATH}/signin?{urlencode({'done': 'signin.sent', 'email': email})}", status_code=303
    )


@router.post(f"{PATH}/signin/verify")
async def signin_verify(
    request: Request,
    token: Annotated[str | None, Form(max_length=200)] = None,
    email: Annotated[str | None, Form(max_length=320)] = None,
    code: Annotated[str | None, Form(max_length=12)] = None,
) -> Response:
    portal = _portal(request, None)
    if not _same_origin(request):
        return render(
            None,
            request,
            portal.language,
            "error.html.j2",
            status=403,
            error=i18n.text("error.cross_site", portal.language),
        )
    body: dict[str, str] = (
        {"token": token} if token else {"email": (email or "").strip(), "code": (code or "").strip()}
    )
    async with portal.client() as client:
        r = await client.post(
            "/v1/auth/email-link/verify",
            json=body,
            headers={"user-agent": request.headers.get("user-agent", "")},
        )
    if r.status_code != 200:
        return render(
            None, request, portal.language, "signin.html.j2", status=400 if r.status_code < 500 else r.status_code,
            error=i18n.text("signin.invalid", portal.language), email=email or "",
        )  # fmt: skip
    response = RedirectResponse(PATH, status_code=303)
    set_session_cookies(request, response, r.json())
    return response


@router.post(f"{PATH}/signout")
async def signout(request: Request) -> Response:
    portal = _portal(request, None)
    if _same_origin(request) and portal.refresh:
        async with portal.client() as client:
            await client.post("/v1/auth/logout", json={"refresh_token": portal.refresh})
    response = RedirectResponse(f"{PATH}/signin", status_code=303)
    clear_session_cookies(request, response)
    return response


@router.get(f"{PATH}/static/{{name}}")
async def portal_static(name: str) -> Response:
    asset = _ASSETS.get(name)
    if asset is None:
        raise NotFound(f"No portal asset named {name!r}.", detail_ja="該当するファイルはありません。")
    content, media_type, version = asset
    return Response(
        content,
        media_type=media_type,
        headers={
            "ETag": f'"{version}"',
            "Cache-Control": "public, max-age=300, must-revalidate",
            "Content-Security-Policy": PORTAL_CSP,
        },
    )


# ---- pages -------------------------------------------------------------------------------------------
def _items(answer: Any) -> list[dict[str, Any]]:
    return list(answer.get("items", [])) if isinstance(answer, dict) else []


async def _resources(portal: Portal) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in _items(await portal.json("GET", "/v1/resources", params={"limit": 100}))}


async def _my_registrations(
    portal: Portal, session: DbSession, program_ids: list[str] | None = None
) -> list[Any]:
    """The member's live registrations, read through the API (which checks ownership again)."""
    query = select(ProgramRegistration.id).where(
        ProgramRegistration.member_id == uuid.UUID(portal.member_id),
        ProgramRegistration.status.in_(("confirmed", "waitlisted")),
    )
    if program_ids is not None:
        query = query.where(ProgramRegistration.program_id.in_([uuid.UUID(p) for p in program_ids]))
    ids = (await session.execute(query.order_by(ProgramRegistration.created_at.desc()).limit(100))).scalars()
    return [await portal.json("GET", f"/v1/event-registrations/{rid}") for rid in ids]


@router.get(PATH)
async def home(request: Request, session: DbSession, now: Now, lang: Lang = None) -> Response:
    portal = _portal(request, lang)

    async def build() -> Response:
        start = now.astimezone(JST).isoformat()
        bookings = [
            b
            for b in _items(
                await portal.json(
                    "GET", "/v1/bookings",
                    params={"member_id": portal.member_id, "from": now.astimezone(JST).date().isoformat(),
                            "status": "confirmed", "limit": 20},
                )
            )
            if b["end"] >= start
        ][:5]  # fmt: skip
        invoices = _items(
            await portal.json("GET", "/v1/invoices", params={"member_id": portal.member_id, "limit": 1})
        )
        registrations = await _my_registrations(portal, session)
        programs = {
            reg["program_id"]: await portal.json("GET", f"/v1/programs/{reg['program_id']}")
            for reg in registrations
        }
        return render(
            portal, request, portal.language, "home.html.j2",
            member=portal.member,
            bookings=bookings, resources=await _resources(portal), invoice=invoices[0] if invoices else None,
            registrations=[r for r in registrations if programs[r["program_id"]]["end"] >= start],
            programs=programs,
        )  # fmt: skip

    return await _page(portal, lang, build)


def _month_bounds(month: str | None, now: datetime) -> tuple[date, date]:
    today = now.astimezone(JST).date()
    first = today.replace(day=1)
    if month:
        try:
            first = date.fromisoformat(f"{month}-01")
        except ValueError:
            pass
    after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, after


@router.get(f"{PATH}/visits")
async def visits_page(
    request: Request,
    now: Now,
    lang: Lang = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
) -> Response:
    portal = _portal(request, lang)

    async def build() -> Response:
        first, after = _month_bounds(month, now)
        member = await portal.json("GET", f"/v1/members/{portal.member_id}")
        visits = _items(
            await portal.json(
                "GET", "/v1/visits",
                params={
                    "member_id": portal.member_id, "limit": 200,
                    "from": first.isoformat(), "to": (after - timedelta(days=1)).isoformat(),
                },
            )
        )  # fmt: skip
        closed = [v for v in visits if v.get("check_out_at")]
        quote = None
        if closed:
            quote = await portal.json(
                "POST", "/v1/billing/quote",
                json={
                    "plan": member.get("current_plan") or "dropin",
                    "visits": [{"check_in": v["check_in_at"], "check_out": v["check_out_at"]} for v in closed],
                },
            )  # fmt: skip
        by_day: dict[str, list[dict[str, Any]]] = {}
        for v in visits:
            by_day.setdefault(fmt_date(v["check_in_at"]), []).append(v)
        return render(
            portal, request, portal.language, "visits.html.j2",
            month=first.strftime("%Y-%m"), days=quote["days"] if quote else [], quote=quote, by_day=by_day,
            open_visits=[v for v in visits if not v.get("check_out_at")],
        )  # fmt: skip

    return await _page(portal, lang, build)


@router.get(f"{PATH}/invoices")
async def invoices_page(request: Request, lang: Lang = None) -> Response:
    portal = _portal(request, lang)

    async def build() -> Response:
        invoices = _items(
            await portal.json("GET", "/v1/invoices", params={"member_id": portal.member_id, "limit": 100})
        )
        return render(portal, request, portal.language, "invoices.html.j2", invoices=invoices)

    return await _page(portal, lang, build)


@router.get(f"{PATH}/invoices/{{invoice_id}}/document")
async def invoice_document(request: Request, invoice_id: uuid.UUID, lang: Lang = None) -> Response:
    """The printable document of the API, with the member's own token (403 for another's)."""
    portal = _portal(request, lang)

    async def build() -> Response:
        r = await portal.call("GET", f"/v1/invoices/{invoice_id}/document")
        if r.status_code >= 400:
            raise ApiProblem(r)
        headers = {
            k: v for k, v in r.headers.items() if k.lower() in ("content-security-policy", "content-language")
        }
        headers["Cache-Control"] = "no-store"
        return Response(r.content, status_code=200, media_type=r.headers.get("content-type"), headers=headers)

    return await _page(portal, lang, build)


@router.get(f"{PATH}/payments/{{payment_id}}/receipt")
async def payment_receipt(request: Request, payment_id: uuid.UUID, lang: Lang = None) -> Response:
    """The receipt (領収書) of a payment, printable, with the member's own token (403 for another's)."""
    portal = _portal(request, lang)

    async def build() -> Response:
        r = await portal.call("GET", f"/v1/payments/{payment_id}/receipt")
        if r.status_code >= 400:
            raise ApiProblem(r)
        headers = {
            k: v for k, v in r.headers.items() if k.lower() in ("content-security-policy", "content-language")
        }
        headers["Cache-Control"] = "no-store"
        return Response(r.content, status_code=200, media_type=r.headers.get("content-type"), headers=headers)

    return await _page(portal, lang, build)


@router.get(f"{PATH}/rooms")
async def rooms_page(
    request: Request, now: Now, lang: Lang = None, day: Annotated[date | None, Query(alias="date")] = None
) -> Response:
    portal = _portal(request, lang)
    return await _page(portal, lang, lambda: _rooms(portal, now, day))


async def _rooms(
    portal: Portal, now: datetime, day: date | None, *, error: str | None = None, status: int = 200
) -> Response:
    day = day or now.astimezone(JST).date()
    resources = [r for r in (await _resources(portal)).values() if r.get("active", True)]
    availability = {
        r["id"]: await portal.json(
            "GET", f"/v1/resources/{r['id']}/availability", params={"date": day.isoformat()}
        )
        for r in resources
    }
    bookings = _items(
        await portal.json(
            "GET", "/v1/bookings",
            params={"member_id": portal.member_id, "from": now.astimezone(JST).date().isoformat(), "limit": 50},
        )
    )  # fmt: skip
    return render(
        portal, portal.request, portal.language, "rooms.html.j2", status=status, error=error,
        day=day.isoformat(), resources=resources, availability=availability, bookings=bookings,
        names={r["id"]: r for r in resources},
    )  # fmt: skip


async def _action(portal: Portal, call: Any, done: str, redirect: str, on_error: Any) -> Response:
    """Run a form's API call: redirect with ``done`` on success, re-render the page with the problem."""
    if not _same_origin(portal.request):
        return render(
            portal,
            portal.request,
            portal.language,
            "error.html.j2",
            status=403,
            error=i18n.text("error.cross_site", portal.language),
        )
    try:
        await portal.load_me()
        await call()
    except SignedOut:
        return _signed_out(portal)
    except ApiProblem as problem:
        if problem.status in (403, 404):
            return _finish(portal, _error_page(portal, problem), None)
        try:
            response = await on_error(problem.message(portal.language), problem.status)
        except ApiProblem as again:
            response = _error_page(portal, again)
        return _finish(portal, response, None)
    sep = "&" if "?" in redirect else "?"
    return _finish(portal, RedirectResponse(f"{redirect}{sep}done={done}", status_code=303), None)


def _at(day: str, clock: str) -> str:
    return datetime.combine(
        date.fromisoformat(day), datetime.strptime(clock, "%H:%M").time(), JST
    ).isoformat()


@router.post(f"{PATH}/rooms/book")
async def book_room(
    request: Request,
    now: Now,
    resource_id: Annotated[uuid.UUID, Form()],
    day: Annotated[date, Form(alias="date")],
    start: Annotated[str, Form(pattern=r"^\d{2}:\d{2}$")],
    end: Annotated[str, Form(pattern=r"^\d{2}:\d{2}$")],
) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json(
            "POST", "/v1/bookings",
            json={"resource_id": str(resource_id), "member_id": portal.member_id,
                  "start": _at(day.isoformat(), start), "end": _at(day.isoformat(), end)},
        )  # fmt: skip

    return await _action(
        portal, call, "rooms.booked", f"{PATH}/rooms?date={day.isoformat()}",
        lambda message, status: _rooms(portal, now, day, error=message, status=status),
    )  # fmt: skip


@router.post(f"{PATH}/bookings/{{booking_id}}/cancel")
async def cancel_booking(request: Request, now: Now, booking_id: uuid.UUID) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json("POST", f"/v1/bookings/{booking_id}/cancel", json={})

    return await _action(
        portal, call, "rooms.cancelled", f"{PATH}/rooms",
        lambda message, status: _rooms(portal, now, None, error=message, status=status),
    )  # fmt: skip


@router.get(f"{PATH}/events")
async def events_page(request: Request, session: DbSession, now: Now, lang: Lang = None) -> Response:
    portal = _portal(request, lang)
    return await _page(portal, lang, lambda: _events(portal, session, now))


async def _events(
    portal: Portal, session: DbSession, now: datetime, *, error: str | None = None, status: int = 200
) -> Response:
    programs = _items(
        await portal.json(
            "GET",
            "/v1/programs",
            params={"from": now.astimezone(JST).date().isoformat(), "status": "scheduled", "limit": 50},
        )
    )
    mine = {r["program_id"]: r for r in await _my_registrations(portal, session, [p["id"] for p in programs])}
    return render(
        portal, portal.request, portal.language, "events.html.j2", status=status, error=error,
        programs=programs, mine=mine, places=await _resources(portal),
    )  # fmt: skip


@router.post(f"{PATH}/events/{{program_id}}/register")
async def register_event(request: Request, session: DbSession, now: Now, program_id: uuid.UUID) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json(
            "POST", f"/v1/programs/{program_id}/registrations", json={"member_id": portal.member_id}
        )

    return await _action(
        portal, call, "events.done", f"{PATH}/events",
        lambda message, status: _events(portal, session, now, error=message, status=status),
    )  # fmt: skip


@router.post(f"{PATH}/registrations/{{registration_id}}/cancel")
async def cancel_registration(
    request: Request, session: DbSession, now: Now, registration_id: uuid.UUID
) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json("POST", f"/v1/event-registrations/{registration_id}/cancel", json={})

    return await _action(
        portal, call, "events.cancelled", f"{PATH}/events",
        lambda message, status: _events(portal, session, now, error=message, status=status),
    )  # fmt: skip


@router.get(f"{PATH}/consultations")
async def consultations_page(request: Request, now: Now, lang: Lang = None) -> Response:
    portal = _portal(request, lang)
    return await _page(portal, lang, lambda: _consultations(portal, now))


async def _consultations(
    portal: Portal, now: datetime, *, error: str | None = None, status: int = 200
) -> Response:
    start = now.astimezone(JST)
    slots = _items(
        await portal.json(
            "GET", "/v1/consultation-slots",
            params={"from": start.date().isoformat(), "to": (start + timedelta(days=28)).date().isoformat(),
                    "available_only": "true", "limit": 50},
        )
    )  # fmt: skip
    mine = [
        c
        for c in _items(
            await portal.json("GET", "/v1/consultations", params={"member_id": portal.member_id, "limit": 50})
        )
        if c["status"] == "confirmed" and c["end"] >= start.isoformat()
    ]
    coordinators: dict[str, str] = {}
    r = await portal.call("GET", "/v1/coordinators", params={"limit": 100})
    if r.status_code == 200:
        coordinators = {c["id"]: c.get("name", "") for c in r.json().get("items", [])}
    return render(
        portal, portal.request, portal.language, "consultations.html.j2", status=status, error=error,
        slots=slots, mine=mine, coordinators=coordinators,
    )  # fmt: skip


@router.post(f"{PATH}/consultations/book")
async def book_consultation(
    request: Request,
    now: Now,
    slot_id: Annotated[uuid.UUID, Form()],
    topic: Annotated[str, Form(max_length=500)] = "",  # required by the API: its 422 is shown
) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        body = {"slot_id": str(slot_id), "member_id": portal.member_id, "topic": topic.strip()}
        await portal.json("POST", "/v1/consultations", json=body)

    return await _action(
        portal, call, "consult.done", f"{PATH}/consultations",
        lambda message, status: _consultations(portal, now, error=message, status=status),
    )  # fmt: skip


@router.post(f"{PATH}/consultations/{{consultation_id}}/cancel")
async def cancel_consultation(request: Request, now: Now, consultation_id: uuid.UUID) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json("POST", f"/v1/consultations/{consultation_id}/cancel", json={})

    return await _action(
        portal, call, "consult.cancelled", f"{PATH}/consultations",
        lambda message, status: _consultations(portal, now, error=message, status=status),
    )  # fmt: skip


@router.get(f"{PATH}/settings")
async def settings_page(request: Request, lang: Lang = None) -> Response:
    portal = _portal(request, lang)
    return await _page(portal, lang, lambda: _settings(portal))


async def _settings(
    portal: Portal, *, error: str | None = None, status: int = 200, feed_url: str | None = None
) -> Response:
    member = await portal.json("GET", f"/v1/members/{portal.member_id}")
    return render(
        portal, portal.request, portal.language, "settings.html.j2", status=status, error=error,
        member=member, feed_url=feed_url,
    )  # fmt: skip


@router.post(f"{PATH}/settings/language")
async def set_language(request: Request, language: Annotated[str, Form(pattern="^(ja|en)$")]) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json("PATCH", "/v1/auth/me", json={"language": language})

    response = await _action(
        portal, call, "settings.saved", f"{PATH}/settings",
        lambda message, status: _settings(portal, error=message, status=status),
    )  # fmt: skip
    if response.status_code == 303:  # the portal follows the emails' language
        response.set_cookie(
            LANG_COOKIE,
            language,
            max_age=60 * 60 * 24 * 365,
            path=PATH,
            secure=_secure(request),
            samesite="lax",
        )
    return response


@router.post(f"{PATH}/settings/email")
async def change_email(request: Request, email: Annotated[str, Form(max_length=320)]) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json("POST", "/v1/auth/email-change", json={"email": email.strip()})

    return await _action(
        portal, call, "settings.email.sent", f"{PATH}/settings",
        lambda message, status: _settings(portal, error=message, status=status),
    )  # fmt: skip


@router.post(f"{PATH}/settings/feed")
async def make_feed(request: Request) -> Response:
    """A new calendar feed URL, shown once on the page that answers (never put in a redirect URL)."""
    portal = _portal(request, None)
    if not _same_origin(request):
        return render(
            portal,
            request,
            portal.language,
            "error.html.j2",
            status=403,
            error=i18n.text("error.cross_site", portal.language),
        )

    async def build() -> Response:
        feed = await portal.json("POST", f"/v1/feeds/members/{portal.member_id}/token")
        return await _settings(portal, feed_url=feed["url"])

    return await _page(portal, None, build)


# ---- the pages emails link to (PUBLIC_BASE_URL/portal/…) ------------------------------------------------
# Each reads the object through the API with the member's token first (403 page for another member's
# object), then redirects to the portal page that shows it.
async def _link(request: Request, path: str, target: Any) -> Response:
    portal = _portal(request, None)

    async def build() -> Response:
        obj = await portal.json("GET", path) if path else {}
        return RedirectResponse(target(obj), status_code=303)

    return await _page(portal, None, build)


@router.get(f"{PATH}/bookings/{{booking_id}}")
async def booking_link(request: Request, booking_id: uuid.UUID) -> Response:
    return await _link(
        request,
        f"/v1/bookings/{booking_id}",
        lambda b: f"{PATH}/rooms?date={fmt_date(b['start'])}#booking-{b['id']}",
    )


@router.get(f"{PATH}/events/{{program_id}}")
async def event_link(request: Request, program_id: uuid.UUID) -> Response:
    return await _link(request, f"/v1/programs/{program_id}", lambda p: f"{PATH}/events#program-{p['id']}")


@router.get(f"{PATH}/event-registrations/{{registration_id}}")
async def registration_link(request: Request, registration_id: uuid.UUID) -> Response:
    return await _link(
        request,
        f"/v1/event-registrations/{registration_id}",
        lambda r: f"{PATH}/events#program-{r['program_id']}",
    )


@router.get(f"{PATH}/consultations/{{consultation_id}}")
async def consultation_link(request: Request, consultation_id: uuid.UUID) -> Response:
    return await _link(
        request,
        f"/v1/consultations/{consultation_id}",
        lambda c: f"{PATH}/consultations#consultation-{c['id']}",
    )


@router.get(f"{PATH}/invoices/{{invoice_id}}")
async def invoice_link(request: Request, invoice_id: uuid.UUID) -> Response:
    return await _link(request, f"/v1/invoices/{invoice_id}", lambda i: f"{PATH}/invoices/{i['id']}/document")


@router.get(f"{PATH}/visits/{{visit_id}}")
async def visit_link(request: Request, visit_id: uuid.UUID) -> Response:
    return await _link(
        request, f"/v1/visits/{visit_id}", lambda v: f"{PATH}/visits?month={fmt_date(v['check_in_at'])[:7]}"
    )


@router.get(f"{PATH}/members/me")
async def member_link(request: Request) -> Response:
    return await _link(request, "", lambda _: f"{PATH}/settings")


@router.get(f"{PATH}/settings/notifications")
async def notifications_link(request: Request) -> Response:
    return await _link(request, "", lambda _: f"{PATH}/settings")


# ---- a corporate member's named users -----------------------------------------------------------------
@router.get(f"{PATH}/users")
async def users_page(request: Request, lang: Lang = None) -> Response:
    portal = _portal(request, lang)
    return await _page(portal, lang, lambda: _users(portal))


async def _users(
    portal: Portal, *, error: str | None = None, status: int = 200, card: dict[str, Any] | None = None
) -> Response:
    if not portal.corporate_admin:
        return render(
            portal, portal.request, portal.language, "error.html.j2", status=403,
            error=i18n.text("error.forbidden", portal.language),
        )  # fmt: skip
    users = _items(await portal.json("GET", f"/v1/members/{portal.member_id}/users"))
    return render(
        portal,
        portal.request,
        portal.language,
        "users.html.j2",
        status=status,
        error=error,
        users=users,
        card=card,
    )


@router.post(f"{PATH}/users/add")
async def add_user(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Adds a named user and shows their new card token once (on the answering page, not in a URL)."""
    portal = _portal(request, None)
    if not _same_origin(request):
        return render(
            portal, request, portal.language, "error.html.j2", status=403,
            error=i18n.text("error.cross_site", portal.language),
        )  # fmt: skip

    async def build() -> Response:
        body = {"name": name.strip()} | ({"email": email.strip()} if email.strip() else {})
        try:
            created = await portal.json("POST", f"/v1/members/{portal.member_id}/users", json=body)
        except ApiProblem as problem:
            if problem.status in (403, 404):
                raise
            return await _users(portal, error=problem.message(portal.language), status=problem.status)
        return await _users(portal, card={"name": created["name"], "token": created["card_token"]})

    return await _page(portal, None, build)


@router.post(f"{PATH}/users/{{user_id}}/active")
async def set_user_active(
    request: Request, user_id: uuid.UUID, active: Annotated[str, Form(pattern="^(true|false)$")]
) -> Response:
    portal = _portal(request, None)

    async def call() -> None:
        await portal.json(
            "PATCH", f"/v1/members/{portal.member_id}/users/{user_id}", json={"active": active == "true"}
        )

    return await _action(
        portal, call, "users.changed", f"{PATH}/users",
        lambda message, status: _users(portal, error=message, status=status),
    )  # fmt: skip


@router.post(f"{PATH}/users/{{user_id}}/card")
async def reissue_card(request: Request, user_id: uuid.UUID) -> Response:
    portal = _portal(request, None)
    if not _same_origin(request):
        return render(
            portal, request, portal.language, "error.html.j2", status=403,
            error=i18n.text("error.cross_site", portal.language),
        )  # fmt: skip

    async def build() -> Response:
        card = await portal.json("POST", f"/v1/members/{portal.member_id}/users/{user_id}/card-token")
        users = {
            u["id"]: u for u in _items(await portal.json("GET", f"/v1/members/{portal.member_id}/users"))
        }
        name = users.get(str(user_id), {}).get("name", "")
        return await _users(portal, card={"name": name, "token": card["card_token"]})

    return await _page(portal, None, build)
