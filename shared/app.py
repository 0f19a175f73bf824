"""The FastAPI app factory every service uses.

It wires the lifespan (engine, sessionmaker, Redis pool, outbox relay), the platform middleware,
problem+json error handlers, CORS, health endpoints and documented error responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from arq import create_pool
from arq.connections import RedisSettings
from fastapi import APIRouter, FastAPI, routing
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from sqlalchemy import Table

from shared.auth import TOKENS_CHANNEL, FailureLimiter
from shared.db import create_engine, make_sessionmaker
from shared.docs_ui import install_docs
from shared.errors import COMMON_PROBLEM_RESPONSES, ProblemDetail, install_error_handlers, problem_responses
from shared.health import router as health_router
from shared.logging import configure_logging
from shared.middleware import PlatformMiddleware
from shared.outbox import OutboxRelay
from shared.pgnotify import PgNotifyWatcher
from shared.settings import CommonSettings

log = structlog.get_logger("app")

Hook = Callable[[FastAPI], Awaitable[None]]


def camel(name: str) -> str:
    """``list_visits`` → ``listVisits``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


#: Operation ids that are not simply the endpoint's name in camelCase: clearer names for front-end
#: teams, and names two routers of one service share. Keyed by (METHOD, path); the snapshot test
#: (tests/security/test_operation_ids.py) keeps every id stable.
OPERATION_IDS: dict[tuple[str, str], str] = {
    # kpi_api: the indicators are "KPIs" to their users
    ("GET", "/v1/kpis"): "listKpis",
    ("POST", "/v1/kpis"): "createKpi",
    ("GET", "/v1/kpis/{indicator_id}"): "getKpi",
    ("PATCH", "/v1/kpis/{indicator_id}"): "updateKpi",
    ("DELETE", "/v1/kpis/{indicator_id}"): "deleteKpi",
    ("GET", "/v1/kpis/{indicator_id}/progress"): "getKpiProgress",
    ("GET", "/v1/rollups"): "listRollups",
    ("GET", "/v1/exports/open-sdg.csv"): "exportOpenSdg",
    ("GET", "/v1/exports/open-sdg/{indicator_id}.csv"): "exportOpenSdgKpi",
    ("GET", "/v1/exports/kpis.json"): "exportKpis",
    ("GET", "/v1/exports/kpis/{indicator_id}.json"): "exportKpi",
    # netsugen_booking
    ("POST", "/v1/bookings"): "createBooking",
    ("POST", "/v1/visits/manual"): "addManualVisit",
    ("GET", "/v1/visits/{visit_id}/audit"): "getVisitAudit",
    ("GET", "/v1/occupancy"): "getOccupancy",
    ("GET", "/v1/resources/{resource_id}/availability"): "getResourceAvailability",
    ("POST", "/v1/programs/{program_id}/registrations"): "registerForProgram",
    ("POST", "/v1/event-registrations/{registration_id}/check-in"): "checkInRegistration",
    ("GET", "/v1/event-registrations/{registration_id}/contact"): "getRegistrationContact",
    ("GET", "/v1/feeds/events.ics"): "getEventsFeed",
    ("GET", "/v1/feeds/members/{member_id}.ics"): "getMemberFeed",
    ("POST", "/v1/feeds/members/{member_id}/token"): "createMemberFeedToken",
    ("GET", "/v1/kpi-reports"): "listKpiReports",
    ("POST", "/v1/billing/quote"): "quotePrice",
    ("GET", "/v1/invoices/overdue"): "listOverdueInvoices",
    ("GET", "/v1/invoices/export.csv"): "exportInvoicesCsv",
    ("GET", "/v1/invoices/{invoice_id}/document"): "getInvoiceDocument",
    ("GET", "/frontdesk"): "getFrontdeskPage",
    ("GET", "/v1/members/{member_id}/contact"): "getMemberContact",
    ("POST", "/v1/members/{member_id}/card-token"): "regenerateMemberCard",
    ("GET", "/v1/members/{member_id}/users"): "listMemberUsers",
    ("POST", "/v1/members/{member_id}/users"): "addMemberUser",
    ("PATCH", "/v1/members/{member_id}/users/{user_id}"): "updateMemberUser",
    ("POST", "/v1/members/{member_id}/users/{user_id}/card-token"): "regenerateMemberUserCard",
    ("GET", "/v1/programs/{program_id}/registrations"): "listProgramRegistrations",
    ("POST", "/v1/consultation-slots/generate"): "generateConsultationSlots",
    ("GET", "/v1/consultation-slots"): "listConsultationSlots",
    # notifier
    ("POST", "/v1/notifications"): "submitNotification",
    ("PUT", "/v1/event-types/{event_type}/pause"): "pauseEventType",
    ("DELETE", "/v1/event-types/{event_type}/pause"): "resumeEventType",
    ("PUT", "/v1/preferences/{member_id}"): "putPreferences",
    ("GET", "/v1/webhook-endpoints"): "listWebhookEndpoints",
    ("POST", "/v1/webhook-endpoints"): "createWebhookEndpoint",
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): "getWebhookEndpoint",
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): "updateWebhookEndpoint",
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): "deleteWebhookEndpoint",
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): "rotateWebhookSecret",
}


