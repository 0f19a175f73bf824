"""Unit tests of the harness's own logic (no servers): `.venv/bin/python -m pytest bench/tests -q`."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from bench.benchmarks.invoice import last_full_month
from bench.config import LUA_DIR
from bench.profiling import package_of, summarise
from bench.report import Report, Row
from bench.wrk import parse_output

WRK_STDOUT = """Running 1s test @ http://127.0.0.1:28001
  2 threads and 16 connections
BENCH_JSON {"requests":1000,"duration_us":2000000,"bytes":123,"p50_us":1500,"p90_us":4000,"p99_us":9000,\
"max_us":12000,"mean_us":2100.5,"errors":{"connect":0,"read":1,"write":0,"status":3,"timeout":0},"bad":3,\
"cycles":400,"threads":2}
"""


def test_parse_output_reads_the_lua_json_line() -> None:
    r = parse_output(WRK_STDOUT, 16)
    assert (r.requests, r.duration_s, r.rps, r.units_per_s) == (1000, 2.0, 500.0, 200.0)
    assert (r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms) == (1.5, 4.0, 9.0, 12.0)
    assert r.error_total == 4  # 3 unexpected statuses + 1 read error (status errors are in `bad`)


def test_parse_output_without_json_line_fails_loudly() -> None:
    with pytest.raises(RuntimeError, match="BENCH_JSON"):
        parse_output("Running 1s test\n", 16)


@pytest.mark.parametrize(
    ("path", "package"),
    [
        ("fastapi/routing.py", "fastapi"),
        ("/x/.venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py", "sqlalchemy"),
        ("services/kpi_api/core/http.py", "services.kpi_api.core"),
        ("shared/db.py", "shared.db"),
        ("contextlib.py", "stdlib"),
        ("<frozen abc>", "stdlib"),
    ],
)
def test_package_of(path: str, package: str) -> None:
    assert package_of(path) == package


def test_summarise_self_and_inclusive_and_within(tmp_path: Path) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(
        "main (app.py:1);run_invoices (services/netsugen_booking/billing/invoice_run.py:9);"
        "price_dropin (services/netsugen_booking/billing/pricing.py:3) 30\n"
        "main (app.py:1);execute (sqlalchemy/engine/base.py:5) 10\n"
    )
    s = summarise(raw)
    assert s["samples"] == 40
    assert s["self_by_package_pct"][0] == ("services.netsugen_booking.billing", 75.0)
    inside = summarise(raw, within="run_invoices")
    assert inside["samples"] == 30
    assert inside["self_by_function_pct"] == [("services.netsugen_booking.billing:price_dropin", 100.0)]


def test_last_full_month() -> None:
    assert last_full_month(date(2026, 11, 29)) == (date(2026, 10, 1), 31)
    assert last_full_month(date(2026, 3, 1)) == (date(2026, 2, 1), 28)
    assert last_full_month(date(2026, 1, 15)) == (date(2025, 12, 1), 31)


def test_report_writes_json_and_latest(tmp_path: Path) -> None:
    from datetime import datetime

    report = Report("quick", datetime(2026, 11, 29, 12, 0).astimezone())
    report.add(Row("x", "throughput", 10.0, "/s", baseline=20.0, ratio=0.5, target="ratio ≥ 0.5", ok=True))
    report.skip("y", "not there")
    path = report.write(tmp_path)
    assert path.name.endswith("-quick.json")
    data = (tmp_path / "latest-quick.json").read_text()
    assert '"targets_met": 1' in data and '"y": "not there"' in data


@pytest.mark.skipif(shutil.which("luajit") is None, reason="luajit not installed")
def test_lua_scripts_compile() -> None:
    for script in LUA_DIR.glob("*.lua"):
        subprocess.run(["luajit", "-bl", str(script)], check=True, capture_output=True)


def test_combine_rounds() -> None:
    from bench.benchmarks.http import combine
    from bench.wrk import WrkResult

    def result(
        units: float, seconds: float, p50: float, p99: float, requests: int, bad: int = 0
    ) -> WrkResult:
        return WrkResult(
            requests=requests,
            duration_s=seconds,
            rps=requests / seconds,
            units_per_s=units,
            p50_ms=p50,
            p90_ms=p50 * 2,
            p99_ms=p99,
            max_ms=p99 * 2,
            mean_ms=p50,
            errors={"status": bad},
            bad=bad,
            connections=16,
            threads=2,
        )

    rounds = [
        result(100, 10, 1.0, 5.0, 1000),
        result(300, 10, 3.0, 9.0, 3000, bad=2),
        result(200, 10, 2.0, 7.0, 2000),
    ]
    combined = combine(rounds)
    assert combined.units_per_s == 200  # total work over total time
    assert combined.requests == 6000 and combined.duration_s == 30
    assert combined.p50_ms == 2.0 and combined.p99_ms == 9.0  # median p50, worst p99
    assert combined.bad == 2 and combined.errors == {"status": 2}
    assert combine(rounds[:1]) is rounds[0]
