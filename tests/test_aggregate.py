"""Member phases and conditions, the Fleet's aggregate status, and Events on transitions."""

from __future__ import annotations

import json
import time

import pytest

from mgmt.api.models import FleetStatus, MemberStatus
from mgmt.health.aggregate import (
    aggregate,
    member_conditions,
    member_phase,
    stack_display,
    transitions,
)

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z"


def status(reachable=True, capi="Provisioned", cp=True, nodes=(2, 2), components=(), cloud=None, conditions=()):
    out = {"api": {"reachable": reachable, "latencyMs": 3} if reachable else
           {"reachable": False, "message": "https://127.0.0.1:1: connection refused"},
           "capi": {"phase": capi, "controlPlaneReady": cp},
           "nodes": {"ready": nodes[0], "total": nodes[1]},
           "components": list(components), "conditions": list(conditions)}
    if cloud:
        out["cloud"] = {"state": cloud, "message": "node group unhealthy"}
    return out


def component(name, ready=True, applied=True, ready_at=T0, message=None, phase=None):
    out = {"name": name, "applied": applied, "ready": ready, "readyAt": ready_at, "message": message}
    if phase:
        out["phase"] = phase
    return out


@pytest.mark.parametrize("probe, deleting, phase", [
    (status(), False, "Ready"),
    (status(), True, "Deleting"),
    (status(capi="Deleting"), False, "Deleting"),
    (status(capi="Failed"), False, "Failed"),
    (status(conditions=[{"type": "PreflightPassed", "status": "False", "reason": "QuotaExceeded",
                         "message": "vCPU quota", "lastTransitionTime": T0}]), False, "Failed"),
    (status(reachable=False, capi=None, cp=None), False, "Pending"),
    (status(reachable=False, capi="Pending", cp=False), False, "Pending"),
    (status(reachable=False, capi="Provisioning", cp=False), False, "Provisioning"),
    (status(reachable=False, capi="Provisioned", cp=True), False, "Unreachable"),
    (status(reachable=False, capi="Provisioning", cp=True), False, "Unreachable"),
    (status(nodes=(1, 3)), False, "Degraded"),
    (status(nodes=(0, 0)), False, "Ready"),
    # a broken stack leaves the cluster Ready: the stack has its own conditions and column
    (status(components=[component("a", ready=False, ready_at=T0)]), False, "Ready"),
    (status(components=[component("a", ready=False, applied=False, ready_at=None, message="apply failed",
                                  phase="Failed")]), False, "Ready"),
    (status(components=[component("b", ready=False, applied=False, ready_at=None, phase="Waiting",
                                  message="waiting for a to be ready")]), False, "Ready"),  # not broken
    (status(components=[component("a", ready=False, ready_at=None)]), False, "Ready"),  # still rolling out
    (status(components=[{"name": "a", "applied": True, "ready": False, "phase": "Failed"}]), False, "Ready"),
    (status(cloud="Degraded"), False, "Degraded"),
    (status(cloud="Healthy"), False, "Ready"),
])
def test_member_phase(probe, deleting, phase):
    assert member_phase(probe, deleting) == phase


def by_type(conditions):
    return {c["type"]: c for c in conditions}


def test_member_conditions_and_transition_time():
    healthy = status(components=[component("a"), component("b", ready=False, ready_at=None)])
    first = by_type(member_conditions(healthy, "Ready", [], now=T0))
    assert first["Ready"]["status"] == "True" and first["Provisioned"]["status"] == "True"
    assert first["StackReady"]["status"] == "False" and first["StackReady"]["message"] == "1/2 components ready"
    assert first["Degraded"]["status"] == "False"
    assert stack_display(healthy) == "1/2"

    same = by_type(member_conditions(healthy, "Ready", list(first.values()), now=T1))
    assert same["Ready"]["lastTransitionTime"] == T0  # nothing changed: time kept

    down = status(reachable=False)
    after = by_type(member_conditions(down, member_phase(down, False), list(same.values()), now=T2))
    assert after["Ready"] == {"type": "Ready", "status": "False", "reason": "Unreachable",
                              "message": "https://127.0.0.1:1: connection refused", "lastTransitionTime": T2}
    assert after["Degraded"]["status"] == "True" and after["Degraded"]["lastTransitionTime"] == T2
    assert after["Provisioned"]["lastTransitionTime"] == T0  # still provisioned


def test_member_conditions_keep_foreign_conditions():
    preflight = {"type": "PreflightPassed", "status": "True", "reason": "Passed", "message": "",
                 "lastTransitionTime": T0}
    conditions = member_conditions(status(), "Ready", [preflight], now=T1)
    assert preflight in conditions and len(conditions) == 5
    MemberStatus.model_validate({"phase": "Ready", "conditions": conditions})


