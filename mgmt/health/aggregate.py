"""From probe results to phases and conditions, and from members to the Fleet's status.

Pure functions on wire dicts (camelCase), no I/O: the controller probes, calls these, and writes
only what changed. A member's phase is decided in this order (the first rule that matches wins):

1. `Deleting`     the member (or its CAPI Cluster) is being deleted.
2. `Failed`       the `PreflightPassed` condition is False, or the CAPI Cluster's phase is Failed.
3. `Pending`      no CAPI Cluster yet, or CAPI reports it Pending, and its API does not answer.
4. `Unreachable`  its API does not answer although the control plane was initialized (or CAPI
                  says Provisioned).
5. `Provisioning` its API does not answer and CAPI is still provisioning it.
6. `Degraded`     its API answers but some Nodes are not Ready, or the cloud reports
                  Degraded/NotFound.
7. `Ready`        otherwise.

The phase tells how the cluster is, not its stack: a member whose cluster is fine but one of
whose components failed (or stopped being ready after it was) stays `Ready` and counts in the
Fleet's READY column; its `StackReady` condition is False with reason `StackFailed`, its
`Degraded` condition is True with the same reason, and the Fleet's STACK column, `StackReady`
and `Degraded` conditions and `unwell` list count it. So READY says how many clusters are up,
STACK how many have their whole stack, and `Degraded` whether anything needs a look.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from mgmt.api.models import declared_names

PREFLIGHT_CONDITION = "PreflightPassed"
#: Set by the controller when a cluster's objects could not be rendered or applied.
APPLIED_CONDITION = "ClusterObjectsApplied"
#: Conditions that, when False, mean the cluster will not come up until someone acts.
BLOCKING_CONDITIONS = (PREFLIGHT_CONDITION, APPLIED_CONDITION)
PHASES = ("Pending", "Provisioning", "Ready", "Degraded", "Unreachable", "Failed", "Deleting")
UNWELL_PHASES = ("Failed", "Degraded", "Unreachable")
UNWELL_CAP = 20
HISTORY_CAP = 48  # status.history: the Fleet's counts each time they changed
MESSAGE_CAP = 200
NAMES_IN_MESSAGE = 5
OWN_MEMBER_CONDITIONS = ("Ready", "Provisioned", "StackReady", "Degraded")
STACK_FAILED = "StackFailed"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short(text: str | None, limit: int = MESSAGE_CAP) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _condition(conditions: list[dict] | None, type_: str) -> dict | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


# -- one member ----------------------------------------------------------------

def _broken_components(status: dict) -> list[dict]:
    """Components that failed, or were ready at this revision and are not any more (a component
    still coming up, or waiting for another, is not broken)."""
    return [c for c in status.get("components") or []
            if c.get("phase") == "Failed" or (not c.get("ready") and c.get("readyAt"))]


def _stack_ready(status: dict, declared: Iterable[str] = ()) -> bool:
    """Every component the member lists is ready, and so is every one of `declared` (a status
    written before the component was added to the Fleet does not list it: not ready yet)."""
    components = status.get("components") or []
    return all(c.get("ready") for c in components) and {c.get("name") for c in components} >= set(declared)


def _initialized(capi: dict) -> bool:
    return bool(capi.get("controlPlaneReady")) or capi.get("phase") == "Provisioned"


def _blocking(status: dict) -> dict | None:
    """The first False condition that keeps the cluster from being made."""
    return next((c for c in status.get("conditions") or []
                 if c.get("type") in BLOCKING_CONDITIONS and c.get("status") == "False"), None)


def member_phase(member_status: dict, deleting: bool) -> str:
    status, capi = member_status, member_status.get("capi") or {}
    if deleting or capi.get("phase") == "Deleting":
        return "Deleting"
    if _blocking(status) or capi.get("phase") == "Failed":
        return "Failed"
    if not (status.get("api") or {}).get("reachable"):
        if capi.get("phase") in (None, "", "Pending") and not _initialized(capi):
            return "Pending"
        return "Unreachable" if _initialized(capi) else "Provisioning"
    nodes, cloud = status.get("nodes") or {}, status.get("cloud") or {}
    if nodes.get("ready", 0) < nodes.get("total", 0) or cloud.get("state") in ("Degraded", "NotFound"):
        return "Degraded"
    return "Ready"


def _problem(status: dict, phase: str) -> tuple[str, str]:
    """Reason and message that explain a member's phase."""
    capi, api = status.get("capi") or {}, status.get("api") or {}
    nodes, cloud = status.get("nodes") or {}, status.get("cloud") or {}
    if phase == "Failed":
        blocking = _blocking(status)
        if blocking:
            return blocking.get("reason") or "PreflightFailed", short(blocking.get("message"))
        return "ProvisioningFailed", short(capi.get("message") or "Cluster API reports the cluster Failed")
    if phase == "Unreachable":
        return "Unreachable", short(api.get("message") or "the cluster's API server does not answer")
    if phase in ("Pending", "Provisioning"):
        return phase, short(api.get("message") or capi.get("message") or f"Cluster API phase {capi.get('phase')}")
    if phase == "Degraded":
        if nodes.get("ready", 0) < nodes.get("total", 0):
            return "NodesNotReady", f"{nodes['ready']}/{nodes['total']} nodes ready"
        return "CloudDegraded", short(f"cloud reports {cloud.get('state')}: {cloud.get('message', '')}")
    if phase == "Deleting":
        return "Deleting", "the cluster is being deleted"
    return "Ready", ""


