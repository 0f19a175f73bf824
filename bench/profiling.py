"""py-spy profiles of a service process during a load run, summarised by package and by function.

`py-spy record --format raw` writes collapsed stacks ("frame;frame;frame count"), which speedscope
(https://www.speedscope.app, "import") and flamegraph.pl read directly. The summary attributes each
sample's leaf frame (self time) to a package — fastapi, starlette, pydantic, sqlalchemy, asyncpg,
uvicorn, structlog, the service's own code … — and counts inclusive time per function.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def py_spy_path() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start_record(pid: int, seconds: int, out: Path, rate: int = 200) -> subprocess.Popen[bytes] | None:
    exe = py_spy_path()
    if exe is None:
        print("    py-spy not installed (.venv/bin/pip install py-spy): no profile")
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def package_of(path: str) -> str:
    """``fastapi/routing.py`` → fastapi; ``services/kpi_api/core/http.py`` → services.kpi_api.core;
    ``shared/db.py`` → shared.db; ``contextlib.py``/``<frozen abc>`` → stdlib."""
    p = path.replace("\\", "/")
    m = re.search(r"(?:site|dist)-packages/([A-Za-z0-9_]+)", p)
    if m:
        return m.group(1)
    for root in ("services/", "shared/", "bench/"):
        i = p.find(root)
        if i >= 0:
            parts = p[i:].removesuffix(".py").split("/")
            return ".".join(parts[:3] if root == "services/" else parts[:2])
    if p.startswith("<frozen") or "/" not in p.lstrip("/"):
        return "stdlib"
    m = re.search(r"python3\.\d+/", p)
    if m:
        return "stdlib"
    return p.lstrip("/").split("/", 1)[0]


def summarise(raw: Path, top: int = 20, within: str | None = None) -> dict[str, Any]:
    """Self samples by package, inclusive samples by function (each function once per stack).

    ``within``: only the stacks through a function of that name (e.g. ``run_invoices``, leaving out
    a batch process's imports and set-up)."""
    self_pkg: Counter[str] = Counter()
    self_func: Counter[str] = Counter()
    incl_func: Counter[str] = Counter()
    incl_pkg: Counter[str] = Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if within is not None and not any(f.startswith(within + " (") for f in frames):
            continue
        total += count
        seen_func: set[str] = set()
        seen_pkg: set[str] = set()
        for frame in frames:
            m = FRAME.match(frame.strip())
            func, file = (m.group("func"), m.group("file")) if m else (frame, "?")
            key = f"{package_of(file)}:{func}"
            if key not in seen_func:
                incl_func[key] += count
                seen_func.add(key)
            pkg = package_of(file)
            if pkg not in seen_pkg:
                incl_pkg[pkg] += count
                seen_pkg.add(pkg)
        m = FRAME.match(frames[-1].strip())
        leaf_file = m.group("file") if m else "?"
        leaf_func = m.group("func") if m else frames[-1]
        self_pkg[package_of(leaf_file)] += count
        self_func[f"{package_of(leaf_file)}:{leaf_func}"] += count

    def pct(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(k, round(100.0 * v / total, 1)) for k, v in counter.most_common(n)] if total else []

    return {
        "samples": total,
        "self_by_package_pct": pct(self_pkg, top),
        "inclusive_by_package_pct": pct(incl_pkg, top),
        "self_by_function_pct": pct(self_func, top),
        "inclusive_by_function_pct": pct(incl_func, top * 2),
        "raw": str(raw),
    }


def print_summary(title: str, summary: dict[str, Any], n: int = 12) -> None:
    if not summary.get("samples"):
        print(f"    profile {title}: no samples")
        return
    print(f"    profile {title}: {summary['samples']} samples ({summary.get('raw')})")
    print(
        "      self time by package: " + ", ".join(f"{k} {v}%" for k, v in summary["self_by_package_pct"][:n])
    )
    print(
        "      inclusive by package: "
        + ", ".join(f"{k} {v}%" for k, v in summary["inclusive_by_package_pct"][:n])
    )
    print(
        "      hottest functions (self): "
        + ", ".join(f"{k} {v}%" for k, v in summary["self_by_function_pct"][:n])
    )
