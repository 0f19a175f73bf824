"""Interactive API docs (issue 14, finding 11): pinned local assets, a strict CSP, off in production.

- ``/docs`` references nothing outside the service (no CDN), runs no inline script and carries
  ``default-src 'none'; script-src 'self'; style-src 'self'; ...``; ``/redoc`` is gone (ReDoc
  cannot render without inline styles, see shared/docs_ui.py);
- their assets answer 200 with the right content type; nothing else is served under the asset path;
- ``API_DOCS_ENABLED`` (unset: off in production) turns the pages off, ``/openapi.json`` stays;
- in Debian's headless Chromium, ``/docs`` renders every operation with no CSP violation.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.docs_ui import DOCS_CSP
from tests.conftest import StackInfo, settings_overrides

SERVICES = ("kpi_api", "netsugen_booking", "notifier")
STRICT = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
)
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def make_app(service: str, stack: StackInfo, **settings: Any) -> FastAPI:
    overrides = settings_overrides(stack) | settings
    if service == "kpi_api":
        from services.kpi_api.main import create_app as kpi_app
        from services.kpi_api.settings import KpiSettings

        return kpi_app(KpiSettings(**overrides))
    if service == "netsugen_booking":
        from services.netsugen_booking.main import create_app as netsugen_app
        from services.netsugen_booking.settings import NetsugenSettings

        return netsugen_app(NetsugenSettings(**overrides))
    from services.notifier.main import create_app as notifier_app
    from services.notifier.settings import NotifierSettings

    return notifier_app(NotifierSettings(**overrides))


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://docs.test")


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_pages_are_local_and_carry_a_strict_csp(stack: StackInfo, service: str) -> None:
    async with client(make_app(service, stack, environment="development")) as c:
        assert (await c.get("/redoc")).status_code == 404  # no ReDoc (it needs inline styles)
        for path, script in (("/docs", "swagger-init.js"),):
            r = await c.get(path)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/html")
            csp = r.headers["content-security-policy"]
            assert csp == DOCS_CSP
            assert all(directive in csp.split("; ") for directive in STRICT), csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
            assert r.headers.get_list("content-security-policy") == [DOCS_CSP]  # one policy, not two
            page = r.text
            # Every reference is a path of this service: no scheme, no protocol-relative URL.
            refs = re.findall(r'(?:src|href|data-openapi-url)="([^"]*)"', page)
            assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
            assert "http://" not in page and "https://" not in page and "cdn" not in page.lower()
            # No inline script: every <script> has a src and no body.
            scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
            assert scripts and all('src="' in attrs and body == "" for attrs, body in scripts), scripts
            assert f"/docs/assets/{script}" in page
            assert "<style" not in page and " style=" not in page and "onload=" not in page
        openapi = await c.get("/openapi.json")
        assert openapi.status_code == 200 and openapi.json()["paths"]


async def test_assets_answer_with_their_content_type(stack: StackInfo) -> None:
    async with client(make_app("kpi_api", stack, environment="development")) as c:
        for name, media_type in ASSET_TYPES.items():
            r = await c.get(f"/docs/assets/{name}")
            assert r.status_code == 200, name
            assert r.headers["content-type"].split(";")[0] == media_type, (name, r.headers["content-type"])
            assert r.headers["x-content-type-options"] == "nosniff"
            assert len(r.content) > 200, name
        bundle = (await c.get("/docs/assets/swagger-ui-bundle.js")).text
        assert "SwaggerUIBundle" in bundle
        # Nothing but the listed files: no traversal, no directory listing.
        for wrong in ("../settings.py", "..%2Fsettings.py", "nope.js", "", "static", "redoc.standalone.js"):
            assert (await c.get(f"/docs/assets/{wrong}")).status_code == 404, wrong


@pytest.mark.parametrize(
    ("environment", "setting", "enabled"),
    [
        ("production", None, False),
        ("development", None, True),
        ("test", None, True),
        ("production", True, True),
        ("development", False, False),
    ],
)
async def test_setting_turns_the_docs_off(
    stack: StackInfo, environment: str, setting: bool | None, enabled: bool
) -> None:
    extra: dict[str, Any] = {"environment": environment, "api_docs_enabled": setting}
    if environment == "production":
        extra["bootstrap_admin_token"] = None
    async with client(make_app("netsugen_booking", stack, **extra)) as c:
        for path in ("/docs", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-init.js"):
            assert (await c.get(path)).status_code == (200 if enabled else 404), path
        assert (await c.get("/redoc")).status_code == 404
        assert (await c.get("/openapi.json")).status_code == 200


# ---- in a real browser -------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_app(stack: StackInfo) -> Iterator[tuple[str, FastAPI]]:
    """The kpi_api app on a free port under uvicorn (in a thread; the docs need no database)."""
    import uvicorn

    app = make_app("kpi_api", stack, environment="development")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_swagger_ui_renders_every_operation_with_no_csp_violation(served_app: tuple[str, FastAPI]) -> None:
    from playwright.sync_api import sync_playwright

    base_url, app = served_app
    # Swagger UI shows an operation once under each of its tags.
    operations = sum(
        max(1, len(op.get("tags", [])))
        for item in app.openapi()["paths"].values()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    )
    console: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            # Runs before the page's scripts and outside its CSP: records every violation.
            page.add_init_script(
                "window.__csp = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto(f"{base_url}/docs", wait_until="networkidle")
            assert response is not None and response.status == 200
            page.wait_for_selector(".opblock", timeout=30_000)
            rendered = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
            violations = page.evaluate("window.__csp")
        finally:
            browser.close()
    assert rendered == operations, (rendered, operations)
    assert "KPI" in title or "kpi" in title.lower(), title
    assert violations == [], violations
    assert not [
        m for m in console if "Content Security Policy" in m or m.startswith(("error", "pageerror"))
    ], console
    assert requests and all(u.startswith(base_url) or u.startswith("data:") for u in requests), requests
