"""`drover status` formats and the `drover describe cluster` tree, from Fleet/CAPI objects as dicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import yaml

from mgmt.health.aggregate import aggregate, member_conditions, member_phase
from mgmt.report import fleet as report
from mgmt.report.tree import ClusterObjects, describe_cluster, human_duration

T0 = "2026-01-01T00:00:00Z"
NOW = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


def member(cluster, reachable=True, nodes=(2, 2), components=None):
    st = {"api": {"reachable": True, "latencyMs": 7} if reachable else
          {"reachable": False, "message": "https://127.0.0.1:9: connection refused"},
          "capi": {"phase": "Provisioned", "controlPlaneReady": True},
          "nodes": {"ready": nodes[0], "total": nodes[1]}, "kubernetesVersion": "v1.35.8",
          "components": components or [{"name": "cert-manager", "applied": True, "ready": True, "readyAt": T0}]}
    st["phase"] = member_phase(st, False)
    st["conditions"] = member_conditions(st, st["phase"], [], now=T0)
    st["stack"] = "1/1"
    return {"metadata": {"name": f"prod-{cluster}", "namespace": "team"},
            "spec": {"fleet": "prod", "cluster": cluster, "provider": "local"}, "status": st}


def fleet_and_members():
    members = [member("a"), member("b"), member("c", reachable=False)]
    fleet = {"metadata": {"name": "prod", "namespace": "team", "generation": 2},
             "spec": {"clusters": [{"name": n} for n in "abc"]}}
    fleet["status"] = aggregate(fleet, members, now=T0)
    return fleet, members


def test_json_report_content():
    fleet, members = fleet_and_members()
    data = json.loads(report.to_json(report.reports([fleet], members), single=True))
    assert data["fleet"] == "prod" and data["namespace"] == "team"
    assert data["display"] == "2/3 ready" and data["status"] == "Unreachable"
    assert data["counts"]["ready"] == 2 and data["counts"]["unreachable"] == 1
    assert [m["cluster"] for m in data["members"]] == ["a", "b", "c"]
    c = data["members"][2]
    assert c["phase"] == "Unreachable" and c["reachable"] is False and "connection refused" in c["message"]
    assert data["members"][0]["latencyMs"] == 7 and data["members"][0]["kubernetesVersion"] == "v1.35.8"
    assert data["unwell"][0]["cluster"] == "c" and data["unwellTotal"] == 1
    many = json.loads(report.to_json(report.reports([fleet], members), single=False))
    assert [i["fleet"] for i in many["items"]] == ["prod"]
    assert yaml.safe_load(report.to_yaml(report.reports([fleet], members), single=True)) == data


def test_markdown_report_content():
    fleet, members = fleet_and_members()
    md = report.to_markdown(report.reports([fleet], members))
    assert md.startswith("# Fleet `prod` (namespace `team`)\n")
    assert "**2/3 ready** · status **Unreachable** · 1 unreachable: c" in md
    assert "| Desired | Provisioning | Ready | Stack ready | Degraded | Unreachable | Deleting |" in md
    assert "| 3 | 0 | 2 | 2 | 0 | 1 | 0 |" in md
    assert "| a | local | Ready | 2/2 | v1.35.8 | 1/1 | 7ms |" in md
    assert "| c | local | Unreachable | - | v1.35.8 | 1/1 | - |" in md
    assert "## Unwell clusters (1 of 1)" in md
    assert f"- **c**: Unreachable since {T0}: https://127.0.0.1:9: connection refused" in md
    assert "| Degraded | True | Unreachable | 1 unreachable: c |" in md


def test_markdown_escapes_table_cells():
    fleet, members = fleet_and_members()
    members[0]["status"]["kubernetesVersion"] = "v1|2"
    assert "| v1\\|2 |" in report.to_markdown(report.reports([fleet], members))


def test_table_report():
    fleet, members = fleet_and_members()
    lines = report.to_table(report.reports([fleet], members)).splitlines()
    assert lines[0].split() == ["FLEET", "CLUSTERS", "READY", "STACK", "STATUS"]
    assert lines[1].split() == ["prod", "3", "2/3", "ready", "2/3", "Unreachable"]
    assert lines[3].split() == ["CLUSTER", "PROVIDER", "PHASE", "NODES", "VERSION", "STACK", "LATENCY", "MESSAGE"]
    assert lines[4].split() == ["a", "local", "Ready", "2/2", "v1.35.8", "1/1", "7ms"]
    assert lines[6].startswith("c ") and "Unreachable" in lines[6] and "connection refused" in lines[6]
    # columns line up: every cell of a column starts at the same offset
    assert lines[3].index("PHASE") == lines[4].index("Ready") == lines[6].index("Unreachable")


def cond(type_, status="True", reason=None, message="", t=T0):
    return {"type": type_, "status": status, "reason": reason or type_, "message": message,
            "lastTransitionTime": t}


def machine(name, labels, ready="True"):
    return {"kind": "Machine", "metadata": {"name": name, "labels": labels},
            "status": {"conditions": [cond("Available", ready), cond("Ready", ready), cond("UpToDate")]}}


def cluster_objects():
    cluster = {"kind": "Cluster", "metadata": {"name": "c1"},
               "status": {"phase": "Provisioned",
                          "controlPlane": {"desiredReplicas": 1, "replicas": 1, "availableReplicas": 1,
                                           "readyReplicas": 1, "upToDateReplicas": 1},
                          "workers": {"desiredReplicas": 3, "replicas": 3, "availableReplicas": 2,
                                      "readyReplicas": 2, "upToDateReplicas": 3},
                          "conditions": [cond("Available", "False", "NotAvailable", "1 worker is not ready"),
                                         cond("InfrastructureReady")]}}
    md = {"kind": "MachineDeployment", "metadata": {"name": "c1-md-0"}, "spec": {"replicas": 3},
          "status": {"replicas": 3, "availableReplicas": 2, "readyReplicas": 2, "upToDateReplicas": 3,
                     "conditions": [cond("Available")]}}
    workers = {"cluster.x-k8s.io/cluster-name": "c1", "cluster.x-k8s.io/deployment-name": "c1-md-0"}
    return ClusterObjects(
        cluster=cluster,
        infrastructure={"kind": "LocalCluster", "metadata": {"name": "c1"},
                        "status": {"conditions": [cond("Ready")]}},
        control_plane={"kind": "LocalControlPlane", "metadata": {"name": "c1-cp"}, "spec": {"replicas": 1},
                       "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                                  "upToDateReplicas": 1, "conditions": [cond("Ready")]}},
        machine_deployments=[md],
        machines=[machine("c1-cp-0", {"cluster.x-k8s.io/control-plane": ""}),
                  machine("c1-md-0-a", workers), machine("c1-md-0-b", workers),
                  machine("c1-md-0-c", workers, ready="False")],
        member={"metadata": {"name": "prod-c1"}, "spec": {"fleet": "prod", "cluster": "c1"},
                "status": {"phase": "Ready", "components": [
                    {"name": "cert-manager", "revision": "abc123", "applied": True, "ready": True, "readyAt": T0},
                    {"name": "prometheus", "applied": True, "ready": False, "message": "Deployment not Available"}]}},
    )


def test_describe_cluster_tree_matches_clusterctl_layout():
    out = describe_cluster(cluster_objects(), now=NOW)
    width = out.splitlines()[0].index("REPLICAS")
    names = [line[:width].rstrip() for line in out.splitlines()]
    assert names[:8] == [
        "NAME",
        "Cluster/c1",
        "├─ClusterInfrastructure - LocalCluster/c1",
        "├─ControlPlane - LocalControlPlane/c1-cp",
        "│ └─Machine/c1-cp-0",
        "└─Workers",
        "  └─MachineDeployment/c1-md-0",
        "    ├─2 Machines...",
    ]
    assert names[8] == "    └─Machine/c1-md-0-c"
    lines = out.splitlines()
    header = lines[0]
    assert header.split("  ")[0] == "NAME" and "REPLICAS  AVAILABLE  READY  UP TO DATE  STATUS" in header
    row = lines[1]
    assert row[header.index("REPLICAS"):].split()[:4] == ["4/4", "3", "3", "4"]
    assert row[header.index("STATUS"):].startswith("Available: False  NotAvailable")
    assert row[header.index("SINCE"):].startswith("5m ")
    assert row.endswith("1 worker is not ready")
    group = lines[7]
    assert group[header.index("AVAILABLE"):].split()[:3] == ["2", "2", "2"]
    assert group.endswith("See c1-md-0-a, c1-md-0-b")
    assert "Stack of prod-c1 (Fleet prod): 1/2 components ready, phase Ready" in out
    assert any(line.split()[:5] == ["cert-manager", "abc123", "True", "True", "False"] for line in out.splitlines())
    assert any(line.startswith("prometheus") and line.endswith("Deployment not Available")
               for line in out.splitlines())


def test_describe_cluster_show_conditions():
    out = describe_cluster(cluster_objects(), show_conditions="Cluster,Machine/c1-md-0-c", now=NOW)
    lines = out.splitlines()
    assert lines[1].rstrip() == "Cluster/c1" + lines[1][len("Cluster/c1"):].rstrip()
    assert "Available: False" not in lines[1]  # the conditions are listed instead
    assert lines[2].startswith("│           ├─Available") and "NotAvailable" in lines[2]
    assert lines[3].startswith("│           └─InfrastructureReady")
    assert any(line.startswith("    └─Machine/c1-md-0-c") for line in lines)
    tail = lines[next(i for i, line in enumerate(lines) if line.startswith("    └─Machine/c1-md-0-c")) + 1:]
    assert tail[0].startswith(" " * 18 + "├─Available")  # under the last machine: no pipe carried


def test_human_duration_like_kubectl():
    assert [human_duration(s) for s in (5, 119, 150, 600, 3 * 3600 + 60, 30 * 3600, 3 * 86400 + 3600)] == \
        ["5s", "119s", "2m30s", "10m", "3h1m", "30h", "3d1h"]
