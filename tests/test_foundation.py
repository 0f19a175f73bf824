"""The common library: problem+json errors, health, request ids, body limits and token roles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from shared.app import create_service_app
from shared.auth import AdminPrincipal, CurrentPrincipal, ServiceOrAdmin, StaffPrincipal, require_role
from shared.errors import NotFound
from shared.settings import CommonSettings
from tests.conftest import BOOTSTRAP_TOKEN, StackInfo, bearer, settings_overrides

router = APIRouter()


class Body(BaseModel):
    name: str = Field(max_length=10)
    count: int


@router.post("/echo")
async def echo(body: Body) -> dict[str, object]:
    return {"name": body.name, "count": body.count}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internal detail /etc/passwd")


class _DeadlockDetected(Exception):
    sqlstate = "40P01"  # what asyncpg's DeadlockDetectedError carries


@router.get("/deadlock")
async def deadlock() -> None:
    raise RuntimeError("wrapped") from _DeadlockDetected()


@router.get("/missing")
async def missing() -> None:
    raise NotFound("No widget 42.", detail_ja="ウィジェット42はありません。")


@router.get("/whoami")
async def whoami(p: CurrentPrincipal) -> dict[str, object]:
    return {"role": p.role, "subject": p.subject}


@router.get("/admin-only")
async def admin_only(p: AdminPrincipal) -> dict[str, str]:
    return {"ok": p.role}


@router.get("/staff-only")
async def staff_only(p: StaffPrincipal) -> dict[str, str]:
    return {"ok": p.role}


@router.get("/service-only")
async def service_only(p: ServiceOrAdmin) -> dict[str, str]:
    return {"ok": p.role}


member_dep = require_role("member")


@pytest.fixture(scope="module")
async def probe_app(stack: StackInfo) -> AsyncIterator[FastAPI]:
    settings = CommonSettings(**{**settings_overrides(stack), "max_body_bytes": 2048})
    app = create_service_app(
        service="probe", title="probe", description="", version="0", settings=settings, routers=[router]
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(clean_db: None, probe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as c:
        yield c


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:gunma-sdgs:problem:{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestProblemDetails:
    async def test_unknown_route_is_404_problem(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get("/nope"), 404, "not-found")
        assert body["instance"] == "/nope"

    async def test_wrong_method_is_405_problem(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.delete("/echo"), 405, "method-not-allowed")

    async def test_validation_error_is_422_with_field_errors(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.post("/echo", json={"name": "x" * 11}), 422, "validation-error")
        locs = sorted(".".join(e["loc"]) for e in body["errors"])  # type: ignore[union-attr]
        assert locs == ["body.count", "body.name"]

    async def test_malformed_json_is_422(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/echo", content=b"{not json", headers={"content-type": "application/json"})
        assert_problem(r, 422, "validation-error")

    async def test_unexpected_error_is_500_without_stack_trace(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get("/boom"), 500, "internal-error")
        assert "passwd" not in str(body) and "Traceback" not in str(body)

    async def test_deadlock_is_a_retryable_409_not_a_500(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/deadlock")
        assert_problem(r, 409, "concurrent-update")
        assert r.headers["retry-after"] == "1"

    async def test_domain_error_follows_accept_language(self, client: httpx.AsyncClient) -> None:
        ja = assert_problem(await client.get("/missing"), 404, "not-found")
        en = assert_problem(await client.get("/missing", headers={"accept-language": "en"}), 404, "not-found")
        assert ja["detail"] == "ウィジェット42はありません。"
        assert en["detail"] == "No widget 42."

    async def test_oversized_body_is_413_problem(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/echo", content=b"x" * 5000, headers={"content-type": "application/json"})
        assert_problem(r, 413, "payload-too-large")

    @pytest.mark.parametrize(
        "raw",
        [
            b'{"name": "a\\u0000b", "count": 1}',  # JSON escape of NUL
            b'{"name": "a\x00b", "count": 1}',  # raw NUL byte
            b'{"name": "\xff\xfe", "count": 1}',  # invalid UTF-8
            b'{"name": "\\ud800", "count": 1}',  # lone high surrogate
            b'{"name": "x\\udc00", "count": 1}',  # lone low surrogate
        ],
    )
    async def test_nul_and_invalid_unicode_are_422(self, client: httpx.AsyncClient, raw: bytes) -> None:
        r = await client.post("/echo", content=raw, headers={"content-type": "application/json"})
        assert_problem(r, 422, "invalid-text")

    async def test_valid_surrogate_pair_is_accepted(self, client: httpx.AsyncClient) -> None:
        raw = b'{"name": "\\ud83d\\ude00", "count": 1}'
        r = await client.post("/echo", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 200
        assert r.json() == {"name": "\U0001f600", "count": 1}

    async def test_nul_in_query_is_422(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/healthz?q=a%00b"), 422, "invalid-text")
        assert_problem(await client.get("/healthz?q=%ff"), 422, "invalid-text")

    async def test_openapi_documents_problem_responses(self, probe_app: FastAPI) -> None:
        schema = probe_app.openapi()
        assert "ProblemDetail" in schema["components"]["schemas"]
        responses = schema["paths"]["/echo"]["post"]["responses"]
        assert {"422", "500", "503"} <= set(responses)
        assert "application/problem+json" in responses["422"]["content"]


class TestOperations:
    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}

    async def test_readyz_checks_postgres_and_redis(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}

    async def test_request_id_is_propagated(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        bad = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
        assert bad.headers["x-request-id"] != "bad id with spaces" and len(bad.headers["x-request-id"]) == 32

    async def test_security_headers(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/healthz")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"

    async def test_metrics_in_prometheus_format(self, client: httpx.AsyncClient) -> None:
        await client.get("/healthz")
        r = await client.get("/metrics")
        assert r.status_code == 200
        assert 'http_requests_total{method="GET",route="/healthz",service="probe",status="200"}' in r.text


class TestTokenRoles:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/whoami")
        assert_problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"

    async def test_unknown_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/whoami", headers=bearer("gsk_nope")), 401, "unauthorized")

    @pytest.mark.parametrize(
        ("role", "admin", "staff", "service"),
        [
            ("admin", 200, 200, 200),
            ("staff", 403, 200, 403),
            ("member", 403, 403, 403),
            ("service", 403, 403, 200),
        ],
    )
    async def test_roles_nest(self, client, make_token, role, admin, staff, service) -> None:
        secret = await make_token(role, subject="m-1" if role == "member" else None)
        h = bearer(secret)
        assert (await client.get("/admin-only", headers=h)).status_code == admin
        assert (await client.get("/staff-only", headers=h)).status_code == staff
        assert (await client.get("/service-only", headers=h)).status_code == service
        who = (await client.get("/whoami", headers=h)).json()
        assert who["role"] == role

    async def test_revoked_token_stops_working(self, client, db) -> None:
        from shared.auth import create_token, revoke_token

        token, secret = await create_token(db, name="t", role="staff")
        await db.commit()
        assert (await client.get("/staff-only", headers=bearer(secret))).status_code == 200
        assert await revoke_token(db, token.id) is True
        await db.commit()
        assert_problem(await client.get("/staff-only", headers=bearer(secret)), 401, "unauthorized")

    async def test_token_is_stored_hashed(self, db) -> None:
        from sqlalchemy import select

        from shared.auth import ApiToken, create_token

        _, secret = await create_token(db, name="t", role="admin")
        stored = (await db.scalars(select(ApiToken.token_hash))).all()
        assert secret not in stored and len(stored) == 1 and len(stored[0]) == 64

    async def test_bootstrap_admin_token(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/admin-only", headers=bearer(BOOTSTRAP_TOKEN))
        assert r.status_code == 200 and r.json() == {"ok": "admin"}

    async def test_member_acts_only_for_itself(self) -> None:
        from shared.auth import Principal

        member = Principal(role="member", subject="m-1", token_id=None, name="m")
        staff = Principal(role="staff", subject=None, token_id=None, name="s")
        assert member.can_act_for_member("m-1") and not member.can_act_for_member("m-2")
        assert staff.can_act_for_member("m-2")

    async def test_failed_auth_is_rate_limited(self, client: httpx.AsyncClient, probe_app: FastAPI) -> None:
        limiter = probe_app.state.auth_limiter
        redis = probe_app.state.redis
        guess = f"gsk_wrong-{uuid.uuid4().hex}"
        address_key = limiter.window.redis_key(limiter.keys("", "127.0.0.1")[1])
        await redis.delete(address_key)  # other tests of this module fail from the same address
        try:
            for _ in range(limiter.limit):
                assert (await client.get("/whoami", headers=bearer(guess))).status_code == 401
            r = await client.get("/whoami", headers=bearer(guess))
            assert_problem(r, 429, "rate-limited")
            assert int(r.headers["retry-after"]) >= 1
            # Only failures are limited: a valid token from the same client is still answered.
            assert (await client.get("/whoami", headers=bearer(BOOTSTRAP_TOKEN))).status_code == 200
        finally:
            await redis.delete(address_key)
