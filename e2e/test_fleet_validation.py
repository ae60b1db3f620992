"""Malformed Fleets are refused by `kubectl apply` itself, naming the field, creating nothing."""

from __future__ import annotations

import copy

import pytest


def good_fleet(name: str = "valid") -> dict:
    return {
        "apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": name},
        "spec": {
            "clusters": [
                {"name": "a", "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
                 "credentialsRef": {"name": "aws"}, "workers": [{"name": "md-0", "replicas": 2}]},
                {"name": "b", "provider": "local", "kubernetesVersion": "v1.35.8"},
            ],
            "clusterSets": [
                {"name": "edge", "count": 3, "regions": ["eu-west-1"],
                 "template": {"provider": "aws", "kubernetesVersion": "v1.33.4", "credentialsRef": {"name": "aws"}},
                 "overrides": [{"name": "edge-eu-west-1-2", "workers": [{"name": "md-0", "replicas": 3}]}]},
            ],
            "stack": {"components": [{"name": "base", "manifests": "apiVersion: v1\nkind: ConfigMap\n"
                                      "metadata: {name: x}\n"}]},
        },
    }


def mutate(path: str, value=None, delete: bool = False):
    """A change at a dotted path (list indexes as numbers) of the good Fleet."""
    def change(fleet: dict) -> dict:
        node, keys = fleet, path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        last = int(keys[-1]) if keys[-1].isdigit() else keys[-1]
        if delete:
            del node[last]
        else:
            node[last] = value
        return fleet
    return change


def duplicate_cluster(fleet):
    fleet["spec"]["clusters"].append(copy.deepcopy(fleet["spec"]["clusters"][0]))
    return fleet


def duplicate_pool(fleet):
    fleet["spec"]["clusters"][0]["workers"].append({"name": "md-0", "replicas": 1})
    return fleet


# (id, change, text the refusal must contain: the field it names)
CASES = [
    ("duplicate-cluster", duplicate_cluster, "spec.clusters[2]: Duplicate value"),
    ("version-format", mutate("spec.clusters.0.kubernetesVersion", "1.33"), "spec.clusters[0].kubernetesVersion"),
    ("version-missing", mutate("spec.clusters.1.kubernetesVersion", delete=True),
     "spec.clusters[1].kubernetesVersion: Required value"),
    ("unknown-provider", mutate("spec.clusters.0.provider", "openstack"), "spec.clusters[0].provider: Unsupported value"),
    ("flavor-of-other-provider", mutate("spec.clusters.0.flavor", "gke"), "spec.clusters[0].flavor"),
    ("negative-replicas", mutate("spec.clusters.0.workers.0.replicas", -1), "spec.clusters[0].workers[0].replicas"),
    ("too-many-replicas", mutate("spec.clusters.0.workers.0.replicas", 5000), "spec.clusters[0].workers[0].replicas"),
    ("even-control-plane", mutate("spec.clusters.0.controlPlane", {"replicas": 2}),
     "spec.clusters[0].controlPlane.replicas"),
    ("cluster-name-not-dns", mutate("spec.clusters.0.name", "Bad_Name"), "spec.clusters[0].name"),
    ("pool-name-not-dns", mutate("spec.clusters.0.workers.0.name", "MD.0"), "spec.clusters[0].workers[0].name"),
    ("duplicate-pool", duplicate_pool, "spec.clusters[0].workers[1]: Duplicate value"),
    ("cloud-without-region", mutate("spec.clusters.0.region", delete=True), "spec.clusters[0].region"),
    ("cloud-without-credentials", mutate("spec.clusters.0.credentialsRef", delete=True),
     "spec.clusters[0].credentialsRef"),
    ("probe-interval", mutate("spec.health", {"probeInterval": "soon"}), "spec.health.probeInterval"),
    ("max-unavailable-zero", mutate("spec.rollout", {"maxUnavailable": 0}), "spec.rollout.maxUnavailable"),
    ("component-two-sources", mutate("spec.stack.components.0.helm", {"chart": "x", "repository": "https://e.x"}),
     "spec.stack.components[0]"),
    ("depends-on-unknown", mutate("spec.stack.components.0.dependsOn", ["ghost"]), "spec.stack.components"),
    ("fleet-name-too-long", mutate("metadata.name", "f" * 50), "metadata.name"),
    ("set-count-and-names", mutate("spec.clusterSets.0.names", ["x"]), "spec.clusterSets[0]: Invalid value"),
    ("set-count-too-big", mutate("spec.clusterSets.0.count", 20000), "spec.clusterSets[0].count"),
    ("set-names-too-long", mutate("spec.clusterSets.0.regions", ["r" * 36]), "longer than 40 characters"),
    ("set-cloud-without-region", mutate("spec.clusterSets.0.regions", delete=True), "spec.clusterSets[0].regions"),
    ("set-reserved-variable", mutate("spec.clusterSets.0.template.variables", {"NAMESPACE": "kube-system"}),
     "spec.clusterSets[0].template.variables"),
    ("override-reserved-variable", mutate("spec.clusterSets.0.overrides.0.variables", {"CLUSTER_NAME": "x"}),
     "spec.clusterSets[0].overrides[0].variables"),
    ("inline-name-in-a-set", mutate("spec.clusters.1.name", "edge-9"), "spec.clusters"),
    ("set-name-in-another-set", lambda f: f["spec"]["clusterSets"].append(
        {**f["spec"]["clusterSets"][0], "name": "edge-eu"}) or f, "spec.clusterSets"),
]


@pytest.mark.parametrize("case,change,field", CASES, ids=[c[0] for c in CASES])
def test_malformed_fleet_is_refused_naming_the_field(kubectl, validation_namespace, case, change, field):
    fleet = change(good_fleet(f"bad-{case}"[:40]))
    result = kubectl.apply(fleet, "-n", validation_namespace, check=False)
    assert result.returncode != 0, f"{case} was accepted"
    assert field in result.stderr, f"{case}: refusal does not name {field}:\n{result.stderr}"


def test_good_fleet_is_accepted_and_malformed_ones_created_nothing(kubectl, validation_namespace):
    assert len(CASES) >= 12
    names = kubectl("get", "fleets", "-n", validation_namespace, "-o", "name").split()
    assert names == [], f"malformed fleets were stored: {names}"
    kubectl.apply(good_fleet(), "-n", validation_namespace, "--dry-run=server")


@pytest.fixture(scope="module")
def validation_namespace(kubectl):
    kubectl("create", "namespace", "fleet-validation")
    yield "fleet-validation"
    kubectl("delete", "namespace", "fleet-validation", "--wait=false", check=False)



def test_every_sample_is_accepted(kubectl):
    from pathlib import Path

    for sample in sorted((Path(__file__).parent.parent / "manifests" / "samples").glob("*.yaml")):
        kubectl("apply", "--dry-run=server", "-f", str(sample))
