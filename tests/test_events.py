"""Repeated Events are counted on the Event already posted, as Kubernetes' event recorder does."""

from __future__ import annotations

import asyncio

import pytest

from mgmt.controller import events
from mgmt.kube import KubeError

REF = {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "FleetMember", "name": "f.a", "namespace": "ns",
       "uid": "uid-1"}


class Kube:
    def __init__(self):
        self.events: dict[str, dict] = {}

    async def create(self, obj):
        self.events[obj["metadata"]["name"]] = obj

    async def patch(self, api_version, kind, name, namespace, patch):
        if name not in self.events:
            raise KubeError(404, "NotFound", "gone")
        self.events[name].update(patch)


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(events, "_posted", events.OrderedDict())


def post(kube, reason="MemberDegraded", message="cluster a: Ready -> Degraded"):
    asyncio.run(events.post_event(kube, REF, "Warning", reason, message))


def test_a_repeat_raises_the_count_of_the_same_event():
    kube = Kube()
    post(kube)
    post(kube)
    post(kube)
    assert [e["count"] for e in kube.events.values()] == [3]


def test_another_reason_or_message_is_another_event():
    kube = Kube()
    post(kube)
    post(kube, reason="MemberReady", message="cluster a: Degraded -> Ready")
    post(kube, message="cluster a: New -> Degraded")
    assert len(kube.events) == 3


def test_an_expired_event_is_posted_anew():
    kube = Kube()
    post(kube)
    kube.events.clear()  # the apiserver's Event TTL ran out
    post(kube)
    assert [e["count"] for e in kube.events.values()] == [1]


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(events, "REMEMBERED", 3)
    kube = Kube()
    for n in range(10):
        post(kube, message=f"message {n}")
    assert len(events._posted) == 3
