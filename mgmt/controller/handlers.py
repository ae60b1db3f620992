"""kopf wiring: one daemon per Fleet runs its FleetRuntime; deletion goes through a finalizer."""

from __future__ import annotations

import logging

import kopf

from mgmt import metrics
from mgmt.api.models import GROUP, VERSION
from mgmt.controller import members
from mgmt.controller.runtime import FleetRuntime, Shared

log = logging.getLogger("drover.controller")

#: Set by `mgmt.controller.main` before the operator starts.
SHARED: Shared | None = None
RUNTIMES: dict[tuple[str, str], FleetRuntime] = {}


def runtime_for(namespace: str, name: str) -> FleetRuntime:
    key = (namespace, name)
    if key not in RUNTIMES:
        RUNTIMES[key] = FleetRuntime(SHARED, namespace, name)
    return RUNTIMES[key]


@kopf.daemon(GROUP, VERSION, "fleets", cancellation_timeout=10.0, initial_delay=0)
async def fleet_daemon(name, namespace, stopped, **_):
    await runtime_for(namespace, name).run(stopped)


@kopf.on.event(GROUP, VERSION, "fleets")
async def fleet_event(name, namespace, body, **_):
    """Wake the fleet's spec loop when its generation moves (event handlers store nothing)."""
    runtime = RUNTIMES.get((namespace, name))
    if runtime is not None:
        runtime.notice_generation(body.get("metadata", {}).get("generation"))


@kopf.on.delete(GROUP, VERSION, "fleets")
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
    RUNTIMES.pop((namespace, name), None)
    metrics.forget_fleet(namespace, name)
    log.info("fleet %s/%s deleted with all its clusters", namespace, name)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_):
    settings.peering.standalone = True
    settings.posting.enabled = False  # our own Events are posted by the status writer
    settings.persistence.finalizer = "fleet.drover.dev/finalizer"
    settings.watching.server_timeout = 300
