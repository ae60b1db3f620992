"""The local management cluster is real: real CRDs, real Cluster API manager, real kubectl."""

from __future__ import annotations

import json

from devtools import processes
from devtools.toolchain import cache_dir
from e2e.conftest import drover
from e2e.fixtures.controller import wait_for

PROVIDER_KINDS = {
    "awsclusters.infrastructure.cluster.x-k8s.io": "AWSCluster",
    "awsmanagedcontrolplanes.controlplane.cluster.x-k8s.io": "AWSManagedControlPlane",
    "gcpmanagedclusters.infrastructure.cluster.x-k8s.io": "GCPManagedCluster",
    "azuremanagedcontrolplanes.infrastructure.cluster.x-k8s.io": "AzureManagedControlPlane",
    "packetclusters.infrastructure.cluster.x-k8s.io": "PacketCluster",
}
CAPI_KINDS = {"Cluster", "Machine", "MachineSet", "MachineDeployment", "MachinePool",
              "MachineHealthCheck", "ClusterClass", "KubeadmControlPlane", "KubeadmConfigTemplate"}


def test_server_runs_the_version_we_built(kubectl):
    version = json.loads(kubectl("version", "-o", "json"))
    built = json.loads((cache_dir() / "versions.json").read_text())["binaries"]
    assert version["serverVersion"]["gitVersion"] == built["kube-apiserver"]
    assert version["clientVersion"]["gitVersion"] == built["kubectl"]


def test_capi_and_provider_crds_are_installed(kubectl):
    crds = {c["metadata"]["name"]: c for c in kubectl.get_json("crds")["items"]}
    kinds = {c["spec"]["names"]["kind"] for c in crds.values()}
    assert CAPI_KINDS <= kinds
    for name, kind in PROVIDER_KINDS.items():
        assert crds[name]["spec"]["names"]["kind"] == kind
        labels = crds[name]["metadata"]["labels"]
        served = [v["name"] for v in crds[name]["spec"]["versions"] if v["served"]]
        assert labels["cluster.x-k8s.io/v1beta1"] == "_".join(served)  # the providers' contract


#: CRDs read from ../shared/upstream-crds (the module proxy serves neither CAPDO nor CAPV), and the
#: contract their storage version implements.
SHARED_KINDS = {
    "doclusters.infrastructure.cluster.x-k8s.io": ("DOCluster", "v1beta1", "v1beta1"),
    "domachinetemplates.infrastructure.cluster.x-k8s.io": ("DOMachineTemplate", "v1beta1", "v1beta1"),
    "vsphereclusters.infrastructure.cluster.x-k8s.io": ("VSphereCluster", "v1beta2", "v1beta2"),
    "vspheremachinetemplates.infrastructure.cluster.x-k8s.io": ("VSphereMachineTemplate", "v1beta2", "v1beta2"),
    "vsphereclusteridentities.infrastructure.cluster.x-k8s.io": ("VSphereClusterIdentity", "v1beta2", "v1beta2"),
}


def test_digitalocean_and_vsphere_crds_are_installed(kubectl, shared_crds):
    crds = {c["metadata"]["name"]: c for c in kubectl.get_json("crds")["items"]}
    for name, (kind, contract, version) in SHARED_KINDS.items():
        assert crds[name]["spec"]["names"]["kind"] == kind
        assert [v["name"] for v in crds[name]["spec"]["versions"] if v["served"]] == [version]
        assert crds[name]["metadata"]["labels"][f"cluster.x-k8s.io/{contract}"] == version


def test_capi_manager_reconciles_a_cluster(kubectl, namespace):
    kubectl.apply([
        {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "AWSCluster",
         "metadata": {"name": "c1", "namespace": namespace}, "spec": {"region": "eu-west-1"}},
        {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "AWSManagedControlPlane",
         "metadata": {"name": "c1-cp", "namespace": namespace}, "spec": {"region": "eu-west-1"}},
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
         "metadata": {"name": "c1", "namespace": namespace},
         "spec": {"infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "AWSCluster", "name": "c1"},
                  "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io",
                                      "kind": "AWSManagedControlPlane", "name": "c1-cp"}}},
    ])

    def reconciled():
        cluster = kubectl.get_json("cluster", "c1", "-n", namespace)
        types = {c["type"] for c in cluster.get("status", {}).get("conditions", [])}
        return cluster if cluster.get("status", {}).get("phase") and "InfrastructureReady" in types else None

    cluster = wait_for(reconciled, 60, 0.5, "the CAPI manager to reconcile the Cluster")
    assert cluster["status"]["phase"] == "Provisioning"
    assert "cluster.cluster.x-k8s.io" in cluster["metadata"]["finalizers"]
    infra = kubectl.get_json("awscluster", "c1", "-n", namespace)
    assert any(ref["kind"] == "Cluster" and ref["name"] == "c1" for ref in infra["metadata"]["ownerReferences"])


def test_drover_up_on_an_existing_cluster_installs_only_what_is_missing(kubectl, mgmt):
    kubectl("delete", "crd", "packetmachines.infrastructure.cluster.x-k8s.io")
    assert "installed 1 missing CRDs" in drover("up", f"--kubeconfig={mgmt.kubeconfig}", "--no-capi-manager").stdout
    assert kubectl.run("get", "crd", "packetmachines.infrastructure.cluster.x-k8s.io").returncode == 0
    assert "all CRDs present" in drover("up", f"--kubeconfig={mgmt.kubeconfig}", "--no-capi-manager").stdout


def test_drover_up_and_down_leave_nothing_running(tmp_path):
    try:
        out = drover("up", f"--state-dir={tmp_path}").stdout
        assert "management cluster ready at https://127.0.0.1:" in out
        pids = [int(line.split("pid")[1]) for line in out.splitlines() if " pid " in line]
        assert len(pids) == 4 and all(processes.alive(pid) for pid in pids)
    finally:
        drover("down", f"--state-dir={tmp_path}")
    assert not any(processes.alive(pid) for pid in pids)
    assert not tmp_path.exists()
