"""Regression tests of the security review (issue 14), findings 1, 2, 3, 4, 12 (bootstrap token) and 13.

Each test replays the attack of its finding against the real services (in-process apps on the real
PostgreSQL and Redis, or real uvicorn processes where the server itself matters) and asserts the safe
answer. docs/security.md lists every finding with its control, its setting and its test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gunma.platform import uvicorn_argv
from shared.auth import FailureLimiter
from shared.db import create_engine
from shared.ratewindow import SharedWindow
from shared.settings import BOOTSTRAP_TOKEN_MIN_LENGTH, CommonSettings
from tests.conftest import BOOTSTRAP_TOKEN, StackInfo, TokenFactory, bearer, settings_overrides
from tests.faults.conftest import ServiceProcess, free_port
from tests.security.openapi_walk import SERVICES, build_app

ROOT = Path(__file__).resolve().parents[2]
ADMIN = bearer(BOOTSTRAP_TOKEN)
#: An operation per service that reads the bearer token (the KPI reads are public).
AUTHENTICATED = {
    "kpi_api": ("POST", "/v1/initiatives"),
    "netsugen_booking": ("GET", "/v1/members"),
    "notifier": ("GET", "/v1/deliveries"),
}


def _problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    if slug is not None:
        assert body["type"] == f"urn:gunma-sdgs:problem:{slug}", body
    return body


def _fresh_ip(first: int = 198) -> str:
    """An address no other test (or earlier run within the counters' minute) has used."""
    n = uuid.uuid4().int
    return f"{first}.{18 + n % 2}.{n // 2 % 250}.{n // 500 % 250 + 1}"


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


@pytest.fixture
async def running(stack: StackInfo, clean_db: None) -> AsyncIterator[Any]:
    """Starts extra app instances (``await running(service, **settings)``): a second replica, or a
    service with other settings. Their lifespans end with the test."""
    started: list[Any] = []

    async def start(service: str, **settings: Any) -> FastAPI:
        app = build_app(
            service, **{**settings_overrides(stack), "db_pool_size": 2, "db_max_overflow": 2, **settings}
        )
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        started.append(ctx)
        return app

    yield start
    for ctx in reversed(started):
        await ctx.__aexit__(None, None, None)


@pytest.fixture
def apps(
    clean_db: None, kpi_app: FastAPI, netsugen_app: FastAPI, notifier_app: FastAPI
) -> dict[str, FastAPI]:
    return {"kpi_api": kpi_app, "netsugen_booking": netsugen_app, "notifier": notifier_app}


def _auth_failures(service: str) -> float:
    return REGISTRY.get_sample_value("auth_failures_total", {"service": service}) or 0.0


# ---- finding 1: the failed-authentication limiter ----------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
async def test_1_valid_tokens_pass_while_their_address_is_over_the_failure_limit(
    apps: dict[str, FastAPI], make_token: TokenFactory, service: str
) -> None:
    """The attack: 30 bad tokens from an address shared with others (a NAT, a proxy, a pod's address)
    locked every valid token from that address out, the notifier's service calls included."""
    app = apps[service]
    method, url = AUTHENTICATED[service]
    shared_ip = _fresh_ip()
    staff, service_token = await make_token("staff"), await make_token("service")
    async with _from(app, shared_ip) as client:
        for i in range(app.state.auth_limiter.limit):
            _problem(
                await client.request(method, url, headers=bearer(f"gsk_bad-{i}-{shared_ip}")),
                401,
                "unauthorized",
            )
        r = await client.request(method, url, headers=bearer(f"gsk_bad-last-{shared_ip}"))
        _problem(r, 429, "rate-limited")
        assert int(r.headers["retry-after"]) >= 1
        # Valid credentials from the very same address are answered, again and again.
        for _ in range(3):
            assert (await client.request(method, url, headers=ADMIN)).status_code in (200, 422)
        if service != "kpi_api":  # the KPI write needs admin; the reads a service makes are elsewhere
            assert (await client.request(method, url, headers=bearer(staff))).status_code == 200
        assert (await client.request(method, url, headers=bearer(service_token))).status_code in (
            200,
            403,
            422,
        )


async def test_1_service_calls_are_never_limited_as_failures(
    netsugen_app: FastAPI, clean_db: None, make_token: TokenFactory
) -> None:
    """The notifier's contact lookups (service token) from an address other clients fail from."""
    service_token = await make_token("service")
    pod_ip = _fresh_ip()
    async with _from(netsugen_app, pod_ip) as pod:
        for i in range(netsugen_app.state.auth_limiter.limit + 5):
            assert (await pod.get("/v1/members", headers=bearer(f"gsk_guess-{i}-{pod_ip}"))).status_code in (
                401,
                429,
            )
        assert (await pod.get("/v1/members", headers=bearer(f"gsk_guess-x-{pod_ip}"))).status_code == 429
        r = await pod.get(f"/v1/members/{uuid.uuid4()}/contact", headers=bearer(service_token))
        assert r.status_code == 404, r.text  # answered (an unknown member), not 429


async def test_1_failures_are_limited_per_credential_across_addresses(
    kpi_app: FastAPI, clean_db: None
) -> None:
    """Rotating the client address (or X-Forwarded-For) does not give one guessed credential more tries."""
    guess = f"gsk_same-guess-{uuid.uuid4().hex}"
    limit = kpi_app.state.auth_limiter.limit
    for _ in range(limit):
        async with _from(kpi_app, _fresh_ip()) as client:
            _problem(await client.post("/v1/initiatives", json={}, headers=bearer(guess)), 401)
    async with _from(kpi_app, _fresh_ip()) as client:
        _problem(await client.post("/v1/initiatives", json={}, headers=bearer(guess)), 429, "rate-limited")


async def test_1_forwarded_for_is_ignored_without_trusted_proxies(kpi_app: FastAPI, clean_db: None) -> None:
    """Default (no TRUSTED_PROXIES): a client rotating X-Forwarded-For is still one client."""
    attacker = _fresh_ip()
    async with _from(kpi_app, attacker) as client:
        for i in range(kpi_app.state.auth_limiter.limit):
            r = await client.post(
                "/v1/initiatives",
                json={},
                headers={**bearer(f"gsk_rot-{i}-{attacker}"), "X-Forwarded-For": _fresh_ip(203)},
            )
            _problem(r, 401)
        r = await client.post(
            "/v1/initiatives",
            json={},
            headers={**bearer(f"gsk_rot-x-{attacker}"), "X-Forwarded-For": _fresh_ip(203)},
        )
        _problem(r, 429, "rate-limited")


async def test_1_forwarded_for_from_trusted_proxies_counts_the_right_most_untrusted_hop(running: Any) -> None:
    app: FastAPI = await running("kpi_api", trusted_proxies=["10.0.0.0/8", "fd00::/8"])
    proxy = "10.1.2.3"
    attacker, victim = _fresh_ip(), _fresh_ip()
    async with _from(app, proxy) as via_proxy:
        for i in range(app.state.auth_limiter.limit):
            # The client writes whatever it likes on the left (a victim's address, a new one each
            # time); the proxy chain appends the address it really saw, then its own hops.
            xff = f"{_fresh_ip(203)}, {victim}, {attacker}, 10.9.9.9"
            r = await via_proxy.post(
                "/v1/initiatives",
                json={},
                headers={**bearer(f"gsk_px-{i}-{attacker}"), "X-Forwarded-For": xff},
            )
            _problem(r, 401)
        r = await via_proxy.post(
            "/v1/initiatives",
            json={},
            headers={**bearer(f"gsk_px-last-{attacker}"), "X-Forwarded-For": f"{victim}, {attacker}"},
        )
        _problem(r, 429, "rate-limited")
        # The victim named on the left by the attacker is not locked out.
        r = await via_proxy.post(
            "/v1/initiatives",
            json={},
            headers={**bearer(f"gsk_victim-typo-{victim}"), "X-Forwarded-For": victim},
        )
        _problem(r, 401)
    # A client that is not a trusted proxy cannot choose its address with the header at all.
    async with _from(app, attacker) as direct:
        r = await direct.post(
            "/v1/initiatives",
            json={},
            headers={**bearer(f"gsk_direct-{attacker}"), "X-Forwarded-For": _fresh_ip(203)},
        )
        _problem(r, 429, "rate-limited")


async def test_1_failure_counters_are_shared_by_replicas(kpi_app: FastAPI, running: Any) -> None:
    """Two processes of one service share the window: 2 replicas do not allow 2 × the limit."""
    replica_b: FastAPI = await running("kpi_api")
    limit = kpi_app.state.auth_limiter.limit
    attacker = _fresh_ip()
    async with _from(kpi_app, attacker) as a, _from(replica_b, attacker) as b:
        for i in range(limit):
            r = await (a if i % 2 else b).post(
                "/v1/initiatives", json={}, headers=bearer(f"gsk_rep-{i}-{attacker}")
            )
            _problem(r, 401)
        _problem(await a.post("/v1/initiatives", json={}, headers=bearer(f"gsk_rep-a-{attacker}")), 429)
        _problem(await b.post("/v1/initiatives", json={}, headers=bearer(f"gsk_rep-b-{attacker}")), 429)


async def test_1_check_in_limit_is_shared_by_replicas(running: Any, make_token: TokenFactory) -> None:
    limit = 6
    a: FastAPI = await running("netsugen_booking", checkin_rate_limit_per_minute=limit)
    b: FastAPI = await running("netsugen_booking", checkin_rate_limit_per_minute=limit)
    kiosk = bearer(await make_token("staff", name="kiosk"))
    async with _from(a, "127.0.0.1") as ca, _from(b, "127.0.0.1") as cb:
        for i in range(limit):
            r = await (ca if i % 2 else cb).post(
                "/v1/visits", json={"member_number": "M999999"}, headers=kiosk
            )
            assert r.status_code != 429, r.text
        _problem(
            await ca.post("/v1/visits", json={"member_number": "M999999"}, headers=kiosk), 429, "rate-limited"
        )
        _problem(
            await cb.post("/v1/visits", json={"member_number": "M999999"}, headers=kiosk), 429, "rate-limited"
        )


async def test_1_while_redis_is_down_failures_are_limited_per_process() -> None:
    """Redis unreachable (nothing listens on the port): each process keeps counting on its own."""
    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    limiter = FailureLimiter(3, service="probe")
    try:
        waits = [await limiter.record_failure(dead, "digest-1", "192.0.2.1") for _ in range(4)]
        assert waits[:3] == [None, None, None]
        assert waits[3] is not None and 0 < waits[3] <= 60
        # Another address and another credential are counted apart.
        assert await limiter.record_failure(dead, "digest-2", "192.0.2.2") is None
    finally:
        await dead.aclose()


async def test_1_shared_window_counts_in_redis(redis_client: aioredis.Redis) -> None:
    window = SharedWindow("probe", f"unit-{uuid.uuid4().hex}", 2, window_s=60)
    assert await window.hit(redis_client, "k") is None
    assert await window.hit(redis_client, "k") is None
    wait = await window.hit(redis_client, "k")
    assert wait is not None and 58 < wait <= 60
    assert await redis_client.zcard(window.redis_key("k")) == 2  # the refused hit is not recorded
    assert 0 < await redis_client.pttl(window.redis_key("k")) <= 60_000
    assert await window.hit(redis_client, "other") is None


@pytest.mark.parametrize("service", SERVICES)
async def test_1_auth_failures_metric_is_labelled_with_the_service(
    apps: dict[str, FastAPI], service: str
) -> None:
    app = apps[service]
    method, url = AUTHENTICATED[service]
    before = _auth_failures(service)
    async with _from(app, _fresh_ip()) as client:
        _problem(await client.request(method, url, headers=bearer(f"gsk_metric-{uuid.uuid4().hex}")), 401)
    assert _auth_failures(service) == before + 1


# ---- finding 2: non-ASCII bytes in a bearer token ------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [b"gsk_\xc3\xa9t\xc3\xa9", b"\xff\xfe", b"test-bootstrap-admin-token-\xe2\x82\xac"],
    ids=["utf8", "latin1", "near-bootstrap"],
)
@pytest.mark.parametrize("service", SERVICES)
async def test_2_non_ascii_bearer_token_is_401_with_bootstrap_set(
    apps: dict[str, FastAPI], service: str, raw: bytes
) -> None:
    app = apps[service]
    assert app.state.settings.bootstrap_admin_token is not None
    method, url = AUTHENTICATED[service]
    before = _auth_failures(service)
    async with _from(app, _fresh_ip()) as client:
        r = await client.request(method, url, headers=[(b"authorization", b"Bearer " + raw)])
    _problem(r, 401, "unauthorized")
    assert _auth_failures(service) == before + 1  # counted as a failure


