"""After a (re)start the members are probed as soon as the Fleet is read (found by the fault suite:
the probe loop slept the default 30 s interval when it started before the spec loop had read the
Fleet, so a member that broke just after a restart stayed Ready for half a minute)."""

from __future__ import annotations

import asyncio
import time

from mgmt.controller import member_reconciler
from mgmt.controller.runtime import FleetRuntime, Shared
from mgmt.controller.status import MemberFacts


def test_probes_start_as_soon_as_the_fleet_is_read(monkeypatch):
    rt = FleetRuntime(Shared(kube=None, clients=None, stack=None), "ns", "f")
    rt.facts["m"] = MemberFacts("m")  # resumed from its status
    probed: list[float] = []

    async def member_object(cluster):
        return {"metadata": {"namespace": "ns", "name": "f.m"}, "spec": {"cluster": "m"}}

    async def probe_member(*args, **kwargs):
        probed.append(time.monotonic())
        return {"api": {"reachable": True}}
    monkeypatch.setattr(rt.members, "_member", member_object)
    monkeypatch.setattr(member_reconciler, "probe_member", probe_member)
    rt.member_changed = lambda cluster: None

    async def first_probe_after_read() -> float:
        queue = asyncio.create_task(rt.queue.run())
        rt.queue.add("m")
        await asyncio.sleep(0.2)  # the member is worked on before the Fleet has been read
        assert probed == []
        rt.fleet, rt.probe_interval = {"spec": {"health": {"probeInterval": "5s"}}}, 5.0
        read = time.monotonic()
        try:
            while not probed and time.monotonic() - read < 10:
                await asyncio.sleep(0.05)
        finally:
            queue.cancel()
        return probed[0] - read if probed else float("inf")
    assert asyncio.run(first_probe_after_read()) < 5  # a second or so, never the default interval
