"""Liveness (`/healthz`), readiness (`/readyz`: PostgreSQL and Redis) and `/metrics`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.errors import problem_response
from shared.metrics import render_metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness", description="200 while the process runs. Public.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_db(request: Request) -> str | None:
    try:
        async with request.app.state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2)
    except Exception as exc:
        return type(exc).__name__
    return None


async def _check_redis(request: Request) -> str | None:
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), timeout=2)
    except Exception as exc:
        return type(exc).__name__
    return None


@router.get(
    "/readyz",
    summary="Readiness",
    description="200 when PostgreSQL and Redis answer; 503 problem+json naming what is down. Public.",
    responses={
        200: {
            "description": "PostgreSQL and Redis answer",
            "content": {
                "application/json": {"example": {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}}
            },
        },
        503: {
            "description": "A dependency is down (problem+json naming it, with `Retry-After`)",
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/ProblemDetail"},
                    "example": {
                        "type": "urn:gunma-sdgs:problem:not-ready",
                        "title": "Service not ready",
                        "status": 503,
                        "detail": "Unavailable: redis",
                        "checks": {"postgres": "ok", "redis": "ConnectionError"},
                    },
                }
            },
        },
    },
)
async def readyz(request: Request) -> Response:
    db_error, redis_error = await asyncio.gather(_check_db(request), _check_redis(request))
    checks = {"postgres": db_error or "ok", "redis": redis_error or "ok"}
    if db_error or redis_error:
        down = ", ".join(k for k, v in checks.items() if v != "ok")
        return problem_response(
            request,
            status=503,
            slug="not-ready",
            title="Service not ready",
            detail=f"Unavailable: {down}",
            extra={"checks": checks},
            headers={"Retry-After": "2"},
        )
    return JSONResponse({"status": "ok", "checks": checks})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Prometheus text exposition format (not JSON). Public.",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format 0.0.4",
            "content": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
