"""A Fleet's status is written at most every FLEET_WRITE_INTERVAL seconds while it keeps changing
(each write costs the apiserver as much as the Fleet is big), and the last change is always
written once its turn comes. The API server is a stand-in here; e2e/test_reports.py reads real
Fleet statuses."""

from __future__ import annotations

import asyncio

from mgmt.controller import status as status_module
from mgmt.controller.runtime import FleetRuntime, Shared
from mgmt.controller.status import StatusWriter


class Apiserver:
    def __init__(self):
        self.fleet_writes: list[int] = []

    async def apply(self, obj, subresource=None, **_):
        self.fleet_writes.append(obj["status"]["observedGeneration"])
        return obj

    async def get(self, *args):
        return None

    async def create(self, obj):
        return obj


def fleet(generation: int) -> dict:
    return {"metadata": {"name": "f", "namespace": "ns", "generation": generation, "uid": "u"},
            "spec": {"clusters": []}}


def test_changes_within_the_interval_wait_for_it(monkeypatch):
    monkeypatch.setattr(status_module, "FLEET_WRITE_INTERVAL", 60.0)
    kube = Apiserver()
    writer = StatusWriter(kube, "ns", "f")

    async def run():
        await writer.write(fleet(1), {})
        await writer.write(fleet(2), {})
        assert kube.fleet_writes == [1] and writer.fleet_pending and writer.fleet_wait() > 50
        writer._fleet_written_at -= 60  # its turn came
        await writer.write(fleet(2), {})
        assert kube.fleet_writes == [1, 2] and not writer.fleet_pending
        await writer.write(fleet(2), {})  # nothing changed: nothing written, nothing pending
        assert kube.fleet_writes == [1, 2] and not writer.fleet_pending

    asyncio.run(run())


def test_the_runtime_writes_a_pending_fleet_status_in_its_turn(monkeypatch):
    monkeypatch.setattr(status_module, "FLEET_WRITE_INTERVAL", 0.3)
    kube = Apiserver()
    rt = FleetRuntime(Shared(kube, clients=None, stack=None), "ns", "f")

    async def run():
        rt.fleet = fleet(1)
        await rt.write_status()
        rt.fleet = fleet(2)
        await rt.write_status()  # too soon: left for the status task
        assert kube.fleet_writes == [1]
        await asyncio.sleep(1.5)
        assert kube.fleet_writes == [1, 2]
        assert rt._status_task.done()

    asyncio.run(run())
