"""One sync of one Fleet's stack into one workload cluster.

Components are taken in dependsOn order. Each one is either applied whole (its revision
changed, or it was never applied), checked for drift and corrected (same revision), held back
(the fleet's rollout says not yet), waiting for its dependencies, or failed. The inventory is
written ahead of every apply that adds objects (so nothing applied is ever unlisted), then
whatever is listed but no longer rendered is pruned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mgmt.api.models import Component, ComponentStatus
from mgmt.kube import Kube, KubeError, Unreachable

from . import drift, health, hooks, inventory, rollout
from .apply import ApplyError, apply_objects
from .inventory import Entry
from .objects import Ref, SourceError, crd_scopes, prepare


def now() -> str:
    """UTC time with microseconds, so the order of updates in a fast rollout can be told."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Desired:
    """A component as rendered for one member."""
    component: Component
    namespace: str
    objects: list[dict] | None = None
    revision: str | None = None
    error: str | None = None


@dataclass
class Failure:
    revision: str | None
    message: str
    retry_at: float


@dataclass
class MemberPlan:
    fleet: str
    components: list[Component]          # spec order
    order: list[str]                     # dependsOn order (components that can be applied)
    order_errors: dict[str, str]
    desired: dict[str, Desired]
    decisions: dict[str, str]            # rollout decision per component
    previous: dict[str, dict]            # last ComponentStatus wire dict per component
    failures: dict[str, Failure]         # this member's remembered apply failures (shared, mutated)
    confirmed: dict[Ref, tuple[str, str]]  # objects a dry run found unchanged (shared, mutated)
    retry_after: float = 60.0
    probe_timeout: float = 5.0
    crd_timeout: float = 30.0
    hook_runs: dict[str, hooks.Run] = field(default_factory=dict)  # helm hooks in progress (shared, mutated)
    hook_timeout: float = 300.0


@dataclass
class MemberResult:
    components: list[dict]
    changed: bool


@dataclass
class _Outcome:
    status: dict
    entry: Entry | None
    changed: bool = False


