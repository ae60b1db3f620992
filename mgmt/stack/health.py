"""Is a component healthy in a workload cluster?

Explicit `healthChecks`, or by default: every Deployment, StatefulSet and DaemonSet of the
component ready and every CRD Established. A status only counts once the controller has
observed the object's current generation (the kstatus rule), so a just-changed object is not
taken as ready on the strength of its previous status.
"""

from __future__ import annotations

from collections.abc import Iterable

from mgmt.api.models import HealthCheck
from mgmt.kube import Kube, KubeError, Unreachable

from .apply import condition_message, condition_true, find_condition
from .objects import CRD_API, CRD_KIND, Ref

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}


def default_checks(refs: Iterable[Ref]) -> list[tuple[Ref, str | None]]:
    def checked(r: Ref) -> bool:
        return (r.api_version == "apps/v1" and r.kind in WORKLOADS) or (r.api_version == CRD_API and r.kind == CRD_KIND)
    return [(r, None) for r in sorted(refs) if checked(r)]


async def explicit_checks(client: Kube, checks: list[HealthCheck], namespace: str) -> list[tuple[Ref, str | None]]:
    out = []
    for check in checks:
        try:
            namespaced = (await client.resource(check.api_version, check.kind)).namespaced
        except Unreachable:
            raise
        except KubeError:
            namespaced = True  # kind not served (yet): reported as not found below
        ns = (check.namespace or namespace) if namespaced else ""
        out.append((Ref(check.api_version, check.kind, ns, check.name), check.condition))
    return out


async def evaluate(client: Kube, checks: list[tuple[Ref, str | None]], live: dict[Ref, dict]) -> list[str]:
    """What is not healthy yet (empty: healthy)."""
    problems = []
    for ref, condition in checks:
        obj = live.get(ref)
        try:
            if obj is None:
                obj = await client.get(ref.api_version, ref.kind, ref.name, ref.namespace or None)
        except Unreachable:
            raise
        except KubeError as error:
            if not error.not_found:
                raise
        problem = "not found" if obj is None else problem_of(obj, condition)
        if problem:
            problems.append(f"{ref}: {problem}")
    return problems


def problem_of(obj: dict, condition: str | None) -> str | None:
    kind, status = obj.get("kind"), obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation")
    if kind in WORKLOADS and generation and status.get("observedGeneration", 0) < generation:
        return "its controller has not observed the current generation yet"
    if condition:
        return _condition_problem(obj, condition, generation)
    if kind == "Deployment":
        return _condition_problem(obj, "Available", generation)
    if kind == "StatefulSet":
        want, ready = obj.get("spec", {}).get("replicas", 1), status.get("readyReplicas", 0)
        return None if ready >= want else f"{ready}/{want} replicas ready"
    if kind == "DaemonSet":
        want, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
        updated = status.get("updatedNumberScheduled", 0)
        return None if ready >= want and updated >= want else f"{ready}/{want} pods ready"
    if kind == CRD_KIND:
        return _condition_problem(obj, "Established", generation)
    return None  # any other object is healthy once it exists


def _condition_problem(obj: dict, kind: str, generation: int | None) -> str | None:
    if not condition_true(obj, kind):
        return f"{kind} is not True" + (f" ({condition_message(obj, kind)})" if find_condition(obj, kind) else "")
    observed = (find_condition(obj, kind) or {}).get("observedGeneration")
    if observed is not None and generation and observed < generation:
        return f"{kind} was observed for generation {observed}, not {generation}"
    return None
