"""deploy/k8s agrees with Kubernetes, with deploy/Dockerfile and with Portico.

No cluster and no container engine run on this project's CI machines, so nothing here
applies a manifest or builds the image. Instead every object is validated against the
Kubernetes schema (strict: an unknown or misplaced field fails), the references between
objects are resolved, and every name the manifests and the image take from Portico (a
setting, a command and its options, a probe's route, the user) is checked against Portico
itself: its configuration reference, its CLI and its app's routes. The manifests are read
through tests/support/kubernetes.py and the image through tests/support/deploy.py;
tests/deploy/test_dockerfile.py checks the Dockerfile on its own.
"""

import re
import secrets
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from litestar import Litestar
from litestar.routes import WebSocketRoute

from entrypoints.config.loader import setting_specs
from tests.support.deploy import (
    ROOT,
    exec_form,
    image_env,
    image_instructions,
    image_user,
    public_get_paths,
)
from tests.support.kubernetes import (
    KUSTOMIZATION,
    all_objects,
    by_role,
    command_path,
    containers,
    documents,
    manifest_paths,
    mebibytes,
    of_kind,
    pod_labels,
    pod_spec,
    selects,
    workloads,
)
from tests.support.server import PORTICO, clean_env, run_portico

# The oldest release the base promises to apply to, and the newest the validator knows, so
# that a field added after the first or removed before the second fails here.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())

# Variables the image or the manifests may set that are not Portico settings: the image's
# executable search path, and the two interpreter switches a read-only root needs (no
# bytecode written at run time, logs not held in a buffer).
NOT_SETTINGS = frozenset({"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"})

# Settings that are not flagged secret but carry a password in their URL.
CREDENTIAL_URLS = frozenset({"DATABASE_URL", "REDIS_URL"})

PLACEHOLDER = "REPLACE-ME"
CONTAINER_TMP = "/tmp"  # noqa: S108 - a path inside the containers, not a file made here


# Portico's side: its settings and its commands (its routes: the `app` fixture).


@pytest.fixture(scope="module")
def setting_names() -> frozenset[str]:
    """Every variable in `portico config reference`; a reference that cannot be read fails."""
    result = subprocess.run(
        [PORTICO, "config", "reference"], capture_output=True, text=True, check=True, timeout=60
    )
    names = frozenset(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", result.stdout, re.MULTILINE))
    assert "DATABASE_URL" in names, f"could not read the reference:\n{result.stdout[:500]}"
    return names


def command_lines() -> Iterator[tuple[str, list[str]]]:
    """Every `portico` argument list the deployment runs, and where it comes from."""
    for workload in workloads():
        for container in containers(workload):
            yield f"{workload['metadata']['name']}/{container['name']}", container["args"]
    (cmd,) = image_instructions("CMD")
    yield "Dockerfile CMD", exec_form(cmd)


# The manifests themselves.


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifest_paths(), ids=lambda path: path.name)
def test_every_object_is_valid_for_its_kind(path: Path, version: str) -> None:
    objects = documents(path)
    assert objects, f"{path.name} holds no object"
    for item in objects:
        kubernetes_validate.validate(item, version, strict=True)


def test_the_kustomization_lists_exactly_the_manifests() -> None:
    resources = yaml.safe_load(KUSTOMIZATION.read_text())["resources"]
    assert len(resources) == len(set(resources)), f"listed twice: {resources}"
    present = {path.name for path in manifest_paths()}
    assert set(resources) - present == set(), "listed but missing"
    assert present - set(resources) == set(), "present but not listed"