def stack_failure(status: dict, phase: str) -> str | None:
    """Why the stack of a cluster that answers is broken (None when it is not)."""
    broken = _broken_components(status) if phase in ("Ready", "Degraded") else []
    if not broken:
        return None
    names = ", ".join(c.get("name", "?") for c in broken[:NAMES_IN_MESSAGE])
    return short(f"components not ready: {names}: {broken[0].get('message') or ''}")


def set_condition(previous: list[dict] | None, type_: str, status: str, reason: str, message: str,
                  now: str, generation: int | None = None) -> dict:
    """A metav1.Condition that keeps its lastTransitionTime while its status stays the same."""
    old = _condition(previous, type_)
    since = old["lastTransitionTime"] if old and old.get("status") == status and old.get("lastTransitionTime") \
        else now
    out = {"type": type_, "status": status, "reason": reason, "message": short(message),
           "lastTransitionTime": since}
    if generation is not None:
        out["observedGeneration"] = generation
    return out


_set = set_condition  # the name the controller first imported


def member_conditions(member_status: dict, phase: str, previous: list[dict] | None = None,
                      now: str | None = None) -> list[dict]:
    """Ready, Provisioned, StackReady and Degraded for one member; other conditions kept as they were."""
    now = now or now_rfc3339()
    status, capi = member_status, member_status.get("capi") or {}
    reason, message = _problem(status, phase)
    components = status.get("components") or []
    stack_ok = _stack_ready(status) and phase == "Ready"
    ready_count = sum(1 for c in components if c.get("ready"))
    provisioned = _initialized(capi) or bool((status.get("api") or {}).get("reachable"))
    failure = stack_failure(status, phase)
    stack_reason = "StackReady" if stack_ok else STACK_FAILED if failure else \
        "StackNotReady" if phase == "Ready" else "ClusterNotReady"
    degraded = phase in UNWELL_PHASES or failure is not None
    if phase not in UNWELL_PHASES and failure:
        reason, message = STACK_FAILED, failure
    own = [
        set_condition(previous, "Ready", "True" if phase == "Ready" else "False",
                      "Ready" if phase == "Ready" else reason, "" if phase == "Ready" else message, now),
        set_condition(previous, "Provisioned", "True" if provisioned else "False",
                      "Provisioned" if provisioned else (capi.get("phase") or "Pending"),
                      "" if provisioned else f"Cluster API phase {capi.get('phase') or 'unknown'}", now),
        set_condition(previous, "StackReady", "True" if stack_ok else "False", stack_reason,
                      f"{ready_count}/{len(components)} components ready" + (f"; {failure}" if failure else ""),
                      now),
        set_condition(previous, "Degraded", "True" if degraded else "False",
                      reason if degraded else "AsExpected", message if degraded else "", now),
    ]
    kept = [c for c in previous or [] if c.get("type") not in OWN_MEMBER_CONDITIONS]
    return own + kept


