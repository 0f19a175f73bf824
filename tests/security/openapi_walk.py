"""The three services' OpenAPI documents, and a walk over every operation in them.

The documents are built from the real apps (no server, no database: ``app.openapi()`` needs
neither), so every test that walks them covers a new endpoint the moment its router is added.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import FastAPI

from shared.settings import CommonSettings

SERVICES = ("kpi_api", "netsugen_booking", "notifier")
METHODS = ("get", "post", "put", "patch", "delete")
#: Settings good enough to build an app and render its OpenAPI document (nothing connects).
_DUMMY = {
    "database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    "redis_url": "redis://127.0.0.1:1/0",
}


def app_factory(service: str) -> tuple[Callable[[Any], FastAPI], type[CommonSettings]]:
    if service == "kpi_api":
        from services.kpi_api.main import create_app as kpi_app
        from services.kpi_api.settings import KpiSettings

        return kpi_app, KpiSettings
    if service == "netsugen_booking":
        from services.netsugen_booking.main import create_app as netsugen_app
        from services.netsugen_booking.settings import NetsugenSettings

        return netsugen_app, NetsugenSettings
    if service == "notifier":
        from services.notifier.main import create_app as notifier_app
        from services.notifier.settings import NotifierSettings

        return notifier_app, NotifierSettings
    raise ValueError(service)


def build_app(service: str, **settings: Any) -> FastAPI:
    create_app, settings_cls = app_factory(service)
    return create_app(settings_cls(**{**_DUMMY, **settings}))


@cache
def openapi_document(service: str) -> dict[str, Any]:
    return build_app(service).openapi()


@dataclass(frozen=True)
class Operation:
    service: str
    method: str  # upper case
    path: str
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def __str__(self) -> str:
        return f"{self.service}: {self.key}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{([^}]+)}", self.path)

    @property
    def query_params(self) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p.get("in") == "query"]

    @property
    def request_body(self) -> dict[str, Any] | None:
        body: dict[str, Any] | None = self.spec.get("requestBody")
        return body


def operations(service: str) -> Iterator[Operation]:
    doc = openapi_document(service)
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield Operation(service, method.upper(), path, item[method])


def all_operations() -> list[Operation]:
    return [op for service in SERVICES for op in operations(service)]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/schemas/X``)."""
    seen = 0
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
        seen += 1
        assert seen < 50, f"reference loop at {ref}"
    return schema


def sample_path(op: Operation, values: dict[str, str] | None = None) -> str:
    """The operation's path with every parameter filled: ``values`` first, else a value of the right
    type (a fresh UUID, 1, the first enum member, the documented example)."""
    doc = openapi_document(op.service)
    params = {}
    for p in op.spec.get("parameters", []):
        p = resolve(doc, p)
        if p.get("in") == "path":
            params[p["name"]] = p

    def value(name: str) -> str:
        if values and name in values:
            return values[name]
        param = params[name]
        schema = resolve(doc, param.get("schema", {}))
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("type") == "integer":
            return "1"
        if "enum" in schema:
            return str(schema["enum"][0])
        examples = schema.get("examples") or param.get("examples")
        if isinstance(examples, list) and examples:
            return str(examples[0])
        if isinstance(examples, dict) and examples:
            first = next(iter(examples.values()))
            return str(first.get("value", "x")) if isinstance(first, dict) else str(first)
        return "x"

    return re.sub(r"{([^}]+)}", lambda m: value(m.group(1)), op.path)
