"""Walks the request side of an OpenAPI document: every schema a client can send (request bodies of
every media type, query/path/header parameters), down through $refs, properties, items, maps and
combinators, reporting each node with a readable location."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.security.openapi_walk import Operation, openapi_document, operations, resolve

#: Formats whose values are bounded by their grammar: the validator refuses a longer value whatever
#: its length (a date has 10 characters, a UUID 36, an RFC 3339 date-time ≤ 35; email-validator
#: refuses addresses over 254 characters). A `binary` string is a file part bounded by the body limit.
BOUNDED_FORMATS = frozenset({"date", "date-time", "time", "uuid", "email", "binary"})
#: Raw (non-JSON) bodies are one string bounded by MAX_BODY_BYTES (413 above it) instead.
RAW_MEDIA_TYPES = ("text/csv", "text/plain", "application/octet-stream")


@dataclass(frozen=True)
class Node:
    operation: Operation
    where: str  # e.g. "body(application/json).name", "query.q"
    schema: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.operation.key} {self.where}"


#: Path parameters are identifiers looked up by equality: an unknown one (overlong included) is a 404,
#: and the HTTP server bounds the request line. They may go without ``maxLength`` (the KPI registry
#: answers 404 for a 300-character slug on purpose); every other parameter and body string may not.
UNCHECKED_PARAMETER_LOCATIONS = ("path", "cookie")


def request_nodes(service: str) -> Iterator[Node]:
    doc = openapi_document(service)
    for op in operations(service):
        for param in op.spec.get("parameters", []):
            param = resolve(doc, param)
            if param.get("in") in UNCHECKED_PARAMETER_LOCATIONS:
                continue
            yield from _walk(doc, op, f"{param['in']}.{param['name']}", param.get("schema", {}), set())
        body = op.request_body
        if body:
            for media_type, content in resolve(doc, body).get("content", {}).items():
                if media_type.startswith(RAW_MEDIA_TYPES):
                    continue
                yield from _walk(doc, op, f"body({media_type})", content.get("schema", {}), set())


def _walk(
    doc: dict[str, Any], op: Operation, where: str, schema: dict[str, Any], seen: set[str]
) -> Iterator[Node]:
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:  # recursive model: already walked on this path
            return
        seen = seen | {ref}
        schema = resolve(doc, schema)
    yield Node(op, where, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _walk(doc, op, f"{where}<{key}[{i}]>", sub, seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(doc, op, f"{where}.{name}", sub, seen)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _walk(doc, op, f"{where}[]", items, seen)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _walk(doc, op, f"{where}{{*}}", extra, seen)


def is_string(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def string_is_bounded(schema: dict[str, Any]) -> bool:
    return (
        "maxLength" in schema
        or "enum" in schema
        or "const" in schema
        or schema.get("format") in BOUNDED_FORMATS
    )


def is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema
