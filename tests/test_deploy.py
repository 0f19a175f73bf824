"""docker-compose.yml and deploy/ are checked against the code, since no Docker engine runs here:
every command names a module, factory, worker class or CLI command that exists, and every
variable set for our image is one the settings read."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from gunma.settings_doc import env_names, render

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OUR_IMAGE = "gunma-sdgs-platform:latest"


def our_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in COMPOSE["services"].items() if s.get("image") == OUR_IMAGE}


def resolve(dotted: str, attr_sep: str) -> Any:
    module_name, attr = dotted.split(attr_sep) if attr_sep == ":" else dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), attr)


#: Entry points started as ``python -m <module>`` and the arq settings they run.
SUPERVISED_WORKERS = {"services.notifier.worker": "services.notifier.worker.WorkerSettings"}


def worker_settings_path(argv: list[str]) -> str | None:
    """The arq WorkerSettings a worker command runs (``arq X``, ``python -m arq X``, a supervised module)."""
    if argv[:3] == ["python", "-m", "arq"]:
        return argv[3]
    if argv[0] == "arq":
        return argv[1]
    if argv[:2] == ["python", "-m"] and argv[2] in SUPERVISED_WORKERS:
        return SUPERVISED_WORKERS[argv[2]]
    return None


def check_command(argv: list[str]) -> None:
    # Worker settings read REDIS_URL when they are built; a stand-in is enough to inspect them.
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    if argv[:3] == ["python", "-m", "uvicorn"]:
        argv = ["uvicorn", *argv[3:]]
    settings_path = worker_settings_path(argv)
    if settings_path is not None:
        if argv[:2] == ["python", "-m"] and argv[2] in SUPERVISED_WORKERS:
            module = importlib.import_module(argv[2])
            assert callable(getattr(module, "run_supervised", None)), (
                f"{argv[2]} has no supervised entry point"
            )
        argv = ["arq", settings_path]
    program = argv[0]
    if program == "uvicorn":
        target = resolve(argv[1], ":")
        assert "--factory" in argv and callable(target)
    elif program == "arq":
        settings_cls = resolve(argv[1], ".")
        assert settings_cls.functions or settings_cls.cron_jobs, f"{argv[1]} registers no jobs"
        assert settings_cls.queue_name
    elif program == "gunma":
        from gunma.cli import app

        group = get_command(app)
        ctx_cmd: Any = group
        for word in argv[1:]:
            if word.startswith("-"):
                break
            assert word in ctx_cmd.commands, f"`gunma {' '.join(argv[1:])}`: no command {word!r}"  # type: ignore[union-attr]
            ctx_cmd = ctx_cmd.commands[word]
    else:
        pytest.fail(f"unknown program in compose command: {argv}")


def test_compose_has_every_part() -> None:
    services = set(COMPOSE["services"])
    assert {
        "postgres",
        "redis",
        "mailpit",
        "migrate",
        "kpi_api",
        "netsugen_booking",
        "notifier",
        "notifier_worker",
        "scheduler",
        "proxy",
    } <= services


@pytest.mark.parametrize("name", sorted(our_services()))
def test_compose_command_exists(name: str) -> None:
    check_command(our_services()[name]["command"])


@pytest.mark.parametrize("name", sorted(our_services()))
def test_compose_environment_is_read_by_settings(name: str) -> None:
    known = env_names()
    env = our_services()[name].get("environment", {})
    unknown = sorted(set(env) - known)
    assert unknown == [], f"{name} sets variables no settings class reads: {unknown}"


def test_compose_ports_match_the_services() -> None:
    for name, port in (("kpi_api", 8001), ("netsugen_booking", 8002), ("notifier", 8003)):
        svc = COMPOSE["services"][name]
        assert svc["command"][svc["command"].index("--port") + 1] == str(port)
        assert f"{port}:{port}" in svc["ports"]


def test_apis_wait_for_the_migration_job() -> None:
    for name in ("kpi_api", "netsugen_booking", "notifier", "notifier_worker", "scheduler"):
        deps = COMPOSE["services"][name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"


def test_dockerfile_copies_what_exists() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for src in re.findall(r"^COPY\s+(?!--from=)(.+?)\s+\S+$", dockerfile, flags=re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"Dockerfile copies missing {part}"


def test_proxy_config_routes_to_compose_services() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for host, port in re.findall(r"server (\w+):(\d+);", conf):
        assert host in COMPOSE["services"]
        assert "--port" in COMPOSE["services"][host]["command"]
        assert port in COMPOSE["services"][host]["command"]


def test_env_example_is_current() -> None:
    assert (ROOT / ".env.example").read_text() == render(), "run: python -m gunma.settings_doc > .env.example"


API_SERVICES = ("kpi_api", "netsugen_booking", "notifier")


def test_compose_apis_read_forwarded_for_only_from_the_proxy() -> None:
    """Finding 1 of docs/security.md: `--proxy-headers` made uvicorn believe X-Forwarded-For, so a
    client could choose the address the failed-authentication limit counts. The services read it
    themselves, only from the reverse proxy's fixed address."""
    import ipaddress
    import json

    proxy_ip = ipaddress.ip_address(COMPOSE["services"]["proxy"]["networks"]["default"]["ipv4_address"])
    subnet = ipaddress.ip_network(COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert proxy_ip in subnet
    for name in API_SERVICES:
        service = COMPOSE["services"][name]
        assert "--no-proxy-headers" in service["command"] and "--proxy-headers" not in service["command"]
        env = service["environment"]
        assert "FORWARDED_ALLOW_IPS" not in env
        trusted = [ipaddress.ip_network(n) for n in json.loads(env["TRUSTED_PROXIES"])]
        assert trusted == [ipaddress.ip_network(f"{proxy_ip}/32")], name
    assert "--no-proxy-headers" in (ROOT / "deploy" / "Dockerfile").read_text()
    assert "$proxy_add_x_forwarded_for" in (ROOT / "deploy" / "nginx.conf").read_text()


def test_compose_settings_are_accepted_in_production() -> None:
    """Finding 12: the compose stack runs with ENVIRONMENT=production, where BOOTSTRAP_ADMIN_TOKEN is
    refused; the settings the APIs get must build (a refused setting stops the service)."""
    import json

    from shared.settings import CommonSettings

    for name in API_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert env["ENVIRONMENT"] == "production"
        assert "BOOTSTRAP_ADMIN_TOKEN" not in env
        values = {k.lower(): v for k, v in env.items() if "${" not in str(v)}
        values["trusted_proxies"] = json.loads(values["trusted_proxies"])
        values["cors_origins"] = json.loads(values["cors_origins"])
        settings = CommonSettings(**values)
        assert settings.bootstrap_admin_token is None and settings.trusted_proxies
