"""apply_objects: namespaces the objects live in are created when missing, and within one sync
a namespace found (or made) once is not asked for again."""

import asyncio

from mgmt.stack.apply import apply_objects


class RecordingCluster:
    """Records the requests apply_objects makes (logic only: the real apiserver runs in e2e)."""

    def __init__(self, namespaces: set[str]):
        self.namespaces, self.calls = set(namespaces), []

    async def get(self, api_version, kind, name, namespace=None):
        self.calls.append(("get", kind, name))
        return {"metadata": {"name": name}} if kind == "Namespace" and name in self.namespaces else None

    async def create(self, obj):
        self.calls.append(("create", obj["kind"], obj["metadata"]["name"]))
        self.namespaces.add(obj["metadata"]["name"])
        return obj

    async def apply(self, obj, force=True, dry_run=False):
        self.calls.append(("apply", obj["kind"], obj["metadata"]["name"]))
        return obj


def configmap(name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


def test_a_namespace_is_looked_up_once_per_sync():
    cluster = RecordingCluster({"present"})
    seen: set[str] = set()

    async def sync():
        await apply_objects(cluster, [configmap("a", "present"), configmap("b", "missing")], namespaces_seen=seen)
        await apply_objects(cluster, [configmap("c", "present"), configmap("d", "missing")], namespaces_seen=seen)

    asyncio.run(sync())
    lookups = [c for c in cluster.calls if c[1] == "Namespace"]
    assert sorted(lookups) == [("create", "Namespace", "missing"), ("get", "Namespace", "missing"),
                               ("get", "Namespace", "present")]
    assert [c[2] for c in cluster.calls if c[0] == "apply"] == ["a", "b", "c", "d"]
    assert seen == {"present", "missing"}


def test_without_a_sync_every_call_looks():
    cluster = RecordingCluster({"present"})
    for name in ("a", "b"):
        asyncio.run(apply_objects(cluster, [configmap(name, "present")]))
    assert [c for c in cluster.calls if c[0] == "get"] == [("get", "Namespace", "present")] * 2
