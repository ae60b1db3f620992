"""`drover init`, `drover get kubeconfig` and `drover generate cluster` against the real
management cluster, through the real `drover` console script and the real kubectl."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import providers
from e2e.fixtures import shared
from mgmt.templating import list_variables

DROVER = str(Path(sys.executable).parent / "drover")
INSTALL_NAMESPACE = "drover-e2e"
SERVICE_ACCOUNT = f"system:serviceaccount:{INSTALL_NAMESPACE}:drover"


def drover(*args: str, kubeconfig: Path | None = None, env: dict | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    if kubeconfig:
        environ["KUBECONFIG"] = str(kubeconfig)
    proc = subprocess.run([DROVER, *args], check=False, capture_output=True, text=True, env=environ, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError(f"drover {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def test_init_dry_run_is_accepted_by_the_server(mgmt, kubectl, namespace):
    # A server-side dry run persists nothing, so the objects inside the install namespace are only
    # accepted when that namespace already exists: install into the test's namespace.
    manifests = drover("init", "--dry-run", "--namespace", namespace).stdout
    applied = kubectl.run("apply", "--dry-run=server", "-f", "-", input=manifests)
    lines = applied.stdout.splitlines()
    kinds = [doc["kind"] for doc in yaml.safe_load_all(manifests) if doc]
    assert len(lines) == len(kinds) and all(line.endswith("(server dry run)") for line in lines)
    assert "deployment.apps/drover-controller" in applied.stdout
    # Nothing was created.
    assert kubectl.run("get", "deployment", "drover-controller", "-n", namespace, check=False).returncode != 0


@pytest.fixture
def installed(mgmt, kubectl):
    """`drover init` into INSTALL_NAMESPACE; its cluster-scoped RBAC and namespace removed after."""
    first = drover("init", "--namespace", INSTALL_NAMESPACE, kubeconfig=mgmt.kubeconfig)
    yield first.stdout
    kubectl("delete", "clusterrolebinding,clusterrole", "drover-controller", "--ignore-not-found")
    kubectl("delete", "namespace", INSTALL_NAMESPACE, "--wait=false", "--ignore-not-found")


def _resource_versions(kubectl) -> dict[str, str]:
    listed = kubectl.get_json(
        "namespace/" + INSTALL_NAMESPACE,
        "crd/fleets.fleet.drover.dev", "crd/fleetmembers.fleet.drover.dev",
        "clusterrole/drover-controller", "clusterrolebinding/drover-controller",
        "serviceaccount/drover", "deployment/drover-controller", "role/drover-leader-election",
        "rolebinding/drover-leader-election", "-n", INSTALL_NAMESPACE,
    )
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in listed["items"]}


def test_init_twice_changes_nothing(mgmt, kubectl, installed):
    assert "Deployment/drover-e2e/drover-controller created" in installed
    before = _resource_versions(kubectl)
    assert len(before) == 9
    again = drover("init", "--kubeconfig", str(mgmt.kubeconfig), "--namespace", INSTALL_NAMESPACE)
    assert again.stdout.splitlines() and all(line.endswith(" unchanged") for line in again.stdout.splitlines())
    assert _resource_versions(kubectl) == before
    deployment = kubectl.get_json("deployment", "drover-controller", "-n", INSTALL_NAMESPACE)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["drover", "controller"]
    assert container["image"].startswith("ghcr.io/drover/drover:")
    # A new image is a change of the Deployment only.
    changed = drover("init", "--namespace", INSTALL_NAMESPACE, "--image", "example.com/drover:dev",
                     kubeconfig=mgmt.kubeconfig)
    assert [line for line in changed.stdout.splitlines() if not line.endswith(" unchanged")] == \
        [f"Deployment/{INSTALL_NAMESPACE}/drover-controller configured"]


CAN = [
    ("patch", "fleets.fleet.drover.dev", []),
    ("patch", "fleetmembers.fleet.drover.dev", ["--subresource=status"]),
    ("update", "fleets.fleet.drover.dev", ["--subresource=finalizers"]),
    ("create", "clusters.cluster.x-k8s.io", []),
    ("delete", "machinedeployments.cluster.x-k8s.io", []),
    ("create", "awsmanagedcontrolplanes.controlplane.cluster.x-k8s.io", []),
    ("create", "localcontrolplanes.controlplane.drover.dev", []),
    ("get", "secrets", []),
    ("create", "events", []),
    ("get", "namespaces", []),
    ("create", "namespaces", []),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io", []),
    ("update", "leases.coordination.k8s.io", ["-n", INSTALL_NAMESPACE]),
]
CANNOT = [
    ("delete", "namespaces", []),
    ("create", "nodes", []),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io", []),
    ("create", "configmaps", []),
    ("create", "clusterroles.rbac.authorization.k8s.io", []),
    ("update", "leases.coordination.k8s.io", ["-n", "default"]),
    ("create", "fleets.fleet.drover.dev", []),
    ("patch", "localcontrolplanes.controlplane.drover.dev", ["--subresource=status"]),
    ("delete", "machines.cluster.x-k8s.io", []),
    ("update", "secrets", []),
    ("watch", "secrets", []),
    ("create", "pods", []),
]


def test_controller_rbac(kubectl, installed):
    def can(verb, resource, extra):
        args = ["auth", "can-i", verb, resource, f"--as={SERVICE_ACCOUNT}", *extra]
        if "-n" not in extra:
            args.append("--all-namespaces")
        return kubectl.run(*args, check=False).stdout.strip()

    assert [(v, r, can(v, r, e)) for v, r, e in CAN] == [(v, r, "yes") for v, r, _ in CAN]
    assert [(v, r, can(v, r, e)) for v, r, e in CANNOT] == [(v, r, "no") for v, r, _ in CANNOT]


def test_get_kubeconfig(mgmt, kubectl, namespace):
    workload = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c9",
        "clusters": [{"name": "c9", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "c9", "context": {"cluster": "c9", "user": "c9-admin"}}],
        "users": [{"name": "c9-admin", "user": {}}],
    })
    kubectl.apply({
        "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
        "metadata": {"name": "c9-kubeconfig", "namespace": namespace,
                     "labels": {"cluster.x-k8s.io/cluster-name": "c9"}},
        "data": {"value": base64.b64encode(workload.encode()).decode()},
    })
    printed = drover("get", "kubeconfig", "c9", "-n", namespace, "--kubeconfig", str(mgmt.kubeconfig))
    assert printed.stdout == workload
    missing = drover("get", "kubeconfig", "c8", "-n", namespace, kubeconfig=mgmt.kubeconfig, check=False)
    assert missing.returncode == 1
    assert f'secret "c8-kubeconfig" not found in namespace "{namespace}"' in missing.stderr


SERVED = [(p, f) for p in providers.NAMES for f in providers.get(p).flavors]


@pytest.mark.parametrize("provider,flavor", SERVED)
def test_crds_accept(kubectl, namespace, tmp_path, provider, flavor, request):
    """What `generate cluster` prints is accepted by the real CAPI and provider CRDs.

    (A short name: the `namespace` fixture keeps only 40 characters of the test's id.)"""
    if provider in shared.CONTRACTS:  # CRDs from ../shared (the module proxy serves neither)
        request.getfixturevalue("shared_crds")
    text = providers.get(provider).template(flavor)
    config = tmp_path / "cluster-api" / "clusterctl.yaml"
    config.parent.mkdir()
    flags = {"CLUSTER_NAME", "NAMESPACE", "KUBERNETES_VERSION", "CONTROL_PLANE_MACHINE_COUNT",
             "WORKER_MACHINE_COUNT"}
    required = [n for n, d in list_variables(text).items() if d is None and n not in flags]
    config.write_text(yaml.safe_dump({n: "value-1" for n in required}))
    manifests = drover("generate", "cluster", "c1", "-i", provider, "--flavor", flavor, "-n", namespace,
                       "--kubernetes-version", "v1.35.8", "--worker-machine-count", "2",
                       env={"XDG_CONFIG_HOME": str(tmp_path)}).stdout
    applied = kubectl.run("apply", "--dry-run=server", "-f", "-", input=manifests, check=False)
    assert applied.returncode == 0, applied.stderr
    assert "cluster.cluster.x-k8s.io/c1 created (server dry run)" in applied.stdout
