"""Fixtures of the security tests: an isolated copy of the platform's database for the fuzzers, and
apps driven in-process on an event loop of their own (schemathesis' test functions are synchronous).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import make_url

from gunma import migrate as migrations
from gunma.seeding import seed_all
from tests.conftest import (
    BOOTSTRAP_TOKEN,
    TEST_DB,
    StackInfo,
    _asyncpg_dsn,
    _recreate_database,
    settings_overrides,
)
from tests.security.openapi_walk import build_app

ADMIN = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def fuzz_database(stack: StackInfo) -> Iterator[str]:
    """A migrated, seeded database of its own: fuzzed writes (a PATCH of a seeded plan, a DELETE of a
    seeded KPI found in an example) must not leak into the reference data the other tests keep."""
    name = f"{TEST_DB}_fuzz"
    asyncio.run(_recreate_database(stack.server_url, name))
    url = make_url(stack.server_url).set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url, "heads")
    asyncio.run(seed_all(url))
    yield url
    asyncio.run(_drop_database(stack.server_url, name))


class InProcessApp:
    """One app with its lifespan running on a private event loop, called synchronously.

    Requests are prepared by ``requests`` (exactly the bytes schemathesis' own transport would
    send) and handed to the app through httpx's ASGI transport: no sockets, no thread hops.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan: Any = None
        self.client: httpx.AsyncClient | None = None

    def start(self) -> InProcessApp:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self._lifespan.__aenter__())
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=False, client=("198.51.100.7", 50000)
        )
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60)
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.client is not None:
                self.loop.run_until_complete(self.client.aclose())
            if self._lifespan is not None:
                self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self.loop.close()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def send_prepared(self, prepared: requests.PreparedRequest) -> httpx.Response:
        assert self.client is not None and prepared.method and prepared.url
        body = prepared.body
        content = body.encode() if isinstance(body, str) else bytes(body or b"")  # type: ignore[arg-type]
        headers = {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in prepared.headers.items()}
        request = self.client.build_request(prepared.method, prepared.url, headers=headers, content=content)
        response: httpx.Response = self.run(self.client.send(request))
        return response

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self.client is not None
        response: httpx.Response = self.run(self.client.request(method, url, **kwargs))
        return response


def make_in_process(service: str, database_url: str, stack: StackInfo, **settings: Any) -> InProcessApp:
    values = {
        **settings_overrides(stack),
        "database_url": database_url,
        "db_pool_size": 3,
        "db_max_overflow": 5,
    }
    values.update(settings)
    return InProcessApp(build_app(service, **values))


def fixed_clock(app: FastAPI, at: datetime) -> None:
    """NETSUGEN's injectable clock (frontdesk_common/clock.py), pinned so a run does not depend on
    the hour it happens to start at."""
    from services.netsugen_booking.frontdesk_common.clock import get_now

    app.dependency_overrides[get_now] = lambda: at


@pytest.fixture
async def clients(
    kpi_client: httpx.AsyncClient, netsugen_client: httpx.AsyncClient, notifier_client: httpx.AsyncClient
) -> dict[str, httpx.AsyncClient]:
    """The three in-process apps of tests/conftest.py, by service name."""
    return {"kpi_api": kpi_client, "netsugen_booking": netsugen_client, "notifier": notifier_client}
