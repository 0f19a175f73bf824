"""Production runs what is tested: docker-compose and Kubernetes start the processes `make run` starts.

`make run` (gunma/platform.py) is what the test suite, the system tests and the benchmarks run. The
notifier worker in particular must be the supervised, tuned entry point
(``python -m services.notifier.worker``), not arq's plain loop, which delivers at about half the rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gunma.platform import platform_children

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
K8S = ROOT / "deploy" / "k8s"

#: make run's child → (docker-compose service, Kubernetes manifest)
PLACES = {
    "kpi_api": ("kpi_api", "kpi-api.yaml"),
    "netsugen_booking": ("netsugen_booking", "netsugen-booking.yaml"),
    "notifier": ("notifier", "notifier.yaml"),
    "notifier-worker": ("notifier_worker", "notifier-worker.yaml"),
    "scheduler": ("scheduler", "scheduler.yaml"),
}
#: uvicorn flags that change how the process serves (the rest, host/port/timeouts/proxy, are per place).
SERVING_FLAGS = ("--loop", "--http", "--no-access-log", "--factory", "--no-proxy-headers")


def _run_argv(name: str) -> list[str]:
    [child] = [c for c in platform_children() if c.name == name]
    return ["python", *child.argv[1:]]  # sys.executable there, `python` in the image


def _k8s_command(manifest: str) -> list[str]:
    for doc in yaml.safe_load_all((K8S / manifest).read_text()):
        if doc and doc.get("kind") == "Deployment":
            [container] = doc["spec"]["template"]["spec"]["containers"]
            return [str(a) for a in container["command"]]
    raise AssertionError(f"no Deployment in {manifest}")


def _normalise(argv: list[str]) -> list[str]:
    """`uvicorn …` and `python -m uvicorn …` are the same program."""
    if argv[:3] == ["python", "-m", "uvicorn"]:
        return ["uvicorn", *argv[3:]]
    return argv


def _serving(argv: list[str]) -> dict[str, Any]:
    argv = _normalise(argv)
    out: dict[str, Any] = {"program": argv[0], "app": argv[1]}
    for flag in SERVING_FLAGS:
        if flag not in argv:
            out[flag] = None
        elif flag in ("--no-access-log", "--factory", "--no-proxy-headers"):
            out[flag] = True
        else:
            out[flag] = argv[argv.index(flag) + 1]
    return out


def test_every_make_run_child_is_deployed() -> None:
    names = {c.name for c in platform_children()}
    assert names == set(PLACES)


@pytest.mark.parametrize("name", ["notifier-worker", "scheduler"])
def test_workers_run_the_same_command(name: str) -> None:
    service, manifest = PLACES[name]
    expected = _run_argv(name)
    assert COMPOSE[service]["command"] == expected
    assert _k8s_command(manifest) == expected


def test_the_notifier_worker_is_the_tuned_entry_point() -> None:
    assert _run_argv("notifier-worker") == ["python", "-m", "services.notifier.worker"]


@pytest.mark.parametrize("name", ["kpi_api", "netsugen_booking", "notifier"])
def test_apis_serve_the_same_way(name: str) -> None:
    service, manifest = PLACES[name]
    expected = _serving(_run_argv(name))
    assert expected["--loop"] == "uvloop" and expected["--http"] == "httptools"
    assert _serving(COMPOSE[service]["command"]) == expected
    assert _serving(_k8s_command(manifest)) == expected


def test_the_worker_serves_its_metrics_under_make_run_as_in_kubernetes() -> None:
    [worker] = [c for c in platform_children() if c.name == "notifier-worker"]
    for doc in yaml.safe_load_all((K8S / "notifier-worker.yaml").read_text()):
        if doc and doc.get("kind") == "Deployment":
            [container] = doc["spec"]["template"]["spec"]["containers"]
            k8s_port = {e["name"]: e.get("value") for e in container["env"]}["WORKER_METRICS_PORT"]
    assert worker.env["WORKER_METRICS_PORT"] == k8s_port
