"""The Fleet reconciler: the life of one Fleet inside the controller.

- spec: when the Fleet changes (and every `RESYNC` seconds) expand it into its declared clusters,
  queue each member whose cluster spec changed for the member reconciler
  (`mgmt.controller.member_reconciler`, which applies and probes each member on its own clock),
  adopt clusters the selector matches, and take removed clusters out per their deletionPolicy;
- stack: push the operator stack into every reachable member cluster. This stays a Fleet-wide
  pass because a rollout's budget (`maxUnavailable`) is the Fleet's, as a MachineDeployment's
  rolling update is decided over its Machines; the engine works on each member on its own;
- status: what the reconcilers learn is written to FleetMember status (only the members that
  changed, a few at a time) and aggregated into the Fleet's status, only when it changed.

A failure stays where it happened: one cluster's error fails that member (with a condition that
says why) and is retried with backoff; a failed pass of a loop is retried with backoff; no loop
ever stops because of one cluster.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from dataclasses import dataclass, field

from mgmt import metrics
from mgmt.api.models import API_VERSION, ClusterSpec, FleetSpec
from mgmt.controller import adoption, members
from mgmt.controller import credentials as creds
from mgmt.controller.member_reconciler import RESYNC, WORKERS, MemberReconciler
from mgmt.controller.status import MemberFacts, StatusWriter
from mgmt.controller.workqueue import WorkQueue, backoff
from mgmt.kube import Kube, KubeError
from mgmt.render import ClusterRequest, cluster_request
from mgmt.stack import MemberTarget, StackEngine
from mgmt.stack.engine import GrantNotRecorded
from mgmt.workload import WorkloadClients

log = logging.getLogger("drover.fleet")

STACK_INTERVAL = 5.0
STATUS_DELAY = 0.5  # member changes are written together, at most this long after the first
STATUS_BATCH = 64   # member statuses written before the Fleet's is written again


@dataclass
class Shared:
    """What all fleets share: the management client, workload clients, the stack engine."""

    kube: Kube
    clients: WorkloadClients
    stack: StackEngine
    preflight: creds.Preflight = field(default_factory=creds.Preflight)
    cloud: creds.CloudHealthPoller = field(default_factory=creds.CloudHealthPoller)


class FleetRuntime:
    def __init__(self, shared: Shared, namespace: str, name: str):
        self.shared, self.namespace, self.name = shared, namespace, name
        self.facts: dict[str, MemberFacts] = {}
        self.writer = StatusWriter(shared.kube, namespace, name)
        self.spec_changed = asyncio.Event()
        self.fleet: dict | None = None
        self.generation: int | None = None
        self.requests: dict[str, ClusterRequest] = {}
        self.cluster_specs: dict[str, ClusterSpec] = {}  # every declared cluster, by name
        self.probe_interval = 30.0
        self._declared_generation: int | None = None
        self.failures: dict[str, int] = {}  # loop or cluster -> failures in a row
        self._sweep = True  # look for removals left without a member (first pass, and until done)
        self.members = MemberReconciler(self)
        self.queue = WorkQueue(f"fleet {namespace}/{name}", self.members.reconcile, WORKERS)
        self._changed: set[str] = set()  # members whose status may have changed since the last write
        self._status_task: asyncio.Task | None = None

    # -- the loops ------------------------------------------------------------

    def notice_generation(self, generation: int | None) -> None:
        if generation != self.generation:
            self.generation = generation
            self.spec_changed.set()

    async def run(self, stopped) -> None:
        """The loops and the member queue, until `stopped`."""
        self.spec_changed.set()
        tasks = [asyncio.create_task(loop()) for loop in (self.spec_loop, self.stack_loop, self.queue.run)]
        try:
            while not stopped:
                await asyncio.sleep(0.5)
                for task in tasks:
                    if task.done() and task.exception():
                        raise task.exception()
        finally:
            if self._status_task is not None:
                tasks.append(self._status_task)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def spec_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.spec_changed.wait(), RESYNC)
            except TimeoutError:
                pass
            self.spec_changed.clear()
            metrics.RECONCILES.labels("fleet").inc()
            await self._attempt("fleet", self.reconcile_spec, retry=True)

    async def stack_loop(self) -> None:
        while True:
            delay = STACK_INTERVAL
            if self.fleet is not None and self.facts:
                metrics.RECONCILES.labels("stack").inc()
                if not (await self._attempt("stack", self.sync_stack))[0]:
                    delay = max(delay, backoff(self.failures["stack"]))
            await asyncio.sleep(delay)

    async def _attempt(self, step: str, work, retry: bool = False) -> tuple[bool, object]:
        """(True, what `work()` returned), or (False, the error) when it failed: the failure is logged
        and counted, never raised, so the loop goes on; with `retry`, the spec loop runs again after
        a backoff."""
        try:
            result = await work()
        except Exception as error:  # noqa: BLE001 - count_failure logs it
            self.count_failure(step, error)
            if retry:
                self.retry_spec(backoff(self.failures[step]))
            return False, error
        self.failures.pop(step, None)
        return True, result

    def count_failure(self, step: str, error: Exception) -> None:
        self.failures[step] = self.failures.get(step, 0) + 1
        reason = (error.reason or str(error.status)) if isinstance(error, KubeError) else type(error).__name__
        metrics.RECONCILE_ERRORS.labels(step.split()[0], reason).inc()  # not a label per cluster
        log.warning("fleet %s/%s: %s failed (%d in a row): %s", self.namespace, self.name, step,
                    self.failures[step], error, exc_info=not isinstance(error, KubeError))

    def retry_spec(self, delay: float) -> None:
        """Run the spec loop again in `delay` seconds (sooner if the Fleet changes)."""
        asyncio.get_running_loop().call_later(delay, self.spec_changed.set)

    # -- spec -------------------------------------------------------------------

    async def reconcile_spec(self) -> None:
        fleet = await self.shared.kube.get(API_VERSION, "Fleet", self.name, self.namespace)
        if fleet is None or fleet["metadata"].get("deletionTimestamp"):
            return
        if self.fleet is None:
            await self._resume()
        spec = FleetSpec.model_validate(fleet.get("spec") or {})
        generation = fleet["metadata"].get("generation")
        moved = generation != self._declared_generation
        declared = self._declared(spec, generation)
        self.probe_interval = spec.health.seconds()
        self.fleet = fleet  # from now on the members, the stack and the probes work on this fleet
        for name, cluster in declared.items():
            if self.members.declared(name, cluster):
                self.queue.add(name)
        # Without knowing which clusters are adopted, nothing may be taken out as departed.
        adopt_done, adopted = await self._attempt("adopt", lambda: self._adopt(fleet, spec, set(declared)), retry=True)
        if adopt_done:
            await self._attempt("remove", lambda: self._remove_departed(set(declared) | adopted), retry=True)
        self.writer.generation = generation
        if moved:  # a new generation (or a start): every member's status may read differently,
            for name in self.facts:  # once its reconcile has run
                self.queue.add(name)
        await self.write_status()

    def _declared(self, spec: FleetSpec, generation: int | None) -> dict[str, ClusterSpec]:
        """Every declared cluster by name, expanded once per generation of the Fleet."""
        if generation is None or generation != self._declared_generation:
            self.cluster_specs = {c.name: c for c in spec.declared()}
            self.requests = {name: cluster_request(c, self.namespace, self.name)
                             for name, c in self.cluster_specs.items()}
            self._declared_generation = generation
        return self.cluster_specs

    async def _resume(self) -> None:
        """After a (re)start: take what the members' statuses say as the last known facts, so
        that nothing is rewritten and the stack keeps its history."""
        for member in await members.list_members(self.shared.kube, self.namespace, self.name):
            self.facts[member["spec"]["cluster"]] = MemberFacts.resume(member)
            self.writer.resume(member["spec"]["cluster"], member.get("status") or {})

    async def _adopt(self, fleet: dict, spec: FleetSpec, declared: set[str]) -> set[str]:
        found = await adoption.adopt(self.shared.kube, fleet, spec, declared)
        for name, provider in found.items():
            if name not in self.facts:
                self.queue.add(name)
            facts = self.facts.setdefault(name, MemberFacts(name))
            facts.adopted, facts.provider = True, provider
        return set(found)

    async def _remove_departed(self, keep: set[str]) -> None:
        listed = await members.list_members(self.shared.kube, self.namespace, self.name)
        for member in listed:
            cluster = member["spec"]["cluster"]
            if cluster in keep:
                continue
            facts = self.facts.setdefault(cluster, MemberFacts(cluster))
            facts.deleting = True
            if await members.remove(self.shared.kube, member):
                await self._forget(cluster)
            else:
                self.retry_spec(2)  # come back soon to take the next step
        # A member deleted by hand in the middle of its cluster's removal (or before a restart):
        # the rest of the removal is found from the objects still labelled for the Fleet.
        present = keep | {m["spec"]["cluster"] for m in listed}
        vanished = [cluster for cluster in self.facts if cluster not in present]
        if self._sweep or vanished:
            await self._remove_stranded(present)
            for cluster in vanished:
                await self._forget(cluster)

    async def _remove_stranded(self, keep: set[str]) -> None:
        stranded = await members.stranded(self.shared.kube, self.namespace, self.name, keep)
        self._sweep = False
        for cluster, objects in stranded.items():
            if not await members.remove_stranded(self.shared.kube, self.name, cluster, objects):
                self._sweep = True
                self.retry_spec(2)

    async def _forget(self, cluster: str) -> None:
        self.facts.pop(cluster, None)
        self.requests.pop(cluster, None)
        self.shared.preflight.forget(self.namespace, cluster)
        self.shared.cloud.forget(self.namespace, cluster)
        await self.shared.stack.forget(self.namespace, cluster)
        await self.shared.clients.forget(self.namespace, cluster)
        self.writer.forget(cluster)
        self.members.forget(cluster)
        self.queue.forget(cluster)
        self._changed.discard(cluster)

    # -- stack ------------------------------------------------------------------

    def _target(self, cluster: str) -> MemberTarget:
        request = self.requests.get(cluster)
        if request is None:  # adopted
            return MemberTarget(cluster, self.namespace, self.facts[cluster].provider or "unknown", None, {})
        return MemberTarget(cluster, self.namespace, request.provider, request.region, dict(request.labels))

    async def sync_stack(self) -> None:
        ready = [name for name, f in self.facts.items() if f.wants_stack()]
        recorded = {name: self.facts[name].components for name in ready}
        await self.shared.stack.sync(self.fleet, [self._target(n) for n in ready], recorded,
                                     self._held_back(set(recorded)), self._record_grant, self._stack_synced)

    def _stack_synced(self, cluster: str, result) -> None:
        facts = self.facts.get(cluster)
        if facts is not None:
            facts.record_stack(result)
            self.member_changed(cluster)

    def _held_back(self, targets: set[str]) -> dict[str, list[dict]]:
        """Members the stack cannot reach now that still hold rollout budget: the rollout counts
        them as unavailable. One out of reach holds every component it has (a revision may be what
        broke it); one failed in the management cluster holds the components it was updating."""
        held = {}
        for name, facts in self.facts.items():
            if name in targets or facts.deleting:
                continue
            components = facts.components if facts.failure is None else \
                [c for c in facts.components if not c.get("ready")]
            if components:
                held[name] = components
        return held

    async def _record_grant(self, cluster: str, components: list[dict]) -> None:
        """Write a member's new rollout grant to its status before anything of it is applied; raise
        unless the status now holds it."""
        facts = self.facts.get(cluster)
        if facts is None or facts.deleting:
            raise GrantNotRecorded(f"{cluster} is leaving the fleet")
        facts.components = components
        await self.write_status({cluster})
        written = {(c.get("name"), c.get("revision")) for c in
                   (self.writer.written.get(cluster) or {}).get("components") or []}
        if not {(c["name"], c.get("revision")) for c in components} <= written:
            raise GrantNotRecorded(f"the status of {cluster} could not be written")

    def cloud_hook(self, cluster: str):
        """The cloud's view of a member's cluster, for its probe (None where there is no cloud)."""
        request = self.requests.get(cluster)
        facts = self.facts.get(cluster)
        if request is None or facts is None or facts.preflight != "Passed":
            return None
        spec = self.cluster_specs.get(cluster)
        if spec is None or spec.credentials_ref is None:
            return None
        return lambda: self.shared.cloud.health(self.shared.kube, request, spec.credentials_ref.name)

    # -- status -------------------------------------------------------------------

    def member_changed(self, cluster: str) -> None:
        """Write the member's status soon (with those of the other members that changed meanwhile)."""
        self._changed.add(cluster)
        self._start_status_task()

    def _start_status_task(self) -> None:
        if self._status_task is None or self._status_task.done():
            self._status_task = asyncio.create_task(self._write_changed())

    async def _write_changed(self) -> None:
        while True:
            # what changes meanwhile goes in the same pass; a Fleet status alone waits its turn
            await asyncio.sleep(STATUS_DELAY if self._changed else max(STATUS_DELAY, self.writer.fleet_wait()))
            if not (self._changed or self.writer.fleet_pending) or self.fleet is None:
                return
            # a bounded pass, so that the Fleet's status follows while a thousand members change
            batch = set(itertools.islice(self._changed, STATUS_BATCH))
            await self._attempt("status", functools.partial(self.write_status, batch))

    async def write_status(self, clusters: set[str] | None = None) -> None:
        """Write the statuses of `clusters` (default: every member that changed) that differ from
        what was written, then the Fleet's."""
        if self.fleet is None:
            return
        if clusters is None:
            clusters, self._changed = self._changed, set()
        else:
            self._changed -= clusters
        await self.writer.write(self.fleet, self.facts, clusters)
        if self.writer.fleet_pending:
            self._start_status_task()  # the Fleet's, in its turn
