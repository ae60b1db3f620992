"""The local provider end to end: clusters from the real template, applied with the real kubectl,
built by the real Cluster API manager and `drover local-provider`.

The steps share two clusters and run in file order: provision, use, scale, restart the provider,
crash an API server, delete a cluster.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from devtools import processes
from e2e.conftest import Kubectl
from mgmt.templating import render
from providers.base import ClusterRequest, WorkerPool
from providers.local import PROVIDER
from providers.local.runtime import ClusterProcesses, count_prefix

NAMESPACE = "local-e2e"
CLUSTERS = ("alpha", "beta")
WAIT = 240


def wait_for(predicate, timeout=WAIT, interval=1.0, message="condition", on_timeout=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}\n{on_timeout()}")


def manifest(name: str) -> str:
    request = ClusterRequest(name=name, namespace=NAMESPACE, provider="local", flavor="default",
                             kubernetes_version="v1.35.8", workers=(WorkerPool("md-0", 2),))
    return render(PROVIDER.template("default"), PROVIDER.variables(request))


class Env:
    """What the steps share: the management kubectl, the provider and workload kubectls."""

    def __init__(self, kubectl: Kubectl, provider, tmp):
        self.kubectl, self.provider, self.tmp = kubectl, provider, tmp

    def processes(self, cluster: str) -> ClusterProcesses:
        return ClusterProcesses(self.provider.state_dir, NAMESPACE, cluster)

    def workload(self, cluster: str) -> Kubectl:
        secret = self.kubectl.get_json("secret", f"{cluster}-kubeconfig", "-n", NAMESPACE)
        assert secret["type"] == "cluster.x-k8s.io/secret"
        assert secret["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] == cluster
        path = self.tmp / f"{cluster}.kubeconfig"
        path.write_bytes(base64.b64decode(secret["data"]["value"]))
        return Kubectl(path)

    def capi(self, kind: str, cluster: str) -> list[dict]:
        return self.kubectl.get_json(kind, "-n", NAMESPACE, "-l",
                                     f"cluster.x-k8s.io/cluster-name={cluster}")["items"]

    def ready_nodes(self, cluster: str) -> list[str]:
        try:
            nodes = self.workload(cluster).get_json("nodes")["items"]
        except AssertionError:
            return []
        return [n["metadata"]["name"] for n in nodes
                if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))]

    def running_machines(self, cluster: str) -> list[dict]:
        return [m for m in self.capi("machines", cluster)
                if m.get("status", {}).get("phase") == "Running" and m["status"].get("nodeRef")]

    def diagnostics(self) -> str:
        return (self.kubectl("get", "clusters,machines,localmachines,localcontrolplanes", "-n", NAMESPACE,
                             check=False)
                + "\n--- provider log ---\n" + self.provider.log_tail())


@pytest.fixture(scope="module")
def env(kubectl, local_provider, tmp_path_factory):
    kubectl("create", "namespace", NAMESPACE)
    kubectl.apply("\n---\n".join(manifest(name) for name in CLUSTERS))
    yield Env(kubectl, local_provider, tmp_path_factory.mktemp("workloads"))
    kubectl("delete", "clusters", "--all", "-n", NAMESPACE, "--wait=false", check=False)


def test_clusters_provisioned_and_machines_running(env):
    for cluster in CLUSTERS:
        wait_for(lambda c=cluster: env.capi("clusters", c)[0].get("status", {}).get("phase") == "Provisioned",
                 message=f"Cluster {cluster} Provisioned", on_timeout=env.diagnostics)
        wait_for(lambda c=cluster: len(env.running_machines(c)) == 2,
                 message=f"2 Running machines in {cluster}", on_timeout=env.diagnostics)
        lcp = env.kubectl.get_json("localcontrolplane", f"{cluster}-control-plane", "-n", NAMESPACE)
        assert lcp["status"]["version"] == lcp["spec"]["version"] == "v1.35.8"
        assert lcp["spec"]["controlPlaneEndpoint"]["port"] == env.processes(cluster).server().port
        for machine in env.running_machines(cluster):
            name = machine["metadata"]["name"]
            assert machine["spec"]["providerID"] == f"local://{NAMESPACE}/{cluster}/{name}"
            assert machine["status"]["nodeRef"]["name"] == name


def test_nodes_ready_and_deployment_available(env):
    for cluster in CLUSTERS:
        wait_for(lambda c=cluster: len(env.ready_nodes(c)) == 2, message=f"2 Ready nodes in {cluster}",
                 on_timeout=env.diagnostics)
        workload = env.workload(cluster)
        node = workload.get_json("nodes")["items"][0]
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "local"
        assert node["status"]["capacity"]["cpu"] == "4"
        assert not node["spec"].get("taints")
    workload = env.workload("alpha")
    workload("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=1")
    workload("wait", "--for=condition=Available", "deployment/web", "--timeout=180s", timeout=200)
    pods = workload.get_json("pods", "-l", "app=web")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running"]
    assert pods[0]["spec"]["nodeName"] in env.ready_nodes("alpha")


def apiservers_serving(prefix: str) -> list[int]:
    """Every kube-apiserver process on this machine storing under `prefix`, found through /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"kube-apiserver") and f"--etcd-prefix={prefix}".encode() in argv:
            found.append(int(entry.name))
    return found