def member(name, phase, since=T0, reason=None, message="", deleting=False, components=None):
    meta = {"name": f"f-{name}", "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = T0
    st = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if phase == "Ready" else "False",
                                          "reason": reason or phase, "message": message,
                                          "lastTransitionTime": since}]}
    if components is not None:
        st["components"] = components
    return {"metadata": meta, "spec": {"fleet": "f", "cluster": name}, "status": st}


def fleet(names, status=None, generation=3):
    return {"metadata": {"name": "f", "namespace": "ns", "generation": generation},
            "spec": {"clusters": [{"name": n} for n in names]}, "status": status or {}}


def test_aggregate_counts_display_and_unwell():
    members = [
        member("a", "Ready", components=[component("x")]),
        member("b", "Ready", components=[component("x", ready=False, ready_at=None)]),
        member("c", "Unreachable", since=T1, message="connection refused"),
        member("d", "Degraded", since=T0, reason="NodesNotReady", message="1/3 nodes ready"),
        member("e", "Provisioning"),
        member("old", "Ready", deleting=True),
    ]
    out = aggregate(fleet(["a", "b", "c", "d", "e", "f"]), members, now=T2)
    assert out["counts"] == {"desired": 6, "provisioning": 2, "ready": 2, "stackReady": 1, "degraded": 1,
                             "unreachable": 1, "deleting": 1}
    assert out["display"] == "2/6 ready"
    assert out["observedGeneration"] == 3
    assert out["unwellTotal"] == 2
    assert out["unwell"] == [  # oldest trouble first
        {"cluster": "d", "reason": "NodesNotReady", "message": "1/3 nodes ready", "since": T0},
        {"cluster": "c", "reason": "Unreachable", "message": "connection refused", "since": T1},
    ]
    conditions = by_type(out["conditions"])
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "Degraded"
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Degraded"]["message"] == "1 degraded: d; 1 unreachable: c"
    assert conditions["Provisioned"]["status"] == "False"
    assert "waiting for e" in conditions["Provisioned"]["message"]
    assert all(c["observedGeneration"] == 3 for c in out["conditions"])
    FleetStatus.model_validate(out)


def test_a_failed_stack_leaves_the_cluster_counted_as_up():
    """READY counts clusters that are up; STACK, StackReady, Degraded and `unwell` tell of the stack."""
    failed = component("prom", ready=False, applied=False, ready_at=None, phase="Failed",
                       message="ConfigMap prom key crds.yaml: invalid YAML: document 2, line 7: found a tab")
    probe = status(components=[component("web"), failed])
    phase = member_phase(probe, False)
    assert phase == "Ready"
    conditions = by_type(member_conditions(probe, phase, now=T0))
    assert conditions["Ready"]["status"] == "True"
    assert conditions["StackReady"]["status"] == "False" and conditions["StackReady"]["reason"] == "StackFailed"
    assert conditions["Degraded"]["status"] == "True" and conditions["Degraded"]["reason"] == "StackFailed"
    assert "prom" in conditions["Degraded"]["message"] and "line 7" in conditions["Degraded"]["message"]
    assert stack_display(probe) == "1/2"

    broken = member("b", "Ready", components=[component("web"), failed])
    broken["status"]["conditions"].append({"type": "StackReady", "status": "False", "reason": "StackFailed",
                                           "lastTransitionTime": T1})
    out = aggregate(fleet("ab"), [member("a", "Ready", components=[component("web")]), broken], now=T2)
    assert out["display"] == "2/2 ready"
    assert out["counts"]["ready"] == 2 and out["counts"]["stackReady"] == 1 and out["counts"]["degraded"] == 0
    fleet_conditions = by_type(out["conditions"])
    assert fleet_conditions["Ready"]["status"] == "True"
    assert fleet_conditions["StackReady"]["status"] == "False"
    assert fleet_conditions["Degraded"]["status"] == "True"
    assert fleet_conditions["Degraded"]["reason"] == "StackFailed"
    assert fleet_conditions["Degraded"]["message"] == "1 with a failed stack: b"
    assert out["unwell"] == [{"cluster": "b", "reason": "StackFailed", "since": T1,
                              "message": "components not ready: prom: " + failed["message"]}]
    FleetStatus.model_validate(out)


