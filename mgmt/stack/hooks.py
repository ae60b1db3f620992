"""Helm hooks: objects annotated `helm.sh/hook`, run around a component's main objects when its
revision changes, the way `helm install`/`helm upgrade` runs them.

- A component's first apply on a member is an install, every later change of revision an
  upgrade: `pre-install`/`pre-upgrade` hooks go before the main objects, `post-install`/
  `post-upgrade` hooks after them, once the main objects are healthy (as Argo CD's PostSync).
- Each phase runs in `helm.sh/hook-weight` order (default 0). The hooks of one weight are
  applied together and awaited before the next weight: a Job until it is Complete, a Pod until
  it Succeeded; any other kind is done once applied. A Job that fails, or a hook still running
  after the hook timeout, fails the component (retried like any failed apply, from the start).
- `helm.sh/hook-delete-policy`: `before-hook-creation` (helm's default when none is given)
  deletes the previous object before the hook is applied again; `hook-succeeded` deletes the
  phase's hooks once the whole phase succeeded; `hook-failed` deletes a hook that failed.
  CustomResourceDefinitions are never deleted by a policy, as in helm.
  A Job hook that is gone when looked at counts as done if it has `ttlSecondsAfterFinished` (the
  TTL controller removed it), as failed otherwise.
- `test` hooks are not rendered; `pre-delete`, `post-delete`, `pre-rollback`, `post-rollback` and
  unknown events are never run (Drover neither uninstalls releases nor rolls back).
- Hooks are not checked for drift. Hooks that stay in the cluster are listed in the inventory, so
  they are pruned with their component.

A phase may take longer than one sync: where each component is (`Run`) is kept in memory between
syncs, so a sync never waits for a Job; after a controller restart an unfinished run starts again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mgmt.kube import Kube, KubeError, Unreachable

from .apply import ApplyError, apply_objects, condition_true, find_condition
from .objects import Ref, is_crd

HOOK = "helm.sh/hook"
WEIGHT = "helm.sh/hook-weight"
DELETE_POLICY = "helm.sh/hook-delete-policy"
BEFORE_CREATION, SUCCEEDED, FAILED = "before-hook-creation", "hook-succeeded", "hook-failed"
PRE, POST = ("pre-install", "pre-upgrade"), ("post-install", "post-upgrade")
MAIN = "main"


def _annotation(obj: dict, name: str) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(name)


def _words(text: str | None) -> set[str]:
    return {w.strip().lower() for w in (text or "").split(",") if w.strip()}


def is_hook(obj: dict) -> bool:
    return _annotation(obj, HOOK) is not None


def events(obj: dict) -> set[str]:
    return _words(_annotation(obj, HOOK))


def weight(obj: dict) -> int:
    try:
        return int(_annotation(obj, WEIGHT) or 0)
    except ValueError:
        return 0  # as helm


def delete_policies(obj: dict) -> set[str]:
    return _words(_annotation(obj, DELETE_POLICY)) or {BEFORE_CREATION}


def split(objects: list[dict]) -> tuple[list[dict], list[dict]]:
    """(main objects, hooks Drover runs); hooks of no event it runs are left out."""
    main = [o for o in objects if not is_hook(o)]
    hooks = [o for o in objects if events(o) & {*PRE, *POST}]
    return main, hooks


def kept(objects: list[dict]) -> list[Ref]:
    """What stays in the cluster once a revision is through: its main objects and the hooks
    that are not deleted on success."""
    main, hooks = split(objects)
    return sorted({Ref.of(o) for o in main} | {Ref.of(h) for h in hooks
                                                if SUCCEEDED not in delete_policies(h) or is_crd(h)})


@dataclass
class Step:
    phase: str                # pre-install, ..., MAIN
    objects: list[dict]


def steps(objects: list[dict], install: bool) -> list[Step]:
    """The pre hooks by weight, the main objects, the post hooks by weight."""
    main, hooks = split(objects)
    pre, post = (PRE[0], POST[0]) if install else (PRE[1], POST[1])

    def phase(event: str) -> list[Step]:
        chosen = [h for h in hooks if event in events(h)]
        weights = sorted({weight(h) for h in chosen})
        return [Step(event, sorted((h for h in chosen if weight(h) == w), key=lambda h: h["metadata"]["name"]))
                for w in weights]

    return [*phase(pre), Step(MAIN, main), *phase(post)]


@dataclass
class Run:
    """Where one component's move to `revision` is, across syncs."""
    revision: str | None
    install: bool
    step: int = 0
    applied_at: float | None = None     # when the current step's hooks were applied
    done: list[dict] = field(default_factory=list)   # hooks of the current phase that succeeded


