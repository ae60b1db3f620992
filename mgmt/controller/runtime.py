"""The life of one Fleet inside the controller: three loops over shared state.

- spec: when the Fleet changes (and every `RESYNC` seconds, to undo drift in the management
  cluster) render and apply each declared cluster, keep one FleetMember per cluster, adopt
  clusters the selector matches, and take removed clusters out per their deletionPolicy;
- stack: push the operator stack into every reachable member cluster;
- probe: every `health.probeInterval`, probe every member (bounded, each with a timeout).

Whatever the loops learn is written to FleetMember and Fleet status, only when it changed.
A failure stays where it happened: one cluster's error fails that member (with a condition that
says why) and is retried with backoff; a failed pass of a loop is retried with backoff; no loop
ever stops because of one cluster.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from mgmt import metrics
from mgmt.api.models import API_VERSION, ClusterSpec, FleetSpec, MemberSpec
from mgmt.controller import adoption, clusters, members
from mgmt.controller import credentials as creds
from mgmt.controller.status import MemberFacts, StatusWriter
from mgmt.health.probes import probe_member
from mgmt.kube import Kube, KubeError
from mgmt.render import cluster_request
from mgmt.stack import MemberTarget, StackEngine
from mgmt.stack.engine import GrantNotRecorded
from mgmt.workload import WorkloadClients
from providers.base import PreflightFailure

log = logging.getLogger("drover.fleet")

RESYNC = 60.0
STACK_INTERVAL = 5.0
PROBE_CONCURRENCY = 16
BACKOFF_BASE, BACKOFF_MAX = 2.0, 300.0


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failures in a row: exponential, capped, with jitter (so
    that a thousand members failing together do not come back together)."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (max(failures, 1) - 1)) * random.uniform(0.5, 1.0)


def describe_failure(error: Exception) -> str:
    """What a member's condition may say about an error: the API server's answer, or only the kind
    of an unexpected error (its text may hold anything; the controller log has the traceback)."""
    if isinstance(error, KubeError):
        return str(error)
    return f"internal error ({type(error).__name__}); the controller log has the details"


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
        self.requests: dict[str, object] = {}
        self.cluster_specs: dict[str, ClusterSpec] = {}  # every declared cluster, by name
        self._declared_generation: int | None = None
        self.failures: dict[str, int] = {}  # loop or cluster -> failures in a row
        self._sweep = True  # look for removals left without a member (first pass, and until done)

    # -- the loops ------------------------------------------------------------

    def notice_generation(self, generation: int | None) -> None:
        if generation != self.generation:
            self.generation = generation
            self.spec_changed.set()

    async def run(self, stopped) -> None:
        """The three loops, until `stopped`."""
        self.spec_changed.set()
        tasks = [asyncio.create_task(loop()) for loop in (self.spec_loop, self.stack_loop, self.probe_loop)]
        try:
            while not stopped:
                await asyncio.sleep(0.5)
                for task in tasks:
                    if task.done() and task.exception():
                        raise task.exception()
        finally:
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

    async def probe_loop(self) -> None:
        while True:
            if self.fleet is None:  # not read yet (after a start): waiting a whole default interval
                await asyncio.sleep(1.0)  # would leave the members unprobed for 30 s
                continue
            started = time.monotonic()
            interval = FleetSpec.model_validate(self.fleet.get("spec", {})).health.seconds()
            if not (await self._attempt("probe", self.probe))[0]:
                interval = max(interval, backoff(self.failures["probe"]))
            await asyncio.sleep(max(1.0, interval - (time.monotonic() - started)))

    async def _attempt(self, step: str, work, retry: bool = False) -> tuple[bool, object]:
        """(True, what `work()` returned), or (False, the error) when it failed: the failure is logged
        and counted, never raised, so the loop goes on; with `retry`, the spec loop runs again after
        a backoff."""
        try:
            result = await work()
        except Exception as error:
            self.failures[step] = self.failures.get(step, 0) + 1
            reason = (error.reason or str(error.status)) if isinstance(error, KubeError) else type(error).__name__
            metrics.RECONCILE_ERRORS.labels(step.split()[0], reason).inc()  # not a label per cluster
            log.warning("fleet %s/%s: %s failed (%d in a row): %s", self.namespace, self.name, step,
                        self.failures[step], error, exc_info=not isinstance(error, KubeError))
            if retry:
                self.retry_spec(backoff(self.failures[step]))
            return False, error
        self.failures.pop(step, None)
        return True, result

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
        declared = self._declared(spec, fleet["metadata"].get("generation"))
        outcomes = await asyncio.gather(*(self._reconcile_cluster(fleet, c) for c in declared.values()))
        # Without knowing which clusters are adopted, nothing may be taken out as departed.
        adopt_done, adopted = await self._attempt("adopt", lambda: self._adopt(fleet, spec, set(declared)), retry=True)
        if adopt_done:
            await self._attempt("remove", lambda: self._remove_departed(set(declared) | adopted), retry=True)
        self.writer.generation = fleet["metadata"].get("generation")
        for outcome in outcomes:
            facts = self.facts.setdefault(outcome.request.name, MemberFacts(outcome.request.name))
            facts.record_outcome(outcome)
        self.fleet = fleet  # from now on the stack and probe loops work on this fleet
        await self.write_status()

    def _declared(self, spec: FleetSpec, generation: int | None) -> dict[str, ClusterSpec]:
        """Every declared cluster by name, expanded once per generation of the Fleet."""
        if generation is None or generation != self._declared_generation:
            self.cluster_specs = {c.name: c for c in spec.declared()}
            self._declared_generation = generation
        return self.cluster_specs

    async def _resume(self) -> None:
        """After a (re)start: take what the members' statuses say as the last known facts, so
        that nothing is rewritten and the stack keeps its history."""
        for member in await members.list_members(self.shared.kube, self.namespace, self.name):
            self.facts[member["spec"]["cluster"]] = MemberFacts.resume(member)

    async def _reconcile_cluster(self, fleet: dict, spec: ClusterSpec) -> clusters.Outcome:
        """One declared cluster; whatever goes wrong stays on its member and is retried with backoff."""
        request = cluster_request(spec, self.namespace, self.name)

        async def reconcile() -> clusters.Outcome:
            member_spec = MemberSpec(fleet=self.name, cluster=spec.name, provider=spec.provider,
                                     flavor=request.flavor, region=spec.region,
                                     deletion_policy=spec.deletion_policy)
            await members.ensure(self.shared.kube, fleet, member_spec)
            self.requests[spec.name] = request
            return await clusters.reconcile(self.shared.kube, self.shared.preflight, spec, self.namespace,
                                            self.name)
        done, outcome = await self._attempt(f"cluster {spec.name}", reconcile, retry=True)
        if done:
            return outcome
        return clusters.Outcome(request, failure=PreflightFailure("ReconcileFailed", describe_failure(outcome)))

    async def _adopt(self, fleet: dict, spec: FleetSpec, declared: set[str]) -> set[str]:
        found = await adoption.adopt(self.shared.kube, fleet, spec, declared)
        for name, provider in found.items():
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

    # -- stack ------------------------------------------------------------------

    def _target(self, cluster: str) -> MemberTarget:
        request = self.requests.get(cluster)
        if request is None:  # adopted
            return MemberTarget(cluster, self.namespace, self.facts[cluster].provider or "unknown", None, {})
        return MemberTarget(cluster, self.namespace, request.provider, request.region, dict(request.labels))

    async def sync_stack(self) -> None:
        ready = [name for name, f in self.facts.items() if f.wants_stack()]
        recorded = {name: self.facts[name].components for name in ready}
        results = await self.shared.stack.sync(self.fleet, [self._target(n) for n in ready], recorded,
                                               self._held_back(set(recorded)), self._record_grant)
        for name, result in results.items():
            if name in self.facts:
                self.facts[name].record_stack(result)
        await self.write_status()

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
        await self.write_status()
        written = {(c.get("name"), c.get("revision")) for c in
                   (self.writer.written.get(cluster) or {}).get("components") or []}
        if not {(c["name"], c.get("revision")) for c in components} <= written:
            raise GrantNotRecorded(f"the status of {cluster} could not be written")

    # -- probes -----------------------------------------------------------------

    async def probe(self) -> None:
        limit = asyncio.Semaphore(PROBE_CONCURRENCY)
        listed = {m["spec"]["cluster"]: m for m in
                  await members.list_members(self.shared.kube, self.namespace, self.name)}

        async def one(name: str, member: dict) -> None:
            async with limit:
                result = await probe_member(self.shared.kube, self.shared.clients, member,
                                            cloud=self._cloud_hook(name))
            facts = self.facts.get(name)
            if facts is not None and not facts.deleting:  # else it left the Fleet while probed: no ghost
                facts.record_probe(result, member)

        await asyncio.gather(*(one(n, m) for n, m in listed.items()))
        await self.write_status()

    def _cloud_hook(self, cluster: str):
        request = self.requests.get(cluster)
        facts = self.facts.get(cluster)
        if request is None or facts is None or facts.preflight != "Passed":
            return None
        spec = self.cluster_specs.get(cluster)
        if spec is None or spec.credentials_ref is None:
            return None
        return lambda: self.shared.cloud.health(self.shared.kube, request, spec.credentials_ref.name)

    # -- status -------------------------------------------------------------------

    async def write_status(self) -> None:
        if self.fleet is not None:
            await self.writer.write(self.fleet, self.facts)