@pytest.mark.parametrize("service", SERVICES)
async def test_2_non_ascii_bearer_token_is_401_without_bootstrap(running: Any, service: str) -> None:
    app: FastAPI = await running(service, bootstrap_admin_token=None)
    method, url = AUTHENTICATED[service]
    async with _from(app, _fresh_ip()) as client:
        r = await client.request(method, url, headers=[(b"authorization", b"Bearer gsk_\xc3\xa9")])
    _problem(r, 401, "unauthorized")


# ---- finding 3: the NUL / invalid-text guard and media-type casing ----------------------------------
EDGE = {
    "kpi_api": ("POST", "/v1/initiatives"),
    "netsugen_booking": ("POST", "/v1/billing/quote"),
    "notifier": ("POST", "/v1/webhook-endpoints"),
}
JSON_TYPES = [
    "application/JSON",
    "Application/Json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON;charset=UTF-8",
    "application/vnd.gunma+json",
    "application/problem+JSON",
    None,  # no Content-Type at all: the framework parses the body as JSON
]


@pytest.mark.parametrize("content_type", JSON_TYPES, ids=lambda t: str(t))
@pytest.mark.parametrize("service", SERVICES)
async def test_3_nul_in_json_body_is_422_whatever_the_media_type_spelling(
    clients: dict[str, httpx.AsyncClient], service: str, content_type: str | None
) -> None:
    method, path = EDGE[service]
    headers = {**ADMIN}
    if content_type is not None:
        headers["content-type"] = content_type
    for body in (
        b'{"name": "a\\u0000b", "title": "a\\u0000b", "url": "https://a\\u0000b.example.jp"}',
        b'{"name": "a\x00b"}',
        b'{"name": "\\ud800"}',
    ):
        r = await clients[service].request(method, path, content=body, headers=headers)
        _problem(r, 422, "invalid-text")


