"""Security headers on every response, and CORS limited to the configured origins.

The headers come from the platform middleware (shared/middleware.py), outside every router, so they
must be on every answer: success, problem, 404 of an unknown route, 405, 413 and CORS preflights.
The walk covers every GET operation of every document (anonymous, so most non-public ones answer
401: the headers must be there too).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import StackInfo, settings_overrides
from tests.security.openapi_walk import SERVICES, Operation, build_app, operations, sample_path

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "cross-origin-opener-policy": "same-origin",
}
ALLOWED_ORIGIN = "https://dashboard.pref.gunma.example.jp"
OTHER_ORIGIN = "https://evil.example.com"


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.method, response.request.url, name)
    assert "permissions-policy" in response.headers
    assert response.headers.get("x-request-id")
    assert "server" not in {k.lower() for k in response.headers if response.headers[k].startswith("uvicorn")}


def _get_operations() -> list[Operation]:
    return [op for service in SERVICES for op in operations(service) if op.method == "GET"]


async def test_every_get_operation_sends_security_headers(clients: dict[str, httpx.AsyncClient]) -> None:
    seen = 0
    for op in _get_operations():
        r = await clients[op.service].get(sample_path(op))
        assert r.status_code < 500, (str(op), r.status_code, r.text[:300])
        assert_security_headers(r)
        seen += 1
    assert seen > 40


@pytest.mark.parametrize("service", SERVICES)
async def test_errors_and_edges_send_security_headers(
    clients: dict[str, httpx.AsyncClient], service: str
) -> None:
    client = clients[service]
    for r in (
        await client.get("/no/such/route"),  # 404 from the router
        await client.delete("/healthz"),  # 405
        await client.post(
            "/healthz", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
        ),  # 413
        await client.get("/healthz?q=%00"),  # 422 from the middleware
        await client.get("/v1/zz", headers={"Authorization": "Bearer gsk_wrong"}),
    ):
        assert_security_headers(r)


async def test_html_pages_get_a_content_security_policy(netsugen_client: httpx.AsyncClient) -> None:
    r = await netsugen_client.get("/frontdesk")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert_security_headers(r)


# ---- CORS --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cors_apps(stack: StackInfo) -> dict[str, FastAPI]:
    """Apps built with CORS_ORIGINS set (no lifespan needed: preflights and /healthz touch nothing)."""
    return {
        service: build_app(service, **{**settings_overrides(stack), "cors_origins": [ALLOWED_ORIGIN]})
        for service in SERVICES
    }


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
}
#: A non-public route per service (the preflight never reaches it).
CORS_PATH = {"kpi_api": "/v1/kpis", "netsugen_booking": "/v1/visits", "notifier": "/v1/deliveries"}


@pytest.mark.parametrize("service", SERVICES)
async def test_preflight_from_an_allowed_origin(cors_apps: dict[str, FastAPI], service: str) -> None:
    async with _client(cors_apps[service]) as client:
        r = await client.options(CORS_PATH[service], headers={"origin": ALLOWED_ORIGIN, **PREFLIGHT})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED_ORIGIN  # echoed, never "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers
    assert_security_headers(r)


@pytest.mark.parametrize("service", SERVICES)
async def test_preflight_from_another_origin_is_refused(cors_apps: dict[str, FastAPI], service: str) -> None:
    async with _client(cors_apps[service]) as client:
        r = await client.options(CORS_PATH[service], headers={"origin": OTHER_ORIGIN, **PREFLIGHT})
        simple = await client.get("/healthz", headers={"origin": OTHER_ORIGIN})
        allowed = await client.get("/healthz", headers={"origin": ALLOWED_ORIGIN})
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    assert_security_headers(r)
    # A simple request is answered, but the browser gets no permission to read it.
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "origin" in allowed.headers.get("vary", "").lower()


@pytest.mark.parametrize("service", SERVICES)
async def test_without_configured_origins_no_origin_is_allowed(stack: StackInfo, service: str) -> None:
    app = build_app(service, **settings_overrides(stack))  # CORS_ORIGINS unset (the default)
    async with _client(app) as client:
        pre = await client.options(CORS_PATH[service], headers={"origin": ALLOWED_ORIGIN, **PREFLIGHT})
        get = await client.get("/healthz", headers={"origin": ALLOWED_ORIGIN})
    assert "access-control-allow-origin" not in pre.headers
    assert pre.status_code in (400, 405)
    assert "access-control-allow-origin" not in get.headers
