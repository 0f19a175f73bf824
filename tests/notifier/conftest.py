"""Notifier fixtures: a real SMTP server (aiosmtpd), a real HTTP server standing in for
netsugen_booking's contact endpoints and for webhook receivers, an arq pool on the test Redis and
an in-process arq worker.

Nothing is mocked: the worker talks SMTP and HTTP over real sockets.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from arq import Worker, create_pool
from arq.connections import ArqRedis
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.netsugen_booking.db import outbox as netsugen_outbox
from services.notifier.settings import NotifierSettings
from services.notifier.worker import worker_options
from shared.app import redis_settings
from shared.db import session_scope
from shared.events import Event, EventData
from shared.outbox import NOTIFIER_JOB, NOTIFIER_QUEUE, OutboxRelay, emit
from tests.conftest import StackInfo, settings_overrides

SERVICE_TOKEN = "test-notifier-service-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        time.sleep(interval)


async def async_wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 15.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(interval)


# ---- SMTP ---------------------------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: tuple[str, int]

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None
        content: str = body.get_content()
        return content


class RecordingHandler:
    """Stores accepted messages. Scripted replies per recipient; an optional delay in DATA (the
    message is not stored when the client disconnects during it, like a real MTA)."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_delay_s = 0.0
        self.data_started = 0
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.rcpt_replies.clear()
            self.data_delay_s = 0.0
            self.data_started = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_started += 1
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), tuple(session.peer)
                )
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]


@dataclass
class SmtpServer:
    port: int
    handler: RecordingHandler

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)


@pytest.fixture(scope="session")
def smtp_session() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    try:
        yield SmtpServer(port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_session: SmtpServer) -> SmtpServer:
    smtp_session.handler.reset()
    return smtp_session


# ---- netsugen contact endpoints and webhook receivers (one real HTTP server) -------------------
@dataclass
class HookCall:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class FakeWorld:
    """What the stand-in netsugen_booking knows, and what the webhook receivers answer."""

    base_url: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    #: id → how many more lookups answer 503
    failing: dict[str, int] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    unauthorized: int = 0
    #: receiver name → scripted statuses (the last one repeats); default 204
    hook_replies: dict[str, list[int]] = field(default_factory=dict)
    hook_delay_s: dict[str, float] = field(default_factory=dict)
    calls: dict[str, list[HookCall]] = field(default_factory=dict)

    def reset(self) -> None:
        for d in (
            self.members,
            self.registrations,
            self.failing,
            self.hook_replies,
            self.hook_delay_s,
            self.calls,
        ):
            d.clear()
        self.gone.clear()
        self.lookups.clear()
        self.unauthorized = 0

    def add_member(
        self, *, name: str = "上州 太郎", language: str = "ja", email_: str | None = None
    ) -> uuid.UUID:
        member_id = uuid.uuid4()
        self.members[str(member_id)] = {
            "member_id": str(member_id),
            "name": name,
            "email": email_ or f"m-{member_id.hex[:10]}@example.jp",
            "language": language,
            "status": "active",
        }
        return member_id

    def add_registration(self, *, name: str | None = "赤城 花子", language: str = "ja") -> uuid.UUID:
        registration_id = uuid.uuid4()
        self.registrations[str(registration_id)] = {
            "member_id": None,
            "name": name,
            "email": f"guest-{registration_id.hex[:10]}@example.jp",
            "language": language,
            "status": "active",
        }
        return registration_id

    def email_of(self, member_id: uuid.UUID) -> str:
        address: str = self.members[str(member_id)]["email"]
        return address

    def hook_url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"