async def test_3_other_media_types_are_not_parsed_as_json(kpi_client: httpx.AsyncClient) -> None:
    """text/csv goes to the CSV import, which checks its own text (still never a 500)."""
    r = await kpi_client.post(
        "/v1/imports/observations",
        content=b"indicator_id,fiscal_year,value\n\x00,1,1\n",
        headers={**ADMIN, "content-type": "Text/CSV"},
    )
    assert 400 <= r.status_code < 500, r.text


# ---- finding 4: SQL parameters never reach an error's text -------------------------------------------
async def test_4_database_errors_do_not_carry_their_parameters(stack: StackInfo) -> None:
    engine = create_engine(stack.database_url, pool_size=1, max_overflow=0, application_name="tests-hide")
    secret_name, secret_email = "渋川 秘密", "himitsu.shibukawa@example.jp"
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as caught:
                # A division by zero whose statement carries personal data as bound values.
                await conn.execute(
                    text("SELECT :name || :email || (1 / 0)::text"),
                    {"name": secret_name, "email": secret_email},
                )
    finally:
        await engine.dispose()
    rendered = str(caught.value)
    assert "division by zero" in rendered  # the error itself is reported...
    assert secret_name not in rendered and secret_email not in rendered  # ...its values are not
    assert "hidden" in rendered


