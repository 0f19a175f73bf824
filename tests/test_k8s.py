"""deploy/k8s/ is checked against the code, since no cluster runs here (as tests/test_deploy.py does
for docker-compose): every container runs a module, factory, arq worker or `gunma` command that
exists; every variable it gets is one the settings read; secrets only ever come from a Secret;
probes, Services, autoscalers, disruption budgets and the Ingress point at things that exist; and
the Ingress routes every API path to the service that serves it, like deploy/nginx.conf.

No database, Redis or cluster is needed. When `kubectl` is installed, `kubectl kustomize` also
builds both kustomizations.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import SecretStr

from gunma.settings_doc import env_names, settings_classes
from tests.test_deploy import ROOT, check_command, worker_settings_path

K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "gunma-sdgs"
IMAGE_NAME = "gunma-sdgs-platform"
SECRET_NAME = "gunma-secrets"
CONFIGMAP_NAME = "gunma-config"
BUDGET_ANNOTATION = "gunma-sdgs.example.jp/postgres-connection-budget"
EXAMPLE_FILES = {"secret.example.yaml"}

# The APIs: Deployment / Service name -> (uvicorn app module, port, the compose/nginx upstream name).
APIS: dict[str, tuple[str, int, str]] = {
    "kpi-api": ("services.kpi_api.main", 8001, "kpi_api"),
    "netsugen-booking": ("services.netsugen_booking.main", 8002, "netsugen_booking"),
    "notifier": ("services.notifier.main", 8003, "notifier"),
}
WORKERS: dict[str, str] = {
    "notifier-worker": "services.notifier.worker.WorkerSettings",
    "scheduler": "services.netsugen_booking.scheduler.WorkerSettings",
}
WORKER_MODULES = tuple(dotted.rsplit(".", 1)[0] for dotted in WORKERS.values())
# Variables that must never be a literal in a manifest (beyond the SecretStr fields found below).
SECRET_VARIABLES = {"DATABASE_URL", "REDIS_URL", "SMTP_USERNAME", "SMTP_PASSWORD"}
NAMESPACED_KINDS = {
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "Job",
    "NetworkPolicy",
}
# Served by every API on its own port and reached by probes and Prometheus, not through the Ingress.
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# ---------------------------------------------------------------- loading


@cache
def _parse(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None)


def load(path: Path) -> list[dict[str, Any]]:
    """The objects of one manifest (parsed once per session; the tests only read them)."""
    return list(_parse(path.resolve()))


def kustomizations() -> dict[Path, dict[str, Any]]:
    return {p: load(p)[0] for p in sorted(K8S.rglob("kustomization.yaml"))}


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def applied_files() -> list[Path]:
    """The files the kustomizations apply (everything except the examples)."""
    return sorted((k.parent / r).resolve() for k, kust in kustomizations().items() for r in kust["resources"])


def applied() -> list[dict[str, Any]]:
    return [doc for path in applied_files() for doc in load(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in applied() if doc["kind"] == kind}


def workloads() -> dict[str, dict[str, Any]]:
    """Deployments and Jobs by name."""
    return {**of_kind("Deployment"), **of_kind("Job")}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def all_containers() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name}/{c['name']}", c) for name, w in workloads().items() for c in containers(w)]


def argv(container: dict[str, Any]) -> list[str]:
    return [str(a) for a in [*container.get("command", []), *container.get("args", [])]]


def option(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's target port (a number or a port name) as the container's port number."""
    for p in container.get("ports", []):
        if port in (p["containerPort"], p.get("name")):
            return int(p["containerPort"])
    raise AssertionError(f"{container['name']} has no port {port!r}")


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity in base units (cores, bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def effective_env(container: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: ConfigMap values, overridden by `env` literals."""
    configmaps = of_kind("ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update({k: str(v) for k, v in configmaps[source["configMapRef"]["name"]]["data"].items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
    return env


def secret_variables() -> set[str]:
    """Every SecretStr setting, plus the connection URLs and SMTP credentials."""
    found = set(SECRET_VARIABLES)
    for cls in settings_classes():
        for name, field in cls.model_fields.items():
            if field.annotation is SecretStr or SecretStr in get_args(field.annotation):
                found.add(name.upper())
    return found


@pytest.fixture
def importable_workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The arq WorkerSettings read REDIS_URL at import; outside the test stack give them one to parse
    (it is never connected to)."""
    if os.environ.get("REDIS_URL"):
        yield
        return
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    _clear_settings_caches()
    imported_before = set(sys.modules)
    yield
    _clear_settings_caches()
    # Worker settings built from the stand-in URL must not outlive this test.
    for module in WORKER_MODULES:
        if module not in imported_before:
            sys.modules.pop(module, None)


def _clear_settings_caches() -> None:
    for module in (
        "shared.settings",
        "services.kpi_api.settings",
        "services.netsugen_booking.settings",
        "services.notifier.settings",
    ):
        mod = importlib.import_module(module)
        for attr in ("common_settings", "get_settings"):
            fn = getattr(mod, attr, None)
            if fn is not None and hasattr(fn, "cache_clear"):
                fn.cache_clear()


# ---------------------------------------------------------------- the files


def test_every_part_is_there() -> None:
    assert set(of_kind("Deployment")) == set(APIS) | set(WORKERS)
    assert set(of_kind("Job")) == {"gunma-migrate"}
    assert set(of_kind("Service")) == set(APIS)
    assert {h["spec"]["scaleTargetRef"]["name"] for h in of_kind("HorizontalPodAutoscaler").values()} == set(
        APIS
    )
    assert set(of_kind("ConfigMap")) == {CONFIGMAP_NAME}
    assert set(of_kind("Namespace")) == {NAMESPACE}
    assert len(of_kind("Ingress")) == 1
    assert of_kind("PodDisruptionBudget")


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_objects_are_well_formed(path: Path) -> None:
    docs = load(path)
    assert docs, f"{path.name} is empty"
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{path.name}: incomplete object {doc}"
        name = doc["metadata"]["name"]
        assert DNS_1123.match(name), f"{path.name}: {name!r} is not a DNS-1123 name"
        if doc["kind"] in NAMESPACED_KINDS:
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{name} not in {NAMESPACE}"
        assert doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "gunma-sdgs-platform"


def test_kustomizations_apply_every_manifest_but_the_examples() -> None:
    listed: list[Path] = []
    for path, kust in kustomizations().items():
        assert kust["kind"] == "Kustomization" and kust["namespace"] == NAMESPACE
        for resource in kust["resources"]:
            assert (path.parent / resource).is_file(), f"{path}: missing resource {resource}"
            listed.append((path.parent / resource).resolve())
    assert len(listed) == len(set(listed)), "a manifest is listed twice"
    expected = {p.resolve() for p in manifest_files() if p.name not in EXAMPLE_FILES}
    assert set(listed) == expected
    main = kustomizations()[K8S / "kustomization.yaml"]
    assert not any("migrate" in r for r in main["resources"]), "the Job must not race the Deployments"


def test_kustomizations_pin_the_same_image() -> None:
    images = [kust.get("images") for kust in kustomizations().values()]
    assert images[0] and all(i == images[0] for i in images), images
    assert [i["name"] for i in images[0]] == [IMAGE_NAME]
    for where, container in all_containers():
        assert container["image"].split(":")[0] == IMAGE_NAME, where


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder", [K8S, K8S / "migrate"], ids=["platform", "migrate"])
def test_kubectl_kustomize_builds(folder: Path) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    built = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(out.stdout) if d}
    kust = load(folder / "kustomization.yaml")[0]
    ours = {(d["kind"], d["metadata"]["name"]) for r in kust["resources"] for d in load(folder / r)}
    assert built == ours


KUBERNETES_VERSION = "1.32"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifests_match_the_kubernetes_schemas(path: Path) -> None:
    """Strict: an unknown or misspelt field (`livenesProbe`) or a wrong type fails, as the API server
    would refuse it. Needs the `kubernetes-validate` package (bundled schemas, no cluster)."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in load(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


# ---------------------------------------------------------------- commands and settings


@pytest.mark.usefixtures("importable_workers")
@pytest.mark.parametrize("where", [w for w, _ in all_containers()])
def test_container_command_exists(where: str) -> None:
    container = dict(all_containers())[where]
    check_command(argv(container))


def test_apis_and_workers_run_what_they_are_named_for() -> None:
    deployments = of_kind("Deployment")
    for name, (module, port, _) in APIS.items():
        args = argv(deployments[name]["spec"]["template"]["spec"]["containers"][0])
        assert args[:2] == ["uvicorn", f"{module}:create_app"] and "--factory" in args
        assert option(args, "--port") == str(port)
        assert option(args, "--host") == "0.0.0.0"
    for name, settings in WORKERS.items():
        command = argv(deployments[name]["spec"]["template"]["spec"]["containers"][0])
        assert worker_settings_path(command) == settings, command


def test_worker_ports_are_the_ones_the_worker_serves() -> None:
    """A worker exposes a port only for its metrics server, at WORKER_METRICS_PORT."""
    deployments = of_kind("Deployment")
    for name in WORKERS:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        ports = container.get("ports", [])
        if not ports:
            continue
        assert [p["name"] for p in ports] == ["metrics"], name
        assert effective_env(container)["WORKER_METRICS_PORT"] == str(ports[0]["containerPort"])
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(ports[0]["containerPort"])


def test_migration_job_runs_gunma_setup() -> None:
    job = of_kind("Job")["gunma-migrate"]
    (container,) = containers(job)
    assert argv(container) == ["gunma", "setup"]
    assert pod_spec(job)["restartPolicy"] in {"Never", "OnFailure"}
    assert job["spec"].get("parallelism", 1) == 1 and job["spec"].get("completions", 1) == 1


@pytest.mark.parametrize("where", [w for w, _ in all_containers()])
def test_container_environment_is_read_by_settings(where: str) -> None:
    container = dict(all_containers())[where]
    known = env_names()
    configmaps = of_kind("ConfigMap")
    names = [item["name"] for item in container.get("env", [])]
    assert len(names) == len(set(names)), f"{where}: a variable is set twice"
    for source in container.get("envFrom", []):
        assert set(source) <= {"configMapRef", "secretRef", "prefix"} and "prefix" not in source
        if "configMapRef" in source:
            names += list(configmaps[source["configMapRef"]["name"]]["data"])
        else:
            assert source["secretRef"]["name"] == SECRET_NAME
            names += list(example_secret()["stringData"])
    unknown = sorted(set(names) - known)
    assert unknown == [], f"{where} sets variables no settings class reads: {unknown}"


def test_configmap_keys_are_settings_and_hold_no_secret() -> None:
    data = of_kind("ConfigMap")[CONFIGMAP_NAME]["data"]
    assert sorted(set(data) - env_names()) == []
    leaked = sorted(set(data) & secret_variables())
    assert leaked == [], f"secrets in the ConfigMap: {leaked}"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings (quote numbers)"


def test_configmap_service_urls_point_at_the_services() -> None:
    data = of_kind("ConfigMap")[CONFIGMAP_NAME]["data"]
    services = of_kind("Service")
    for variable, name in (
        ("KPI_API_URL", "kpi-api"),
        ("NETSUGEN_URL", "netsugen-booking"),
        ("NOTIFIER_URL", "notifier"),
    ):
        match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", data[variable])
        assert match, f"{variable}={data[variable]}"
        assert match.group(1) == name
        assert int(match.group(2)) in [p["port"] for p in services[name]["spec"]["ports"]]


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize("where", [w for w, _ in all_containers()])
def test_secrets_come_from_the_secret(where: str) -> None:
    container = dict(all_containers())[where]
    secrets = secret_variables()
    for item in container.get("env", []):
        if item["name"] in secrets:
            assert "value" not in item, f"{where}: literal {item['name']}"
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["name"] == SECRET_NAME and ref["key"] == item["name"]
        elif "valueFrom" in item:
            assert "secretKeyRef" not in item["valueFrom"], f"{where}: {item['name']} is not a secret setting"


@pytest.mark.parametrize("where", [w for w, _ in all_containers()])
def test_database_and_redis_urls_are_required(where: str) -> None:
    """Unset, `gunma` and the settings would fall back to embedded servers under .data/."""
    env = {item["name"]: item for item in dict(all_containers())[where].get("env", [])}
    for variable in ("DATABASE_URL", "REDIS_URL"):
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert not ref.get("optional", False), f"{where}: {variable} must not be optional"


def example_secret() -> dict[str, Any]:
    (doc,) = load(K8S / "secret.example.yaml")
    return doc


def test_no_secret_is_applied_and_the_example_holds_only_placeholders() -> None:
    assert not of_kind("Secret"), "a Secret object is applied by a kustomization"
    example = example_secret()
    assert example["kind"] == "Secret" and example["metadata"]["name"] == SECRET_NAME
    assert "data" not in example, "base64 `data` hides what the values are: use placeholder stringData"
    assert "EXAMPLE ONLY" in (K8S / "secret.example.yaml").read_text().splitlines()[0]
    for key, value in example["stringData"].items():
        assert key in env_names(), f"the example Secret holds {key}, which no setting reads"
        assert re.fullmatch(r"<[^<>]+>", value), f"{key}: {value!r} is not a <placeholder>"
    referenced = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for _, c in all_containers()
        for item in c.get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert referenced <= set(example["stringData"]), (
        f"undocumented keys: {referenced - set(example['stringData'])}"
    )


def test_no_credentials_in_any_manifest() -> None:
    userinfo = re.compile(r"[a-z+]+://[^\s:/@<>'\"]*:(?P<password>[^\s@<>'\"]+)@")
    for path in manifest_files():
        for doc in load(path):
            text = yaml.safe_dump(doc)
            for match in userinfo.finditer(text):
                assert path.name in EXAMPLE_FILES, f"{path.name}: credentials in a URL: {match.group(0)}"


# ---------------------------------------------------------------- probes, shutdown, resources, security


@cache
def app_paths(module: str) -> frozenset[str]:
    app = importlib.import_module(module).create_app()
    return frozenset(app.openapi()["paths"])


@pytest.mark.parametrize("name", sorted(APIS))
def test_api_probes_hit_health_endpoints_on_the_served_port(name: str) -> None:
    module, port, _ = APIS[name]
    container = of_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert int(option(argv(container), "--port")) == port
    paths = app_paths(module)
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        http = container[probe]["httpGet"]
        assert http["path"] == path, f"{name} {probe}"
        assert port_number(container, http["port"]) == port, f"{name} {probe} port"
        assert path in paths, f"{module} serves no {path}"
    # Liveness must not depend on PostgreSQL/Redis, or an outage would restart every pod.
    assert container["livenessProbe"]["httpGet"]["path"] != container["readinessProbe"]["httpGet"]["path"]


@pytest.mark.parametrize("name", sorted(APIS))
def test_api_shuts_down_gracefully_within_the_grace_period(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    graceful_s = int(option(argv(container), "--timeout-graceful-shutdown"))
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_stop_s = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    assert grace >= 20
    assert grace > graceful_s + pre_stop_s, f"{name}: SIGKILL before uvicorn has drained"
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0, "a rollout must not take capacity away"


@pytest.mark.parametrize("where", [w for w, _ in all_containers()])
def test_resources_are_set(where: str) -> None:
    resources = dict(all_containers())[where]["resources"]
    for kind in ("cpu", "memory"):
        assert kind in resources["requests"], f"{where}: no {kind} request"
    assert "memory" in resources["limits"], f"{where}: no memory limit"
    for kind, limit in resources["limits"].items():
        assert quantity(resources["requests"][kind]) <= quantity(limit), f"{where}: {kind} request > limit"
    if where.split("/")[0] in APIS:
        assert quantity(resources["limits"]["memory"]) <= 256 * 2**20, f"{where}: over 256Mi"


def dockerfile_uid() -> int:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    match = re.search(r"useradd .*--uid (\d+)", dockerfile)
    assert match, "the Dockerfile creates no user with a fixed uid"
    return int(match.group(1))


@pytest.mark.parametrize("name", sorted(workloads()))
def test_pods_run_restricted(name: str) -> None:
    spec = pod_spec(workloads()[name])
    uid = dockerfile_uid()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == uid == 10001
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    assert not spec.get("hostNetwork") and not spec.get("hostPID")
    mounts_tmp = False
    for container in containers(workloads()[name]):
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
        assert sc.get("runAsUser", uid) == uid and not sc.get("privileged")
        mounts_tmp |= any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
    # A read-only root still needs a writable /tmp (spooled multipart uploads).
    assert mounts_tmp
    volumes = {v["name"]: v for v in spec["volumes"]}
    for container in containers(workloads()[name]):
        for mount in container.get("volumeMounts", []):
            assert "emptyDir" in volumes[mount["name"]]


# ---------------------------------------------------------------- autoscaling and disruption


def test_every_api_has_an_hpa_on_its_deployment() -> None:
    deployments = of_kind("Deployment")
    targets: list[str] = []
    for name, hpa in of_kind("HorizontalPodAutoscaler").items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["apiVersion"] == "apps/v1"
        assert ref["name"] in deployments, f"HPA {name} targets a missing Deployment {ref['name']}"
        spec = hpa["spec"]
        assert 2 <= spec["minReplicas"] <= spec["maxReplicas"]
        target = deployments[ref["name"]]
        assert "replicas" not in target["spec"], (
            f"{ref['name']}: `replicas` would fight the HPA on each apply"
        )
        for metric in spec["metrics"]:
            resource = metric["resource"]["name"]
            for container in containers(target):
                assert resource in container["resources"]["requests"], "utilization needs a request"
        targets.append(ref["name"])
    assert sorted(targets) == sorted(APIS)


def test_pdbs_select_exactly_one_deployment_and_allow_drains() -> None:
    deployments = of_kind("Deployment")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("HorizontalPodAutoscaler").values()}
    covered: list[str] = []
    for name, pdb in of_kind("PodDisruptionBudget").items():
        assert pdb["apiVersion"] == "policy/v1"
        selector = pdb["spec"]["selector"]["matchLabels"]
        hits = [
            d
            for d, dep in deployments.items()
            if matches(selector, dep["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(hits) == 1, f"PDB {name} selects {hits}"
        (target,) = hits
        replicas = (
            hpas[target]["spec"]["minReplicas"] if target in hpas else deployments[target]["spec"]["replicas"]
        )
        if "minAvailable" in pdb["spec"]:
            assert pdb["spec"]["minAvailable"] < replicas, f"PDB {name} would block every node drain"
        else:
            assert pdb["spec"]["maxUnavailable"] >= 1
        covered.append(target)
    assert sorted(covered) == sorted(deployments)


def test_deployment_selectors_match_their_pods() -> None:
    for name, deployment in of_kind("Deployment").items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert matches(selector, deployment["spec"]["template"]["metadata"]["labels"]), name
        others = [
            n
            for n, d in of_kind("Deployment").items()
            if n != name and matches(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        assert others == [], f"{name}'s selector also matches {others}"


# ---------------------------------------------------------------- services and ingress


def test_services_select_pods_and_target_real_ports() -> None:
    deployments = of_kind("Deployment")
    for name, service in of_kind("Service").items():
        selected = [
            d
            for d in deployments.values()
            if matches(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert [d["metadata"]["name"] for d in selected] == [name], f"Service {name} selects the wrong pods"
        for port in service["spec"]["ports"]:
            container = selected[0]["spec"]["template"]["spec"]["containers"][0]
            assert port_number(container, port.get("targetPort", port["port"])) == APIS[name][1]
            assert port["port"] == APIS[name][1]


@cache
def ingress_rules() -> list[tuple[str, str, str, int]]:
    """(path, pathType, service, port) of the one Ingress."""
    (ingress,) = of_kind("Ingress").values()
    rules = ingress["spec"]["rules"]
    assert len(rules) == 1 and rules[0]["host"], "one public host"
    return [
        (p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
        for p in rules[0]["http"]["paths"]
    ]


def test_ingress_backends_are_services_and_ports() -> None:
    services = of_kind("Service")
    for path, path_type, service, port in ingress_rules():
        assert path_type in {"Prefix", "Exact"}, path
        assert service in services, f"{path}: no Service {service}"
        assert port in [p["port"] for p in services[service]["spec"]["ports"]], (
            f"{path}: {service} has no port {port}"
        )
    (ingress,) = of_kind("Ingress").values()
    assert ingress["spec"]["tls"][0]["secretName"], "TLS from a Secret"


def ingress_route(path: str) -> str | None:
    """The Service the Ingress sends `path` to: an Exact match, else the longest Prefix match
    (Prefix matches whole path segments)."""
    best: tuple[int, str] | None = None
    for rule_path, path_type, service, _ in ingress_rules():
        if path_type == "Exact":
            if path == rule_path:
                return service
            continue
        prefix = rule_path.rstrip("/")
        if prefix == "" or path == prefix or path.startswith(prefix + "/"):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), service)
    return best[1] if best else None


@cache
def nginx_locations() -> list[tuple[str, str, str]]:
    """(modifier, pattern, upstream) of deploy/nginx.conf's proxied locations, in order."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    found = re.findall(r"location\s+(~\*?|=|\^~)?\s*(\S+)\s*\{\s*proxy_pass\s+http://(\w+);", conf)
    assert found, "nginx.conf proxies nothing?"
    return found


def nginx_route(path: str) -> str | None:
    """nginx's choice: an exact match, else the first matching regex, else the longest prefix."""
    prefix_best: tuple[int, str] | None = None
    for modifier, pattern, upstream in nginx_locations():
        if modifier == "=" and path == pattern:
            return upstream
        if modifier in ("", "^~") and path.startswith(pattern):
            if prefix_best is None or len(pattern) > prefix_best[0]:
                prefix_best = (len(pattern), upstream)
    for modifier, pattern, upstream in nginx_locations():
        if modifier.startswith("~") and re.search(pattern, path, flags=re.I if modifier == "~*" else 0):
            return upstream
    return prefix_best[1] if prefix_best else None


def sample_paths() -> list[str]:
    """Paths that exercise each nginx location: every regex alternative and every prefix."""
    samples: list[str] = []
    for modifier, pattern, _ in nginx_locations():
        if modifier.startswith("~"):
            group = re.search(r"\(([^()]+)\)", pattern)
            assert group, f"cannot expand {pattern}"
            stem = pattern[: group.start()].lstrip("^")
            for alternative in group.group(1).split("|"):
                samples += [f"{stem}{alternative}", f"{stem}{alternative}/123/items"]
        else:
            samples += [pattern, pattern.rstrip("/") + "/some-resource/1"]
    return samples


def k8s_name(compose_name: str) -> str:
    return {upstream: name for name, (_, _, upstream) in APIS.items()}[compose_name]


def test_ingress_routes_like_nginx() -> None:
    samples = sample_paths()
    assert len(samples) >= 20
    for path in samples:
        upstream = nginx_route(path)
        assert upstream is not None, path
        assert ingress_route(path) == k8s_name(upstream), (
            f"{path}: nginx → {upstream}, Ingress → {ingress_route(path)}"
        )


@pytest.mark.parametrize("name", sorted(APIS))
def test_ingress_routes_every_api_path_to_its_service(name: str) -> None:
    module, _, upstream = APIS[name]
    api_paths = sorted(app_paths(module) - OPERATIONS_PATHS)
    assert any(p.startswith("/v1/") for p in api_paths), f"{module} serves no /v1 path"
    for path in api_paths:
        concrete = re.sub(r"\{[^}]+\}", "p1", path)
        assert ingress_route(concrete) == name, f"{path} of {name} goes to {ingress_route(concrete)}"
        assert nginx_route(concrete) == upstream, (
            f"{path} of {name}: nginx.conf sends it to {nginx_route(concrete)}"
        )


def test_network_policies_select_platform_pods_on_real_ports() -> None:
    deployments = of_kind("Deployment")
    for name, policy in of_kind("NetworkPolicy").items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        selected = [
            d for d in deployments.values() if matches(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        assert selected, f"NetworkPolicy {name} selects no pod"
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                for d in selected:
                    port_number(d["spec"]["template"]["spec"]["containers"][0], port["port"])
    api_pods = [d for n, d in deployments.items() if n in APIS]
    allowed = [
        p
        for p in of_kind("NetworkPolicy").values()
        if p["spec"].get("ingress")
        and all(
            matches(
                p["spec"]["podSelector"].get("matchLabels", {}), d["spec"]["template"]["metadata"]["labels"]
            )
            for d in api_pods
        )
    ]
    assert allowed, "a NetworkPolicy must limit who connects to the APIs"
    default_deny = [
        p
        for p in of_kind("NetworkPolicy").values()
        if p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
    ]
    assert default_deny


# ---------------------------------------------------------------- client addresses and set-up secrets


def test_apis_read_forwarded_for_only_from_trusted_proxies() -> None:
    """Finding 1 of docs/security.md: uvicorn trusted X-Forwarded-For from every peer ('*'), so any
    client could choose the address the failed-authentication limit counts."""
    from shared.settings import CommonSettings

    deployments = of_kind("Deployment")
    for name in APIS:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        args = argv(container)
        assert "--no-proxy-headers" in args and "--proxy-headers" not in args, name
        assert "--forwarded-allow-ips" not in args, name
        env = effective_env(container)
        assert "FORWARDED_ALLOW_IPS" not in env, name  # uvicorn reads it from the environment too
        proxies = CommonSettings(trusted_proxies=json.loads(env["TRUSTED_PROXIES"])).trusted_proxies
        assert proxies, f"{name}: TRUSTED_PROXIES is empty: every client shares the Ingress' address"
        for entry in proxies:
            network = ipaddress.ip_network(entry, strict=False)
            assert network.prefixlen >= 8 and network.is_private, f"{name}: trusts {entry}"


def test_no_bootstrap_admin_token_in_production() -> None:
    """Finding 12: BOOTSTRAP_ADMIN_TOKEN is refused when ENVIRONMENT=production (the pods would not start)."""
    for where, container in all_containers():
        env = effective_env(container)
        names = {item["name"] for item in container.get("env", [])}
        if env.get("ENVIRONMENT") == "production":
            assert "BOOTSTRAP_ADMIN_TOKEN" not in names, where
    assert "BOOTSTRAP_ADMIN_TOKEN" not in example_secret()["stringData"]


def test_notifier_worker_egress_reaches_no_internal_range_on_web_ports() -> None:
    """SSRF (security finding 5): the webhook worker may reach DNS, PostgreSQL, Redis, SMTP, the
    netsugen-booking pods and the public internet on 80/443 only; private ranges and 169.254.0.0/16
    (cloud metadata) are excepted from every rule that opens 80/443, and no rule opens everything."""
    worker_labels = of_kind("Deployment")["notifier-worker"]["spec"]["template"]["metadata"]["labels"]
    policies = [
        p
        for p in of_kind("NetworkPolicy").values()
        if "Egress" in p["spec"]["policyTypes"]
        and matches(p["spec"]["podSelector"].get("matchLabels", {}), worker_labels)
    ]
    assert policies, "no egress NetworkPolicy selects the notifier worker"
    internal = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"}
    opened: dict[int, list[dict[str, Any]]] = {}
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            assert rule.get("ports"), (
                f"{policy['metadata']['name']}: an egress rule without ports opens every port"
            )
            assert rule.get("to"), (
                f"{policy['metadata']['name']}: an egress rule without peers opens every address"
            )
            for port in rule["ports"]:
                opened.setdefault(int(port["port"]), []).extend(rule["to"])
    assert {53, 5432, 6379, 80, 443, 587} <= set(opened)
    assert not set(opened) - {53, 5432, 6379, 6380, 8002, 25, 465, 587, 80, 443}, sorted(opened)
    for web_port in (80, 443):
        for peer in opened[web_port]:
            block = peer.get("ipBlock")
            assert block is not None, f"port {web_port} is opened to pods, not to the internet only"
            if ":" in block["cidr"]:
                assert {"fc00::/7", "fe80::/10", "::1/128"} <= set(block.get("except", []))
            else:
                assert internal <= set(block.get("except", [])), (
                    f"{block['cidr']} on {web_port} reaches internal ranges"
                )
    netsugen = [peer for peer in opened[8002] if "podSelector" in peer]
    assert netsugen and all(
        peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "netsugen-booking"}
        for peer in opened[8002]
    )


# ---------------------------------------------------------------- running many replicas


def max_replicas(name: str) -> int:
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("HorizontalPodAutoscaler").values()}
    if name in hpas:
        return int(hpas[name]["spec"]["maxReplicas"])
    workload = workloads()[name]
    return int(workload["spec"].get("replicas", workload["spec"].get("parallelism", 1)))


# Cron jobs reviewed as safe to run twice, with the reason. arq keeps no result for a cron job unless
# it sets `keep_result`, so once a run has finished, a replica whose cron loop or clock lags enqueues
# the same slot again; a `run_at_startup` run is keyed on the start time and so runs once per replica
# start. A worker running more than one replica may only have such jobs if they are listed here.
IDEMPOTENT_CRON_JOBS = {
    "purge_ledger": "notifier: deletes finished deliveries past retention; deleting twice changes nothing",
    "reconcile": "notifier: re-queues overdue deliveries under deterministic deliver:<id>:<attempt> ids",
}


def overlapping_replicas(name: str) -> int:
    """How many copies of a worker may run at once, rolling updates included."""
    deployment = of_kind("Deployment")[name]
    surge = 0 if deployment["spec"]["strategy"]["type"] == "Recreate" else 1
    return max_replicas(name) + surge


@pytest.mark.usefixtures("importable_workers")
@pytest.mark.parametrize("name", sorted(WORKERS))
def test_cron_jobs_run_once_per_schedule_across_replicas(name: str) -> None:
    """arq enqueues a cron run as `<name>:<scheduled ms>` and refuses an id whose job (or kept
    result) exists: every replica computes the same id, so only unique jobs without a fixed id
    qualify, and jobs that can still run twice must be idempotent."""
    container = of_kind("Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
    settings_path = worker_settings_path(argv(container))
    assert settings_path is not None, argv(container)
    module_name, attr = settings_path.rsplit(".", 1)
    settings_cls = getattr(importlib.import_module(module_name), attr)
    assert settings_cls.cron_jobs, f"{name} schedules nothing"
    for cron_job in settings_cls.cron_jobs:
        assert cron_job.unique, f"{cron_job.name} is not unique: every replica would run it"
        assert cron_job.job_id is None, f"{cron_job.name}: a fixed job id would skip later runs"
        can_repeat = cron_job.run_at_startup or not (cron_job.keep_result_s or cron_job.keep_result_forever)
        if overlapping_replicas(name) > 1 and can_repeat:
            assert cron_job.name in IDEMPOTENT_CRON_JOBS, (
                f"{cron_job.name} may run twice with {overlapping_replicas(name)} copies of {name}: "
                "make sure it is idempotent, then add it to IDEMPOTENT_CRON_JOBS"
            )


def test_postgres_connections_fit_the_budget() -> None:
    """Σ max replicas × (DB_POOL_SIZE + DB_MAX_OVERFLOW) over every workload ≤ the documented budget."""
    configmap = of_kind("ConfigMap")[CONFIGMAP_NAME]
    budget = int(configmap["metadata"]["annotations"][BUDGET_ANNOTATION])
    total = 0
    for name, workload in workloads().items():
        for container in containers(workload):
            env = effective_env(container)
            per_process = int(env["DB_POOL_SIZE"]) + int(env["DB_MAX_OVERFLOW"])
            total += max_replicas(name) * per_process
    assert total <= budget, f"{total} connections at full scale > budget {budget}"