def operation_id(route: APIRoute) -> str:
    """The operationId of a route: short, stable, camelCase (``listVisits``, ``checkIn``)."""
    for method in sorted(route.methods or ()):
        named = OPERATION_IDS.get((method, route.path))
        if named:
            return named
    return camel(route.name)


def operation_id_of(method: str, path: str, name: str) -> str:
    """The same id for a request being served (the audit trail records it)."""
    return OPERATION_IDS.get((method, path)) or camel(name)


#: What every operation that reads a token can answer: no/invalid token, not allowed, too many failures.
AUTH_PROBLEM_RESPONSES = problem_responses(401, 403, 429)


def _permission_of(dependant: Any) -> tuple[str, list[str]] | None:
    """The permission a route's ``require(...)`` declares (shared/permissions.py), with its roles."""
    stack = [dependant]
    while stack:
        node = stack.pop()
        permission = getattr(node.call, "__permission__", None)
        if permission is not None:
            return str(permission), list(getattr(node.call, "__roles__", []))
        stack.extend(node.dependencies)
    return None


def document_permissions(app: FastAPI, schema: dict[str, Any]) -> None:
    """``x-permission`` and ``x-roles`` on every operation that declares a permission, so the
    OpenAPI documents say who may call what (and the authorization matrix test reads them)."""
    paths = schema.get("paths", {})
    for context in routing.iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        found = _permission_of(context.dependant)
        if found is None:
            continue
        for method in context.methods or ():
            operation = paths.get(context.path_format or "", {}).get(method.lower())
            if operation is not None:
                operation["x-permission"], operation["x-roles"] = found


def document_auth_responses(schema: dict[str, Any]) -> None:
    """Add the 401, 403 and 429 problem answers to every operation that reads the bearer token (the
    operations FastAPI marks with the ``HTTPBearer`` security requirement)."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            responses = operation.setdefault("responses", {})
            for status in (401, 403, 429):
                if str(status) not in responses:
                    responses[str(status)] = {
                        "description": AUTH_PROBLEM_RESPONSES[status]["description"],
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/ProblemDetail"}
                            }
                        },
                    }


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    version: str,
    settings: CommonSettings,
    routers: Sequence[APIRouter],
    outbox: Table | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    openapi_tags: list[dict[str, Any]] | None = None,
    notify_channels: Sequence[str] = (),
    middleware: Sequence[tuple[type[Any], dict[str, Any]]] = (),
) -> FastAPI:
    """``notify_channels``: PostgreSQL channels whose notifications invalidate this service's
    in-process caches (``app.state.pg_watcher``, see shared/pgnotify.py). ``middleware``: pure ASGI
    layers of the service, inside the platform middleware (request id, metrics, headers apply)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, level=settings.log_level, json=settings.log_json)
        engine = create_engine(
            settings.require_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            application_name=service,
            pre_ping=settings.db_pool_pre_ping,
        )
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.redis = await create_pool(redis_settings(settings.require_redis_url()))
        relay: OutboxRelay | None = None
        if outbox is not None and settings.outbox_relay_enabled:
            relay = OutboxRelay(
                service=service,
                engine=engine,
                table=outbox,
                redis=app.state.redis,
                interval_s=settings.outbox_relay_interval_s,
                retention=timedelta(days=settings.outbox_retention_days),
            )
            relay.start()
        app.state.outbox_relay = relay
        # Every API caches token principals (shared/auth.py); services add their own channels.
        channels = [TOKENS_CHANNEL, *(c for c in notify_channels if c != TOKENS_CHANNEL)]
        watcher: PgNotifyWatcher | None = None
        if channels:
            watcher = PgNotifyWatcher(settings.require_database_url(), channels, name=service)
            watcher.start()
            # Without it the caches are simply off (every read asks the database): don't block start-up.
            await watcher.wait_listening(settings.notify_startup_wait_s)
        app.state.pg_watcher = watcher
        for hook in on_startup:
            await hook(app)
        log.info("service_started", service=service)
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            if watcher is not None:
                await watcher.stop()
            if relay is not None:
                await relay.stop()
            await app.state.redis.aclose()
            await engine.dispose()
            log.info("service_stopped", service=service)

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        responses=COMMON_PROBLEM_RESPONSES,
        openapi_tags=openapi_tags,
        generate_unique_id_function=operation_id,
        telemetry=None if settings.otel_telemetry else {"tracing": False, "metrics": False, "logs": False},
        # FastAPI's pages load Swagger UI/ReDoc from a CDN: ours serve pinned local assets (shared/docs_ui.py).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.auth_limiter = FailureLimiter(settings.auth_failure_limit_per_minute, service)
    install_error_handlers(app)
    app.include_router(health_router)
    install_docs(app, enabled=settings.docs_enabled())
    for router in routers:
        app.include_router(router)
    # Innermost first: the service's own layers, then CORS (so their answers get CORS headers too),
    # then the platform middleware outermost.
    for layer, options in reversed(middleware):
        app.add_middleware(layer, **options)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "If-None-Match",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        PlatformMiddleware,
        service=service,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    # Make sure the problem schema is a named component even if no route references it directly.
    app.openapi_schema = None
    _orig_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = _orig_openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ProblemDetail", ProblemDetail.model_json_schema())
        document_auth_responses(schema)
        document_permissions(app, schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