def _world_app(world: FakeWorld) -> Starlette:
    def problem(status: int, slug: str) -> JSONResponse:
        return JSONResponse(
            {"type": f"urn:gunma-sdgs:problem:{slug}", "title": slug, "status": status},
            status_code=status,
            media_type="application/problem+json",
        )

    async def contact(request: Request, table: dict[str, dict[str, Any]]) -> Response:
        if request.headers.get("authorization") != f"Bearer {SERVICE_TOKEN}":
            world.unauthorized += 1
            return problem(401, "unauthorized")
        ident = request.path_params["ident"]
        world.lookups.append(ident)
        if world.failing.get(ident, 0) > 0:
            world.failing[ident] -= 1
            return problem(503, "service-unavailable")
        if ident in world.gone:
            return problem(410, "member-gone")
        if ident not in table:
            return problem(404, "member-not-found")
        return JSONResponse(table[ident])

    async def member_contact(request: Request) -> Response:
        return await contact(request, world.members)

    async def registration_contact(request: Request) -> Response:
        return await contact(request, world.registrations)

    async def hook(request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        world.calls.setdefault(name, []).append(
            HookCall({k.lower(): v for k, v in request.headers.items()}, body, time.time())
        )
        delay = world.hook_delay_s.get(name, 0.0)
        if delay:
            await asyncio.sleep(delay)
        replies = world.hook_replies.get(name) or [204]
        status = replies.pop(0) if len(replies) > 1 else replies[0]
        if 300 <= status < 400:
            return Response(status_code=status, headers={"location": world.hook_url("redirect-target")})
        return Response(status_code=status)

    return Starlette(
        routes=[
            Route("/v1/members/{ident}/contact", member_contact),
            Route("/v1/event-registrations/{ident}/contact", registration_contact),
            Route("/hooks/{name}", hook, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="session")
def world_session() -> Iterator[FakeWorld]:
    port = free_port()
    world = FakeWorld(base_url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(
        _world_app(world), host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-netsugen", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10)
    try:
        yield world
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def world(world_session: FakeWorld) -> FakeWorld:
    world_session.reset()
    return world_session


# ---- the notifier API: local receivers opt in -----------------------------------------------------
async def _running_notifier(settings: NotifierSettings) -> AsyncIterator[FastAPI]:
    from services.notifier.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def notifier_app(stack: StackInfo) -> AsyncIterator[FastAPI]:
    """Overrides the root fixture for the notifier tests: their webhook receivers listen on
    127.0.0.1, so this API opts in to private destinations (``WEBHOOK_ALLOW_PRIVATE_DESTINATIONS``,
    development and tests only). The refusal tests use :func:`strict_notifier_client`."""
    settings = NotifierSettings(**settings_overrides(stack), webhook_allow_private_destinations=True)
    async for app in _running_notifier(settings):
        yield app


@pytest.fixture(scope="session")
async def strict_notifier_app(stack: StackInfo) -> AsyncIterator[FastAPI]:
    """The notifier API with the shipped default: private destinations refused."""
    async for app in _running_notifier(NotifierSettings(**settings_overrides(stack))):
        yield app


@pytest.fixture
async def strict_notifier_client(
    clean_db: None, strict_notifier_app: FastAPI
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=strict_notifier_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
        yield client


# ---- settings, queue, worker -------------------------------------------------------------------
SettingsFactory = Callable[..., NotifierSettings]


@pytest.fixture
def make_settings(stack: StackInfo, smtp: SmtpServer, world: FakeWorld) -> SettingsFactory:
    """Test settings: the test's SMTP and HTTP servers, fast retries, no quiet hours (tests must not
    depend on the time of day; the quiet-hours tests set their own window)."""

    def factory(**overrides: Any) -> NotifierSettings:
        values: dict[str, Any] = {
            **settings_overrides(stack),
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "netsugen_url": world.base_url,
            "service_token": SERVICE_TOKEN,
            "retry_schedule_s": [0.05, 0.1, 0.2],
            "retry_jitter": 0.1,
            "max_attempts": 3,
            "quiet_hours_enabled": False,
            "webhook_timeout_s": 2.0,
            "contact_timeout_s": 2.0,
            "log_json": True,
            # The receivers listen on 127.0.0.1: opt in (the SSRF tests pass False).
            "webhook_allow_private_destinations": True,
        }
        values.update(overrides)
        return NotifierSettings(**values)

    return factory


@pytest.fixture
async def arq_pool(stack: StackInfo, redis_client: Any) -> AsyncIterator[ArqRedis]:
    await redis_client.flushdb()
    pool = await create_pool(redis_settings(stack.redis_url))
    try:
        yield pool
    finally:
        await pool.flushdb()
        await pool.aclose()


WorkerRunner = Callable[..., Awaitable[Worker]]


@pytest.fixture
def run_worker(make_settings: SettingsFactory, arq_pool: ArqRedis) -> WorkerRunner:
    """Run the notifier's arq worker in-process until the queue is empty (burst mode)."""

    async def runner(
        settings: NotifierSettings | None = None,
        *,
        timeout: float = 20.0,
        cron: bool = False,
        **worker_kwargs: Any,
    ) -> Worker:
        options = worker_options(settings or make_settings())
        if not cron:
            options["cron_jobs"] = []
        options.update(burst=True, handle_signals=False, poll_delay=0.02, **worker_kwargs)
        worker = Worker(**options)
        try:
            await asyncio.wait_for(worker.async_run(), timeout)
        finally:
            await worker.close()
        return worker

    return runner


# ---- producing events ----------------------------------------------------------------------------
Emitter = Callable[..., Awaitable[Event]]


@pytest.fixture
def emit_event(clean_db: None, sessionmaker: async_sessionmaker[AsyncSession]) -> Emitter:
    """Record an event in netsugen_booking's outbox, in its own committed transaction."""

    async def emitter(data: EventData) -> Event:
        async with session_scope(sessionmaker) as session:
            return await emit(session, netsugen_outbox, data)

    return emitter


@pytest.fixture
def relay(engine: AsyncEngine, arq_pool: ArqRedis) -> OutboxRelay:
    """netsugen_booking's outbox relay, sending to the test queue (call ``relay_once()``)."""
    return OutboxRelay(service="netsugen_booking", engine=engine, table=netsugen_outbox, redis=arq_pool)


async def enqueue_event(pool: ArqRedis, event: Event, *, job_id: str | None = None) -> None:
    await pool.enqueue_job(
        NOTIFIER_JOB,
        event.model_dump_json(),
        None,
        _job_id=job_id or str(event.id),
        _queue_name=NOTIFIER_QUEUE,
    )


async def ledger(engine: AsyncEngine, sql: str = "", **params: Any) -> list[Any]:
    """Rows of notifier.delivery (optionally filtered by a WHERE fragment)."""
    query = "SELECT * FROM notifier.delivery" + (f" WHERE {sql}" if sql else "") + " ORDER BY created_at, id"
    async with engine.connect() as conn:
        return list((await conn.execute(text(query), params)).all())


async def attempts_of(engine: AsyncEngine, delivery_id: uuid.UUID) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text("SELECT * FROM notifier.delivery_attempt WHERE delivery_id = :id ORDER BY number"),
                    {"id": delivery_id},
                )
            ).all()
        )


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)
