"""The FleetMember reconciler: the unit of work is one member of one Fleet.

Each member has its own place in its Fleet's work queue and its own clock:

- apply: when its declared cluster spec changed (compared by hash), after a failure (with
  exponential backoff and jitter, at most `RESYNC` apart), and every `RESYNC` seconds (to undo
  drift in the management cluster) — render (cached), preflight (cached), apply what differs;
- probe: every `health.probeInterval` of the Fleet.

So a Fleet edit that changes one cluster reapplies that one cluster, a thousand members' resyncs
and probes are spread over time instead of coming at once, and whatever goes wrong with one member
stays on that member (its condition says why) and is retried on its own. What a reconcile learns
goes into the member's facts, which the Fleet reconciler writes to status.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from typing import TYPE_CHECKING

from mgmt import metrics
from mgmt.api.models import API_VERSION, CLUSTER_NAME_LABEL, FLEET_LABEL, ClusterSpec, MemberSpec
from mgmt.controller import cache, clusters, members
from mgmt.controller.status import MemberFacts
from mgmt.controller.workqueue import backoff
from mgmt.health.probes import probe_member
from mgmt.kube import KubeError
from mgmt.render import CLUSTER_API
from providers.base import PreflightFailure

if TYPE_CHECKING:
    from mgmt.controller.runtime import FleetRuntime

log = logging.getLogger("drover.member")

RESYNC = 60.0
WORKERS = 64  # members of one Fleet reconciled at once (the client rate limit bounds their requests)
NOT_STARTED_WAIT = 1.0  # the Fleet is not read yet (after a start)


def describe_failure(error: Exception) -> str:
    """What a member's condition may say about an error: the API server's answer, or only the kind
    of an unexpected error (its text may hold anything; the controller log has the traceback)."""
    if isinstance(error, KubeError):
        return str(error)
    return f"internal error ({type(error).__name__}); the controller log has the details"


def spec_hash(spec: ClusterSpec) -> str:
    return hashlib.sha256(spec.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


class MemberReconciler:
    """Reconciles the members of one Fleet; `runtime` holds what they share (the Fleet as last
    read, its declared clusters, each member's facts)."""

    def __init__(self, runtime: FleetRuntime):
        self.runtime = runtime
        self.applied: dict[str, tuple[str, float]] = {}  # cluster -> (spec hash, monotonic time of resync)
        self.apply_failures: dict[str, int] = {}
        self.probed: dict[str, float] = {}               # cluster -> monotonic time probed

    def declared(self, cluster: str, spec: ClusterSpec) -> bool:
        """Whether the member must be applied now: new, changed, or failed last time."""
        applied = self.applied.get(cluster)
        return applied is None or applied[0] != spec_hash(spec)

    def forget(self, cluster: str) -> None:
        self.applied.pop(cluster, None)
        self.apply_failures.pop(cluster, None)
        self.probed.pop(cluster, None)

    async def reconcile(self, cluster: str) -> float | None:
        """One pass over one member; returns the seconds until it is due again."""
        runtime = self.runtime
        if runtime.fleet is None:
            return NOT_STARTED_WAIT
        spec = runtime.cluster_specs.get(cluster)
        facts = runtime.facts.get(cluster)
        if spec is None and facts is None or facts is not None and facts.deleting:
            return None  # departed: the Fleet reconciler takes it out
        metrics.RECONCILES.labels("member").inc()
        now = time.monotonic()
        waits = []
        if spec is not None:
            waits.append(await self._apply(cluster, spec, now))
        waits.append(await self._probe(cluster, now))
        runtime.member_changed(cluster)
        return min(waits)

    # -- apply --------------------------------------------------------------------

    async def _apply(self, cluster: str, spec: ClusterSpec, now: float) -> float:
        applied = self.applied.get(cluster)
        digest = spec_hash(spec)
        facts = self.runtime.facts.setdefault(cluster, MemberFacts(cluster))
        if applied is None and facts.applied_spec == digest and facts.failure is None:
            # after a restart, a member whose stored status says this spec was applied: its drift
            # check is spread over the next resync instead of a thousand at once before any probe
            applied = self.applied[cluster] = (digest, now + RESYNC * random.uniform(0.1, 1.0))
        if applied is not None and applied[0] == digest and now < applied[1]:
            return applied[1] - now
        outcome = await self._reconcile_cluster(spec)
        facts.record_outcome(outcome)
        if outcome.failure is not None:
            self.applied.pop(cluster, None)
            self.apply_failures[cluster] = self.apply_failures.get(cluster, 0) + 1
            return backoff(self.apply_failures[cluster], cap=RESYNC)
        self.apply_failures.pop(cluster, None)
        facts.applied_spec = digest
        # a little early or late, so that members applied together drift apart
        wait = RESYNC * random.uniform(0.9, 1.1)
        self.applied[cluster] = (digest, time.monotonic() + wait)
        return wait

    async def _reconcile_cluster(self, spec: ClusterSpec) -> clusters.Outcome:
        runtime = self.runtime
        request = runtime.requests[spec.name]
        try:
            member_spec = MemberSpec(fleet=runtime.name, cluster=spec.name, provider=spec.provider,
                                     flavor=request.flavor, region=spec.region,
                                     deletion_policy=spec.deletion_policy)
            await members.ensure(runtime.shared.kube, runtime.fleet, member_spec)
            return await clusters.reconcile(runtime.shared.kube, runtime.shared.preflight, spec,
                                            runtime.namespace, runtime.name)
        except Exception as error:  # noqa: BLE001 - stays on this member (count_failure logs it)
            runtime.count_failure(f"cluster {spec.name}", error)
            return clusters.Outcome(request, failure=PreflightFailure("ReconcileFailed", describe_failure(error)))

    # -- probe --------------------------------------------------------------------

    async def _probe(self, cluster: str, now: float) -> float:
        runtime = self.runtime
        interval = runtime.probe_interval
        last = self.probed.get(cluster)
        if last is not None and now - last < interval:
            return last + interval - now
        member = await self._member(cluster)
        if member is None:
            return interval  # created by its first apply (or adoption)
        read_cluster = None if member["spec"].get("adopted") else self._read_cluster
        result = await probe_member(runtime.shared.kube, runtime.shared.clients, member,
                                    cloud=runtime.cloud_hook(cluster), read_cluster=read_cluster)
        self.probed[cluster] = time.monotonic()
        facts = runtime.facts.get(cluster)
        if facts is not None and not facts.deleting:  # else it left the Fleet while probed: no ghost
            facts.record_probe(result, member)
        return interval

    async def _member(self, cluster: str) -> dict | None:
        """The member's FleetMember, from the watch-backed cache."""
        return await self._cached(API_VERSION, "FleetMember", members.member_name(self.runtime.name, cluster), cluster)

    async def _read_cluster(self, namespace: str, cluster: str) -> dict | None:
        """A declared member's CAPI Cluster (Drover labels it), from the watch-backed cache."""
        return await self._cached(CLUSTER_API, "Cluster", cluster, cluster)

    async def _cached(self, api_version: str, kind: str, name: str, cluster: str) -> dict | None:
        runtime = self.runtime
        labels = {FLEET_LABEL: runtime.name, CLUSTER_NAME_LABEL: cluster}
        return await cache.of(runtime.shared.kube).get({"apiVersion": api_version, "kind": kind, "metadata": {
            "name": name, "namespace": runtime.namespace, "labels": labels}})
