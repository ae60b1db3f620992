"""kopf wiring: one daemon per Fleet runs its FleetRuntime; deletion goes through a finalizer."""

from __future__ import annotations

import logging

import kopf

from mgmt import metrics
from mgmt.api.models import API_VERSION, GROUP, VERSION
from mgmt.controller import members
from mgmt.controller.runtime import FleetRuntime, Shared
from mgmt.controller.shards import Shard
from mgmt.kube import KubeError

log = logging.getLogger("drover.controller")

#: Set by `mgmt.controller.main` before the operator starts.
SHARED: Shared | None = None
SHARD = Shard()
RUNTIMES: dict[tuple[str, str], FleetRuntime] = {}


def runtime_for(namespace: str, name: str) -> FleetRuntime:
    key = (namespace, name)
    if key not in RUNTIMES:
        RUNTIMES[key] = FleetRuntime(SHARED, namespace, name)
    return RUNTIMES[key]


def in_shard(name, namespace, **_) -> bool:
    return SHARD.owns(namespace, name)


@kopf.daemon(GROUP, VERSION, "fleets", cancellation_timeout=10.0, initial_delay=0, when=in_shard)
async def fleet_daemon(name, namespace, stopped, **_):
    await runtime_for(namespace, name).run(stopped)


@kopf.on.event(GROUP, VERSION, "fleets", when=in_shard)
async def fleet_event(name, namespace, body, **_):
    """Wake the fleet's spec loop when its generation moves (event handlers store nothing)."""
    runtime = RUNTIMES.get((namespace, name))
    if runtime is not None:
        runtime.notice_generation(body.get("metadata", {}).get("generation"))


@kopf.on.delete(GROUP, VERSION, "fleets", when=in_shard)
async def fleet_deleted(name, namespace, **_):
    """Take every cluster out (per its deletionPolicy) before the Fleet may go."""
    runtime = runtime_for(namespace, name)
    pending = []
    for member in await members.list_members(SHARED.kube, namespace, name):
        if not await members.remove(SHARED.kube, member):
            pending.append(member["spec"]["cluster"])
    if pending:
        raise kopf.TemporaryError(f"waiting for clusters to be deleted: {', '.join(sorted(pending))}", delay=3)
    for cluster in list(runtime.facts):
        await SHARED.stack.forget(namespace, cluster)
        await SHARED.clients.forget(namespace, cluster)
        SHARED.preflight.forget(namespace, cluster)
        SHARED.cloud.forget(namespace, cluster)
        metrics.forget_member(namespace, name, cluster)
    await _drop_stale_finalizers(namespace, name)
    RUNTIMES.pop((namespace, name), None)
    metrics.forget_fleet(namespace, name)
    log.info("fleet %s/%s deleted with all its clusters", namespace, name)


async def _drop_stale_finalizers(namespace: str, name: str) -> None:
    """Finalizers a former shard owner left (conditional on the resourceVersion read)."""
    fleet = await SHARED.kube.get(API_VERSION, "Fleet", name, namespace)
    current = (fleet or {}).get("metadata", {}).get("finalizers") or []
    kept = SHARD.without_stale_finalizers(current)
    if kept != current:
        try:
            await SHARED.kube.patch(API_VERSION, "Fleet", name, namespace, {"metadata": {
                "finalizers": kept, "resourceVersion": fleet["metadata"]["resourceVersion"]}})
        except KubeError as error:
            raise kopf.TemporaryError(f"could not drop former shards' finalizers: {error}", delay=2) from None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_):
    settings.peering.standalone = True
    settings.posting.enabled = False  # our own Events are posted by the status writer
    settings.persistence.finalizer = SHARD.finalizer
    settings.watching.server_timeout = 300
    settings.persistence.diffbase_storage = LeanDiffBase()


class LeanDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's own diff-base storage, built from the Fleet less its status and managedFields.
    kopf deep-copies the whole body on every event and only then drops both; at 1,000 inline
    clusters the managedFields are most of a Fleet, and the copies were a seventh of the
    controller's CPU while a stack rolled out (every member's progress moves the Fleet's status)."""

    def build(self, *, body: kopf.Body, extra_fields=None) -> kopf.BodyEssence:
        if extra_fields:  # a handler that follows status fields (Drover has none) needs all
            return super().build(body=body, extra_fields=extra_fields)
        metadata = {k: v for k, v in body.get("metadata", {}).items() if k != "managedFields"}
        lean = {**{k: v for k, v in body.items() if k != "status"}, "metadata": metadata}
        return super().build(body=kopf.Body(lean), extra_fields=extra_fields)