def scale_to_three(env, cluster: str) -> None:
    env.kubectl("scale", "machinedeployment", f"{cluster}-md-0", "-n", NAMESPACE, "--replicas=3")
    wait_for(lambda: len(env.ready_nodes(cluster)) == 3, message=f"3 Ready nodes in {cluster}",
             on_timeout=env.diagnostics)
    wait_for(lambda: len(env.running_machines(cluster)) == 3, message=f"3 Running machines in {cluster}",
             on_timeout=env.diagnostics)


def test_scaling_the_machine_deployment_adds_a_node(env):
    scale_to_three(env, "alpha")


def test_provider_restart_adopts_running_processes(env):
    before = {cluster: env.processes(cluster).pids() for cluster in CLUSTERS}
    assert all(all(pids.values()) for pids in before.values()), before
    env.provider.restart()
    scale_to_three(env, "beta")  # only a running provider that adopted beta can do this
    after = {cluster: env.processes(cluster).pids() for cluster in CLUSTERS}
    assert after == before
    for cluster in CLUSTERS:
        assert apiservers_serving(env.processes(cluster).etcd_prefix) == [before[cluster]["kube-apiserver"]]
    assert len(env.ready_nodes("alpha")) == 3
    assert "adopted running processes" in env.provider.log_tail(400)


def test_crashed_apiserver_is_restarted(env):
    procs = env.processes("alpha")
    old = procs.pids()["kube-apiserver"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: procs.pids()["kube-apiserver"] not in (None, old), message="a new apiserver pid",
             on_timeout=env.diagnostics)
    wait_for(lambda: len(env.ready_nodes("alpha")) == 3, message="alpha answering again")
    assert procs.server().port == json.loads((procs.state_dir / "apiserver.json").read_text())["port"]
    wait_for(lambda: "restarted kube-apiserver" in env.provider.log_tail(400), timeout=30,
             message="the provider to log the restart")


def test_deleting_a_cluster_stops_its_processes(env):
    procs = env.processes("beta")
    pids = [pid for pid in procs.pids().values() if pid]
    assert len(pids) == 4
    etcd_port = json.loads((env.provider.state_dir / "etcd" / "etcd.json").read_text())["client_port"]
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    assert count_prefix(etcd_url, procs.etcd_prefix) > 0
    env.kubectl("delete", "cluster", "beta", "-n", NAMESPACE, "--wait=false")
    wait_for(lambda: not env.kubectl.run("get", "cluster", "beta", "-n", NAMESPACE, check=False).stdout,
             message="Cluster beta gone", on_timeout=env.diagnostics)
    assert not [pid for pid in pids if processes.alive(pid)]
    assert not procs.state_dir.exists()
    assert count_prefix(etcd_url, procs.etcd_prefix) == 0
    for name in ("beta-kubeconfig", "beta-bootstrap"):
        assert not env.kubectl.run("get", "secret", name, "-n", NAMESPACE, check=False).stdout
    # The other cluster is untouched.
    assert len(env.ready_nodes("alpha")) == 3
    assert yaml.safe_load(env.kubectl("get", "cluster", "alpha", "-n", NAMESPACE, "-o", "yaml"))[
        "status"]["phase"] == "Provisioned"


def test_no_credentials_in_logs_or_events(env):
    secret = env.kubectl.get_json("secret", "alpha-kubeconfig", "-n", NAMESPACE)
    kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["value"]))
    key = kubeconfig["users"][0]["user"]["client-key-data"]
    events = env.kubectl("get", "events", "-n", NAMESPACE, "-o", "yaml")
    log = env.provider.log.read_text()
    for text in (log, events):
        assert key not in text and "PRIVATE KEY" not in text and "client-key-data" not in text