async def test_4_unexpected_database_error_is_a_500_without_the_values(
    netsugen_client: httpx.AsyncClient, engine: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """An induced failure (a trigger raising on one address) while registering a member: the request
    fails with a plain 500 problem and nothing of the member's data is in it."""
    name, email = "誘発 太郎", f"induced.{uuid.uuid4().hex[:8]}@induced-error.example.jp"
    async with engine.begin() as conn:
        await conn.execute(text(INDUCE_FUNCTION))
        await conn.execute(text(INDUCE_TRIGGER))
    try:
        r = await netsugen_client.post(
            "/v1/members",
            json={
                "kind": "individual",
                "name": name,
                "email": email,
                "language": "ja",
                "plan": "dropin",
                "plan_start": "2026-01-01",
            },
            headers=ADMIN,
        )
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER IF EXISTS induced_failure ON netsugen.member"))
            await conn.execute(text("DROP FUNCTION IF EXISTS public.induced_failure()"))
    body = _problem(r, 500, "internal-error")
    assert name not in r.text and email not in r.text
    out, err = capfd.readouterr()
    logged = out + err
    # The failure is logged with its traceback and its SQL (the log scan sees the real thing)...
    assert (
        "induced failure for the personal-data log scan" in logged and "INSERT INTO netsugen.member" in logged
    )
    assert "SQL parameters hidden" in logged
    # ...and none of the values (JSON logs escape non-ASCII: check both forms).
    escaped_name = name.encode("ascii", "backslashreplace").decode()
    assert email not in logged and name not in logged and escaped_name not in logged
    assert body["request_id"]


#: Used by test_4_* here and by the whole-system log scan (tests/privacy/test_logs_have_no_pii.py).
INDUCE_FUNCTION = """
CREATE OR REPLACE FUNCTION public.induced_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.email LIKE '%@induced-error.example.jp' THEN
    RAISE EXCEPTION 'induced failure for the personal-data log scan';
  END IF;
  RETURN NEW;
END $$
"""
INDUCE_TRIGGER = """
CREATE OR REPLACE TRIGGER induced_failure BEFORE INSERT ON netsugen.member
FOR EACH ROW EXECUTE FUNCTION public.induced_failure()
"""


# ---- finding 12: the bootstrap admin token -----------------------------------------------------------
def test_12_short_bootstrap_token_is_refused() -> None:
    with pytest.raises(ValidationError, match=f"at least {BOOTSTRAP_TOKEN_MIN_LENGTH} characters"):
        CommonSettings(
            environment="development", bootstrap_admin_token="x" * (BOOTSTRAP_TOKEN_MIN_LENGTH - 1)
        )
    ok = CommonSettings(environment="development", bootstrap_admin_token="x" * BOOTSTRAP_TOKEN_MIN_LENGTH)
    assert ok.bootstrap_admin_token is not None
    assert CommonSettings(environment="development", bootstrap_admin_token="").bootstrap_admin_token is None
    with pytest.raises(ValidationError, match="printable ASCII"):
        CommonSettings(environment="development", bootstrap_admin_token="é" * 40)


def test_12_bootstrap_token_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="refused when ENVIRONMENT=production"):
        CommonSettings(environment="production", bootstrap_admin_token="p" * 48)
    assert CommonSettings(environment="production").bootstrap_admin_token is None