def outcome(hook: dict, live: dict | None) -> tuple[str, str]:
    """("done" | "running" | "failed", detail) of an applied hook as the cluster shows it."""
    if live is None:
        if hook["kind"] == "Job" and (hook.get("spec") or {}).get("ttlSecondsAfterFinished") is not None:
            return "done", ""  # the TTL controller removes finished Jobs only
        return "failed", "deleted before it finished"
    kind, status = live.get("kind"), live.get("status") or {}
    if kind == "Job":
        if condition_true(live, "Complete"):
            return "done", ""
        if condition_true(live, "Failed"):
            failed = find_condition(live, "Failed") or {}
            return "failed", failed.get("message") or failed.get("reason") or "Failed"
        return "running", f"{status.get('active', 0)} active, {status.get('failed', 0)} failed"
    if kind == "Pod":
        phase = status.get("phase") or "Pending"
        if phase == "Succeeded":
            return "done", ""
        if phase == "Failed":
            return "failed", status.get("message") or status.get("reason") or "Failed"
        return "running", phase
    return "done", ""


class Runner:
    """Takes a component through its steps as far as the cluster lets it in this sync."""

    def __init__(self, client: Kube, crd_timeout: float, hook_timeout: float):
        self.client, self.crd_timeout, self.hook_timeout = client, crd_timeout, hook_timeout
        self.changed = False    # anything applied or deleted

    async def advance(self, run: Run, plan: list[Step], ready: Callable[[], Awaitable[list[str]]]) -> str | None:
        """None once every step is done, else what it waits for. ApplyError when a hook fails."""
        while run.step < len(plan):
            step = plan[run.step]
            if step.phase == MAIN:
                self.changed = True
                await apply_objects(self.client, step.objects, self.crd_timeout)
            else:
                first_post = step.phase in POST and plan[run.step - 1].phase == MAIN
                if first_post and (problems := await ready()):
                    return f"waiting for {problems[0]} before the {step.phase} hooks"
                waiting = await self._hook_step(run, step)
                if waiting:
                    return waiting
                run.done += step.objects
            run.step, run.applied_at = run.step + 1, None
            if step.phase != MAIN and (run.step == len(plan) or plan[run.step].phase != step.phase):
                await self._delete(reversed(run.done), SUCCEEDED)  # the whole phase succeeded
                run.done = []
        return None

    async def _hook_step(self, run: Run, step: Step) -> str | None:
        if run.applied_at is None:
            remaining = await self._delete(step.objects, BEFORE_CREATION)
            if remaining:
                return f"waiting for the previous {remaining[0]} to be deleted before the {step.phase} hooks"
            self.changed = True
            await apply_objects(self.client, step.objects, self.crd_timeout)
            run.applied_at = time.monotonic()
        for hook in step.objects:
            ref = Ref.of(hook)
            state, detail = outcome(hook, await self._get(ref))
            if state == "failed":
                await self._delete([hook], FAILED)
                await self._delete(reversed(run.done), SUCCEEDED)
                raise ApplyError(f"{step.phase} hook {ref} failed: {detail}")
            if state == "running":
                if time.monotonic() - run.applied_at > self.hook_timeout:
                    raise ApplyError(f"{step.phase} hook {ref} did not finish within {self.hook_timeout:.0f}s "
                                     f"({detail})")
                return f"running the {step.phase} hook {ref} ({detail})"
        return None

    async def _get(self, ref: Ref) -> dict | None:
        try:
            return await self.client.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
        except Unreachable:
            raise
        except KubeError as error:
            raise ApplyError(f"{ref}: {error.message or error}") from None

    async def _delete(self, hooks, policy: str) -> list[Ref]:
        """Delete the hooks that carry `policy`; the ones still there (being deleted)."""
        remaining = []
        for hook in hooks:
            if policy not in delete_policies(hook) or is_crd(hook):
                continue
            ref = Ref.of(hook)
            try:
                self.changed |= await self.client.delete(ref.api_version, ref.kind, ref.name, ref.namespace or None)
                if await self.client.get(ref.api_version, ref.kind, ref.name, ref.namespace or None) is not None:
                    remaining.append(ref)
            except Unreachable:
                raise
            except KubeError as error:
                if not error.not_found:
                    raise ApplyError(f"{ref}: deleting the hook ({policy}): {error.message or error}") from None
        return remaining