class MemberSync:
    def __init__(self, client: Kube, plan: MemberPlan):
        self.client, self.plan = client, plan
        self.statuses: dict[str, dict] = {}
        self.final: dict[str, Entry] = {}
        self.changed = False
        self.live: dict[Ref, dict] = {}
        self.namespaces: set[str] = set()  # known to exist: each component's apply need not ask again

    async def run(self) -> MemberResult:
        plan = self.plan
        self.configmap, self.recorded = await inventory.read(self.client, plan.fleet, plan.probe_timeout)
        self.written = dict(self.recorded)
        self.namespaced = await self._scopes()
        self.prepared = {name: self._prepare(name) for name in plan.order}
        self.live = await drift.live_objects(self.client, plan.fleet, self._drift_kinds())
        for name in plan.order:
            outcome = await self._component(name)
            self.statuses[name] = outcome.status
            self.changed |= outcome.changed
            if outcome.entry is not None:
                self.final[name] = outcome.entry
        for name, message in plan.order_errors.items():
            self.statuses[name] = self._failed(name, message)
            if name in self.recorded:
                self.final[name] = self.recorded[name]
        await self._prune()
        await self._write_final()
        return MemberResult([self.statuses[c.name] for c in plan.components], self.changed)

    # -- preparing ----------------------------------------------------------

    async def _scopes(self) -> dict[tuple[str, str], bool | None]:
        rendered = [o for d in self.plan.desired.values() for o in d.objects or []]
        scopes: dict[tuple[str, str], bool | None] = dict(crd_scopes(rendered))
        for obj in rendered:
            key = (obj["apiVersion"], obj["kind"])
            if key not in scopes:
                try:
                    scopes[key] = (await self.client.resource(*key)).namespaced
                except Unreachable:
                    raise
                except KubeError:
                    scopes[key] = None
        return scopes

    def _prepare(self, name: str) -> list[dict] | str:
        """The objects to apply, or why there are none."""
        desired = self.plan.desired[name]
        if desired.error or desired.objects is None:
            return desired.error or "not rendered"
        unknown = sorted({f"{o['kind']} ({o['apiVersion']})" for o in desired.objects
                          if self.namespaced.get((o["apiVersion"], o["kind"])) is None})
        if unknown:
            return f"the cluster does not know the kind(s) {', '.join(unknown)} and no CRD in the stack defines them"
        try:
            return prepare(desired.objects, self.plan.fleet, name, desired.namespace,
                           lambda api, kind: bool(self.namespaced.get((api, kind))))
        except SourceError as error:
            return str(error)

    def _drift_kinds(self) -> set[tuple[str, str]]:
        kinds = set()
        for name, objects in self.prepared.items():
            entry = self.recorded.get(name)
            if isinstance(objects, list) and entry and entry.revision == self.plan.desired[name].revision:
                kinds |= {(o["apiVersion"], o["kind"]) for o in hooks.split(objects)[0]}
        return kinds

    # -- one component --------------------------------------------------------

    async def _component(self, name: str) -> _Outcome:
        plan, entry = self.plan, self.recorded.get(name)
        desired, objects = plan.desired[name], self.prepared[name]
        waiting = [d for d in desired.component.depends_on if not self.statuses.get(d, {}).get("ready")]
        decision = plan.decisions.get(name, rollout.APPLY)
        if isinstance(objects, str):
            return _Outcome(self._failed(name, objects), entry)
        if waiting:
            return await self._kept(name, f"waiting for {', '.join(waiting)} to be ready", "Waiting")
        if decision != rollout.APPLY and entry is not None:
            message = (f"rollout paused: revision {desired.revision} not applied yet" if decision == rollout.HOLD_PAUSED
                       else f"waiting for the rollout (maxUnavailable reached) to apply revision {desired.revision}")
            return await self._kept(name, message, "Paused" if decision == rollout.HOLD_PAUSED else "Waiting")
        failure = plan.failures.get(name)
        if failure and failure.revision == desired.revision and time.monotonic() < failure.retry_at:
            return _Outcome(self._failed(name, failure.message), self.written.get(name))
        try:
            if entry is None or entry.revision != desired.revision:
                outcome = await self._apply_all(name, objects)
            else:
                outcome = await self._correct_drift(name, objects, entry)
        except ApplyError as error:
            plan.failures[name] = Failure(desired.revision, str(error), time.monotonic() + plan.retry_after)
            return _Outcome(self._failed(name, str(error)), self.written.get(name), changed=True)
        plan.failures.pop(name, None)
        return outcome

    async def _apply_all(self, name: str, objects: list[dict]) -> _Outcome:
        main, hooked = hooks.split(objects)
        await self._write_ahead(name, main + hooked)
        revision = self.plan.desired[name].revision
        if hooked:
            waiting, changed = await self._run_hooks(name, objects, revision)
            if waiting:
                return _Outcome(self._failed(name, waiting, "Progressing"), self.written.get(name), changed)
        else:
            await apply_objects(self.client, main, self.plan.crd_timeout, self.namespaces)
        for ref in map(Ref.of, objects):
            self.live.pop(ref, None)
        entry = Entry(revision, now(), hooks.kept(objects))
        return _Outcome(await self._status(name, entry, applied_now=True), entry, changed=True)

    async def _run_hooks(self, name: str, objects: list[dict], revision: str | None) -> tuple[str | None, bool]:
        """Move the component to `revision` with its helm hooks as far as this sync can: what it
        still waits for (None: through), and whether anything was written."""
        run = self.plan.hook_runs.get(name)
        if run is None or run.revision != revision:
            entry = self.recorded.get(name)
            run = self.plan.hook_runs[name] = hooks.Run(revision, install=entry is None or entry.revision is None)
        runner = hooks.Runner(self.client, self.plan.crd_timeout, self.plan.hook_timeout)
        main = [Ref.of(o) for o in hooks.split(objects)[0]]
        for ref in main:  # listed before this sync applied them: their health is read afresh
            self.live.pop(ref, None)
        try:
            waiting = await runner.advance(run, hooks.steps(objects, run.install), lambda: self._problems(name, main))
        except ApplyError:
            self.plan.hook_runs.pop(name, None)  # a retry starts the run again
            raise
        if waiting is None:
            self.plan.hook_runs.pop(name, None)
        return waiting, runner.changed

    async def _correct_drift(self, name: str, objects: list[dict], entry: Entry) -> _Outcome:
        drifted = [o for o in hooks.split(objects)[0]
                   if await drift.differs(self.client, o, self.live.get(Ref.of(o)), self.plan.confirmed)]
        if drifted:
            await self._write_ahead(name, drifted)
            await apply_objects(self.client, drifted, self.plan.crd_timeout, self.namespaces)
            for ref in map(Ref.of, drifted):
                self.live.pop(ref, None)
        entry = Entry(entry.revision, entry.applied_at, hooks.kept(objects))
        return _Outcome(await self._status(name, entry, drifted=bool(drifted)), entry, changed=bool(drifted))

    async def _kept(self, name: str, message: str, phase: str) -> _Outcome:
        """A component left as it is in the cluster this sync."""
        entry = self.recorded.get(name)
        if entry is None:
            return _Outcome(ComponentStatus(name=name, message=message, phase=phase).wire(), None)
        status = await self._status(name, entry)
        status.update(applied=entry.revision == self.plan.desired[name].revision, message=message, phase=phase)
        return _Outcome(status, entry)

    # -- status ---------------------------------------------------------------

    async def _problems(self, name: str, refs: list[Ref]) -> list[str]:
        """What keeps the component from being healthy (its `healthChecks`, or the defaults on `refs`)."""
        component = self.plan.desired[name].component
        checks = (await health.explicit_checks(self.client, component.health_checks, self.plan.desired[name].namespace)
                  if component.health_checks else health.default_checks(refs))
        return await health.evaluate(self.client, checks, self.live)

    async def _status(self, name: str, entry: Entry, applied_now: bool = False, drifted: bool = False) -> dict:
        problems = await self._problems(name, entry.objects)
        ready = not problems
        previous = self.plan.previous.get(name, {})
        same = not applied_now and previous.get("revision") == entry.revision
        applied_at = entry.applied_at if applied_now or not same else previous.get("appliedAt") or entry.applied_at
        ready_at = previous.get("readyAt") if same else None
        if ready and not ready_at:
            ready_at = now()
        return ComponentStatus(
            name=name, revision=entry.revision, applied=True, ready=ready, drifted=drifted,
            message="; ".join(problems[:3]) or None, applied_at=applied_at, ready_at=ready_at,
            phase="Ready" if ready else "Progressing").wire()

    def _failed(self, name: str, message: str, phase: str = "Failed") -> dict:
        entry = self.recorded.get(name)
        previous = self.plan.previous.get(name, {})
        revision = entry.revision if entry else None
        return ComponentStatus(
            name=name, revision=revision, applied=False, ready=False, message=message, phase=phase,
            applied_at=(entry.applied_at if entry else None) or None,
            ready_at=previous.get("readyAt") if previous.get("revision") == revision else None).wire()

    # -- inventory --------------------------------------------------------------

    @staticmethod
    def _union(entry: Entry | None, objects: list[dict]) -> Entry:
        refs = set(entry.objects if entry else ()) | {Ref.of(o) for o in objects}
        return Entry(entry.revision if entry else None, entry.applied_at if entry else None, sorted(refs))

    async def _write_ahead(self, name: str, objects: list[dict]) -> None:
        current = self.written.get(name)
        if current and {Ref.of(o) for o in objects} <= set(current.objects):
            return
        self.written[name] = self._union(current, objects)
        await inventory.write(self.client, self.plan.fleet, self.written)

    async def _prune(self) -> None:
        keep = {ref for entry in self.final.values() for ref in entry.objects}
        owners = {ref: name for name, entry in self.written.items() for ref in entry.objects}
        for ref in inventory.stale(self.written, keep):
            try:
                self.changed |= await self.client.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
            except Unreachable:
                raise
            except KubeError as error:
                if error.not_found:
                    continue  # the kind itself is gone
                owner = self.final.setdefault(owners[ref], Entry(None, None, []))
                owner.objects = sorted({*owner.objects, ref})

    async def _write_final(self) -> None:
        # `written` is what the cluster holds now (the inventory read, plus any write-ahead).
        if inventory.encode(self.final) != inventory.encode(self.written):
            await inventory.write(self.client, self.plan.fleet, self.final)
