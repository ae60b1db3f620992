"""The controller as it runs in a Pod, given only what the chart's Deployment gives it.

Installed by the chart (ServiceAccount, RBAC, Deployment) into the session's management plane. The
controller then starts with the Deployment's command, args and env, and the Pod's identity: a
token of its ServiceAccount (TokenRequest, as the kubelet asks for one), the cluster CA and its
namespace at /var/run/secrets/kubernetes.io/serviceaccount, which a private mount namespace
(`unshare`) binds to a temp dir, so the controller reads the real in-cluster paths. No kubeconfig,
no HOME with one, KUBERNETES_SERVICE_HOST/PORT pointing at the apiserver. A Fleet of one simulated
local cluster with a stack component converges, and the audit log shows the controller's writes
were made as the ServiceAccount.

What stands in for the Pod: HOME and /tmp are temp dirs (the emptyDir volumes); the metrics port
is a free one and the endpoint listens on 127.0.0.1 (chart values metrics.port and metrics.host);
the controller watches only this test's namespace (chart value watchNamespaces), so it leaves
the session controller's Fleets alone.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools import processes
from e2e.fixtures.controller import wait_for
from e2e.test_install_chart import helm, remove_cluster_rbac  # noqa: F401 (helm: a fixture)
from mgmt.api.models import API_VERSION

CHART = Path(__file__).resolve().parent.parent / "manifests" / "chart" / "drover"
INSTALL = "drover-incluster"
FLEETS = "incluster-fleets"
ACCOUNT = f"system:serviceaccount:{INSTALL}:drover"


def rendered_container(helm, port: int) -> dict:  # noqa: F811
    text = helm("template", "drover", str(CHART), "--namespace", INSTALL,
                "--set", f"metrics.port={port},metrics.host=127.0.0.1,watchNamespaces={{{FLEETS}}}").stdout
    deployment = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def pod_env(container: dict, home: Path, server: str) -> dict[str, str]:
    """The container's env (fieldRef metadata.namespace resolved), HOME the emptyDir."""
    env = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}, var
            env[var["name"]] = INSTALL
    env["HOME"] = str(home)
    host, port = server.removeprefix("https://").rsplit(":", 1)
    drover_bin = Path(shutil.which("drover") or Path(sys.executable).parent / "drover").parent
    return {**env, "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port,
            "PATH": f"{drover_bin}:/usr/bin:/bin", "TMPDIR": str(home / "tmp")}


def service_account_dir(kubectl, mgmt, root: Path) -> Path:
    """/run as the Pod sees it: secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}."""
    mounted = root / "secrets" / "kubernetes.io" / "serviceaccount"
    mounted.mkdir(parents=True)
    (mounted / "token").write_text(kubectl("create", "token", "drover", "-n", INSTALL, "--duration=1h").strip())
    config = yaml.safe_load(Path(mgmt.kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    (mounted / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    (mounted / "namespace").write_text(INSTALL)
    return root


def in_pod(run_dir: Path, argv: list[str]) -> list[str]:
    """argv in a private mount namespace where /run (so /var/run) is `run_dir`."""
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare[1:1] = ["--user", "--map-root-user"]
    return [*unshare, "sh", "-c", 'mount --bind "$0" /run && exec "$@"', str(run_dir), *argv]


def fleet() -> dict:
    component = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"},
                                "data": {"cluster": "{{ cluster.name }}"}})
    return {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": "pod", "namespace": FLEETS},
            "spec": {"clusters": [{"name": "p1", "provider": "local", "flavor": "simulated",
                                   "kubernetesVersion": "v1.35.8", "workers": [{"name": "md-0", "replicas": 1}]}],
                     "stack": {"components": [{"name": "hello", "namespace": "hello", "manifests": component}]},
                     "health": {"probeInterval": "3s"}}}


def ready(kubectl) -> bool:
    status = kubectl.get_json("fleet", "pod", "-n", FLEETS).get("status") or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


@pytest.fixture
def installed(helm, kubectl, mgmt):  # noqa: F811
    kubectl("create", "namespace", INSTALL)
    kubectl("create", "namespace", FLEETS)
    remove_cluster_rbac(kubectl)
    helm("install", "drover", str(CHART), "--namespace", INSTALL, f"--kubeconfig={mgmt.kubeconfig}")
    yield
    helm("uninstall", "drover", "--namespace", INSTALL, f"--kubeconfig={mgmt.kubeconfig}", check=False)
    kubectl("delete", "namespace", INSTALL, FLEETS, "--wait=false", "--ignore-not-found")
    remove_cluster_rbac(kubectl)


def test_the_controller_runs_as_its_pod(helm, kubectl, mgmt, local_provider, installed, audit, tmp_path):  # noqa: F811
    port = processes.free_port()
    container = rendered_container(helm, port)
    (tmp_path / "home" / "tmp").mkdir(parents=True)
    env = pod_env(container, tmp_path / "home", mgmt.describe()["server"])
    run_dir = service_account_dir(kubectl, mgmt, tmp_path / "run")
    log = tmp_path / "controller.log"
    mark = audit.mark()
    with open(log, "wb") as out:
        proc = subprocess.Popen(in_pod(run_dir, [*container["command"], *container["args"]]), env=env,
                                cwd=tmp_path / "home", stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        processes.wait_http(f"http://127.0.0.1:{port}/metrics", 60, pid=proc.pid, log=log)
        kubectl.apply(fleet())
        wait_for(lambda: ready(kubectl), 180, what=f"the Fleet to be Ready (controller log: {log})")
        member = kubectl.get_json("fleetmember", "-n", FLEETS)["items"][0]
        assert member["status"]["phase"] == "Ready"
        # Deleting the Fleet goes through this controller too (its finalizer).
        kubectl("delete", "fleet", "pod", "-n", FLEETS, "--wait=false")
        wait_for(lambda: kubectl.run("get", "fleet", "pod", "-n", FLEETS, check=False).returncode != 0, 120,
                 what="the Fleet to be deleted")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    # Every FleetMember write was made as the ServiceAccount, none as the session's controller.
    members = [e for e in audit.writes(mark, user=ACCOUNT) if e["objectRef"]["resource"] == "fleetmembers"]
    assert members and {e["objectRef"]["namespace"] for e in members} == {FLEETS}
    assert not [e for e in audit.writes(mark) if e["objectRef"].get("namespace") == FLEETS]
    text = log.read_text(errors="replace")
    assert f"became leader: Lease {INSTALL}/drover-controller" in text
    assert "Traceback" not in text, text[-3000:]