def stack_display(member_status: dict) -> str | None:
    """`ready/total` components, for the member's printer column."""
    components = member_status.get("components") or []
    if not components:
        return None
    return f"{sum(1 for c in components if c.get('ready'))}/{len(components)}"


# -- the fleet -----------------------------------------------------------------

def _cluster(member: dict) -> str:
    return (member.get("spec") or {}).get("cluster") or (member.get("metadata") or {}).get("name", "?")


def _deleting(member: dict) -> bool:
    return bool((member.get("metadata") or {}).get("deletionTimestamp"))


def _phase_of(member: dict) -> str:
    status = member.get("status") or {}
    return "Deleting" if _deleting(member) else status.get("phase") or "Pending"


def _names(members: list[dict]) -> str:
    names = [_cluster(m) for m in members[:NAMES_IN_MESSAGE]]
    more = len(members) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _counts(fleet: dict, members: list[dict], by_phase: dict[str, list[dict]]) -> dict:
    declared = declared_names(fleet.get("spec") or {})
    present = {_cluster(m) for m in members if not _deleting(m)}
    missing = len(declared - present)
    components = [c.get("name") for c in ((fleet.get("spec") or {}).get("stack") or {}).get("components") or []]
    stack_ready = sum(1 for m in by_phase["Ready"] if _stack_ready(m.get("status") or {}, components))
    return {
        "desired": len(declared | present),
        "provisioning": len(by_phase["Pending"]) + len(by_phase["Provisioning"]) + missing,
        "ready": len(by_phase["Ready"]),
        "stackReady": stack_ready,
        "degraded": len(by_phase["Degraded"]) + len(by_phase["Failed"]),
        "unreachable": len(by_phase["Unreachable"]),
        "deleting": len(by_phase["Deleting"]),
    }


def _history(previous: list[dict] | None, counts: dict, now: str) -> list[dict]:
    """The last HISTORY_CAP changes of the counts, oldest first; unchanged counts add nothing, so a
    steady fleet writes nothing for it."""
    history = list(previous or [])
    if history and {k: v for k, v in history[-1].items() if k != "time"} == counts:
        return history
    return [*history, {"time": now, **counts}][-HISTORY_CAP:]


def _stack_failed(by_phase: dict[str, list[dict]]) -> list[dict]:
    """Members whose cluster answers and whose stack is broken."""
    return [m for phase in ("Ready", "Degraded") for m in by_phase[phase]
            if stack_failure(m.get("status") or {}, phase)]


def _group_message(phase: str, members: list[dict]) -> str:
    what = "with a failed stack" if phase == STACK_FAILED else phase.lower()
    return f"{len(members)} {what}: {_names(members)}"


def _fleet_conditions(counts: dict, by_phase: dict[str, list[dict]], previous: list[dict] | None,
                      generation: int | None, now: str) -> list[dict]:
    desired, ready = counts["desired"], counts["ready"]
    unwell = [(p, by_phase[p]) for p in ("Failed", "Degraded", "Unreachable") if by_phase[p]]
    stack_failed = _stack_failed(by_phase)
    needs_a_look = unwell + ([(STACK_FAILED, stack_failed)] if stack_failed else [])
    waiting = by_phase["Pending"] + by_phase["Provisioning"]
    summary = f"{ready}/{desired} clusters ready"
    worst = (unwell[0][0], _group_message(*unwell[0])) if unwell else None
    if ready == desired:
        ready_c = ("True", "Ready" if desired else "NoClusters", summary if desired else "the fleet has no clusters")
    elif worst:
        ready_c = ("False", worst[0], f"{summary}; {worst[1]}")
    elif counts["provisioning"]:
        ready_c = ("False", "Provisioning", f"{summary}; {counts['provisioning']} provisioning")
    else:
        ready_c = ("False", "Deleting", f"{summary}; {counts['deleting']} deleting")
    provisioned = counts["provisioning"] == 0
    stack = counts["stackReady"] == desired
    degraded_message = "; ".join(_group_message(p, m) for p, m in needs_a_look)
    provisioned_message = f"{desired - counts['provisioning']}/{desired} clusters provisioned"
    if waiting and not provisioned:
        provisioned_message += f"; waiting for {_names(waiting)}"
    return [
        set_condition(previous, "Ready", *ready_c, now, generation),
        set_condition(previous, "Provisioned", "True" if provisioned else "False",
                      "Provisioned" if provisioned else "Provisioning", provisioned_message, now, generation),
        set_condition(previous, "StackReady", "True" if stack else "False",
                      "StackReady" if stack else "StackNotReady",
                      f"{counts['stackReady']}/{desired} clusters have their whole stack ready", now, generation),
        set_condition(previous, "Degraded", "True" if needs_a_look else "False",
                      needs_a_look[0][0] if needs_a_look else "AsExpected", degraded_message, now, generation),
    ]


