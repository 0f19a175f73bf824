"""The SQL a service issues per request (SQLAlchemy ``before_cursor_execute``), in-process.

Used to write the baselines (the same statements in bare asyncpg) and, in every run, to report the
number of statements per request of each benchmarked endpoint (it must not grow with the data).

    python -m bench.sqlcapture kpi_api GET '/v1/kpis/<id>/progress'
    python -m bench.sqlcapture netsugen_booking POST /v1/visits '{"member_number": "M000001"}' --token gsk_…

(needs DATABASE_URL/REDIS_URL pointing at a migrated database, e.g. gunma_bench after a bench run).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event

_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "", "<EMPTY>", "BEGIN ISOLATION LEVEL READ COMMITTED"}


@dataclass
class Call:
    method: str
    path: str | Callable[[list[Captured]], str]  # or built from the earlier calls' results
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Captured:
    call: Call
    status: int
    statements: list[str]  # what SQLAlchemy executes (before_cursor_execute)
    response: bytes
    # The other queries asyncpg sends (its query logger sees the simple-protocol ones): BEGIN, COMMIT,
    # and the pool's pre-ping (BEGIN; ";"; ROLLBACK). Statements + these = round trips to PostgreSQL.
    extra_queries: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return len(self.statements) + len(self.extra_queries)

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "statements": self.statements,
            "extra_queries": self.extra_queries,
            "round_trips": self.round_trips,
        }


def _settings(service: str, database_url: str, redis_url: str) -> Any:
    names = {"kpi_api": "KpiSettings", "netsugen_booking": "NetsugenSettings", "notifier": "NotifierSettings"}
    module = importlib.import_module(f"services.{service}.settings")
    cls = getattr(module, names[service])
    return cls(
        database_url=database_url, redis_url=redis_url, outbox_relay_enabled=False, log_level="WARNING"
    )


async def capture(
    service: str,
    calls: list[Call],
    *,
    database_url: str,
    redis_url: str,
    overrides: dict[Any, Any] | None = None,
) -> list[Captured]:
    main = importlib.import_module(f"services.{service}.main")
    app = main.create_app(_settings(service, database_url, redis_url))
    for dep, value in (overrides or {}).items():
        app.dependency_overrides[dep] = value
    out: list[Captured] = []
    async with app.router.lifespan_context(app):
        statements: list[str] = []

        def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split()))

        extra: list[str] = []
        logged: set[int] = set()

        def on_query(record: Any) -> None:
            extra.append(" ".join(str(record.query).split())[:200] or "<empty>")

        def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            raw = getattr(dbapi_connection, "driver_connection", None)
            if raw is not None and id(raw) not in logged and hasattr(raw, "add_query_logger"):
                raw.add_query_logger(on_query)
                logged.add(id(raw))

        event.listen(app.state.engine.sync_engine, "before_cursor_execute", listener)
        event.listen(app.state.engine.sync_engine, "checkout", on_checkout)
        await app.state.engine.dispose()  # fresh connections, so every one gets the logger
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for call in calls:
                statements.clear()
                extra.clear()
                kwargs: dict[str, Any] = {"headers": call.headers}
                if call.body is not None:
                    kwargs["json"] = call.body
                path = call.path if isinstance(call.path, str) else call.path(out)
                response = await client.request(call.method, path, **kwargs)
                # Statements a hot path sends straight to asyncpg (shared.db.transaction_driver)
                # are seen by the query logger only: they are statements, not transaction control.
                control = [q for q in extra if q.rstrip(";").strip().upper() in _CONTROL]
                direct = [q for q in extra if q.rstrip(";").strip().upper() not in _CONTROL]
                out.append(
                    Captured(call, response.status_code, [*statements, *direct], response.content, control)
                )
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", listener)
        event.remove(app.state.engine.sync_engine, "checkout", on_checkout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("service")
    parser.add_argument("method")
    parser.add_argument("path")
    parser.add_argument("body", nargs="?")
    parser.add_argument("--token")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    # Twice: the second call shows the steady state (warm caches, pool pre-ping on checkout).
    calls = [Call(args.method, args.path, json.loads(args.body) if args.body else None, headers)] * 2
    for c in asyncio.run(
        capture(
            args.service, calls, database_url=os.environ["DATABASE_URL"], redis_url=os.environ["REDIS_URL"]
        )
    ):
        print(
            f"{c.call.method} {c.call.path} → {c.status}, {len(c.statements)} statements, "
            f"{c.round_trips} round trips (+ {', '.join(c.extra_queries)})"
        )
        for s in c.statements:
            print(f"  {s}")
        print(f"  response: {c.response[:300]!r}")


if __name__ == "__main__":
    main()
