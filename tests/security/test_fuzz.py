"""Fuzzing every operation of every service with schemathesis.

Each service's OpenAPI document is loaded from the real app; ``@schema.parametrize()`` makes one
test per operation, and Hypothesis generates up to 100 cases for each (fewer only when an
operation's input space is smaller, e.g. ``GET /healthz``), positive and negative, with a fixed
derandomized seed so every run sends the same requests. The schema's own examples and
schemathesis' boundary cases (the "explicit" phase) come first.

Every case is sent with an admin token (the bootstrap token of the test settings) so it reaches
the handlers, to a database of its own (``fuzz_database``), and every response must pass:

- ``not_a_server_error``: no 5xx;
- ``response_schema_conformance``: the body matches the schema declared for its status and
  content type, problem+json errors included.

Exclusions are listed in ``EXCLUDED`` with their reason; nothing else is skipped.

The apps are fresh instances driven in-process on an event loop of the test's own (schemathesis'
tests are synchronous; the session apps of tests/conftest.py live on pytest-asyncio's loop), with
their lifespan running, against ``fuzz_database``: fuzzed writes (a PATCH of a seeded plan, a
DELETE of a seeded KPI named in an example) must not change the reference data other tests keep.
NETSUGEN's clock is pinned to a weekday afternoon so a run does not depend on the hour.

Cost: about 13,000 requests; 8 minutes on the 2-core CI machine under load, most of it Hypothesis
generating bodies and the apps' database round trips. schemathesis' "coverage" phase is off (it
multiplies the time several times over).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from shared.jst import JST
from tests.conftest import StackInfo
from tests.security.conftest import ADMIN, InProcessApp, fixed_clock, make_in_process
from tests.security.openapi_walk import openapi_document

pytestmark = pytest.mark.system

#: (service, "METHOD /path") → why the operation is not fuzzed. Keep this empty when possible.
EXCLUDED: dict[tuple[str, str], str] = {}

CHECKS = [not_a_server_error, response_schema_conformance]
FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    # No shrinking: a failure is reported with the request that caused it at once.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
#: NETSUGEN's clock during the run: a weekday afternoon (open), so check-ins reach their rules.
NETSUGEN_NOW = datetime(2026, 12, 8, 14, 0, tzinfo=JST)


#: schemathesis' "coverage" phase (every boundary value and unsupported method of every parameter)
#: multiplies the run time several times over; the 100 generated cases per operation, positive and
#: negative, plus the schema's examples, are the budget that fits the suite.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})


def _schema(service: str) -> Any:
    schema: Any = schemathesis.openapi.from_dict(openapi_document(service), config=CONFIG)
    for svc, key in EXCLUDED:
        if svc == service:
            method, path = key.split(" ", 1)
            schema = schema.exclude(method=method, path=path)
    return schema


kpi_schema = _schema("kpi_api")
netsugen_schema = _schema("netsugen_booking")
notifier_schema = _schema("notifier")


#: Requests sent per operation in this run (checked by the last test of the module).
SENT: Counter[tuple[str, str]] = Counter()


def call_and_check(target: InProcessApp, case: schemathesis.Case[Any]) -> None:
    SENT[(target.app.state.service, f"{case.operation.method.upper()} {case.operation.path}")] += 1
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=ADMIN)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files"),
    ).prepare()
    response = target.send_prepared(prepared)
    case.validate_response(response, checks=CHECKS, headers=dict(prepared.headers))


@pytest.fixture(scope="module")
def kpi_target(fuzz_database: str, stack: StackInfo) -> Iterator[InProcessApp]:
    target = make_in_process("kpi_api", fuzz_database, stack).start()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def netsugen_target(fuzz_database: str, stack: StackInfo) -> Iterator[InProcessApp]:
    target = make_in_process("netsugen_booking", fuzz_database, stack)
    fixed_clock(target.app, NETSUGEN_NOW)
    target.start()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def notifier_target(fuzz_database: str, stack: StackInfo) -> Iterator[InProcessApp]:
    target = make_in_process("notifier", fuzz_database, stack).start()
    yield target
    target.stop()


@kpi_schema.parametrize()
@FUZZ
def test_kpi_api(case: schemathesis.Case[Any], kpi_target: InProcessApp) -> None:
    call_and_check(kpi_target, case)


@netsugen_schema.parametrize()
@FUZZ
def test_netsugen_booking(case: schemathesis.Case[Any], netsugen_target: InProcessApp) -> None:
    call_and_check(netsugen_target, case)


@notifier_schema.parametrize()
@FUZZ
def test_notifier(case: schemathesis.Case[Any], notifier_target: InProcessApp) -> None:
    call_and_check(notifier_target, case)


def test_exclusions_name_real_operations() -> None:
    """An exclusion must name an operation that exists (a renamed route must not stay excluded)."""
    for service, key in EXCLUDED:
        method, path = key.split(" ", 1)
        assert method.lower() in openapi_document(service)["paths"].get(path, {}), (service, key)


def test_every_operation_got_its_cases() -> None:
    """Runs last: every fuzzed operation whose input space is large (a path parameter or a JSON body)
    received at least 100 requests. Operations without either (``GET /healthz``, a list with only
    enum filters) may exhaust their inputs sooner."""
    if not SENT:
        pytest.skip("no fuzz test ran in this session (deselected)")
    short = []
    for service in {s for s, _ in SENT}:
        for path, item in openapi_document(service)["paths"].items():
            for method, op in item.items():
                key = (service, f"{method.upper()} {path}")
                if key not in SENT:
                    continue
                big = "{" in path or "application/json" in op.get("requestBody", {}).get("content", {})
                if big and SENT[key] < 100:
                    short.append(f"{key}: {SENT[key]}")
    assert short == [], short
