"""Input limits, checked over every operation of every service.

The policy (docs/api-conventions.md, "Input limits"):

- every request body is limited to ``MAX_BODY_BYTES`` (default 1 MiB), 413 problem above it,
  whether the size is declared (Content-Length) or streamed (chunked);
- every string a client sends has a length limit: ``maxLength``, or an enum, or a format whose
  grammar bounds it (``schema_walk.BOUNDED_FORMATS``); raw bodies (CSV) are bounded by the body limit;
- NUL characters and invalid Unicode (bad UTF-8, unpaired surrogates) in a JSON body or in the URL
  are refused with a 422 ``invalid-text`` problem before any handler runs;
- unknown fields in a JSON body are refused with a 422 (``extra="forbid"`` on every request model:
  ``additionalProperties: false`` in the document), never silently ignored.

The static walks read the OpenAPI documents (a new endpoint is covered the moment it exists); the
dynamic ones send real requests to the apps.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import BOOTSTRAP_TOKEN, bearer
from tests.security.openapi_walk import SERVICES, Operation, operations, sample_path
from tests.security.schema_walk import is_object, is_string, request_nodes, string_is_bounded

ADMIN = bearer(BOOTSTRAP_TOKEN)
MAX_BODY = 1_048_576


def _problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"urn:gunma-sdgs:problem:{slug}", body
    return body


# ---- static: the documents ----------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_every_client_string_has_a_length_limit(service: str) -> None:
    unbounded = sorted(
        {
            str(node)
            for node in request_nodes(service)
            if is_string(node.schema) and not string_is_bounded(node.schema)
        }
    )
    assert unbounded == [], f"{service}: strings without maxLength:\n" + "\n".join(unbounded)


#: Objects that are free-form in the document on purpose, with what bounds them instead.
FREE_FORM = {
    ("notifier", "POST /v1/notifications body(application/json).data"): (
        "an event's data: validated after the envelope against its event type's model in shared/events.py "
        "(extra='forbid'), see test_event_data_refuses_unknown_fields"
    ),
}


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_object_refuses_unknown_fields(service: str) -> None:
    open_objects = sorted(
        {
            str(node)
            for node in request_nodes(service)
            if node.where.startswith("body(application/json)")
            and is_object(node.schema)
            and node.schema.get("additionalProperties") is not False
            # a map (dict[str, X]) declares its values' schema instead of properties
            and not (
                isinstance(node.schema.get("additionalProperties"), dict)
                and not node.schema.get("properties")
            )
            and (service, str(node)) not in FREE_FORM
        }
    )
    assert open_objects == [], f"{service}: request objects that accept unknown fields:\n" + "\n".join(
        open_objects
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_json_body_operation_documents_422(service: str) -> None:
    missing = [
        op.key for op in operations(service) if op.request_body and "422" not in op.spec.get("responses", {})
    ]
    assert missing == []


def test_the_walk_sees_what_it_must() -> None:
    """Guards the walkers themselves: known fields are found, so an empty violation list means something."""
    nodes = {str(n) for n in request_nodes("netsugen_booking")}
    assert "POST /v1/members body(application/json).email" in nodes
    assert any(n.startswith("POST /v1/billing/quote body(application/json).visits[]") for n in nodes)
    assert "GET /v1/kpis query.q" in {str(n) for n in request_nodes("kpi_api")}


# ---- dynamic: the apps --------------------------------------------------------------------------
def _json_body_operations() -> list[Operation]:
    return [
        op
        for service in SERVICES
        for op in operations(service)
        if op.request_body and "application/json" in op.request_body.get("content", {})
    ]


@pytest.mark.parametrize("op", _json_body_operations(), ids=str)
async def test_unknown_field_is_refused(clients: dict[str, httpx.AsyncClient], op: Operation) -> None:
    """Every JSON body refuses a field it does not know: 422, naming the field."""
    r = await clients[op.service].request(
        op.method, sample_path(op), json={"zz_not_a_field": 1}, headers=ADMIN
    )
    body = _problem(r, 422)
    errors = body.get("errors") or []
    assert any(
        e.get("type") == "extra_forbidden" and e.get("loc", [])[-1:] == ["zz_not_a_field"] for e in errors
    ), body


async def test_event_data_refuses_unknown_fields(notifier_client: httpx.AsyncClient) -> None:
    body = {
        "type": "member.registered",
        "source": "netsugen_booking",
        "data": {"member_id": str(uuid.uuid4()), "email": "taro@example.jp"},
    }
    r = await notifier_client.post("/v1/notifications", json=body, headers=ADMIN)
    problem = _problem(r, 422)
    assert any(e.get("type") == "extra_forbidden" for e in problem.get("errors", [])), problem


def test_free_form_exceptions_are_real() -> None:
    nodes = {(svc, str(n)) for svc in SERVICES for n in request_nodes(svc)}
    assert set(FREE_FORM) <= nodes


#: One real JSON endpoint per service for the edge checks (413, NUL, invalid Unicode).
EDGE = {
    "kpi_api": ("POST", "/v1/initiatives"),
    "netsugen_booking": ("POST", "/v1/billing/quote"),
    "notifier": ("POST", "/v1/webhook-endpoints"),
}


@pytest.mark.parametrize("service", SERVICES)
async def test_oversized_body_is_413(clients: dict[str, httpx.AsyncClient], service: str) -> None:
    method, path = EDGE[service]
    big = b'{"name": "' + b"x" * (MAX_BODY + 10) + b'"}'
    r = await clients[service].request(
        method, path, content=big, headers={**ADMIN, "content-type": "application/json"}
    )
    _problem(r, 413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size is only known by reading
        yield b'{"name": "'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    r = await clients[service].request(
        method, path, content=chunks(), headers={**ADMIN, "content-type": "application/json"}
    )
    _problem(r, 413, "payload-too-large")


async def test_csv_import_is_limited_too(kpi_client: httpx.AsyncClient) -> None:
    header = b"indicator_id,fiscal_year,value\n"
    big = header + b"ghg-emissions,2021,1\n" * (MAX_BODY // 20 + 10)
    r = await kpi_client.post(
        "/v1/imports/observations", content=big, headers={**ADMIN, "content-type": "text/csv"}
    )
    _problem(r, 413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:
        yield header
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"ghg-emissions,2021,1\n" * 3120

    r = await kpi_client.post(
        "/v1/imports/observations", content=chunks(), headers={**ADMIN, "content-type": "text/csv"}
    )
    _problem(r, 413, "payload-too-large")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "a\\u0000b"}',
        b'{"name": "a\x00b"}',
        b'{"name": "\xff\xfe"}',
        b'{"name": "\\ud800"}',
        b'{"name": "x\\udc00"}',
    ],
    ids=["nul-escape", "nul-byte", "bad-utf8", "lone-high-surrogate", "lone-low-surrogate"],
)
@pytest.mark.parametrize("service", SERVICES)
async def test_nul_and_invalid_unicode_in_body_are_422(
    clients: dict[str, httpx.AsyncClient], service: str, raw: bytes
) -> None:
    method, path = EDGE[service]
    r = await clients[service].request(
        method, path, content=raw, headers={**ADMIN, "content-type": "application/json"}
    )
    _problem(r, 422, "invalid-text")


#: A real query string parameter per service.
QUERY = {
    "kpi_api": "/v1/kpis?q=",
    "netsugen_booking": "/v1/members?q=",
    "notifier": "/v1/deliveries?recipient=",
}


@pytest.mark.parametrize(
    "bad", ["a%00b", "%ff%fe", "%ed%a0%80"], ids=["nul", "bad-utf8", "encoded-surrogate"]
)
@pytest.mark.parametrize("service", SERVICES)
async def test_nul_and_invalid_unicode_in_url_are_422(
    clients: dict[str, httpx.AsyncClient], service: str, bad: str
) -> None:
    r = await clients[service].get(QUERY[service] + bad, headers=ADMIN)
    _problem(r, 422, "invalid-text")
    r = await clients[service].get("/v1/zz" + bad, headers=ADMIN)  # in the path as well
    _problem(r, 422, "invalid-text")


@pytest.mark.parametrize(
    "raw",
    [
        b"indicator_id,fiscal_year,value\nghg-emi\x00ssions,2021,1\n",
        b"indicator_id,fiscal_year,value\n\xff\xfe\xfd,2021,1\n",
    ],
    ids=["nul", "undecodable"],
)
async def test_csv_with_nul_or_undecodable_bytes_is_422(kpi_client: httpx.AsyncClient, raw: bytes) -> None:
    r = await kpi_client.post(
        "/v1/imports/observations", content=raw, headers={**ADMIN, "content-type": "text/csv"}
    )
    _problem(r, 422)


@pytest.mark.parametrize("service", SERVICES)
async def test_overlong_string_is_422_not_500(clients: dict[str, httpx.AsyncClient], service: str) -> None:
    """A string one character over its limit is a 422 naming the field (not a database error)."""
    r = await clients[service].get(QUERY[service] + "x" * 5000, headers=ADMIN)
    body = _problem(r, 422, "validation-error")
    assert any(e["type"] == "string_too_long" for e in body["errors"]), body


def _date_query_operations() -> list[tuple[Operation, str]]:
    from tests.security.openapi_walk import openapi_document, resolve

    found = []
    for service in SERVICES:
        doc = openapi_document(service)
        for op in operations(service):
            if op.method != "GET":
                continue
            for param in op.query_params:
                schema = resolve(doc, param.get("schema", {}))
                variants = [schema, *[resolve(doc, s) for s in schema.get("anyOf", [])]]
                if any(v.get("format") in ("date", "date-time") for v in variants):
                    found.append((op, param["name"]))
    return found


@pytest.mark.parametrize(
    ("op", "name"), _date_query_operations(), ids=lambda x: str(x) if isinstance(x, str) else f"{x}"
)
async def test_extreme_dates_are_not_server_errors(
    clients: dict[str, httpx.AsyncClient], op: Operation, name: str
) -> None:
    """The first and last days a date can name (and their date-times) are answered, never a 500."""
    for value in ("0001-01-01", "9999-12-31", "0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-09:00"):
        r = await clients[op.service].get(sample_path(op), params={name: value}, headers=ADMIN)
        assert r.status_code < 500, (str(op), name, value, r.text[:300])


#: Requests the fuzzer found answering 500 (kept as fixed regressions: a fuzz run may not hit the
#: same value again).
FUZZ_FINDINGS = [
    ("kpi_api", "/v1/sdg-goals/3235010"),
    ("kpi_api", "/v1/sdg-goals/-40000"),
    ("netsugen_booking", "/v1/programs?from=0001-01-01&to=2000-01-01"),
    ("netsugen_booking", "/v1/invoices?period=0000-01"),
    ("netsugen_booking", "/v1/invoices?kind=invoice&cursor=%C3%9A&limit=135&period=0000-01"),
]


@pytest.mark.parametrize(("service", "url"), FUZZ_FINDINGS, ids=[f"{s}:{u}" for s, u in FUZZ_FINDINGS])
async def test_fuzz_findings_stay_fixed(
    clients: dict[str, httpx.AsyncClient], service: str, url: str
) -> None:
    r = await clients[service].get(url, headers=ADMIN)
    assert r.status_code < 500, r.text[:300]
    assert r.headers["content-type"].startswith(("application/json", "application/problem+json"))
