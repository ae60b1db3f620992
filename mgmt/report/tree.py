"""`drover describe cluster`: the CAPI objects of one cluster as a tree, the way
`clusterctl describe cluster` (v1beta2 conditions) draws it, plus the cluster's stack.

    NAME                                 REPLICAS  AVAILABLE  READY  UP TO DATE  STATUS           REASON  SINCE  MESSAGE
    Cluster/c1                           2/2       2          2      2           Available: True  ...
    ├─ClusterInfrastructure - LocalCluster/c1                                    Ready: True
    ├─ControlPlane - LocalControlPlane/c1
    │ └─Machine/c1-cp-0                   1         1          1      1           Ready: True
    └─Workers
      └─MachineDeployment/c1-md-0         1/1       1          1      1           Available: True
        └─Machine/c1-md-0-x               1         1          1      1           Ready: True
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mgmt.api.models import API_VERSION
from mgmt.kube import Kube

CAPI = "cluster.x-k8s.io/v1beta2"
FIRST, LAST, PIPE, INDENT = "├─", "└─", "│ ", "  "
HEADER = ["NAME", "REPLICAS", "AVAILABLE", "READY", "UP TO DATE", "STATUS", "REASON", "SINCE", "MESSAGE"]
CONTROL_PLANE_LABEL = "cluster.x-k8s.io/control-plane"
DEPLOYMENT_LABEL = "cluster.x-k8s.io/deployment-name"
POOL_LABEL = "cluster.x-k8s.io/pool-name"


@dataclass
class ClusterObjects:
    cluster: dict
    infrastructure: dict | None = None
    control_plane: dict | None = None
    machine_deployments: list[dict] = field(default_factory=list)
    machine_pools: list[dict] = field(default_factory=list)
    machines: list[dict] = field(default_factory=list)
    member: dict | None = None


@dataclass
class Node:
    name: str
    obj: dict | None = None
    columns: list[str] = field(default_factory=lambda: [""] * 8)
    children: list[Node] = field(default_factory=list)
    conditions: list[dict] | None = None  # set when all conditions are to be shown


# -- reading ---------------------------------------------------------------------

async def _by_ref(kube: Kube, ref: dict | None, namespace: str) -> dict | None:
    """Follow a v1beta2 reference ({apiGroup, kind, name}) to the object, at the group's preferred version."""
    if not ref or not ref.get("name"):
        return None
    group = await kube.request("GET", f"/apis/{ref['apiGroup']}")
    version = group["preferredVersion"]["groupVersion"]
    obj = await kube.get(version, ref["kind"], ref["name"], namespace)
    if obj:
        obj.setdefault("kind", ref["kind"])
    return obj


async def fetch_cluster(kube: Kube, namespace: str, name: str) -> ClusterObjects | None:
    """The CAPI objects of one cluster (and its FleetMember, if a Fleet manages it); None if no such Cluster."""
    cluster = await kube.get(CAPI, "Cluster", name, namespace)
    if cluster is None:
        return None
    selector = {"cluster.x-k8s.io/cluster-name": name}
    spec = cluster.get("spec") or {}
    objects = ClusterObjects(
        cluster={**cluster, "kind": "Cluster"},
        infrastructure=await _by_ref(kube, spec.get("infrastructureRef"), namespace),
        control_plane=await _by_ref(kube, spec.get("controlPlaneRef"), namespace),
        machine_deployments=await kube.list(CAPI, "MachineDeployment", namespace, selector),
        machines=await kube.list(CAPI, "Machine", namespace, selector),
    )
    try:
        objects.machine_pools = await kube.list(CAPI, "MachinePool", namespace, selector)
    except Exception:  # noqa: BLE001 - MachinePools are an optional feature of the management cluster
        objects.machine_pools = []
    members = await kube.list(API_VERSION, "FleetMember", namespace)
    objects.member = next((m for m in members if (m.get("spec") or {}).get("cluster") == name), None)
    return objects


# -- rows ------------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery's duration.HumanDuration, as kubectl and clusterctl print ages."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def _since(timestamp: str | None, now: datetime) -> str:
    if not timestamp:
        return ""
    then = datetime.fromisoformat(timestamp)
    return human_duration((now - then).total_seconds())


def _conditions(obj: dict | None) -> list[dict]:
    return list(((obj or {}).get("status") or {}).get("conditions") or [])


def _condition(obj: dict | None, type_: str) -> dict | None:
    return next((c for c in _conditions(obj) if c.get("type") == type_), None)


def _status_cells(obj: dict | None, type_: str, now: datetime) -> list[str]:
    """STATUS, REASON, SINCE, MESSAGE from one condition."""
    c = _condition(obj, type_)
    if not c:
        return ["", "", "", ""]
    return [f"{type_}: {c.get('status')}", c.get("reason", ""), _since(c.get("lastTransitionTime"), now),
            c.get("message", "")]


