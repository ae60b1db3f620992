"""Rendering a declared cluster into Cluster API objects, and the controller's small pure helpers."""

from __future__ import annotations

import pytest

from mgmt import templating
from mgmt.api.models import ClusterSpec, LabelSelector, parse_duration
from mgmt.controller.adoption import provider_of, selector_string
from mgmt.controller.objects import contains, template_kinds
from mgmt.render import apply_order, cluster_request, render_cluster, split_documents
from providers.base import Credentials


def spec(**overrides) -> ClusterSpec:
    fields = {"name": "c1", "provider": "local", "kubernetesVersion": "v1.35.8",
              "workers": [{"name": "small", "replicas": 2}, {"name": "big", "replicas": 3}]}
    fields.update(overrides)
    return ClusterSpec.model_validate(fields)


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_split_documents_separates_pool_documents():
    cluster_docs, pool_docs = split_documents("# head\nkind: A\n---\nkind: B\nname: ${WORKER_POOL_NAME}\n---\n# only a comment\n")
    assert [d.strip().splitlines()[-1] for d in cluster_docs] == ["kind: A"]
    assert len(pool_docs) == 1


def test_each_pool_gets_its_own_machine_deployment():
    objects = render_cluster(cluster_request(spec(), "ns", "fleet1"))
    deployments = {o["metadata"]["name"]: o["spec"]["replicas"] for o in by_kind(objects, "MachineDeployment")}
    assert deployments == {"c1-small": 2, "c1-big": 3}
    assert len(by_kind(objects, "Cluster")) == 1 and len(by_kind(objects, "LocalMachineTemplate")) == 2


def test_every_object_carries_fleet_and_cluster_labels_and_namespace():
    objects = render_cluster(cluster_request(spec(labels={"env": "prod"}), "ns", "fleet1"))
    for obj in objects:
        assert obj["metadata"]["labels"]["fleet.drover.dev/fleet"] == "fleet1"
        assert obj["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] == "c1"
        assert obj["metadata"]["namespace"] == "ns"
    assert by_kind(objects, "Cluster")[0]["metadata"]["labels"]["env"] == "prod"
    assert "env" not in by_kind(objects, "LocalCluster")[0]["metadata"]["labels"]


def test_no_workers_renders_no_pool_objects():
    objects = render_cluster(cluster_request(spec(workers=[]), "ns", "f"))
    assert not by_kind(objects, "MachineDeployment")


def test_user_variables_win_over_derived_ones():
    objects = render_cluster(cluster_request(spec(variables={"POD_CIDR": "10.0.0.0/8"}), "ns", "f"))
    assert by_kind(objects, "Cluster")[0]["spec"]["clusterNetwork"]["pods"]["cidrBlocks"] == ["10.0.0.0/8"]


def test_missing_variables_are_all_named():
    request = cluster_request(spec(provider="gcp", region="us-central1", credentialsRef={"name": "x"}), "ns", "f")
    with pytest.raises(templating.MissingVariablesError) as error:
        render_cluster(request)
    assert "GCP_NETWORK_NAME" in str(error.value) and "IMAGE_ID" in str(error.value)


def test_credentials_supply_identity_variables_and_objects():
    request = cluster_request(spec(provider="azure", region="westeurope", credentialsRef={"name": "az"}), "ns", "f")
    credentials = Credentials("az", {"AZURE_CLIENT_ID": "id", "AZURE_CLIENT_SECRET": "s3cr3t",
                                     "AZURE_TENANT_ID": "t", "AZURE_SUBSCRIPTION_ID": "sub-1"})
    objects = render_cluster(request, credentials)
    assert by_kind(objects, "AzureCluster")[0]["spec"]["subscriptionID"] == "sub-1"
    assert by_kind(objects, "AzureClusterIdentity")
    ordered = apply_order(objects)
    assert ordered[0]["kind"] in ("Secret", "AzureClusterIdentity") and ordered[-1]["kind"] == "Cluster"


def test_template_kinds_cover_what_a_provider_makes():
    kinds = template_kinds("aws", "eks")
    assert ("controlplane.cluster.x-k8s.io/v1beta2", "AWSManagedControlPlane") in kinds
    assert ("infrastructure.cluster.x-k8s.io/v1beta2", "AWSClusterStaticIdentity") in kinds
    assert ("v1", "Secret") in kinds


@pytest.mark.parametrize("live,desired,expected", [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": {"b": [1, {"c": 2, "d": 3}]}}, {"a": {"b": [1, {"c": 2}]}}, True),
    ({"a": [1, 2]}, {"a": [1]}, False),
    ({"a": 1}, {"b": None}, True),
    ({}, {"a": {}}, False),
])
def test_contains(live, desired, expected):
    assert contains(live, desired) is expected


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("1.5s", 1.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_selector_string():
    selector = LabelSelector.model_validate({"matchLabels": {"team": "a", "env": "prod"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["1", "2"]}, {"key": "legacy", "operator": "DoesNotExist"}]})
    assert selector_string(selector) == "env=prod,team=a,tier in (1,2),!legacy"
    assert selector_string(None) is None
    assert selector_string(LabelSelector()) is None


@pytest.mark.parametrize("ref,provider", [
    ({"apiGroup": "infrastructure.drover.dev", "kind": "LocalCluster"}, "local"),
    ({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "AWSManagedCluster"}, "aws"),
    ({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "DOCluster"}, "digitalocean"),
    ({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "VSphereCluster"}, "vsphere"),
    ({"kind": "OCICluster"}, None),
])
def test_provider_of_adopted_cluster(ref, provider):
    assert provider_of({"spec": {"infrastructureRef": ref}}) == provider
