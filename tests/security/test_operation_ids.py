"""The OpenAPI contract front-end teams build on: operation ids and documented auth answers.

- Every operation has a short camelCase ``operationId``, unique in its document, and equal to the
  committed snapshot (``operation_ids.json``): renaming one breaks generated clients, so it must be
  a deliberate change of the snapshot (regenerate with ``python -m tests.security.test_operation_ids``).
- Every operation that reads the bearer token documents its 401, 403 and 429 problem answers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.security.openapi_walk import SERVICES, operations
from tests.security.test_authz_matrix import CREDENTIAL_IN_REQUEST, public_reason

SNAPSHOT = Path(__file__).with_name("operation_ids.json")
CAMEL = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*\Z")


def current_ids() -> dict[str, dict[str, str]]:
    return {service: {op.key: op.spec["operationId"] for op in operations(service)} for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_unique_and_camel_case(service: str) -> None:
    ids = [op.spec["operationId"] for op in operations(service)]
    assert len(ids) > 10
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert duplicates == []
    wrong = [i for i in ids if not CAMEL.match(i) or len(i) > 40]
    assert wrong == [], wrong


def test_named_operations_front_ends_rely_on() -> None:
    ids = current_ids()
    assert ids["kpi_api"]["GET /v1/kpis"] == "listKpis"
    assert ids["netsugen_booking"]["POST /v1/visits"] == "checkIn"
    assert ids["netsugen_booking"]["POST /v1/bookings"] == "createBooking"
    assert ids["netsugen_booking"]["GET /v1/audit"] == "listAudit"


def test_operation_ids_match_the_snapshot() -> None:
    snapshot = json.loads(SNAPSHOT.read_text())
    current = current_ids()
    changed = [
        f"{service}: {key}: {snapshot[service].get(key)} -> {op_id}"
        for service in SERVICES
        for key, op_id in current[service].items()
        if key in snapshot.get(service, {}) and snapshot[service][key] != op_id
    ]
    assert changed == [], "operationIds changed (breaks generated clients):\n" + "\n".join(changed)
    removed = [f"{s}: {k}" for s in SERVICES for k in snapshot.get(s, {}) if k not in current[s]]
    added = [f"{s}: {k}" for s in SERVICES for k in current[s] if k not in snapshot.get(s, {})]
    assert removed == [] and added == [], f"update {SNAPSHOT.name}: removed {removed}, added {added}"


@pytest.mark.parametrize("service", SERVICES)
def test_operations_needing_auth_document_401_403_429(service: str) -> None:
    missing = []
    checked = 0
    for op in operations(service):
        if public_reason(op) or (op.service, op.key) in CREDENTIAL_IN_REQUEST:
            continue  # public, or the credential is in the body or cookie (sign-in): no bearer scheme
        checked += 1
        for status in ("401", "403", "429"):
            answer = op.spec["responses"].get(status)
            if answer is None or "application/problem+json" not in answer.get("content", {}):
                missing.append(f"{op.key}: {status}")
        if not op.spec.get("security"):
            missing.append(f"{op.key}: no security requirement")
    assert checked > 0
    assert missing == [], missing


if __name__ == "__main__":  # regenerate the snapshot after a deliberate rename
    SNAPSHOT.write_text(json.dumps(current_ids(), indent=1, ensure_ascii=False, sort_keys=True) + "\n")
