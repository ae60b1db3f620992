"""A Fleet that declares its clusters as a ClusterSet (a template, a count, regions, an override):
the real controller makes one member per generated cluster, the override reaches its cluster's
objects, and shrinking the count removes the cluster that left. AWS clusters against the
session's moto server keep it cheap."""

from __future__ import annotations

import secrets

import pytest

from e2e.fixtures.controller import wait_for
from mgmt.api.models import CLUSTER_SET_LABEL

TOKEN = secrets.token_hex(4)
NS = f"fleet-sets-{TOKEN}"
FLEET = "stores"
KEYS = {"AWS_ACCESS_KEY_ID": f"AKIASET{TOKEN.upper()}", "AWS_SECRET_ACCESS_KEY": f"set-secret-{TOKEN}"}


def fleet(count: int) -> dict:
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": FLEET, "namespace": NS},
            "spec": {"clusterSets": [{
                "name": "shop", "count": count, "regions": ["us-east-1"],
                "template": {"provider": "aws", "kubernetesVersion": "v1.33.4", "credentialsRef": {"name": "aws"},
                             "workers": [{"name": "md-0", "replicas": 1}]},
                "overrides": [{"name": "shop-us-east-1-2", "workers": [{"name": "md-0", "replicas": 4}],
                               "labels": {"tier": "flagship"}}]}],
                     "health": {"probeInterval": "3s"}}}


def members(kubectl) -> dict[str, dict]:
    return {m["spec"]["cluster"]: m for m in kubectl.get_json("fleetmembers", "-n", NS)["items"]}


@pytest.fixture(scope="module")
def cluster_set(kubectl, controller):
    kubectl("create", "namespace", NS)
    kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": NS},
                   "stringData": KEYS})
    kubectl.apply(fleet(3))
    yield kubectl
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)
    wait_for(lambda: kubectl.run("get", "fleet", FLEET, "-n", NS, check=False).returncode != 0, 180,
             what="the Fleet to be deleted")
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_every_generated_cluster_gets_a_member_and_its_objects(cluster_set):
    kubectl = cluster_set
    names = ["shop-us-east-1-1", "shop-us-east-1-2", "shop-us-east-1-3"]
    wait_for(lambda: sorted(members(kubectl)) == names, 120, what="a member per generated cluster")
    for name in names:
        cluster = wait_for(lambda name=name: kubectl.get_json("clusters.cluster.x-k8s.io", "-n", NS, "-l",
                                                              f"cluster.x-k8s.io/cluster-name={name}")["items"],
                           120, what=f"the Cluster of {name}")[0]
        assert cluster["metadata"]["labels"][CLUSTER_SET_LABEL] == "shop"
        assert members(kubectl)[name]["spec"]["region"] == "us-east-1"
    pools = kubectl.get_json("machinedeployments.cluster.x-k8s.io", "-n", NS)["items"]
    replicas = {p["spec"]["clusterName"]: p["spec"]["replicas"] for p in pools}
    assert replicas == {"shop-us-east-1-1": 1, "shop-us-east-1-2": 4, "shop-us-east-1-3": 1}
    flagship = kubectl.get_json("clusters.cluster.x-k8s.io", "shop-us-east-1-2", "-n", NS)
    assert flagship["metadata"]["labels"]["tier"] == "flagship"
    wait_for(lambda: (kubectl.get_json("fleet", FLEET, "-n", NS).get("status") or {}).get("counts", {})
             .get("desired") == 3, 60, what="the Fleet to count three declared clusters")


def test_a_smaller_count_removes_the_cluster_that_left(cluster_set):
    kubectl = cluster_set
    kubectl.apply(fleet(2))
    wait_for(lambda: sorted(members(kubectl)) == ["shop-us-east-1-1", "shop-us-east-1-2"], 180,
             what="the third member to be removed")
    wait_for(lambda: not kubectl.get_json("clusters.cluster.x-k8s.io", "-n", NS, "-l",
                                          "cluster.x-k8s.io/cluster-name=shop-us-east-1-3")["items"],
             180, what="the third cluster's Cluster to be deleted")
