"""A member whose whole stack is at its desired revision and ready is synced again only every
`settled_interval` (its drift looked for); members still moving, out of reach, or failed are
synced on every pass. The member clusters are stand-ins; the e2e drift tests run the real thing."""

from __future__ import annotations

import asyncio

from mgmt.kube import Unreachable
from mgmt.stack.engine import MemberTarget, StackEngine
from mgmt.stack.member import MemberResult

MEMBERS = ["m1", "m2", "m3"]


def fleet(value: str) -> dict:
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app}}\ndata: {{v: '{value}'}}\n"
    return {"metadata": {"name": "f", "namespace": "ns"},
            "spec": {"stack": {"components": [{"name": "app", "manifests": manifest}]}}}


class StandIns:
    def __init__(self, interval: float):
        self.synced: list[str] = []
        self.not_ready: set[str] = set()
        self.unreachable: set[str] = set()
        self.engine = StackEngine(mgmt=None, clients=None, settled_interval=interval)
        self.engine._run = self.run

    async def run(self, target, plan):
        self.synced.append(target.cluster)
        if target.cluster in self.unreachable:
            raise Unreachable("no route to host")
        ready = target.cluster not in self.not_ready
        return MemberResult([{"name": "app", "revision": plan.desired["app"].revision, "ready": ready,
                              "applied": True, "phase": "Ready" if ready else "Progressing"}], False)

    def sync(self, value: str) -> dict:
        self.synced.clear()
        targets = [MemberTarget(name, "ns", "local", None, {}) for name in MEMBERS]
        return asyncio.run(self.engine.sync(fleet(value), targets, {}))


def test_settled_members_wait_for_their_interval():
    members = StandIns(interval=3600)
    members.not_ready = {"m2"}
    members.sync("r1")
    assert sorted(members.synced) == MEMBERS
    results = members.sync("r1")
    assert members.synced == ["m2"]  # still progressing
    assert results["m1"].components[0]["ready"] and results["m1"].reachable and not results["m1"].changed
    members.not_ready = set()
    members.sync("r1")
    members.sync("r1")
    assert members.synced == []
    members.sync("r2")  # a new revision moves every member
    assert sorted(members.synced) == MEMBERS


def test_a_member_out_of_reach_is_tried_every_pass():
    members = StandIns(interval=3600)
    members.sync("r1")
    members.engine._synced_at.clear()  # as if the interval had passed
    members.unreachable = {"m3"}
    results = members.sync("r1")
    assert sorted(members.synced) == MEMBERS and not results["m3"].reachable
    results = members.sync("r1")
    assert members.synced == ["m3"] and not results["m3"].reachable


def test_without_an_interval_every_pass_syncs_every_member():
    members = StandIns(interval=0)
    members.sync("r1")
    members.sync("r1")
    assert sorted(members.synced) == MEMBERS


def test_after_a_restart_recorded_settled_members_are_spread_over_the_interval():
    members = StandIns(interval=3600)
    members.sync("r1")
    recorded = {name: members.engine._last[("ns", "f", name)] for name in MEMBERS}
    recorded["m3"] = [{**recorded["m3"][0], "ready": False, "phase": "Progressing"}]
    restarted = StandIns(interval=3600)
    targets = [MemberTarget(name, "ns", "local", None, {}) for name in MEMBERS]
    results = asyncio.run(restarted.engine.sync(fleet("r1"), targets, recorded))
    assert restarted.synced == ["m3"]  # still moving: at once
    assert results["m1"].components == recorded["m1"]
    changed = StandIns(interval=3600)
    asyncio.run(changed.engine.sync(fleet("r2"), targets, recorded))  # a new revision meanwhile
    assert sorted(changed.synced) == MEMBERS
