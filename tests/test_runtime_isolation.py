"""A Fleet's loops keep going whatever one cluster does (issue: one bad cluster stopped the whole
Fleet): the failing cluster's member says why and is retried on its own, sooner than the others,
the others are reconciled, the Fleet is recorded so the members, stack and probes start, and a
member that left the Fleet while it was probed does not come back as a ghost. The Kubernetes side
is a stand-in here; e2e runs the real one."""

from __future__ import annotations

import asyncio

import pytest

from mgmt.controller import adoption, clusters, member_reconciler, members, runtime
from mgmt.controller.runtime import FleetRuntime, Shared
from mgmt.controller.status import MemberFacts
from mgmt.controller.workqueue import BACKOFF_MAX, backoff

FLEET = {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
         "metadata": {"name": "f", "namespace": "ns", "generation": 1, "uid": "u"},
         "spec": {"clusters": [{"name": name, "provider": "local", "kubernetesVersion": "v1.35.8"}
                               for name in ("good", "poisoned")]}}


class Kube:
    fleet = FLEET

    async def get(self, api_version, kind, name, namespace=None):
        return self.fleet


async def _outcome(kube, preflight, spec, namespace, fleet):
    return clusters.Outcome(runtime.cluster_request(spec, namespace, fleet))


class Writer:
    def __init__(self):
        self.writes = 0
        self.generation = None
        self.fleet_pending = False

    def fleet_wait(self):
        return 0.0

    async def write(self, fleet, facts, clusters=None):
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


def no_member_object(rt, monkeypatch):
    async def none(cluster):
        return None
    monkeypatch.setattr(rt.members, "_member", none)


def test_one_failing_cluster_fails_only_its_member(fleet_runtime, monkeypatch):
    no_member_object(fleet_runtime, monkeypatch)

    async def run():
        await fleet_runtime.reconcile_spec()
        queued = len(fleet_runtime.queue)
        return queued, {name: await fleet_runtime.members.reconcile(name) for name in ("good", "poisoned")}
    queued, due = asyncio.run(run())
    assert queued == 2, "both members are queued"
    assert fleet_runtime.fleet is FLEET, "the members, the stack and the probes must start"
    assert fleet_runtime.facts["good"].failure is None
    failure = fleet_runtime.facts["poisoned"].failure
    assert failure.reason == "ReconcileFailed"
    assert "KeyError" in failure.message and "a bug" not in failure.message, "only the kind of an internal error"
    assert fleet_runtime.failures == {"cluster poisoned": 1}
    assert due["poisoned"] <= 2.0 < due["good"], "the failing member comes back on its own, sooner"
    assert not fleet_runtime.members.declared("good", fleet_runtime.cluster_specs["good"])
    assert fleet_runtime.members.declared("poisoned", fleet_runtime.cluster_specs["poisoned"])


def test_a_changed_cluster_is_queued_alone(fleet_runtime, monkeypatch):
    no_member_object(fleet_runtime, monkeypatch)
    changed = {**FLEET, "metadata": {**FLEET["metadata"], "generation": 2},
               "spec": {"clusters": [FLEET["spec"]["clusters"][0],
                                     {**FLEET["spec"]["clusters"][1], "name": "poisoned", "region": "elsewhere"}]}}
    monkeypatch.setattr(clusters, "reconcile", lambda *args: _outcome(*args))

    async def run():
        await fleet_runtime.reconcile_spec()
        for name in ("good", "poisoned"):
            await fleet_runtime.members.reconcile(name)
        for name in ("good", "poisoned"):
            fleet_runtime.queue.forget(name)  # as a running queue would have handed them out
        Kube.fleet = changed
        await fleet_runtime.reconcile_spec()
        return [name for name, spec in fleet_runtime.cluster_specs.items()
                if fleet_runtime.members.declared(name, spec)], len(fleet_runtime.queue)
    try:
        to_apply, queued = asyncio.run(run())
    finally:
        Kube.fleet = FLEET
    assert to_apply == ["poisoned"]
    assert queued == 2  # a new generation: both statuses are looked at again, one cluster applied


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
    member = {"spec": {"cluster": "gone", "provider": "local"}, "metadata": {"name": "f.gone"}}

    async def member_object(cluster):
        return member

    async def probe_member(kube, clients, member, cloud=None, read_cluster=None):
        fleet_runtime.facts.pop("gone", None)  # removed by the Fleet reconciler meanwhile
        return {"api": {"reachable": True}}

    monkeypatch.setattr(fleet_runtime.members, "_member", member_object)
    monkeypatch.setattr(member_reconciler, "probe_member", probe_member)
    fleet_runtime.facts["gone"] = MemberFacts("gone")
    fleet_runtime.fleet = FLEET
    asyncio.run(fleet_runtime.members.reconcile("gone"))
    assert "gone" not in fleet_runtime.facts


def test_backoff_grows_is_capped_and_jittered():
    assert 1.0 <= backoff(1) <= 2.0
    assert 16.0 <= backoff(5) <= 32.0
    assert backoff(50) <= BACKOFF_MAX
    assert len({round(backoff(3), 6) for _ in range(20)}) > 1


def test_changed_statuses_are_written_in_bounded_passes(fleet_runtime, monkeypatch):
    """A thousand members changing at once: the Fleet's status is written after every pass of
    at most STATUS_BATCH members, not once after all of them."""
    passes = []

    async def write(fleet, facts, clusters=None):
        passes.append(set(clusters))
    fleet_runtime.writer.write = write
    monkeypatch.setattr(runtime, "STATUS_DELAY", 0)
    fleet_runtime.fleet = FLEET
    names = [f"m{i}" for i in range(200)]
    fleet_runtime.facts.update({name: MemberFacts(name) for name in names})

    async def run():
        for name in names:
            fleet_runtime.member_changed(name)
        await fleet_runtime._status_task
    asyncio.run(run())
    assert all(len(p) <= runtime.STATUS_BATCH for p in passes) and len(passes) == 4
    assert set().union(*passes) == set(names)


def test_after_a_restart_a_member_applied_with_its_spec_is_checked_later(fleet_runtime, monkeypatch):
    """A restarted controller takes a member whose stored status says its spec was applied (and
    not failed) as applied, and checks it for drift within the resync rather than before its first
    probe; a member whose spec changed meanwhile is applied at once."""
    no_member_object(fleet_runtime, monkeypatch)
    applied = []

    async def reconcile(kube, preflight, spec, namespace, fleet):
        applied.append(spec.name)
        return await _outcome(kube, preflight, spec, namespace, fleet)
    monkeypatch.setattr(clusters, "reconcile", reconcile)

    async def run():
        await fleet_runtime.reconcile_spec()
        specs = fleet_runtime.cluster_specs
        fleet_runtime.facts["good"] = MemberFacts("good", applied_spec=member_reconciler.spec_hash(specs["good"]))
        fleet_runtime.facts["poisoned"] = MemberFacts("poisoned", applied_spec="an older spec's")
        return {name: await fleet_runtime.members.reconcile(name) for name in ("good", "poisoned")}
    due = asyncio.run(run())
    assert applied == ["poisoned"]
    assert 0 < due["good"] <= member_reconciler.RESYNC
    assert fleet_runtime.facts["poisoned"].applied_spec == member_reconciler.spec_hash(
        fleet_runtime.cluster_specs["poisoned"])
