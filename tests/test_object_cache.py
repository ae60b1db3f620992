"""Which desired objects the watch-backed cache answers for (the rest are read with a GET)."""

import asyncio

from mgmt.api.models import FLEET_LABEL
from mgmt.controller.cache import Informer, cached


def obj(api_version: str, kind: str, labels: dict | None) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "labels": labels}}


def test_labelled_objects_are_cached_but_never_secrets():
    assert cached(obj("cluster.x-k8s.io/v1beta2", "Cluster", {FLEET_LABEL: "f"}))
    assert cached(obj("fleet.drover.dev/v1alpha1", "FleetMember", {FLEET_LABEL: "f"}))
    assert not cached(obj("cluster.x-k8s.io/v1beta2", "Cluster", {"other": "x"}))
    assert not cached(obj("v1", "Namespace", None))
    assert not cached(obj("v1", "Secret", {FLEET_LABEL: "f"})), "credentials are not kept in memory"


class NeverAnswers:
    """A management client whose LIST never returns: the informer holds only what it observes."""

    async def list_page(self, *args):
        await asyncio.Event().wait()


def labelled(version: str) -> dict:
    return {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": "x", "namespace": "ns", "resourceVersion": version, "labels": {FLEET_LABEL: "f"}}}


async def test_an_answer_older_than_what_the_watch_brought_is_not_kept():
    informer = Informer(NeverAnswers(), "cluster.x-k8s.io/v1beta2", "Cluster", None)
    try:
        informer.observe(labelled("5"))
        informer.observe(labelled("3"))  # our write's answer, overtaken by another writer's version 5
        assert informer.objects[("ns", "x")]["metadata"]["resourceVersion"] == "5"
        informer.observe(labelled("7"))
        assert informer.objects[("ns", "x")]["metadata"]["resourceVersion"] == "7"
    finally:
        await informer.close()
