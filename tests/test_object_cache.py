"""Which desired objects the watch-backed cache answers for (the rest are read with a GET)."""

from mgmt.api.models import FLEET_LABEL
from mgmt.controller.cache import cached


def obj(api_version: str, kind: str, labels: dict | None) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "labels": labels}}


def test_labelled_objects_are_cached_but_never_secrets():
    assert cached(obj("cluster.x-k8s.io/v1beta2", "Cluster", {FLEET_LABEL: "f"}))
    assert cached(obj("fleet.drover.dev/v1alpha1", "FleetMember", {FLEET_LABEL: "f"}))
    assert not cached(obj("cluster.x-k8s.io/v1beta2", "Cluster", {"other": "x"}))
    assert not cached(obj("v1", "Namespace", None))
    assert not cached(obj("v1", "Secret", {FLEET_LABEL: "f"})), "credentials are not kept in memory"