def _num(value) -> str:
    return "" if value is None else str(value)


def _true(obj: dict, type_: str) -> bool:
    return (_condition(obj, type_) or {}).get("status") == "True"


def _cluster_columns(cluster: dict, now: datetime) -> list[str]:
    status = cluster.get("status") or {}
    cp, workers = status.get("controlPlane") or {}, status.get("workers") or {}

    def total(key: str) -> str:
        if cp.get(key) is None and workers.get(key) is None:
            return ""
        return str((cp.get(key) or 0) + (workers.get(key) or 0))

    replicas = f"{total('replicas') or 0}/{total('desiredReplicas') or 0}" \
        if total("replicas") or total("desiredReplicas") else ""
    return [replicas, total("availableReplicas"), total("readyReplicas"), total("upToDateReplicas"),
            *_status_cells(cluster, "Available", now)]


def _deployment_columns(md: dict, now: datetime) -> list[str]:
    spec, status = md.get("spec") or {}, md.get("status") or {}
    replicas = f"{spec['replicas']}/{status.get('replicas') or 0}" if spec.get("replicas") is not None else ""
    return [replicas, _num(status.get("availableReplicas")), _num(status.get("readyReplicas")),
            _num(status.get("upToDateReplicas")), *_status_cells(md, "Available", now)]


def _machine_columns(machine: dict, now: datetime) -> list[str]:
    return ["1", str(int(_true(machine, "Available"))), str(int(_true(machine, "Ready"))),
            str(int(_true(machine, "UpToDate"))), *_status_cells(machine, "Ready", now)]


def _control_plane_columns(cp: dict, now: datetime) -> list[str]:
    spec, status = cp.get("spec") or {}, cp.get("status") or {}
    replicas = f"{status['replicas']}/{spec['replicas']}" \
        if status.get("replicas") is not None and spec.get("replicas") is not None else ""
    return [replicas, _num(status.get("availableReplicas")), _num(status.get("readyReplicas")),
            _num(status.get("upToDateReplicas")), *_status_cells(cp, "Ready", now)]


def _plain_columns(obj: dict, now: datetime) -> list[str]:
    return ["", "", "", "", *_status_cells(obj, "Ready", now)]


# -- the tree --------------------------------------------------------------------

def _shows_conditions(obj: dict, show: set[str]) -> bool:
    kind, name = obj.get("kind", ""), obj["metadata"]["name"]
    return "all" in show or kind in show or f"{kind}/{name}" in show


def _node(name: str, obj: dict, columns: list[str], show: set[str]) -> Node:
    node = Node(name, obj, columns)
    if _shows_conditions(obj, show):
        node.columns = columns[:4] + ["", "", "", ""]
        node.conditions = _conditions(obj)
    return node


def _row_name(obj: dict, meta_name: str | None = None) -> str:
    name = f"{obj.get('kind')}/{obj['metadata']['name']}"
    if meta_name:
        name = f"{meta_name} - {name}"
    if obj["metadata"].get("deletionTimestamp"):
        name = f"!! DELETED !! {name}"
    return name


def _machine_nodes(machines: list[dict], show: set[str], now: datetime) -> list[Node]:
    """One row per machine, or `N Machines...` for machines whose state is the same (as clusterctl groups)."""
    buckets: dict[tuple, list[dict]] = {}
    for m in sorted(machines, key=lambda m: m["metadata"]["name"]):
        ready = _condition(m, "Ready") or {}
        key = (ready.get("status"), ready.get("reason"), _true(m, "Available"), _true(m, "UpToDate"))
        grouped = not _shows_conditions({**m, "kind": "Machine"}, show)
        buckets.setdefault(key if grouped else ("single", m["metadata"]["name"]), []).append(m)
    nodes = []
    for group in buckets.values():
        if len(group) == 1:
            m = {**group[0], "kind": "Machine"}
            nodes.append(_node(_row_name(m), m, _machine_columns(m, now), show))
            continue
        names = [m["metadata"]["name"] for m in group]
        first = _machine_columns(group[0], now)
        counts = [str(sum(_true(m, t) for m in group)) for t in ("Available", "Ready", "UpToDate")]
        see = ", ".join(names[:2]) + (", ..." if len(names) > 2 else "")
        nodes.append(Node(f"{len(group)} Machines...", None, ["", *counts, *first[4:7], f"See {see}"]))
    return sorted(nodes, key=lambda n: n.name)


