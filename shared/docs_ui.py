"""Interactive API docs (``/docs``, Swagger UI) without a CDN, under a strict CSP.

FastAPI's own pages load Swagger UI and ReDoc from a CDN at floating versions, without integrity,
and run an inline script. Here every asset is a file of the service itself:

- Swagger UI (``swagger-ui-bundle.js``, ``swagger-ui.css``) comes from the pinned ``fastapi-offline``
  package (pyproject.toml and requirements/*.lock pin the version, so the assets change only with a
  reviewed lock change); only its static files are used, not its code;
- the initialiser is a static file of ours (``shared/docs_static/swagger-init.js``), so no inline
  script is needed.

There is no ``/redoc``: the same package ships ReDoc, but ReDoc injects ``<style>`` elements at run
time (styled-components) and renders nothing under ``style-src 'self'`` (checked in Chromium), and
relaxing the policy to ``'unsafe-inline'`` is what this module exists to avoid. Swagger UI shows the
same OpenAPI document.

The pages carry ``Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';
img-src 'self' data:; connect-src 'self'; ...``: nothing from another origin, no inline script.
The setting ``API_DOCS_ENABLED`` turns the page off (unset: off in production, on elsewhere);
``/openapi.json`` is served either way.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from shared.errors import NotFound

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
ASSETS_PATH = "/docs/assets"
_PACKAGE_STATIC = Path(str(files("fastapi_offline"))) / "static"
_OWN_STATIC = Path(__file__).resolve().parent / "docs_static"
#: The only files served under ASSETS_PATH: name → (file, media type).
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_PACKAGE_STATIC / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": (_PACKAGE_STATIC / "swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": (_PACKAGE_STATIC / "favicon.png", "image/png"),
    "swagger-init.js": (_OWN_STATIC / "swagger-init.js", "text/javascript; charset=utf-8"),
}
_HEADERS = {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}


def _page(title: str, root: str, body: str, scripts: list[str], styles: list[str]) -> str:
    links = "".join(f'<link rel="stylesheet" href="{root}{ASSETS_PATH}/{s}">' for s in styles)
    tags = "".join(f'<script src="{root}{ASSETS_PATH}/{s}"></script>' for s in scripts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" type="image/png" href="{root}{ASSETS_PATH}/favicon.png">{links}</head>'
        f"<body>{body}{tags}</body></html>"
    )


def install_docs(app: FastAPI, *, enabled: bool) -> None:
    """Add ``/docs`` and its assets to ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    if not enabled:
        return
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""), quote=True)
        body = f'<div id="swagger-ui" data-openapi-url="{root}{openapi_url}"></div>'
        page = _page(
            f"{app.title} - Swagger UI",
            root,
            body,
            ["swagger-ui-bundle.js", "swagger-init.js"],
            ["swagger-ui.css"],
        )
        return HTMLResponse(page, headers=_HEADERS)

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        found = ASSETS.get(name)
        if found is None:
            raise NotFound(f"No documentation asset {name!r}.", detail_ja="指定されたファイルはありません。")
        path, media_type = found
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
