"""The Kubernetes base in deploy/k8s, read as tests/deploy/test_kubernetes.py checks it.

No cluster runs on this project's CI machines, so the manifests are only ever read: every
function here reads the files afresh and returns plain YAML data, and none of them checks
anything but the shape it needs to answer (one container where a role is asked for, a
memory quantity in binary units).
"""

import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.deploy import ROOT

K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
WORKLOAD_KINDS = frozenset({"Deployment", "Job"})
_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def manifest_paths() -> list[Path]:
    """Every manifest of the base, by name: all of deploy/k8s's YAML but the kustomization."""
    return sorted(
        path
        for path in [*K8S.glob("*.yaml"), *K8S.glob("*.yml")]
        if path.name != KUSTOMIZATION.name
    )


def documents(path: Path) -> list[dict[str, Any]]:
    """The objects of one manifest; an empty document (a stray `---`) is no object."""
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def all_objects() -> list[dict[str, Any]]:
    """Every object of the base as its files hold it, before kustomize adds labels and images."""
    return [document for path in manifest_paths() for document in documents(path)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    """Every object of one kind: `Service`, `ConfigMap`, ..."""
    return [item for item in all_objects() if item["kind"] == kind]


def workloads() -> list[dict[str, Any]]:
    """The objects that run Portico's pods: its Deployments and its Job."""
    return [item for item in all_objects() if item["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The spec of the pods a workload makes."""
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    """The labels of the pods a workload makes, which Services and budgets select."""
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container of a workload's pods, init containers first, as each must be checked."""
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def role(workload: dict[str, Any]) -> str:
    """The `portico` command a single-container workload runs: `serve`, `db upgrade`, ..."""
    (container,) = pod_spec(workload)["containers"]
    return " ".join(command_path(container["args"]))


def by_role(name: str) -> dict[str, Any]:
    """The one workload that runs `portico <name>`; none or two fail.

    Tests find a workload by what it runs rather than by its object name, so that they
    hold whatever the manifests call it.
    """
    (found,) = [item for item in workloads() if role(item) == name]
    return found


def command_path(args: list[str]) -> list[str]:
    """The subcommands before the first option: `["db", "upgrade"]` of `db upgrade --x`."""
    path: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            break
        path.append(arg)
    return path


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a `matchLabels` (or a Service's) selector picks pods with these labels."""
    return all(labels.get(key) == value for key, value in selector.items())


def mebibytes(quantity: str) -> float:
    """A memory quantity in MiB, so a request and a limit can be compared.

    Only the binary units are accepted: `M` and `G` are decimal in Kubernetes, an easy
    slip when `Mi` and `Gi` are meant.
    """
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)", quantity)
    assert match, f"memory quantity {quantity!r}: use Ki, Mi or Gi"
    return float(match[1]) * _MEMORY_UNITS[match[2]] / 2**20
