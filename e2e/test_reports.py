"""Reports and probes against the real management cluster: `drover status`, `drover describe
cluster` as subprocesses over objects made with kubectl, and `probe_member` against a real
workload kube-apiserver that is then stopped."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import yaml

from devtools.localkube import ApiServer
from devtools.toolchain import cache_dir
from e2e.conftest import drover
from e2e.fixtures.controller import wait_for
from mgmt.api.models import API_VERSION
from mgmt.health.aggregate import aggregate, member_conditions, member_phase
from mgmt.health.probes import probe_member
from mgmt.kube import Kube
from mgmt.workload import WorkloadClients
from providers.base import CloudHealth

T0 = "2026-01-01T00:00:00Z"


def ref(group: str, kind: str, name: str) -> dict:
    return {"apiGroup": group, "kind": kind, "name": name}


def capi_objects(namespace: str, name: str) -> list[dict]:
    labels = {"cluster.x-k8s.io/cluster-name": name}
    return [
        {"apiVersion": "infrastructure.drover.dev/v1alpha1", "kind": "LocalCluster",
         "metadata": {"name": name, "namespace": namespace}, "spec": {}},
        {"apiVersion": "controlplane.drover.dev/v1alpha1", "kind": "LocalControlPlane",
         "metadata": {"name": f"{name}-cp", "namespace": namespace}, "spec": {"version": "v1.35.8", "replicas": 1}},
        {"apiVersion": "infrastructure.drover.dev/v1alpha1", "kind": "LocalMachine",
         "metadata": {"name": f"{name}-cp-0", "namespace": namespace}, "spec": {}},
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"infrastructureRef": ref("infrastructure.drover.dev", "LocalCluster", name),
                  "controlPlaneRef": ref("controlplane.drover.dev", "LocalControlPlane", f"{name}-cp")}},
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
         "metadata": {"name": f"{name}-cp-0", "namespace": namespace,
                      "labels": {**labels, "cluster.x-k8s.io/control-plane": ""}},
         "spec": {"clusterName": name, "version": "v1.35.8", "bootstrap": {"dataSecretName": f"{name}-bootstrap"},
                  "infrastructureRef": ref("infrastructure.drover.dev", "LocalMachine", f"{name}-cp-0")}},
    ]


def member_object(namespace: str, cluster: str, reachable: bool) -> tuple[dict, dict]:
    status = {"api": {"reachable": True, "latencyMs": 5} if reachable else
              {"reachable": False, "message": "https://127.0.0.1:9: connect: connection refused"},
              "capi": {"phase": "Provisioned", "controlPlaneReady": True},
              "nodes": {"ready": 1, "total": 1}, "kubernetesVersion": "v1.35.8", "stack": "1/1",
              "components": [{"name": "cert-manager", "applied": True, "ready": True, "readyAt": T0}]}
    status["phase"] = member_phase(status, False)
    status["conditions"] = member_conditions(status, status["phase"], [], now=T0)
    meta = {"name": f"prod-{cluster}", "namespace": namespace}
    spec = {"fleet": "prod", "cluster": cluster, "provider": "local"}
    return ({"apiVersion": API_VERSION, "kind": "FleetMember", "metadata": meta, "spec": spec},
            {"apiVersion": API_VERSION, "kind": "FleetMember", "metadata": meta, "status": status})


async def write_statuses(kubeconfig, objects: list[dict]) -> None:
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        for obj in objects:
            await kube.apply(obj, subresource="status")


@pytest.fixture
def fleet_objects(kubectl, mgmt, namespace):
    fleet = {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": "prod", "namespace": namespace},
             "spec": {"clusters": [{"name": n, "provider": "local", "kubernetesVersion": "v1.35.8"}
                                   for n in ("c1", "c2", "c3")]}}
    members = [member_object(namespace, c, reachable=c != "c3") for c in ("c1", "c2", "c3")]
    kubectl.apply([fleet, *[spec for spec, _ in members], *capi_objects(namespace, "c1")])
    stored = kubectl.get_json("fleet", "prod", "-n", namespace)
    statuses = [status for _, status in members]
    fleet_status = aggregate(stored, [{**s, "spec": m["spec"]} for m, s in members], now=T0)
    asyncio.run(write_statuses(mgmt.kubeconfig, [
        *statuses, {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": fleet["metadata"], "status": fleet_status},
        {"apiVersion": "infrastructure.drover.dev/v1alpha1", "kind": "LocalCluster",
         "metadata": {"name": "c1", "namespace": namespace},
         "status": {"initialization": {"provisioned": True}, "conditions": [
             {"type": "Ready", "status": "True", "reason": "Provisioned", "message": "",
              "lastTransitionTime": T0}]}},
    ]))
    return namespace


def test_status_json_markdown_and_table(fleet_objects, mgmt):
    ns, kc = fleet_objects, f"--kubeconfig={mgmt.kubeconfig}"
    data = json.loads(drover("status", "prod", "-n", ns, "-o", "json", kc).stdout)
    assert data["fleet"] == "prod" and data["display"] == "2/3 ready" and data["status"] == "Unreachable"
    assert data["counts"] == {"desired": 3, "provisioning": 0, "ready": 2, "stackReady": 2, "degraded": 0,
                              "unreachable": 1, "deleting": 0}
    assert [(m["cluster"], m["phase"]) for m in data["members"]] == \
        [("c1", "Ready"), ("c2", "Ready"), ("c3", "Unreachable")]
    assert data["unwell"] == [{"cluster": "c3", "reason": "Unreachable",
                               "message": "https://127.0.0.1:9: connect: connection refused", "since": T0}]

    md = drover("status", "prod", "-n", ns, "-o", "markdown", kc).stdout
    assert f"# Fleet `prod` (namespace `{ns}`)" in md
    assert "**2/3 ready** · status **Unreachable** · 1 unreachable: c3" in md
    assert "| c3 | local | Unreachable | - | v1.35.8 | 1/1 | - |" in md
    assert "## Unwell clusters (1 of 1)" in md

    table = drover("status", "-n", ns, kc).stdout.splitlines()
    assert table[1].split() == ["prod", "3", "2/3", "ready", "2/3", "Unreachable"]
    assert any(line.split()[:3] == ["c3", "local", "Unreachable"] for line in table)

    everywhere = yaml.safe_load(drover("status", "-A", "-o", "yaml", kc).stdout)
    assert any(i["fleet"] == "prod" and i["namespace"] == ns for i in everywhere["items"])
    page = drover("status", "prod", "-n", ns, "-o", "html", kc).stdout
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "c3" in page

    missing = drover("status", "nope", "-n", ns, kc, expect=1)
    assert f"Fleet 'nope' not found in namespace '{ns}'" in missing.stderr


def capi_reconciled(kubectl, namespace: str, name: str) -> None:
    def reconciled():
        cluster = kubectl.get_json("cluster", name, "-n", namespace)
        return any(c["type"] == "Available" for c in cluster.get("status", {}).get("conditions", []))

    wait_for(reconciled, 60, 0.5, "the CAPI manager to set the Cluster's conditions")


def test_describe_cluster(fleet_objects, mgmt, kubectl):
    ns, kc = fleet_objects, f"--kubeconfig={mgmt.kubeconfig}"
    capi_reconciled(kubectl, ns, "c1")
    out = drover("describe", "cluster", "c1", "-n", ns, kc).stdout
    lines = out.splitlines()
    width = lines[0].index("REPLICAS")
    assert lines[0].split() == ["NAME", "REPLICAS", "AVAILABLE", "READY", "UP", "TO", "DATE", "STATUS", "REASON",
                                "SINCE", "MESSAGE"]
    rows = [line for line in lines if line[:width].strip(" │")]  # not a message's continuation line
    assert [line[:width].rstrip() for line in rows[1:5]] == [
        "Cluster/c1",
        "├─ClusterInfrastructure - LocalCluster/c1",
        "└─ControlPlane - LocalControlPlane/c1-cp",
        "  └─Machine/c1-cp-0",
    ]
    status = lines[0].index("STATUS")
    assert rows[1][status:].startswith("Available: ")
    assert rows[2][status:].split()[:3] == ["Ready:", "True", "Provisioned"]
    assert "Stack of prod-c1 (Fleet prod): 1/1 components ready, phase Ready" in out
    assert any(line.startswith("cert-manager") for line in lines)

    detailed = drover("describe", "cluster", "c1", "-n", ns, "--show-conditions", "Cluster", kc).stdout
    types = [line[:width].strip().lstrip("│├└─ ") for line in detailed.splitlines()[2:]]
    assert {"Available", "InfrastructureReady", "ControlPlaneAvailable"} <= set(types)

    missing = drover("describe", "cluster", "nope", "-n", ns, kc, expect=1)
    assert f"Cluster 'nope' not found in namespace '{ns}'" in missing.stderr


def test_probe_member_against_a_real_apiserver(mgmt, kubectl, namespace, tmp_path):
    server = ApiServer.ensure("w1", tmp_path / "w1", mgmt.etcd.url, etcd_prefix=f"/{namespace}-w1")
    try:
        value = base64.b64encode(yaml.safe_dump(server.kubeconfig()).encode()).decode()
        kubectl.apply([{"apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
                        "metadata": {"name": "w1-kubeconfig", "namespace": namespace,
                                     "labels": {"cluster.x-k8s.io/cluster-name": "w1"}},
                        "data": {"value": value}}, *capi_objects(namespace, "w1")])
        capi_reconciled(kubectl, namespace, "w1")
        member = {"metadata": {"name": "prod-w1", "namespace": namespace},
                  "spec": {"fleet": "prod", "cluster": "w1", "provider": "local"}}

        async def healthy():
            return CloudHealth("Healthy", "all good", {"nodes": "1"})

        async def broken():
            raise RuntimeError("cloud API said no")

        up = asyncio.run(probe(mgmt, member, healthy))
        built = json.loads((cache_dir() / "versions.json").read_text())["binaries"]["kube-apiserver"]
        assert up["api"]["reachable"] is True and isinstance(up["api"]["latencyMs"], int)
        assert up["kubernetesVersion"] == built
        assert up["nodes"] == {"ready": 0, "total": 0}
        assert up["capi"]["conditions"] and "phase" in up["capi"]
        assert up["cloud"] == {"state": "Healthy", "message": "all good", "details": {"nodes": "1"}}

        cloud_down = asyncio.run(probe(mgmt, member, broken))
        assert cloud_down["api"]["reachable"] is True  # the cloud's failure marks only the cloud part
        assert cloud_down["cloud"]["state"] == "Unknown"
        assert "cloud API said no" in cloud_down["cloud"]["message"]

        server.stop()
        down = asyncio.run(probe(mgmt, member, healthy))
        assert down["api"]["reachable"] is False
        assert f"127.0.0.1:{server.port}" in down["api"]["message"]
        assert "BEGIN" not in json.dumps(down)  # no certificate or key material in the status
        assert "kubernetesVersion" not in down and down["nodes"]["total"] == 0
        assert down["capi"]["conditions"]  # the management side is still read
    finally:
        server.remove()


async def _probe(kubeconfig, member, cloud):
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        clients = WorkloadClients(kube)
        try:
            return await probe_member(kube, clients, member, cloud=cloud, timeout=10)
        finally:
            await clients.close()


def probe(mgmt, member, cloud):
    return _probe(mgmt.kubeconfig, member, cloud)
