"""FleetMembers: one per cluster of a Fleet (declared or adopted), and the way a cluster leaves."""

from __future__ import annotations

import logging
from functools import cache

import providers
from mgmt.api.models import (
    API_VERSION,
    CLUSTER_NAME_LABEL,
    FLEET_LABEL,
    FLEET_NAMESPACE_LABEL,
    MemberSpec,
)
from mgmt.controller.objects import (
    apply_if_changed,
    fleet_manager,
    orphan,
    owned_objects,
    template_kinds,
)
from mgmt.kube import Kube, KubeError
from mgmt.render import CLUSTER_API, WORKER_KINDS

log = logging.getLogger("drover.members")

ADOPTED_LABEL = "fleet.drover.dev/adopted"
#: On a departing cluster's objects: its deletionPolicy, for a removal that outlives its member.
DELETION_POLICY_ANNOTATION = "fleet.drover.dev/deletion-policy"


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
    meta = fleet["metadata"]
    return await apply_if_changed(kube, member_object(fleet, spec), fleet_manager(meta["namespace"], meta["name"]))


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
    object and leaves the cluster running. Adopted clusters are never touched. The policy is
    first written on the objects themselves, so that a removal whose member is deleted in the
    middle goes on from them (`stranded`).
    """
    spec = MemberSpec.model_validate(member["spec"])
    namespace = member["metadata"]["namespace"]
    if not spec.adopted:
        kinds = template_kinds(spec.provider, spec.flavor) if spec.provider else [(CLUSTER_API, "Cluster")]
        objects = await owned_objects(kube, namespace, spec.fleet, spec.cluster, kinds)
        await _record_policy(kube, objects, spec.deletion_policy)
        if not await _take_out(kube, objects, spec.deletion_policy, spec.fleet):
            return False
    await kube.delete(API_VERSION, "FleetMember", member["metadata"]["name"], namespace)
    log.info("cluster %s/%s left fleet %s (%s)", namespace, spec.cluster, spec.fleet,
             "adopted: untouched" if spec.adopted else spec.deletion_policy)
    return True


async def stranded(kube: Kube, namespace: str, fleet: str, keep: set[str]) -> dict[str, list[dict]]:
    """The objects still labelled for the fleet's clusters other than `keep` (those declared,
    adopted or with a member), by cluster: what is left of a removal whose member is gone."""
    labels = {FLEET_LABEL: fleet, FLEET_NAMESPACE_LABEL: namespace}
    found: dict[str, list[dict]] = {}
    for api_version, kind in every_template_kind():
        try:
            listed = await kube.list(api_version, kind, None, labels)
        except KubeError as error:
            if not error.not_found and error.status != 403:
                raise
            # a provider whose CRDs are not installed here, or a kind the administrator does not let
            # the controller list everywhere (Secrets bound per namespace): nothing of it to resume
            continue
        for obj in listed:
            cluster = (obj["metadata"].get("labels") or {}).get(CLUSTER_NAME_LABEL)
            if cluster and cluster not in keep:
                found.setdefault(cluster, []).append(obj)
    return found


async def remove_stranded(kube: Kube, fleet: str, cluster: str, objects: list[dict]) -> bool:
    """One step of taking out a cluster whose member is gone, per the policy its objects record;
    True once finished. Without a record (the member was deleted before its removal began) the
    cluster is orphaned: nothing is destroyed that no one can be shown to have asked to destroy."""
    policies = {(o["metadata"].get("annotations") or {}).get(DELETION_POLICY_ANNOTATION) for o in objects}
    policy = "Delete" if "Delete" in policies else "Orphan"
    if policy == "Orphan" and "Orphan" not in policies:
        log.warning("cluster %s of fleet %s: its FleetMember is gone and its objects record no deletion "
                    "policy: orphaned", cluster, fleet)
    done = await _take_out(kube, objects, policy, fleet)
    if done:
        log.info("cluster %s left fleet %s (%s, resumed from its objects)", cluster, fleet, policy)
    return done


@cache
def every_template_kind() -> list[tuple[str, str]]:
    """(apiVersion, kind) of every object any provider's template makes, in any flavor."""
    kinds = {k for name in providers.NAMES for flavor in providers.get(name).flavors
             for k in template_kinds(name, flavor)}
    return sorted(kinds)


async def _record_policy(kube: Kube, objects: list[dict], policy: str) -> None:
    for obj in objects:
        meta = obj["metadata"]
        if (meta.get("annotations") or {}).get(DELETION_POLICY_ANNOTATION) != policy:
            await kube.patch(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"),
                             {"metadata": {"annotations": {DELETION_POLICY_ANNOTATION: policy}}})


async def _take_out(kube: Kube, objects: list[dict], policy: str, fleet: str) -> bool:
    if policy == "Orphan":
        for obj in objects:
            await orphan(kube, obj, fleet)
        return True
    return await _delete_step(kube, objects)


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
