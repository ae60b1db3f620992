"""What the controller knows of each member, and writing it to FleetMember and Fleet status.

Statuses are written only when they changed in a way a reader cares about: a probe's exact
latency and time are not worth a write (they are in the metrics); a latency that moved a lot is.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass, field

import providers
from mgmt import metrics
from mgmt.api.models import API_VERSION
from mgmt.controller.events import post_event
from mgmt.controller.members import member_name
from mgmt.health.aggregate import (
    APPLIED_CONDITION,
    PREFLIGHT_CONDITION,
    aggregate,
    member_conditions,
    member_phase,
    now_rfc3339,
    set_condition,
    stack_display,
    transitions,
)
from mgmt.kube import Kube, KubeError
from providers.base import PreflightFailure

log = logging.getLogger("drover.status")

RETIRED_CONDITION = "ProviderRetired"
MEMBER_WRITE_CONCURRENCY = 8  # member status writes in flight at once, per Fleet
#: Seconds between two writes of a Fleet's status while its members keep changing. Every write
#: of a Fleet is as costly to the apiserver as the Fleet is big (a thousand inline clusters: about
#: a second of its CPU each), and a rollout to a thousand members changes the counts many times a
#: second.
FLEET_WRITE_INTERVAL = 5.0
#: What a probe reports, as stored in a member's status.
PROBE_PARTS = ("api", "nodes", "kubernetesVersion", "capi", "cloud")


@dataclass
class MemberFacts:
    cluster: str
    provider: str | None = None
    adopted: bool = False
    deleting: bool = False
    preflight: str = "NotNeeded"
    failure: PreflightFailure | None = None
    upgrading_workers: bool = False
    retired: str | None = None
    probe: dict = field(default_factory=dict)
    components: list[dict] = field(default_factory=list)
    stack_message: str | None = None
    applied_spec: str | None = None  # digest of the cluster spec last applied without error

    @classmethod
    def resume(cls, member: dict) -> MemberFacts:
        """The facts a member's stored status holds (after a controller restart)."""
        spec, status = member["spec"], member.get("status") or {}
        facts = cls(spec["cluster"], provider=spec.get("provider"), adopted=bool(spec.get("adopted")))
        facts.probe = {k: status[k] for k in PROBE_PARTS if k in status}
        facts.components = [c for c in status.get("components") or [] if c.get("revision")]
        facts.applied_spec = status.get("appliedSpec")
        facts.retired = providers.get(facts.provider).retired if facts.provider in providers.NAMES else None
        for condition in status.get("conditions") or []:  # what the last reconcile found
            failed = condition.get("status") == "False"
            if condition.get("type") == PREFLIGHT_CONDITION:
                facts.preflight = "Failed" if failed else condition.get("reason") or "Passed"
            if failed and condition.get("type") in (PREFLIGHT_CONDITION, APPLIED_CONDITION):
                facts.failure = facts.failure or PreflightFailure(condition.get("reason") or "Failed",
                                                                  condition.get("message") or "")
        return facts

    def record_outcome(self, outcome) -> None:
        self.provider = outcome.request.provider
        self.preflight, self.failure = outcome.preflight, outcome.failure
        self.upgrading_workers = outcome.upgrading_workers
        self.retired = providers.get(self.provider).retired

    def record_probe(self, result: dict, member: dict) -> None:
        self.probe = result
        self.provider = self.provider or member["spec"].get("provider")
        self.adopted = bool(member["spec"].get("adopted"))

    def record_stack(self, result) -> None:
        self.components = result.components
        self.stack_message = None if result.reachable else result.message

    def wants_stack(self) -> bool:
        return not self.deleting and self.failure is None and bool(self.probe.get("api", {}).get("reachable"))

    def status(self, previous: dict | None, declared: list[str]) -> dict:
        """The member's status; `declared` names the Fleet's stack components, so that a member
        the stack has not reached yet shows them pending rather than an empty (vacuously ready)
        stack."""
        status = {k: v for k, v in self.probe.items() if v is not None}
        if self.applied_spec:
            status["appliedSpec"] = self.applied_spec
        known = {c["name"] for c in self.components}
        status["components"] = self.components + [
            {"name": name, "applied": False, "ready": False, "drifted": False, "phase": "Waiting",
             "message": self.stack_message or "waiting for the cluster's API"}
            for name in declared if name not in known]
        display = stack_display(status)
        if display:
            status["stack"] = display
        before = (previous or {}).get("conditions", [])
        status["conditions"] = self._own_conditions(before)
        status["phase"] = member_phase(status, self.deleting)
        status["conditions"] = member_conditions(status, status["phase"], status["conditions"])
        return status

    def _own_conditions(self, before: list[dict]) -> list[dict]:
        """The controller's own conditions (preflight, applied objects, retired provider), with
        the phase conditions of `before` kept so their transition times survive."""
        now = now_rfc3339()
        kept = [c for c in before if c["type"] not in (PREFLIGHT_CONDITION, APPLIED_CONDITION, RETIRED_CONDITION)]
        own, failure = [], self.failure
        if self.preflight == "Failed":
            own.append(set_condition(before, PREFLIGHT_CONDITION, "False", failure.reason, failure.message, now))
        elif self.preflight != "NotNeeded":
            own.append(set_condition(before, PREFLIGHT_CONDITION, "True", self.preflight, "", now))
        if not self.adopted and self.preflight != "Failed":
            own.append(set_condition(before, APPLIED_CONDITION, "False" if failure else "True",
                                     failure.reason if failure else "Applied", failure.message if failure else "",
                                     now))
        if self.retired:
            own.append(set_condition(before, RETIRED_CONDITION, "True", "ServiceShutDown", self.retired, now))
        return own + kept