def _unwell(by_phase: dict[str, list[dict]]) -> tuple[list[dict], int]:
    entries = []
    for phase in UNWELL_PHASES:
        for member in by_phase[phase]:
            status = member.get("status") or {}
            ready = _condition(status.get("conditions"), "Ready") or {}
            entries.append({"cluster": _cluster(member),
                            "reason": ready.get("reason") or phase,
                            "message": short(ready.get("message")),
                            "since": ready.get("lastTransitionTime")})
    for member in _stack_failed(by_phase):
        if _phase_of(member) in UNWELL_PHASES:
            continue  # listed once, for its cluster
        status = member.get("status") or {}
        stack = _condition(status.get("conditions"), "StackReady") or {}
        entries.append({"cluster": _cluster(member), "reason": STACK_FAILED,
                        "message": stack_failure(status, _phase_of(member)),
                        "since": stack.get("lastTransitionTime")})
    entries.sort(key=lambda e: (e["since"] or "9999", e["cluster"]))
    return [{k: v for k, v in e.items() if v is not None} for e in entries[:UNWELL_CAP]], len(entries)


def aggregate(fleet: dict, members: list[dict], now: str | None = None) -> dict:
    """The Fleet's `status` from its FleetMembers (whose statuses carry phase and conditions)."""
    now = now or now_rfc3339()
    by_phase: dict[str, list[dict]] = {p: [] for p in PHASES}
    for member in members:
        by_phase.setdefault(_phase_of(member), []).append(member)
    for phase in list(by_phase):
        if phase not in PHASES:  # an unknown phase counts as still coming up
            by_phase["Provisioning"] += by_phase.pop(phase)
    counts = _counts(fleet, members, by_phase)
    generation = (fleet.get("metadata") or {}).get("generation")
    previous_status = fleet.get("status") or {}
    previous = previous_status.get("conditions")
    unwell, total = _unwell(by_phase)
    status = {
        "counts": counts,
        "display": f"{counts['ready']}/{counts['desired']} ready",
        "conditions": _fleet_conditions(counts, by_phase, previous, generation, now),
        "unwell": unwell,
        "unwellTotal": total,
        "history": _history(previous_status.get("history"), counts, now),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


# -- events --------------------------------------------------------------------

BAD_WHEN = {"Ready": "False", "Provisioned": "False", "StackReady": "False", "Degraded": "True"}


def transitions(old_status: dict | None, new_status: dict) -> list[tuple[str, str, str]]:
    """(event type, reason, message) for each condition whose status changed, for Kubernetes Events.

    Works for Fleet and FleetMember statuses alike; a Warning when a condition turned bad."""
    old = {c["type"]: c for c in (old_status or {}).get("conditions") or []}
    events = []
    for condition in new_status.get("conditions") or []:
        before = old.get(condition["type"])
        if before and before.get("status") == condition["status"]:
            continue
        if not before and condition["status"] != BAD_WHEN.get(condition["type"]):
            continue  # a first status that is fine is not news
        bad = condition["status"] == BAD_WHEN.get(condition["type"])
        text = f"{condition['type']} is {condition['status']}"
        message = f"{text}: {condition['message']}" if condition.get("message") else text
        events.append(("Warning" if bad else "Normal", condition["reason"], short(message, 1024)))
    return events
