"""A Fleet's loops keep going whatever one cluster does (issue: one bad cluster stopped the whole
Fleet): the failing cluster's member says why, the others are reconciled, the Fleet is recorded
so the stack and probe loops start, and a member that left the Fleet while it was probed does
not come back as a ghost. The Kubernetes side is a stand-in here; e2e runs the real one."""

from __future__ import annotations

import asyncio

import pytest

from mgmt.controller import adoption, clusters, members, runtime
from mgmt.controller.runtime import FleetRuntime, Shared, backoff
from mgmt.controller.status import MemberFacts

FLEET = {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
         "metadata": {"name": "f", "namespace": "ns", "generation": 1, "uid": "u"},
         "spec": {"clusters": [{"name": name, "provider": "local", "kubernetesVersion": "v1.35.8"}
                               for name in ("good", "poisoned")]}}


class Kube:
    async def get(self, api_version, kind, name, namespace=None):
        return FLEET


class Writer:
    def __init__(self):
        self.writes = 0
        self.generation = None

    async def write(self, fleet, facts):
        self.writes += 1

    def forget(self, cluster):
        pass


@pytest.fixture
def fleet_runtime(monkeypatch):
    async def reconcile(kube, preflight, spec, namespace, fleet):
        if spec.name == "poisoned":
            raise KeyError("a bug in one cluster's path")
        return clusters.Outcome(runtime.cluster_request(spec, namespace, fleet))

    async def no_members(*args):
        return []

    async def none_adopted(*args):
        return {}

    monkeypatch.setattr(clusters, "reconcile", reconcile)
    monkeypatch.setattr(members, "ensure", no_members)
    monkeypatch.setattr(members, "list_members", no_members)
    monkeypatch.setattr(adoption, "adopt", none_adopted)
    monkeypatch.setattr(members, "stranded", none_adopted)
    rt = FleetRuntime(Shared(Kube(), clients=None, stack=None), "ns", "f")
    rt.writer = Writer()
    return rt


def test_one_failing_cluster_fails_only_its_member(fleet_runtime):
    async def run():
        await fleet_runtime.reconcile_spec()
    asyncio.run(run())
    assert fleet_runtime.fleet is FLEET, "the stack and probe loops must start"
    assert fleet_runtime.facts["good"].failure is None
    failure = fleet_runtime.facts["poisoned"].failure
    assert failure.reason == "ReconcileFailed"
    assert "KeyError" in failure.message and "a bug" not in failure.message, "only the kind of an internal error"
    assert fleet_runtime.failures == {"cluster poisoned": 1}
    assert fleet_runtime.writer.writes == 1


def test_a_failing_pass_is_counted_and_the_loop_goes_on(fleet_runtime):
    async def broken():
        raise RuntimeError("boom")

    async def run():
        first = await fleet_runtime._attempt("stack", broken)
        await fleet_runtime._attempt("stack", broken)
        return first, dict(fleet_runtime.failures)
    first, failures = asyncio.run(run())
    assert first[0] is False and isinstance(first[1], RuntimeError)
    assert failures == {"stack": 2}


def test_a_member_that_left_while_probed_is_not_recorded_again(fleet_runtime, monkeypatch):
    listed = [{"spec": {"cluster": "gone", "provider": "local"}, "metadata": {"name": "f-gone"}}]

    async def list_members(*args):
        return listed

    async def probe_member(kube, clients, member, cloud=None):
        fleet_runtime.facts.pop("gone", None)  # removed by the spec loop meanwhile
        return {"api": {"reachable": True}}

    monkeypatch.setattr(members, "list_members", list_members)
    monkeypatch.setattr(runtime, "probe_member", probe_member)
    fleet_runtime.facts["gone"] = MemberFacts("gone")
    fleet_runtime.fleet = FLEET
    asyncio.run(fleet_runtime.probe())
    assert "gone" not in fleet_runtime.facts


def test_backoff_grows_is_capped_and_jittered():
    assert 1.0 <= backoff(1) <= 2.0
    assert 16.0 <= backoff(5) <= 32.0
    assert backoff(50) <= runtime.BACKOFF_MAX
    assert len({round(backoff(3), 6) for _ in range(20)}) > 1
