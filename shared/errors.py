"""RFC 9457 problem details for every error of every service.

Domain errors subclass :class:`ProblemError` next to the service that raises them and carry a
stable machine-readable ``type``. Handlers here render those, Starlette's HTTP errors (404, 405 …),
request validation errors (422), database outages (503) and unexpected errors (500, no stack trace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger("errors")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:gunma-sdgs:problem:"


def problem_type(slug: str) -> str:
    return f"{TYPE_PREFIX}{slug}"


class ProblemDetail(BaseModel):
    """RFC 9457 problem details. Extra members (for example ``errors``) may appear."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:gunma-sdgs:problem:not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No indicator with id 'foo'.",
                    "instance": "/v1/kpis/foo",
                    "request_id": "5f0c6b3e9a4d4e0f8b7a6c5d4e3f2a1b",
                }
            ]
        },
    )

    type: str = Field(description="Stable URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None


class ProblemError(Exception):
    """Base class of every domain error. Subclasses set ``status``, ``slug`` and ``title``."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        detail_ja: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.detail_ja = detail_ja
        self.headers = dict(headers or {})
        self.extra = extra


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class Unprocessable(ProblemError):
    status, slug, title = 422, "validation-error", "Validation error"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Validation error"),
    429: ("rate-limited", "Too many requests"),
    503: ("service-unavailable", "Service unavailable"),
}


def prefers_japanese(request: Request) -> bool:
    """`Accept-Language`: Japanese is the default; English when it is preferred."""
    header = request.headers.get("accept-language", "")
    return not header.strip().lower().startswith("en")


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def _jsonable_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


#: SQLSTATEs of a database that is going away, not there yet or too busy to answer in time: class 08
#: (connection exceptions), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
#: ("the database system is starting up / shutting down"), 57014 query_canceled (the statement
#: timeout: the request may succeed when retried, so 503 + Retry-After rather than 500).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "57014")
_UNAVAILABLE_NAMES = {
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "PostgresConnectionError",
    "AdminShutdownError",
    "CrashShutdownError",
}


def _sqlstate(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        code = getattr(seen, "sqlstate", None) or getattr(getattr(seen, "orig", None), "sqlstate", None)
        if isinstance(code, str):
            return code
        seen = seen.__cause__
    return None


def is_database_unavailable(exc: BaseException) -> bool:
    """True for an outage of PostgreSQL (refused, restarting, shutting down, connection lost).

    SQLAlchemy wraps the driver's error (``DBAPIError.orig``, whose cause is asyncpg's exception), so
    the whole chain is inspected, not only the outermost exception.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError | InterfaceError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if type(current).__name__ in _UNAVAILABLE_NAMES:
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        orig = getattr(current, "orig", None) if isinstance(current, DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


def is_value_out_of_range(exc: BaseException) -> bool:
    """An ``OverflowError`` anywhere in the chain: a date or number from the request, valid in itself,
    that leaves the representable range once computed with (0001-01-01 00:00 JST is before year 1 in
    UTC; 9999-12-31 plus one day). The client's 422, not a 500."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in seen):
        if isinstance(current, OverflowError):
            return True
        seen.append(current)
        orig = getattr(current, "orig", None) if isinstance(current, DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
    return False


def unexpected_problem(exc: BaseException) -> tuple[int, str, str, str, dict[str, str]]:
    """(status, slug, title, detail, headers) for an exception no handler claimed.

    A database outage is a 503 the client can retry; a request value pushed out of the representable
    range is a 422; anything else is a 500 with no stack trace (the trace goes to the log with the
    request id).
    """
    if _sqlstate(exc) in {"40P01", "40001"}:  # deadlock / serialization failure: safe to retry
        log.warning("transaction_conflict", error=type(exc).__name__)
        return (
            409,
            "concurrent-update",
            "Concurrent update",
            "Another request changed the same data at the same time. Retry the request.",
            {"Retry-After": "1"},
        )
    if is_database_unavailable(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return (
            503,
            "service-unavailable",
            "Service unavailable",
            "The database is unavailable. Retry shortly.",
            {"Retry-After": "2"},
        )
    if is_value_out_of_range(exc):
        log.warning("value_out_of_range", error=type(exc).__name__)
        return (
            422,
            "value-out-of-range",
            "Value out of range",
            "A date, time or number in the request is outside the range this service supports.",
            {},
        )
    log.error("unhandled_error", error=type(exc).__name__, exc_info=exc)
    return (
        500,
        "internal-error",
        "Internal server error",
        "An unexpected error occurred. Quote the request_id when reporting it.",
        {},
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        detail = exc.detail_ja if (exc.detail_ja and prefers_japanese(request)) else exc.detail
        return problem_response(
            request,
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=detail,
            headers=exc.headers,
            extra=exc.extra,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        detail: str | None = exc.detail if isinstance(exc.detail, str) else None
        if detail == title:
            detail = None
        return problem_response(
            request,
            status=exc.status_code,
            slug=slug,
            title=title,
            detail=detail,
            headers=getattr(exc, "headers", None),
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _jsonable_errors(exc.errors())
        first = errors[0] if errors else None
        detail = f"{'.'.join(first['loc'])}: {first['msg']}" if first else None
        return problem_response(
            request,
            status=422,
            slug="validation-error",
            title="Validation error",
            detail=detail,
            extra={"errors": errors},
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for routes: documents problem+json bodies for these statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        _, title = _STATUS_SLUGS.get(status, ("", "Error"))
        out[status] = {"model": ProblemDetail, "description": title, "content": _problem_content()}
    return out


#: Responses every operation can give; added app-wide so every OpenAPI operation documents them.
COMMON_PROBLEM_RESPONSES = problem_responses(422, 500, 503)
