"""A cluster's removal goes on from its Cluster API objects when its FleetMember is gone (issue
14: deletion state lived only in the FleetMember's existence, so deleting one by hand in the
middle of a removal stranded the cluster's objects). The management cluster is a stand-in here;
e2e/test_faults.py deletes a real FleetMember mid-removal."""

from __future__ import annotations

import asyncio
import copy

from mgmt.api.models import API_VERSION, CLUSTER_NAME_LABEL, FLEET_LABEL, FLEET_NAMESPACE_LABEL
from mgmt.controller import members
from mgmt.controller.objects import ORPHANED_ANNOTATION
from mgmt.controller.runtime import FleetRuntime, Shared
from mgmt.controller.status import MemberFacts
from mgmt.kube import KubeError
from mgmt.render import CLUSTER_API

LOCAL = "infrastructure.drover.dev/v1alpha1"


class Kube:
    """Objects by (apiVersion, kind, namespace, name); a list of a kind nobody serves is a 404."""

    def __init__(self, objects: list[dict]):
        self.objects = {self.key(o): copy.deepcopy(o) for o in objects}
        self.deleted: list[str] = []

    @staticmethod
    def key(obj: dict) -> tuple:
        meta = obj["metadata"]
        return obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]

    async def list(self, api_version, kind, namespace=None, labels=None):
        served = {(k[0], k[1]) for k in self.objects} | {(CLUSTER_API, "Cluster"), ("v1", "Secret")}
        if (api_version, kind) not in served:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        return [copy.deepcopy(o) for k, o in self.objects.items() if k[:2] == (api_version, kind)
                and all((o["metadata"].get("labels") or {}).get(n) == v for n, v in (labels or {}).items())]

    async def delete(self, api_version, kind, name, namespace=None, propagation="Background"):
        self.deleted.append(kind)
        return self.objects.pop((api_version, kind, namespace, name), None) is not None

    async def patch(self, api_version, kind, name, namespace, patch, subresource=None):
        meta = self.objects[(api_version, kind, namespace, name)]["metadata"]
        for field in ("labels", "annotations"):
            for k, v in (patch["metadata"].get(field) or {}).items():
                if v is None:
                    meta.setdefault(field, {}).pop(k, None)
                else:
                    meta.setdefault(field, {})[k] = v

    async def get(self, api_version, kind, name, namespace=None):
        return self.objects.get((api_version, kind, namespace, name))


def cluster_objects(cluster: str, policy: str | None = None) -> list[dict]:
    labels = {FLEET_LABEL: "f", FLEET_NAMESPACE_LABEL: "ns", CLUSTER_NAME_LABEL: cluster}
    annotations = {members.DELETION_POLICY_ANNOTATION: policy} if policy else {}
    return [{"apiVersion": api, "kind": kind, "metadata": {"name": f"{cluster}-{kind.lower()}", "namespace": "ns",
                                                           "labels": dict(labels), "annotations": dict(annotations)}}
            for api, kind in ((CLUSTER_API, "MachineDeployment"), (CLUSTER_API, "Cluster"),
                              (LOCAL, "LocalMachineTemplate"))]


def member(cluster: str, policy: str) -> dict:
    return {"apiVersion": API_VERSION, "kind": "FleetMember",
            "metadata": {"name": f"f.{cluster}", "namespace": "ns"},
            "spec": {"fleet": "f", "cluster": cluster, "provider": "local", "deletionPolicy": policy}}


def run_until_done(step, limit: int = 10) -> int:
    for steps in range(1, limit + 1):
        if asyncio.run(step()):
            return steps
    raise AssertionError("never finished")


def test_a_removal_records_its_policy_on_the_objects_before_its_first_step():
    kube = Kube(cluster_objects("gone"))
    assert asyncio.run(members.remove(kube, member("gone", "Delete"))) is False
    assert kube.deleted == ["MachineDeployment"]
    assert {o["metadata"]["annotations"][members.DELETION_POLICY_ANNOTATION] for o in kube.objects.values()} \
        == {"Delete"}


def test_a_removal_whose_member_was_deleted_by_hand_goes_on_from_its_objects():
    kube = Kube(cluster_objects("gone") + cluster_objects("stays"))
    asyncio.run(members.remove(kube, member("gone", "Delete")))  # first step, then the member is deleted

    async def step():
        stranded = await members.stranded(kube, "ns", "f", keep={"stays"})
        assert set(stranded) <= {"gone"}
        return not stranded or await members.remove_stranded(kube, "f", "gone", stranded["gone"])
    run_until_done(step)
    assert kube.deleted == ["MachineDeployment", "Cluster", "LocalMachineTemplate"]  # in order, all of it
    assert {k[3] for k in kube.objects} == {o["metadata"]["name"] for o in cluster_objects("stays")}


def test_a_stranded_cluster_without_a_recorded_policy_is_orphaned_not_destroyed():
    kube = Kube(cluster_objects("unknown") + cluster_objects("kept", policy="Orphan"))
    stranded = asyncio.run(members.stranded(kube, "ns", "f", keep=set()))
    for cluster, objects in stranded.items():
        assert asyncio.run(members.remove_stranded(kube, "f", cluster, objects))
    assert kube.deleted == []
    for obj in kube.objects.values():
        assert FLEET_LABEL not in obj["metadata"]["labels"]
        assert obj["metadata"]["annotations"][ORPHANED_ANNOTATION] == "f"
    assert asyncio.run(members.stranded(kube, "ns", "f", keep=set())) == {}


class Forgets:
    def forget(self, *args):
        pass


class AsyncForgets:
    async def forget(self, *args):
        pass


def test_the_runtime_finishes_a_removal_whose_member_vanished(monkeypatch):
    kube = Kube(cluster_objects("gone", policy="Delete"))

    async def no_members(*args):
        return []
    monkeypatch.setattr(members, "list_members", no_members)
    shared = Shared(kube, clients=AsyncForgets(), stack=AsyncForgets())
    shared.cloud = Forgets()
    rt = FleetRuntime(shared, "ns", "f")
    rt.writer = Forgets()
    rt.retry_spec = lambda delay: None
    rt.facts["gone"] = MemberFacts("gone", deleting=True)

    async def step():
        await rt._remove_departed(set())
        return not rt._sweep
    assert run_until_done(step) == 4  # workers, the Cluster, the rest, then nothing left
    assert kube.objects == {} and "gone" not in rt.facts
    assert rt._sweep is False  # nothing left: no more sweeps until a member vanishes again


def test_a_kind_the_controller_may_not_list_everywhere_is_passed_over():
    class SecretsBoundPerNamespace(Kube):
        async def list(self, api_version, kind, namespace=None, labels=None):
            if kind == "Secret" and namespace is None:
                raise KubeError(403, "Forbidden", 'secrets is forbidden: cannot list resource "secrets"')
            return await super().list(api_version, kind, namespace, labels)

    kube = SecretsBoundPerNamespace(cluster_objects("gone", "Delete"))
    found = asyncio.run(members.stranded(kube, "ns", "f", keep=set()))
    assert sorted(o["kind"] for o in found["gone"]) == ["Cluster", "LocalMachineTemplate", "MachineDeployment"]
