"""One table for the whole run (rich) and the results JSON (bench/results/<timestamp>.json, latest.json)."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from rich.console import Console
from rich.table import Table

from bench.config import RESULTS_DIR


@dataclass
class Row:
    """One figure of one benchmark, with its baseline, ratio and target."""

    benchmark: str
    metric: str
    value: float | None
    unit: str = ""
    baseline: float | None = None
    ratio: float | None = None  # value / baseline (service / baseline)
    target: str = ""  # human-readable, e.g. "ratio ≥ 0.5" or "≤ 50 ms"
    ok: bool | None = None  # None: informational (no target) or not measured
    note: str = ""


@dataclass
class Report:
    profile: str
    started_at: datetime
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    load_at_start: list[float] = field(default_factory=lambda: [round(x, 2) for x in os.getloadavg()])
    machine: dict[str, Any] | None = None  # a loaded report's; a live one reads the machine at the end

    def add(self, *rows: Row) -> None:
        self.rows.extend(rows)

    def skip(self, benchmark: str, reason: str) -> None:
        self.skipped[benchmark] = reason
        self.rows.append(Row(benchmark, "not run", None, note=reason))

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.started_at.isoformat(timespec="seconds"),
            "profile": self.profile,
            "machine": {**machine_info(), "load_average_at_start": self.load_at_start},
            "rows": [asdict(r) for r in self.rows],
            "targets_met": sum(1 for r in self.rows if r.ok is True),
            "targets_missed": sum(1 for r in self.rows if r.ok is False),
            "skipped": self.skipped,
            "details": self.details,
        }

    def write(self, results_dir: Path = RESULTS_DIR) -> Path:
        results_dir.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n"
        path = results_dir / f"{self.started_at:%Y%m%dT%H%M%S}-{self.profile}.json"
        path.write_text(data, encoding="utf-8")
        (
            results_dir / ("latest.json" if self.profile == "full" else f"latest-{self.profile}.json")
        ).write_text(data, encoding="utf-8")
        return path


def load(path: Path) -> Report:
    """A saved results JSON as a Report (to print its table again: python -m bench.run --show FILE)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    report = Report(data["profile"], datetime.fromisoformat(data["date"]))
    report.rows = [Row(**r) for r in data["rows"]]
    report.details = data.get("details", {})
    report.skipped = data.get("skipped", {})
    report.load_at_start = data.get("machine", {}).get("load_average_at_start", [0.0])
    report.machine = data.get("machine")
    return report


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def render_table(report: Report, console: Console | None = None) -> None:
    console = console or Console(width=160)
    info = report.machine or machine_info()
    table = Table(
        title=f"make bench ({report.profile}) — {report.started_at:%Y-%m-%d %H:%M} — "
        f"{info['cpus']} CPUs, {info['memory_gb']} GB — load avg {report.load_at_start[0]:.1f} → "
        f"{info['load_average'][0]:.1f}",
        show_lines=False,
    )
    table.add_column("benchmark", style="bold")
    table.add_column("metric")
    table.add_column("service", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target")
    table.add_column("", justify="center")
    table.add_column("note", overflow="fold", max_width=48)
    previous = None
    for row in report.rows:
        name = row.benchmark if row.benchmark != previous else ""
        previous = row.benchmark
        verdict = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: ""}[row.ok]
        table.add_row(
            name,
            row.metric,
            _fmt(row.value, row.unit),
            _fmt(row.baseline, row.unit),
            "—" if row.ratio is None else f"{row.ratio:.2f}",
            row.target,
            verdict,
            row.note,
        )
    console.print(table)
    met = sum(1 for r in report.rows if r.ok is True)
    missed = sum(1 for r in report.rows if r.ok is False)
    console.print(f"targets met: {met}, missed: {missed}, benchmarks not run: {len(report.skipped)}")


def markdown_table(report: Report) -> str:
    """The results as a Markdown table (for bench/README.md: python -m bench.run --markdown FILE)."""
    info = report.machine or machine_info()
    lines = [
        f"Run of {report.started_at:%Y-%m-%d %H:%M %Z} ({report.profile}), {info['cpus']} CPUs "
        f"({info.get('cpu_model', '')}), {info['memory_gb']} GB RAM, Python {info.get('python', '')}; "
        f"load average {report.load_at_start[0]:.1f} at the start.",
        "",
        "| benchmark | metric | service | baseline | ratio | target | met | note |",
        "|---|---|---:|---:|---:|---|:-:|---|",
    ]
    previous = None
    for row in report.rows:
        name = row.benchmark if row.benchmark != previous else ""
        previous = row.benchmark
        verdict = {True: "✓", False: "✗", None: ""}[row.ok]
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {name} | {row.metric} | {_fmt(row.value, row.unit)} | {_fmt(row.baseline, row.unit)} | {ratio} "
            f"| {row.target} | {verdict} | {row.note} |"
        )
    return "\n".join(lines) + "\n"


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu_model = platform.processor()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        # Other work on the machine skews absolute figures (ratios hold better): say how busy it was.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
