"""FleetMembers: one per cluster of a Fleet (declared or adopted), and the way a cluster leaves."""

from __future__ import annotations

import logging

from mgmt.api.models import API_VERSION, CLUSTER_NAME_LABEL, FLEET_LABEL, MemberSpec
from mgmt.controller.objects import apply_if_changed, orphan, owned_objects, template_kinds
from mgmt.kube import Kube
from mgmt.render import CLUSTER_API, WORKER_KINDS

log = logging.getLogger("drover.members")

ADOPTED_LABEL = "fleet.drover.dev/adopted"


def member_name(fleet: str, cluster: str) -> str:
    """`<fleet>.<cluster>`: a cluster name is a DNS label (no dots), so the last dot tells the two
    apart and no two Fleets' members share a name (`a-b` + `c` and `a` + `b-c` were both `a-b-c`).
    Both names are at most 40 characters, so this stays well within 253."""
    return f"{fleet}.{cluster}"


def member_object(fleet: dict, spec: MemberSpec) -> dict:
    meta = fleet["metadata"]
    labels = {FLEET_LABEL: meta["name"], CLUSTER_NAME_LABEL: spec.cluster}
    if spec.adopted:
        labels[ADOPTED_LABEL] = "true"
    return {
        "apiVersion": API_VERSION, "kind": "FleetMember",
        "metadata": {
            "name": member_name(meta["name"], spec.cluster), "namespace": meta["namespace"], "labels": labels,
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": "Fleet", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": False}],
        },
        "spec": spec.wire(),
    }


async def ensure(kube: Kube, fleet: dict, spec: MemberSpec) -> tuple[dict, bool]:
    return await apply_if_changed(kube, member_object(fleet, spec))


async def list_members(kube: Kube, namespace: str, fleet: str) -> list[dict]:
    """The Fleet's members. One under a name of before `member_name` (`<fleet>-<cluster>`, left by
    an upgrade) is deleted once its cluster's member exists under the new name."""
    found = await kube.list(API_VERSION, "FleetMember", namespace, {FLEET_LABEL: fleet})
    names = {m["metadata"]["name"] for m in found}
    members = []
    for member in found:
        spec = member.get("spec") or {}
        name = member_name(spec.get("fleet", ""), spec.get("cluster", ""))
        if member["metadata"]["name"] != name and name in names:
            log.info("FleetMember %s/%s: replaced by %s", namespace, member["metadata"]["name"], name)
            await kube.delete(API_VERSION, "FleetMember", member["metadata"]["name"], namespace)
        else:
            members.append(member)
    return members


async def remove(kube: Kube, member: dict) -> bool:
    """Take one cluster out of its fleet per the member's deletionPolicy; True once finished.

    Delete goes in steps across calls: worker pools first (so machines drain while the control
    plane still runs), then the Cluster (Cluster API deletes what hangs off it), then whatever
    the Cluster does not own (templates, credentials). Orphan drops the fleet label from every
    object and leaves the cluster running. Adopted clusters are never touched.
    """
    spec = MemberSpec.model_validate(member["spec"])
    namespace = member["metadata"]["namespace"]
    if not spec.adopted:
        kinds = template_kinds(spec.provider, spec.flavor) if spec.provider else [(CLUSTER_API, "Cluster")]
        objects = await owned_objects(kube, namespace, spec.fleet, spec.cluster, kinds)
        if spec.deletion_policy == "Orphan":
            for obj in objects:
                await orphan(kube, obj, spec.fleet)
        elif not await _delete_step(kube, objects):
            return False
    await kube.delete(API_VERSION, "FleetMember", member["metadata"]["name"], namespace)
    log.info("cluster %s/%s left fleet %s (%s)", namespace, spec.cluster, spec.fleet,
             "adopted: untouched" if spec.adopted else spec.deletion_policy)
    return True


async def _delete_step(kube: Kube, objects: list[dict]) -> bool:
    """One step of an ordered delete; True when nothing is left."""
    workers = [o for o in objects if o["kind"] in WORKER_KINDS and o["apiVersion"] == CLUSTER_API]
    clusters = [o for o in objects if o["kind"] == "Cluster" and o["apiVersion"] == CLUSTER_API]
    step = workers or clusters or objects
    for obj in step:
        if not obj["metadata"].get("deletionTimestamp"):
            meta = obj["metadata"]
            await kube.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    return not step