def test_aggregate_all_ready_and_time_preservation():
    members = [member(n, "Ready") for n in "abc"]
    first = aggregate(fleet("abc"), members, now=T0)
    ready = by_type(first["conditions"])
    assert first["display"] == "3/3 ready"
    assert ready["Ready"]["status"] == "True" and ready["Ready"]["reason"] == "Ready"
    assert ready["Degraded"]["status"] == "False" and ready["StackReady"]["status"] == "True"

    again = aggregate(fleet("abc", first), members, now=T1)
    assert again == first  # nothing changed: nothing to write

    members[2] = member("c", "Unreachable", since=T2)
    degraded = aggregate(fleet("abc", again), members, now=T2)
    c = by_type(degraded["conditions"])
    assert degraded["display"] == "2/3 ready"
    assert c["Ready"]["lastTransitionTime"] == T2 and c["Degraded"]["lastTransitionTime"] == T2
    assert c["Provisioned"]["lastTransitionTime"] == T0
    assert c["Degraded"]["reason"] == "Unreachable"

    events = transitions(again, degraded)
    assert ("Warning", "Unreachable", "Ready is False: 2/3 clusters ready; 1 unreachable: c") in events
    assert any(e[0] == "Warning" and e[1] == "Unreachable" and e[2].startswith("Degraded is True") for e in events)
    back = aggregate(fleet("abc", degraded), [member(n, "Ready") for n in "abc"], now=T2)
    assert {(e[0], e[1]) for e in transitions(degraded, back)} >= {("Normal", "Ready"), ("Normal", "AsExpected")}
    assert transitions(back, back) == []


def test_aggregate_accepts_members_without_metadata():
    members = [{"spec": {"cluster": "a"}, "status": {"phase": "Ready"}},
               {"spec": {"cluster": "b"}, "status": {"phase": "Unreachable"}}]
    out = aggregate(fleet("ab"), members, now=T0)
    assert out["display"] == "1/2 ready" and out["unwell"] == [{"cluster": "b", "reason": "Unreachable",
                                                                 "message": ""}]


def test_empty_fleet_is_ready():
    out = aggregate(fleet([]), [], now=T0)
    assert out["display"] == "0/0 ready"
    assert by_type(out["conditions"])["Ready"]["reason"] == "NoClusters"


def test_ten_thousand_members_stay_small():
    phases = ["Ready"] * 9000 + ["Degraded"] * 400 + ["Unreachable"] * 300 + ["Provisioning"] * 300
    long = "x" * 5000  # messages are capped, whatever a member says
    members = [member(f"cluster-{i:05d}", p, since=f"2026-01-01T{i % 24:02d}:00:00Z", message=long)
               for i, p in enumerate(phases)]
    the_fleet = fleet([f"cluster-{i:05d}" for i in range(len(phases))])
    started = time.perf_counter()
    out = aggregate(the_fleet, members, now=T2)
    took = time.perf_counter() - started
    size = len(json.dumps({"status": out}))
    print(f"\naggregated 10,000 members in {took * 1000:.1f} ms; Fleet status is {size} bytes")
    assert size < 64 * 1024
    assert out["counts"]["ready"] == 9000 and out["unwellTotal"] == 700 and len(out["unwell"]) == 20
    assert all(len(u["message"]) <= 200 for u in out["unwell"])
    assert [u["since"] for u in out["unwell"]] == sorted(u["since"] for u in out["unwell"])
    assert all(len(c["message"]) <= 200 for c in out["conditions"])
    FleetStatus.model_validate(out)


def test_history_records_each_change_of_the_counts_and_nothing_else():
    members = [member(n, "Ready") for n in "ab"]
    first = aggregate(fleet("ab"), members, now=T0)
    assert first["history"] == [{"time": T0, **first["counts"]}]
    assert aggregate(fleet("ab", first), members, now=T1)["history"] == first["history"]  # steady: no write
    members[1] = member("b", "Unreachable", since=T2)
    changed = aggregate(fleet("ab", first), members, now=T2)
    assert [(h["time"], h["ready"], h["unreachable"]) for h in changed["history"]] == [(T0, 2, 0), (T2, 1, 1)]
    FleetStatus.model_validate(changed)

    long = {**first, "history": [{"time": f"2026-01-01T00:{i:02d}:00Z", **first["counts"], "ready": i % 2}
                                 for i in range(48)]}
    capped = aggregate(fleet("ab", long), members, now=T2)["history"]
    assert len(capped) == 48 and capped[-1]["time"] == T2 and capped[0]["time"] == "2026-01-01T00:01:00Z"


def test_a_member_not_yet_listing_a_new_component_is_not_stack_ready():
    """A component just added to the Fleet: a member status written before it (no components, or
    only the old ones) is not counted stack-ready until it lists the new one as ready (at N=1,000
    the Fleet counted 447 members stack-ready 33 s after a stack was added to them)."""
    added = {**fleet("abc"), "spec": {**fleet("abc")["spec"], "stack": {"components": [{"name": "x"}, {"name": "y"}]}}}
    members = [member("a", "Ready", components=[component("x"), component("y")]),
               member("b", "Ready", components=[component("x")]),
               member("c", "Ready")]
    assert aggregate(added, members, now=T2)["counts"]["stackReady"] == 1
    assert aggregate(fleet("abc"), members, now=T2)["counts"]["stackReady"] == 3  # no stack: all whole
