"""ClusterSets: many clusters from one template (the apiserver's refusals are in
e2e/test_fleet_validation.py, the controller's use in e2e/test_cluster_sets.py)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from mgmt.api.models import CLUSTER_SET_LABEL, FleetSpec, declared_names

TEMPLATE = {"provider": "aws", "kubernetesVersion": "v1.33.4", "credentialsRef": {"name": "aws"},
            "labels": {"team": "retail"}, "variables": {"AWS_SSH_KEY_NAME": "ops"},
            "workers": [{"name": "md-0", "replicas": 2}]}


def spec(**cluster_set) -> dict:
    return {"clusters": [{"name": "hq", "provider": "local", "kubernetesVersion": "v1.35.8"}],
            "clusterSets": [{"name": "shop", "template": TEMPLATE, **cluster_set}]}


def names(raw: dict) -> list[str]:
    return [c.name for c in FleetSpec.model_validate(raw).declared()]


def test_a_count_names_clusters_by_number_without_padding():
    assert names(spec(count=3, regions=["eu-west-1"])) == [
        "hq", "shop-eu-west-1-1", "shop-eu-west-1-2", "shop-eu-west-1-3"]


def test_names_and_regions_cross():
    assert names(spec(names=["a", "b"], regions=["r1", "r2"])) == ["hq", "shop-r1-a", "shop-r1-b", "shop-r2-a", "shop-r2-b"]


def test_regions_alone_make_one_cluster_per_region_in_that_region():
    clusters = FleetSpec.model_validate(spec(regions=["eu-west-1", "us-east-1"])).declared()[1:]
    assert [(c.name, c.region) for c in clusters] == [("shop-eu-west-1", "eu-west-1"), ("shop-us-east-1", "us-east-1")]


def test_an_override_replaces_fields_and_merges_labels_and_variables():
    raw = spec(count=2, regions=["eu-west-1"], overrides=[{
        "name": "shop-eu-west-1-2", "region": "eu-central-1", "labels": {"tier": "flagship"},
        "variables": {"EXTRA": "x"}, "workers": [{"name": "md-0", "replicas": 6}]}])
    plain, changed = FleetSpec.model_validate(raw).declared()[1:]
    assert (plain.region, plain.workers[0].replicas) == ("eu-west-1", 2)
    assert (changed.region, changed.workers[0].replicas) == ("eu-central-1", 6)
    assert changed.labels == {"team": "retail", CLUSTER_SET_LABEL: "shop", "tier": "flagship"}
    assert changed.variables == {"AWS_SSH_KEY_NAME": "ops", "EXTRA": "x"}
    assert plain.labels == {"team": "retail", CLUSTER_SET_LABEL: "shop"}


def test_an_override_of_no_cluster_of_the_set_is_refused():
    with pytest.raises(ValidationError, match="overrides name no cluster of the set: shop-9"):
        FleetSpec.model_validate(spec(count=2, regions=["r"], overrides=[{"name": "shop-9"}]))


def test_the_names_read_from_the_stored_spec_are_the_declared_ones():
    raw = spec(count=4, regions=["a", "b"])
    assert declared_names(raw) == set(names(raw))


def test_ten_thousand_clusters_fit_in_a_few_kib():
    raw = spec(count=2500, regions=["eu-west-1", "us-east-1", "us-west-2", "ap-south-1"])
    assert len(FleetSpec.model_validate(raw).declared()) == 10001
    assert len(json.dumps(raw)) < 4096
