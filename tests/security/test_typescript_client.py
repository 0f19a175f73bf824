"""A TypeScript client generated from each OpenAPI document type-checks a sample program.

``openapi-typescript`` (npm, installed in tests/node) turns each service's document into types; a
small program uses real operations by their operationIds (list KPIs, check in, create a booking,
the audit list) and ``tsc --strict`` checks it. A renamed operation, a removed or retyped field,
or a changed status code makes this test fail with the type error, before a front end breaks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.security.openapi_walk import SERVICES, openapi_document

NODE_BIN = Path(__file__).resolve().parents[1] / "node" / "node_modules" / ".bin"
GENERATOR = NODE_BIN / "openapi-typescript"
TSC = NODE_BIN / "tsc"

pytestmark = pytest.mark.skipif(
    not (GENERATOR.exists() and TSC.exists() and shutil.which("node")),
    reason="npm test tools missing: run `npm ci` in tests/node (.ci/run does)",
)

SAMPLE = """\
import type { operations as Kpi } from "./kpi_api";
import type { operations as Netsugen } from "./netsugen_booking";
import type { operations as Notifier } from "./notifier";

type Json<Op, Status extends number> = Op extends { responses: infer R }
  ? Status extends keyof R
    ? R[Status] extends { content: { "application/json": infer T } } ? T : never
    : never
  : never;
type Body<Op> = Op extends { requestBody: { content: { "application/json": infer T } } } ? T : never;
type Problem<Op, Status extends number> = Op extends { responses: infer R }
  ? Status extends keyof R
    ? R[Status] extends { content: { "application/problem+json": infer T } } ? T : never
    : never
  : never;

// List KPIs (public): a page of indicators with ids and names.
type KpiPage = Json<Kpi["listKpis"], 200>;
export function kpiNames(page: KpiPage): string[] {
  const next: string | null | undefined = page.next_cursor;
  return page.items.map((kpi) => `${kpi.id}: ${kpi.name}${next ? " …" : ""}`);
}

// Check in at the front desk by member number: a visit comes back (201).
export const checkIn: Body<Netsugen["checkIn"]> = { member_number: "M000123" };
export function openSince(visit: Json<Netsugen["checkIn"], 201>): string | null {
  return visit.open ? visit.check_in_at : null;
}

// Book a room for a member (201), and read its price.
export const booking: Body<Netsugen["createBooking"]> = {
  resource_id: "3b8f1a52-1b0e-4f53-a0f3-2f3f2f1e9c11",
  member_id: "5f0c6b3e-9a4d-4e0f-8b7a-6c5d4e3f2a1b",
  start: "2026-12-22T14:00:00+09:00",
  end: "2026-12-22T15:00:00+09:00",
};
export function bookingPrice(created: Json<Netsugen["createBooking"], 201>): number {
  return created.price_yen;
}

// Every authenticated operation answers 401/403/429 with a problem document.
export function why(problem: Problem<Netsugen["createBooking"], 403> | Problem<Netsugen["checkIn"], 429>): string {
  return `${problem.status} ${problem.title}: ${problem.detail ?? ""}`;
}

// The audit trail (admin, auditor).
export function auditLine(page: Json<Netsugen["listAudit"], 200>): string[] {
  return page.items.map((e) => `${e.at} ${e.actor_name} ${e.operation} ${e.object_type}/${e.object_id ?? "-"}`);
}

// Webhook endpoints (notifier, admin).
export type Endpoints = Json<Notifier["listWebhookEndpoints"], 200>;
"""

#: A program that must NOT type-check (a field BookingCreate does not have, and a missing one).
BROKEN = """\
import type { operations as Netsugen } from "./netsugen_booking";
type Body<Op> = Op extends { requestBody: { content: { "application/json": infer T } } } ? T : never;
export const booking: Body<Netsugen["createBooking"]> = {
  resource_id: "x", member_id: "y", start: "2026-12-22T14:00:00+09:00", room: "A",
};
"""

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "ES2020",
        "module": "ES2020",
        "moduleResolution": "node",
        "skipLibCheck": True,
        "noUncheckedIndexedAccess": True,
    },
}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("tsclient")
    for service in SERVICES:
        spec = work / f"{service}.json"
        spec.write_text(json.dumps(openapi_document(service)))
        done = _run([str(GENERATOR), str(spec), "--output", str(work / f"{service}.ts")], work)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "operations" in (work / f"{service}.ts").read_text()
    return work


def _check(work: Path, name: str, program: str) -> subprocess.CompletedProcess[str]:
    (work / f"{name}.ts").write_text(program)
    (work / f"tsconfig.{name}.json").write_text(json.dumps({**TSCONFIG, "files": [f"{name}.ts"]}))
    return _run([str(TSC), "-p", f"tsconfig.{name}.json"], work)


def test_sample_program_type_checks_against_the_generated_clients(generated: Path) -> None:
    done = _check(generated, "sample", SAMPLE)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def test_a_breaking_use_is_a_type_error(generated: Path) -> None:
    """The check is real: a body with an unknown field and without a required one fails to compile."""
    done = _check(generated, "broken", BROKEN)
    assert done.returncode != 0
    assert "room" in done.stdout and "end" in done.stdout, done.stdout[-2000:]
