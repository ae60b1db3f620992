"""The local provider's simulated mode (a test and bench feature): LocalClusters with
`spec.simulated` become virtual clusters of the session's simulator (the provider runs with
--simulator-url) instead of processes; the real Cluster API manager provisions their Clusters and
connects to them, the real kubectl and Drover's own probe read their Nodes, all through the
`<cluster>-kubeconfig` Secret.

The steps share three clusters and run in file order: provision, read, delete one.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from e2e.fixtures.controller import wait_for
from mgmt.health.aggregate import member_phase
from mgmt.health.probes import probe_member
from mgmt.kube import Kube
from mgmt.workload import WorkloadClients

NAMESPACE = "local-sim"
CLUSTERS = {"sa": 2, "sb": 3, "sc": 1}  # name -> simulated Nodes
WAIT = 120


def manifests(name: str, nodes: int) -> list[dict]:
    meta = {"name": name, "namespace": NAMESPACE, "labels": {"cluster.x-k8s.io/cluster-name": name}}
    return [
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": meta,
         "spec": {"controlPlaneRef": {"apiGroup": "controlplane.drover.dev", "kind": "LocalControlPlane",
                                      "name": f"{name}-control-plane"},
                  "infrastructureRef": {"apiGroup": "infrastructure.drover.dev", "kind": "LocalCluster",
                                        "name": name}}},
        {"apiVersion": "infrastructure.drover.dev/v1alpha1", "kind": "LocalCluster", "metadata": meta,
         "spec": {"simulated": {"nodes": nodes}}},
        {"apiVersion": "controlplane.drover.dev/v1alpha1", "kind": "LocalControlPlane",
         "metadata": {**meta, "name": f"{name}-control-plane"}, "spec": {"version": "v1.35.8"}},
    ]


def virtual_cluster(simulator_url: str, name: str) -> dict | None:
    """The simulator's own view (admin endpoint) of the virtual cluster of `name`."""
    try:
        with urllib.request.urlopen(f"{simulator_url}/admin/clusters/{NAMESPACE}.{name}", timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def condition(obj: dict, type_: str) -> str | None:
    return next((c["status"] for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None)


@pytest.fixture(scope="module")
def env(kubectl, mgmt, local_provider, simulator_url, tmp_path_factory):
    kubectl("create", "namespace", NAMESPACE)
    before = local_provider.pid_files()
    kubectl.apply([doc for name, nodes in CLUSTERS.items() for doc in manifests(name, nodes)])
    yield kubectl, local_provider, tmp_path_factory.mktemp("simulated"), before
    kubectl("delete", "clusters", "--all", "-n", NAMESPACE, "--wait=false", check=False)


def diagnostics(kubectl, provider) -> str:
    return (kubectl("get", "clusters,localclusters,localcontrolplanes", "-n", NAMESPACE, check=False)
            + "\n--- provider log ---\n" + provider.log_tail())


def test_clusters_provisioned_without_processes(env, simulator_url):
    kubectl, provider, _, processes_before = env
    for name in CLUSTERS:
        def provisioned(name=name):
            cluster = kubectl.get_json("cluster", name, "-n", NAMESPACE)
            # RemoteConnectionProbe: CAPI's own client reached the virtual cluster through the Secret.
            return (cluster.get("status", {}).get("phase") == "Provisioned"
                    and condition(cluster, "ControlPlaneInitialized") == "True"
                    and condition(cluster, "RemoteConnectionProbe") == "True" and cluster)
        try:
            cluster = wait_for(provisioned, WAIT, what=f"Cluster {name} Provisioned")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{diagnostics(kubectl, provider)}") from None
        assert cluster["status"]["initialization"] == {"infrastructureProvisioned": True,
                                                       "controlPlaneInitialized": True}
        port = int(simulator_url.rsplit(":", 1)[1])
        assert cluster["spec"]["controlPlaneEndpoint"] == {"host": "127.0.0.1", "port": port}
        assert virtual_cluster(simulator_url, name) is not None
    # No process was started for them, not even the shared etcd of real local clusters (other
    # tests' clusters may be going away meanwhile: only new pid files count).
    assert not set(provider.pid_files()) - set(processes_before)
    assert not (provider.state_dir / "clusters" / NAMESPACE).exists()


def test_kubeconfig_secret_serves_ready_nodes(env):
    kubectl, _, tmp, _ = env
    for name, nodes in CLUSTERS.items():
        workload = kubectl.for_cluster(name, NAMESPACE, tmp)
        table = workload("get", "nodes", "--no-headers").splitlines()
        assert len(table) == nodes, table
        assert all(line.split()[1] == "Ready" for line in table), table


def test_drovers_probe_sees_the_nodes(env, mgmt):
    async def probe() -> dict:
        kube = await Kube.from_kubeconfig(str(mgmt.kubeconfig))
        clients = WorkloadClients(kube)
        try:
            return {name: await probe_member(kube, clients, {"metadata": {"namespace": NAMESPACE},
                                                              "spec": {"cluster": name}})
                    for name in CLUSTERS}
        finally:
            await clients.close()
            await kube.close()

    for name, result in asyncio.run(probe()).items():
        assert result["api"]["reachable"], result
        assert result["nodes"] == {"ready": CLUSTERS[name], "total": CLUSTERS[name]}, result
        assert result["capi"]["phase"] == "Provisioned", result
        assert member_phase(result, False) == "Ready", result


def test_deleting_a_cluster_removes_its_virtual_cluster(env, simulator_url):
    kubectl, provider, *_ = env
    kubectl("delete", "cluster", "sb", "-n", NAMESPACE, "--wait=false")
    try:
        wait_for(lambda: not kubectl.run("get", "cluster", "sb", "-n", NAMESPACE, check=False).stdout,
                 WAIT, what="Cluster sb gone")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{diagnostics(kubectl, provider)}") from None
    assert virtual_cluster(simulator_url, "sb") is None
    for secret in ("sb-kubeconfig", "sb-bootstrap"):
        assert not kubectl.run("get", "secret", secret, "-n", NAMESPACE, check=False).stdout
    # The others are untouched.
    assert virtual_cluster(simulator_url, "sa") is not None
    assert kubectl.get_json("cluster", "sa", "-n", NAMESPACE)["status"]["phase"] == "Provisioned"