def test_12_test_suite_bootstrap_token_is_long_enough() -> None:
    assert len(BOOTSTRAP_TOKEN) >= BOOTSTRAP_TOKEN_MIN_LENGTH


@pytest.mark.parametrize(
    ("environment", "token", "message"),
    [
        ("production", "p" * 48, "BOOTSTRAP_ADMIN_TOKEN is refused when ENVIRONMENT=production"),
        ("development", "short-token", "BOOTSTRAP_ADMIN_TOKEN must be at least 32 characters"),
    ],
)
def test_12_service_refuses_to_start(
    stack: StackInfo, tmp_path: Path, environment: str, token: str, message: str
) -> None:
    """The real process (uvicorn, as `make run` and the containers start it) exits with the reason."""
    env = {
        **os.environ,
        "ENVIRONMENT": environment,
        "BOOTSTRAP_ADMIN_TOKEN": token,
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "PYTHONPATH": str(ROOT),
    }
    argv = uvicorn_argv("kpi_api", free_port(), "127.0.0.1")
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=120)
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode != 0
    assert message in output, output[-2000:]
    assert token not in output  # the reason, never the secret


# ---- finding 13: Host reflection and header size ------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
async def test_13_trailing_slash_redirect_is_relative(
    clients: dict[str, httpx.AsyncClient], service: str
) -> None:
    path = {"kpi_api": "/v1/kpis/", "netsugen_booking": "/v1/plans/", "notifier": "/v1/event-types/"}[service]
    r = await clients[service].get(path + "?limit=1", headers={"Host": "evil.example"})
    assert r.status_code in (307, 308), r.text
    location = r.headers["location"]
    assert location == path.rstrip("/") + "?limit=1", location
    assert "evil" not in location


@pytest.mark.parametrize("host", ["evil.example/x?", "evil.example@a", "a b", "evil.example#x", "[::1"])
async def test_13_malformed_host_is_400(kpi_client: httpx.AsyncClient, host: str) -> None:
    r = await kpi_client.get("/v1/kpis/", headers={"Host": host})
    _problem(r, 400, "invalid-host")


