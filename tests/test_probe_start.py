"""After a (re)start the members are probed as soon as the Fleet is read (found by the fault suite:
the probe loop slept the default 30 s interval when it started before the spec loop had read the
Fleet, so a member that broke just after a restart stayed Ready for half a minute)."""

from __future__ import annotations

import asyncio
import time

from mgmt.controller.runtime import FleetRuntime, Shared


def test_probes_start_as_soon_as_the_fleet_is_read():
    rt = FleetRuntime(Shared(kube=None, clients=None, stack=None), "ns", "f")
    probed: list[float] = []

    async def probe():
        probed.append(time.monotonic())
    rt.probe = probe

    async def first_probe_after_read() -> float:
        loop = asyncio.create_task(rt.probe_loop())
        await asyncio.sleep(0.2)  # the loop starts before the spec loop has read the Fleet
        assert probed == []
        rt.fleet = {"spec": {"health": {"probeInterval": "5s"}}}
        read = time.monotonic()
        try:
            while not probed and time.monotonic() - read < 10:
                await asyncio.sleep(0.05)
        finally:
            loop.cancel()
        return probed[0] - read if probed else float("inf")
    assert asyncio.run(first_probe_after_read()) < 5  # a second or so, never the default interval
