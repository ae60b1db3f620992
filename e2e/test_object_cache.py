"""`apply_if_changed` reads from the watch-backed cache (`mgmt.controller.cache`) on the real
apiserver: an unchanged object costs no request at all, a change or delete by someone else is
seen through the watch and applied again, an object the cache does not keep is read with a GET,
and the informers end with their client."""

from __future__ import annotations

import asyncio
import time

from mgmt.api.models import FLEET_LABEL
from mgmt.controller import cache
from mgmt.controller.objects import apply_if_changed
from mgmt.kube import Kube

WAIT = 30


def config_map(namespace: str, name: str, labelled: bool = True, value: str = "1") -> dict:
    labels = {FLEET_LABEL: "f"} if labelled else {"other": "x"}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": {"a": value}}


class Counted:
    """The requests one Kube sends (the watches aside: those are the cache's one stream per kind)."""

    def __init__(self, kube: Kube):
        self.sent: list[tuple[str, str]] = []
        request = kube.request

        async def counted(method, path, *args, **kwargs):
            self.sent.append((method, path))
            return await request(method, path, *args, **kwargs)
        kube.request = counted


async def until_written(kube: Kube, obj: dict) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if (await apply_if_changed(kube, obj))[1]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{obj['metadata']['name']} was not applied again within {WAIT} s")


def test_an_unchanged_object_costs_no_request_and_a_change_is_applied_again(mgmt, kubectl, namespace):
    async def run():
        kube = await Kube.from_kubeconfig(str(mgmt.kubeconfig))
        counted = Counted(kube)
        desired = config_map(namespace, "cached")
        try:
            assert (await apply_if_changed(kube, desired))[1], "a new object is applied"
            counted.sent.clear()
            for _ in range(5):
                live, written = await apply_if_changed(kube, config_map(namespace, "cached"))
                assert not written and live["data"] == {"a": "1"}
            assert counted.sent == [], "an unchanged object is read from the cache"

            await asyncio.to_thread(kubectl, "-n", namespace, "patch", "configmap", "cached",
                                    "--type=merge", "-p", '{"data": {"a": "2"}}')
            await until_written(kube, config_map(namespace, "cached"))
            assert kubectl.get_json("configmap", "cached", "-n", namespace)["data"] == {"a": "1"}

            await asyncio.to_thread(kubectl, "-n", namespace, "delete", "configmap", "cached")
            await until_written(kube, config_map(namespace, "cached"))
            assert kubectl.get_json("configmap", "cached", "-n", namespace)["data"] == {"a": "1"}

            # Without the fleet label the cache keeps nothing: a GET, as before the cache.
            assert (await apply_if_changed(kube, config_map(namespace, "plain", labelled=False)))[1]
            counted.sent.clear()
            assert not (await apply_if_changed(kube, config_map(namespace, "plain", labelled=False)))[1]
            assert [method for method, _ in counted.sent] == ["GET"]

            informers = list(cache.of(kube)._informers.values())
            assert informers and all(i.objects for i in informers)
            assert all("managedFields" not in o["metadata"] for i in informers for o in i.objects.values())
        finally:
            await kube.close()
        await asyncio.sleep(1)
        assert all(i._task.done() for i in informers), "the informers end with their client"
    asyncio.run(run())