def test_every_container_runs_the_image_the_kustomization_tags_with_the_release() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    (image,) = kustomization["images"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert image["newTag"] == version
    for workload in workloads():
        for container in containers(workload):
            assert container["image"] == image["name"], workload["metadata"]["name"]


def test_references_between_objects_resolve() -> None:
    names = {(item["kind"], item["metadata"]["name"]) for item in all_objects()}
    for workload in workloads():
        spec = pod_spec(workload)
        assert ("ServiceAccount", spec["serviceAccountName"]) in names
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in names
    for autoscaler in of_kind("HorizontalPodAutoscaler"):
        target = autoscaler["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) in names, autoscaler["metadata"]["name"]
    for budget in of_kind("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        assert [item for item in workloads() if selects(selector, pod_labels(item))]


def test_the_ingress_reaches_the_api_port_and_its_websocket(app: Litestar) -> None:
    websocket_paths = {route.path for route in app.routes if isinstance(route, WebSocketRoute)}
    assert "/ws" in websocket_paths
    services = {item["metadata"]["name"]: item for item in of_kind("Service")}
    api = by_role("serve")
    (api_container,) = pod_spec(api)["containers"]
    api_ports = {port["name"]: port["containerPort"] for port in api_container["ports"]}
    (ingress,) = of_kind("Ingress")
    routed = []
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = services[backend["name"]]
            assert selects(service["spec"]["selector"], pod_labels(api))
            service_ports = {port["name"]: port for port in service["spec"]["ports"]}
            assert service_ports[backend["port"]["name"]]["targetPort"] in api_ports
            if path["pathType"] == "Prefix" and "/ws".startswith(path["path"]):
                routed.append(path["path"])
    assert routed, "no Prefix path of the Ingress covers /ws"


# Portico's names in the manifests and the image.


def used_variables() -> dict[str, set[str]]:
    """Every variable name the deployment sets, with where each is set."""
    found: dict[str, set[str]] = {}
    for item in of_kind("ConfigMap"):
        for name in item.get("data", {}):
            found.setdefault(name, set()).add(f"ConfigMap {item['metadata']['name']}")
    for item in of_kind("Secret"):
        for name in {**item.get("data", {}), **item.get("stringData", {})}:
            found.setdefault(name, set()).add(f"Secret {item['metadata']['name']}")
    for workload in workloads():
        for container in containers(workload):
            for variable in container.get("env", []):
                found.setdefault(variable["name"], set()).add(workload["metadata"]["name"])
    for name in image_env():
        found.setdefault(name, set()).add("Dockerfile ENV")
    return found


def test_every_variable_is_a_portico_setting(setting_names: frozenset[str]) -> None:
    used = used_variables()
    assert "DATABASE_URL" in used
    unknown = {
        name: sorted(where)
        for name, where in used.items()
        if name not in setting_names and name not in NOT_SETTINGS
    }
    assert unknown == {}


def test_secrets_are_only_in_the_secret() -> None:
    secret_names = {spec.variable for spec in setting_specs() if spec.secret} | CREDENTIAL_URLS
    (secret,) = of_kind("Secret")
    assert secret_names <= set(secret["stringData"]), "a secret setting the Secret does not hold"
    for config_map in of_kind("ConfigMap"):
        assert secret_names & set(config_map["data"]) == set()
    for workload in workloads():
        for container in containers(workload):
            literal = {variable["name"] for variable in container.get("env", [])}
            assert secret_names & literal == set(), workload["metadata"]["name"]


def shipped_settings() -> dict[str, str]:
    """The settings the base ships, ConfigMap and Secret together, placeholders included."""
    (config_map,) = of_kind("ConfigMap")
    (secret,) = of_kind("Secret")
    return {**config_map["data"], **secret["stringData"]}


def test_the_shipped_placeholders_refuse_to_start(tmp_path: Path) -> None:
    (secret,) = of_kind("Secret")
    assert all(PLACEHOLDER in value for value in secret["stringData"].values())
    result = run_portico("config", "check", env=clean_env(**shipped_settings()), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "JWT_SECRET" in result.stderr
    with_a_real_jwt_secret = {**shipped_settings(), "JWT_SECRET": "k" * 48}
    result = run_portico("config", "check", env=clean_env(**with_a_real_jwt_secret), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "AUDIT_SIGNING_KEY" in result.stderr
    with_a_real_audit_key = {**with_a_real_jwt_secret, "AUDIT_SIGNING_KEY": "a" * 48}
    result = run_portico("config", "check", env=clean_env(**with_a_real_audit_key), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "PUSH_VAPID_PRIVATE_KEY" in result.stderr


def test_the_settings_are_valid_once_real_secrets_replace_the_placeholders(
    tmp_path: Path,
) -> None:
    keys = run_portico("push", "keys", env=clean_env(), cwd=tmp_path)
    (vapid_key,) = re.findall(r"^PUSH_VAPID_PRIVATE_KEY=(\S+)$", keys.stdout, re.MULTILINE)
    real = {
        "JWT_SECRET": secrets.token_urlsafe(48),
        "AUDIT_SIGNING_KEY": secrets.token_urlsafe(48),
        "PUSH_VAPID_PRIVATE_KEY": vapid_key,
    }
    settings = {**shipped_settings(), **real}
    result = run_portico("config", "check", env=clean_env(**settings), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("origin", "args"), list(command_lines()), ids=[origin for origin, _ in command_lines()]
)
def test_every_command_and_option_is_portico_s(origin: str, args: list[str]) -> None:
    path = command_path(args)
    assert path, f"{origin}: no command"
    result = subprocess.run(
        [PORTICO, *path, "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"{origin}: portico {' '.join(path)}: {result.stderr}"
    options = [arg.split("=")[0] for arg in args[len(path) :] if arg.startswith("--")]
    for option in options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), (
            f"{origin}: portico {' '.join(path)} has no {option}"
        )


def test_no_container_replaces_the_image_entrypoint() -> None:
    assert exec_form(image_instructions("ENTRYPOINT")[-1]) == ["portico"]
    for workload in workloads():
        for container in containers(workload):
            assert "command" not in container, workload["metadata"]["name"]


def test_every_probe_asks_a_public_route_on_the_served_port(app: Litestar) -> None:
    public = public_get_paths(app)
    assert {"/health/live", "/health/ready"} <= public
    probed = []
    for workload in workloads():
        for container in containers(workload):
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            args = container["args"]
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "httpGet" not in container.get(kind, {}):
                    continue
                probe = container[kind]["httpGet"]
                assert probe["path"] in public, f"{kind} {probe['path']}"
                port = ports.get(probe["port"], probe["port"])
                assert str(port) == args[args.index("--port") + 1], f"{kind} port {port}"
                probed.append(kind)
    assert sorted(probed) == ["livenessProbe", "readinessProbe", "startupProbe"]


# Shape: one scheduler, autoscaled API and worker, locked-down pods.


def test_the_scheduler_is_one_replica_that_never_overlaps_and_never_scales() -> None:
    scheduler = by_role("scheduler")
    assert scheduler["kind"] == "Deployment"
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"
    name = scheduler["metadata"]["name"]
    targets = {
        item["spec"]["scaleTargetRef"]["name"] for item in of_kind("HorizontalPodAutoscaler")
    }
    assert name not in targets
    for budget in of_kind("PodDisruptionBudget"):
        assert not selects(budget["spec"]["selector"]["matchLabels"], pod_labels(scheduler))


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_the_api_and_the_worker_autoscale_within_a_disruption_budget(command: str) -> None:
    workload = by_role(command)
    name = workload["metadata"]["name"]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    autoscalers = [
        item
        for item in of_kind("HorizontalPodAutoscaler")
        if item["spec"]["scaleTargetRef"] == target
    ]
    assert len(autoscalers) == 1
    assert autoscalers[0]["apiVersion"] == "autoscaling/v2"
    assert autoscalers[0]["spec"]["minReplicas"] >= 2
    assert "replicas" not in workload["spec"], "the autoscaler owns the count; apply would reset it"
    budgets = [
        item
        for item in of_kind("PodDisruptionBudget")
        if selects(item["spec"]["selector"]["matchLabels"], pod_labels(workload))
    ]
    assert len(budgets) == 1


def test_the_migration_job_is_bounded_and_not_retried_forever() -> None:
    job = by_role("db upgrade")
    assert job["kind"] == "Job"
    spec = job["spec"]
    assert 0 < spec["backoffLimit"] <= 5
    assert spec["activeDeadlineSeconds"] > 0
    assert spec["ttlSecondsAfterFinished"] > 0
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_the_migrate_phase_holds_the_job_and_everything_it_needs() -> None:
    """`kubectl apply -k deploy/k8s -l portico/rollout-phase=migrate` must be enough to run it."""
    phase = {"portico/rollout-phase": "migrate"}

    def in_phase(item: dict[str, Any]) -> bool:
        return selects(phase, item["metadata"].get("labels", {}))

    job = by_role("db upgrade")
    assert in_phase(job)
    needed = {("ServiceAccount", pod_spec(job).get("serviceAccountName", "default"))}
    for container in containers(job):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                needed.add(("ConfigMap", source["configMapRef"]["name"]))
            if "secretRef" in source:
                needed.add(("Secret", source["secretRef"]["name"]))
    found = {(item["kind"], item["metadata"]["name"]): item for item in all_objects()}
    for kind, name in sorted(needed):
        assert (kind, name) in found, f"the Job needs {kind} {name}, which the base lacks"
        assert in_phase(found[kind, name]), f"{kind} {name} is not applied with the Job"


@pytest.mark.parametrize(
    "workload", workloads(), ids=[item["metadata"]["name"] for item in workloads()]
)
def test_every_container_is_locked_down_and_sized(workload: dict[str, Any]) -> None:
    uid, gid = image_user()
    spec = pod_spec(workload)
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsUser"] == uid
    assert spec["securityContext"]["runAsGroup"] == gid
    (config_map,) = of_kind("ConfigMap")
    data_dir = config_map["data"]["DATA_DIR"]
    assert data_dir == image_env()["DATA_DIR"]
    empty_dirs = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
    for container in containers(workload):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == uid
        assert context["runAsGroup"] == gid
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
        writable = {
            mount["mountPath"] for mount in container["volumeMounts"] if mount["name"] in empty_dirs
        }
        assert {data_dir, CONTAINER_TMP} <= writable
        requests = container["resources"]["requests"]
        limits = container["resources"]["limits"]
        assert {"cpu", "memory"} <= set(requests)
        assert mebibytes(limits["memory"]) > mebibytes(requests["memory"])