def cluster_tree(objects: ClusterObjects, show_conditions: str | None = None,
                 now: datetime | None = None) -> Node:
    now = now or datetime.now(UTC)
    show = {s.strip() for s in (show_conditions or "").split(",") if s.strip()}
    cluster = objects.cluster
    root = _node(_row_name(cluster), cluster, _cluster_columns(cluster, now), show)
    placed: set[str] = set()

    def machines_where(test) -> list[Node]:
        chosen = [m for m in objects.machines if m["metadata"]["name"] not in placed and test(_labels(m))]
        placed.update(m["metadata"]["name"] for m in chosen)
        return _machine_nodes(chosen, show, now)

    if objects.infrastructure:
        infra = objects.infrastructure
        root.children.append(_node(_row_name(infra, "ClusterInfrastructure"), infra,
                                   _plain_columns(infra, now), show))
    if objects.control_plane:
        cp = objects.control_plane
        node = _node(_row_name(cp, "ControlPlane"), cp, _control_plane_columns(cp, now), show)
        node.children = machines_where(lambda labels: CONTROL_PLANE_LABEL in labels)
        root.children.append(node)
    workers = Node("Workers")
    for kind, label, objs in (("MachineDeployment", DEPLOYMENT_LABEL, objects.machine_deployments),
                              ("MachinePool", POOL_LABEL, objects.machine_pools)):
        for obj in sorted(objs, key=lambda o: o["metadata"]["name"]):
            obj, name = {**obj, "kind": kind}, obj["metadata"]["name"]
            node = _node(_row_name(obj), obj, _deployment_columns(obj, now), show)
            node.children = machines_where(lambda labels, label=label, name=name: labels.get(label) == name)
            workers.children.append(node)
    workers.children += machines_where(lambda labels: True)  # machines of no known owner
    if workers.children:
        root.children.append(workers)
    return root


def _labels(obj: dict) -> dict:
    return obj["metadata"].get("labels") or {}


# -- printing --------------------------------------------------------------------

def _child_prefix(prefix: str, index: int, count: int) -> str:
    carried = prefix.replace(FIRST, PIPE).replace(LAST, INDENT)
    return carried + (FIRST if index < count - 1 else LAST)


def _carry(prefix: str) -> str:
    return prefix.replace(FIRST, PIPE).replace(LAST, INDENT)


def _paragraph(message: str, width: int = 100) -> list[str]:
    lines = []
    for line in (message or "").split("\n"):
        lines += textwrap.wrap(re.sub(r"\s+", " ", line), width) or [""]
    return lines or [""]


def _rows(node: Node, prefix: str, rows: list[list[str]], now: datetime) -> None:
    message = _paragraph(node.columns[7])
    rows.append([prefix + node.name, *node.columns[:7], message[0]])
    more = PIPE if node.children else ""
    rows += [[_carry(prefix) + more, *[""] * 7, line] for line in message[1:]]
    if node.conditions is not None:
        pipe = PIPE if node.children else INDENT
        for i, c in enumerate(node.conditions):
            lead = _child_prefix(prefix + pipe + " " * 10, i, len(node.conditions))
            lines = _paragraph(c.get("message", ""))
            rows.append([lead + c.get("type", ""), "", "", "", "", c.get("status", ""), c.get("reason", ""),
                         _since(c.get("lastTransitionTime"), now), lines[0]])
            rows += [[_carry(lead), *[""] * 7, line] for line in lines[1:]]
    for i, child in enumerate(node.children):
        _rows(child, _child_prefix(prefix, i, len(node.children)), rows, now)


def render_table(rows: list[list[str]]) -> str:
    """Left-aligned columns two spaces apart, no borders (clusterctl's tablewriter settings)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def _stack(member: dict, now: datetime) -> str:
    status = member.get("status") or {}
    components = status.get("components") or []
    ready = sum(1 for c in components if c.get("ready"))
    title = (f"Stack of {member['metadata']['name']} (Fleet {member['spec'].get('fleet')}): "
             f"{ready}/{len(components)} components ready, phase {status.get('phase') or 'Pending'}")
    if not components:
        return f"{title}\n"
    rows = [["COMPONENT", "REVISION", "APPLIED", "READY", "DRIFTED", "SINCE", "MESSAGE"]]
    for c in components:
        rows.append([c["name"], c.get("revision") or "", str(bool(c.get("applied"))), str(bool(c.get("ready"))),
                     str(bool(c.get("drifted"))), _since(c.get("readyAt") or c.get("appliedAt"), now),
                     _paragraph(c.get("message") or "")[0]])
    return f"{title}\n{render_table(rows)}"


def describe_cluster(objects: ClusterObjects, show_conditions: str | None = None,
                     now: datetime | None = None) -> str:
    """The tree of the cluster's CAPI objects, then its stack (when a Fleet manages it)."""
    now = now or datetime.now(UTC)
    rows = [HEADER]
    _rows(cluster_tree(objects, show_conditions, now), "", rows, now)
    out = render_table(rows)
    if objects.member:
        out += "\n" + _stack(objects.member, now)
    return out