@pytest.mark.parametrize("service", SERVICES)
async def test_13_oversized_headers_are_431(clients: dict[str, httpx.AsyncClient], service: str) -> None:
    r = await clients[service].get("/healthz", headers={"X-Padding": "a" * 20_000})
    _problem(r, 431, "request-header-fields-too-large")
    r = await clients[service].get("/healthz", headers={f"X-Pad-{i}": "a" * 1000 for i in range(20)})
    _problem(r, 431, "request-header-fields-too-large")
    assert (await clients[service].get("/healthz", headers={"X-Padding": "a" * 4000})).status_code == 200


# ---- the real server: uvicorn as `make run` and the containers start it --------------------------------
@pytest.fixture(scope="module")
def kpi_server(stack: StackInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "BOOTSTRAP_ADMIN_TOKEN": BOOTSTRAP_TOKEN,
        "LOG_JSON": "true",
        "PYTHONPATH": str(ROOT),
        "OUTBOX_RELAY_ENABLED": "false",
    }
    for key in ("TRUSTED_PROXIES", "SERVICE_TOKEN"):
        env.pop(key, None)
    log_dir = tmp_path_factory.mktemp("uvicorn")
    process = ServiceProcess(
        "kpi_api", uvicorn_argv("kpi_api", free_port(), "127.0.0.1"), env, log_dir / "kpi_api.log"
    ).start()
    yield process
    process.stop()


def _raw_request(port: int, request: bytes, timeout: float = 30) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(rest) >= length:
                    break
        return b"".join(chunks)


def test_13_real_server_redirect_does_not_reflect_host(kpi_server: ServiceProcess) -> None:
    response = _raw_request(
        kpi_server.port, b"GET /v1/kpis/?limit=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    )
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 307"), head
    locations = [line for line in head.split("\r\n") if line.lower().startswith("location:")]
    assert locations == ["location: /v1/kpis?limit=1"], head


def test_13_real_server_refuses_a_2_mb_header(kpi_server: ServiceProcess) -> None:
    big = b"a" * (2 * 1024 * 1024)
    response = _raw_request(
        kpi_server.port,
        b"GET /healthz HTTP/1.1\r\nHost: kpi\r\nX-Big: " + big + b"\r\nConnection: close\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 431"), response[:300]
    assert b"request-header-fields-too-large" in response
    # The server is still serving.
    assert httpx.get(f"{kpi_server.url}/healthz", timeout=5).status_code == 200


def test_1_real_server_ignores_forwarded_for_from_local_clients(kpi_server: ServiceProcess) -> None:
    """uvicorn's own proxy-header handling (it trusts 127.0.0.1 by default) is off: rotating
    X-Forwarded-For from one address does not escape the per-address limit."""
    statuses = []
    with httpx.Client(base_url=kpi_server.url, timeout=10) as client:
        for _ in range(35):
            r = client.post(
                "/v1/initiatives",
                json={},
                headers={**bearer(f"gsk_real-{uuid.uuid4().hex}"), "X-Forwarded-For": _fresh_ip(203)},
            )
            statuses.append(r.status_code)
        assert 429 in statuses, statuses
        first = statuses.index(429)
        assert set(statuses[:first]) == {401} and set(statuses[first:]) == {429}
        # A valid token from this very address is answered (the KPI write: 422, an empty body).
        assert client.post("/v1/initiatives", json={}, headers=ADMIN).status_code == 422


async def test_1_redis_outage_fails_open_for_valid_tokens(running: Any) -> None:
    """A service whose Redis is gone: valid tokens are answered, failures still get 401 then 429
    (counted in the process)."""
    app: FastAPI = await running("kpi_api", auth_failure_limit_per_minute=3)
    await app.state.redis.aclose()
    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    app.state.redis = dead
    try:
        async with _from(app, _fresh_ip()) as client:
            statuses = [
                (await client.post("/v1/initiatives", json={}, headers=bearer(f"gsk_o-{i}"))).status_code
                for i in range(4)
            ]
            assert statuses == [401, 401, 401, 429]
            assert (await client.post("/v1/initiatives", json={}, headers=ADMIN)).status_code == 422
    finally:
        await dead.aclose()
        app.state.redis = aioredis.from_url(app.state.settings.redis_url)  # for the lifespan's close


def test_1_settings_refuse_a_bad_trusted_proxy() -> None:
    with pytest.raises(ValidationError, match="not an IP address or CIDR"):
        CommonSettings(trusted_proxies=["10.0.0.0/8", "*"])
