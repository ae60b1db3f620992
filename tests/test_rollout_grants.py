"""A rollout grant is recorded before anything of the new revision is applied (issue 14: after a
restart, rollout memory fell back to the last written status, so members killed mid-update could
be granted budget again). The member clusters are stand-ins here; e2e/test_faults.py kills the
real controller."""

from __future__ import annotations

import asyncio

import pytest

from mgmt.controller.runtime import FleetRuntime, Shared
from mgmt.controller.status import MemberFacts
from mgmt.health.aggregate import stack_failure
from mgmt.stack.engine import GrantNotRecorded, MemberTarget, StackEngine
from mgmt.stack.member import MemberResult
from mgmt.stack.rollout import APPLY
from providers.base import PreflightFailure

MEMBERS = ["m1", "m2", "m3", "m4", "m5"]


def fleet(manifest_value: str, max_unavailable: int = 2) -> dict:
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app}}\ndata: {{v: '{manifest_value}'}}\n"
    return {"metadata": {"name": "f", "namespace": "ns"},
            "spec": {"rollout": {"maxUnavailable": max_unavailable},
                     "stack": {"components": [{"name": "app", "manifests": manifest}]}}}


class Members:
    """Stand-in member clusters: what was applied to each, in order, next to what was recorded."""

    def __init__(self, fail_grants: set[str] = frozenset()):
        self.events: list[tuple[str, str]] = []
        self.statuses: dict[str, list[dict]] = {}
        self.fail_grants = set(fail_grants)

    def engine(self) -> StackEngine:
        engine = StackEngine(mgmt=None, clients=None)

        async def run(target, plan):  # a held member keeps its revision (and its drift checked)
            previous = plan.previous.get("app", {})
            revision = previous.get("revision")
            moving = revision != plan.desired["app"].revision or not previous.get("ready")
            if plan.decisions["app"] == APPLY and moving:
                self.events.append(("applied", target.cluster))
                revision = plan.desired["app"].revision
            return MemberResult([{"name": "app", "revision": revision, "ready": True, "applied": True,
                                  "phase": "Ready", "readyAt": "2026-12-03T05:00:00.000000Z"}], True)
        engine._run = run
        return engine

    async def record_grant(self, cluster: str, components: list[dict]) -> None:
        if cluster in self.fail_grants:
            raise GrantNotRecorded("status write refused")
        self.events.append(("granted", cluster))
        self.statuses[cluster] = components


def targets():
    return [MemberTarget(name, "ns", "local", None, {}) for name in MEMBERS]


async def first_revision(members: Members) -> dict[str, list[dict]]:
    results = await members.engine().sync(fleet("r1"), targets(), {}, {}, members.record_grant)
    return {name: result.components for name, result in results.items()}


def test_the_grant_is_recorded_before_the_member_is_touched():
    members = Members()
    recorded = asyncio.run(first_revision(members))
    members.events.clear()
    engine = members.engine()

    async def hangs(target, plan):  # starts applying, then the member never answers
        members.events.append(("started", target.cluster))
        await asyncio.sleep(3600)
    engine._run, engine.timeout = hangs, 0.05
    asyncio.run(engine.sync(fleet("r2"), targets(), recorded, {}, members.record_grant))
    granted = [c for kind, c in members.events if kind == "granted"]
    assert len(granted) == 2
    for cluster in granted:
        assert members.events.index(("granted", cluster)) < members.events.index(("started", cluster))
    old = recorded["m1"][0]["revision"]
    for cluster in granted:
        assert members.statuses[cluster][0]["revision"] != old
        assert members.statuses[cluster][0]["ready"] is False
        # Moving, not broken: the old revision's readyAt would make the member read as Degraded.
        assert "readyAt" not in members.statuses[cluster][0]
        assert stack_failure({"components": members.statuses[cluster]}, "Ready") is None


def test_a_restarted_controller_never_grants_beyond_max_unavailable():
    members = Members()
    recorded = asyncio.run(first_revision(members))
    members.events.clear()

    async def killed_mid_apply():
        engine = members.engine()
        engine._run = lambda target, plan: asyncio.sleep(3600)
        task = asyncio.create_task(engine.sync(fleet("r2"), targets(), recorded, {}, members.record_grant))
        while sum(1 for kind, _ in members.events if kind == "granted") < 2:
            await asyncio.sleep(0.01)
        task.cancel()  # SIGKILL: nothing after the grants happens
        await asyncio.gather(task, return_exceptions=True)
    asyncio.run(killed_mid_apply())
    first = [c for kind, c in members.events if kind == "granted"]
    # The restarted controller knows only what the statuses say.
    resumed = {name: members.statuses.get(name, recorded[name]) for name in MEMBERS}
    members.events.clear()
    results = asyncio.run(members.engine().sync(fleet("r2"), targets(), resumed, {}, members.record_grant))
    assert [c for kind, c in members.events if kind == "granted"] == []  # no new grant: both still updating
    assert sorted(c for kind, c in members.events if kind == "applied") == sorted(first)
    assert sum(1 for r in results.values() if r.components[0]["revision"] != recorded["m1"][0]["revision"]) == 2


def test_a_grant_that_cannot_be_recorded_applies_nothing():
    members = Members()
    recorded = asyncio.run(first_revision(members))
    members.events.clear()
    members.fail_grants = set(MEMBERS)
    results = asyncio.run(members.engine().sync(fleet("r2"), targets(), recorded, {}, members.record_grant))
    assert members.events == []
    assert all(r.components == recorded[name] for name, r in results.items())
    assert sum(1 for r in results.values() if "rollout grant not recorded" in (r.message or "")) == 2


# -- the runtime's side: the grant goes to the member's status ------------------------------

class Writer:
    def __init__(self, refuse: bool):
        self.refuse, self.written = refuse, {}
        self.fleet_pending = False

    def fleet_wait(self):
        return 0.0

    async def write(self, fleet, facts, clusters=None):
        if not self.refuse:
            self.written = {name: {"components": f.components} for name, f in facts.items()}


@pytest.mark.parametrize("refuse", [False, True])
def test_the_runtime_records_a_grant_in_the_members_status(refuse):
    rt = FleetRuntime(Shared(kube=None, clients=None, stack=None), "ns", "f")
    rt.writer, rt.fleet = Writer(refuse), {"metadata": {}}
    rt.facts["m1"] = MemberFacts("m1", components=[{"name": "app", "revision": "r1", "ready": True}])
    granted = [{"name": "app", "revision": "r2", "ready": False, "applied": False, "phase": "Progressing"}]
    if refuse:
        with pytest.raises(GrantNotRecorded):
            asyncio.run(rt._record_grant("m1", granted))
    else:
        asyncio.run(rt._record_grant("m1", granted))
        assert rt.writer.written["m1"]["components"] == granted
    rt.facts["m1"].deleting = True
    with pytest.raises(GrantNotRecorded):
        asyncio.run(rt._record_grant("m1", granted))


def test_a_failed_member_holds_budget_for_what_it_was_updating():
    rt = FleetRuntime(Shared(kube=None, clients=None, stack=None), "ns", "f")
    failed = MemberFacts("bad", failure=PreflightFailure("ReconcileFailed", "x"),
                         components=[{"name": "a", "revision": "r2", "ready": False},
                                     {"name": "b", "revision": "r1", "ready": True}])
    away = MemberFacts("away", components=[{"name": "a", "revision": "r1", "ready": True}])
    rt.facts.update(bad=failed, away=away, fine=MemberFacts("fine"))
    assert rt._held_back({"fine"}) == {"bad": [{"name": "a", "revision": "r2", "ready": False}],
                                       "away": away.components}