def _material(status: dict | None) -> dict:
    """The status without what changes on every probe."""
    if not status:
        return {}
    out = copy.deepcopy(status)
    out.pop("lastProbeTime", None)
    out.get("api", {}).pop("latencyMs", None)
    return out


#: Latency levels a reader acts on (ms): under a second, seconds, slower than five seconds.
LATENCY_LEVELS_MS = (1000, 5000)


def _latency_level(ms: float, before: int | None = None) -> int:
    """The level of a latency; with the level `before`, one that must fall below half a bound to
    go down, so a latency hovering at a bound does not flip the level on every probe."""
    level = sum(1 for bound in LATENCY_LEVELS_MS if ms >= bound)
    if before is not None and level < before and ms >= LATENCY_LEVELS_MS[before - 1] / 2:
        return before
    return level


def _latency_moved(old: dict | None, new: dict) -> bool:
    before = ((old or {}).get("api") or {}).get("latencyMs")
    after = (new.get("api") or {}).get("latencyMs")
    if before is None or after is None:
        return before != after
    # Only a change of level is written: a busy management host's jitter (20 ms one probe, 600 ms
    # the next), or a thousand members', must not turn every probe cycle into writes.
    level = _latency_level(before)
    return _latency_level(after, level) != level


class StatusWriter:
    def __init__(self, kube: Kube, namespace: str, fleet: str):
        self.kube, self.namespace, self.fleet = kube, namespace, fleet
        self.generation: int | None = None
        self.written: dict[str, dict] = {}
        self.fleet_status: dict | None = None
        self.fleet_pending = False  # the Fleet's status changed and waits for its interval
        self._fleet_written_at = -FLEET_WRITE_INTERVAL
        self._lock = asyncio.Lock()  # the spec, stack and probe loops all write

    def resume(self, cluster: str, status: dict) -> None:
        """The status a member had when listed (after a start): what the next write compares with."""
        self.written.setdefault(cluster, status)

    def forget(self, cluster: str) -> None:
        self.written.pop(cluster, None)
        metrics.forget_member(self.namespace, self.fleet, cluster)

    async def write(self, fleet: dict, facts: dict[str, MemberFacts], clusters: set[str] | None = None) -> None:
        """Write the statuses of `clusters` (default: every member) where they changed, then the
        Fleet's, aggregated over every member's last written status."""
        async with self._lock:
            await self._write(fleet, facts, facts.keys() if clusters is None else clusters)

    async def _write(self, fleet: dict, facts: dict[str, MemberFacts], clusters) -> None:
        declared = [c.get("name") for c in (fleet.get("spec") or {}).get("stack", {}).get("components") or []]
        limit = asyncio.Semaphore(MEMBER_WRITE_CONCURRENCY)

        async def one(cluster: str, fact: MemberFacts) -> dict:
            async with limit:
                try:
                    return await self._write_member(cluster, fact, declared)
                except KubeError as error:  # this member's status waits for the next pass
                    log.warning("fleet %s/%s: status of %s not written: %s", self.namespace, self.fleet,
                                cluster, error)
                    return self.written.get(cluster) or {}

        changed = [cluster for cluster in clusters if cluster in facts]
        written = await asyncio.gather(*(one(cluster, facts[cluster]) for cluster in changed))
        statuses = {cluster: self.written.get(cluster) or {} for cluster in facts}
        statuses.update(zip(changed, written))
        await self._write_fleet(fleet, statuses)

    async def _write_member(self, cluster: str, fact: MemberFacts, declared: list[str]) -> dict:
        name = member_name(self.fleet, cluster)
        previous = self.written.get(cluster)
        if previous is None:
            live = await self.kube.get(API_VERSION, "FleetMember", name, self.namespace)
            previous = (live or {}).get("status") or {}
            self.written[cluster] = previous
        status = fact.status(previous, declared)
        metrics.observe_member(self.namespace, self.fleet, cluster, status)
        if _material(status) == _material(previous) and not _latency_moved(previous, status):
            return previous
        status["lastProbeTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            answer = await self.kube.apply({"apiVersion": API_VERSION, "kind": "FleetMember",
                                            "metadata": {"name": name, "namespace": self.namespace},
                                            "status": status}, subresource="status")
        except KubeError as error:
            if error.not_found:
                return status  # the member is being created or removed
            raise
        self.written[cluster] = status
        if previous.get("phase") != status["phase"]:
            await self._member_event(answer["metadata"], cluster, previous.get("phase"), status)
        return status

    async def _member_event(self, meta: dict, cluster: str, before: str | None, status: dict) -> None:
        phase = status["phase"]
        warning = phase in ("Degraded", "Unreachable", "Failed")
        failing = next((c for c in status.get("conditions", []) if c.get("status") != "True"
                        and c["type"] in ("Ready", "Provisioned")), None)
        message = f"cluster {cluster}: {before or 'New'} -> {phase}"
        if warning and failing and failing.get("message"):
            message += f": {failing['message']}"
        ref = {"apiVersion": API_VERSION, "kind": "FleetMember", "name": meta["name"], "namespace": self.namespace,
               "uid": meta["uid"]}
        await post_event(self.kube, ref, "Warning" if warning else "Normal", f"Member{phase}", message)

    async def _write_fleet(self, fleet: dict, statuses: dict[str, dict]) -> None:
        members = [{"spec": {"cluster": c}, "status": s} for c, s in sorted(statuses.items())]
        if self.fleet_status is None:
            live = await self.kube.get(API_VERSION, "Fleet", self.fleet, self.namespace)
            self.fleet_status = (live or {}).get("status") or {}
        current = {**fleet, "status": self.fleet_status}
        if self.generation is not None:
            current["metadata"] = {**fleet["metadata"], "generation": self.generation}
        status = aggregate(current, members)
        metrics.observe_fleet(self.namespace, self.fleet, status, members)
        self.fleet_pending = status != self.fleet_status and self.fleet_wait() > 0
        if status == self.fleet_status or self.fleet_pending:
            return
        await self.kube.apply({"apiVersion": API_VERSION, "kind": "Fleet",
                               "metadata": {"name": self.fleet, "namespace": self.namespace},
                               "status": status}, subresource="status")
        ref = {"apiVersion": API_VERSION, "kind": "Fleet", "name": self.fleet, "namespace": self.namespace,
               "uid": fleet["metadata"].get("uid")}
        self._fleet_written_at = time.monotonic()
        for type_, reason, message in transitions(self.fleet_status, status):
            await post_event(self.kube, ref, type_, reason, message)
        self.fleet_status = status

    def fleet_wait(self) -> float:
        """Seconds until the Fleet's status may be written again."""
        return max(0.0, self._fleet_written_at + FLEET_WRITE_INTERVAL - time.monotonic())
