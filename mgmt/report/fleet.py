"""`drover status`: Fleets and their members as a table, JSON, YAML or Markdown.

Every format is drawn from one plain summary (`fleet_report`), so they always agree.
"""

from __future__ import annotations

import json

import yaml

COUNT_KEYS = ("desired", "provisioning", "ready", "stackReady", "degraded", "unreachable", "deleting")
COUNT_TITLES = ("Desired", "Provisioning", "Ready", "Stack ready", "Degraded", "Unreachable", "Deleting")


def _ready_condition(obj_status: dict) -> dict:
    return _condition(obj_status, "Ready")


def _condition(obj_status: dict, type_: str) -> dict:
    return next((c for c in obj_status.get("conditions") or [] if c.get("type") == type_), {})


def _member_problem(status: dict) -> dict:
    """The Ready condition, or for a cluster that is up, the Degraded one (a failed stack)."""
    ready, degraded = _ready_condition(status), _condition(status, "Degraded")
    return degraded if ready.get("status") == "True" and degraded.get("status") == "True" else ready


def member_row(member: dict) -> dict:
    spec, status = member.get("spec") or {}, member.get("status") or {}
    ready = _member_problem(status)
    nodes, api = status.get("nodes") or {}, status.get("api") or {}
    row = {
        "cluster": spec.get("cluster") or member["metadata"]["name"],
        "member": member["metadata"]["name"],
        "provider": spec.get("provider"),
        "region": spec.get("region"),
        "phase": "Deleting" if member["metadata"].get("deletionTimestamp") else status.get("phase") or "Pending",
        "nodes": {"ready": nodes.get("ready", 0), "total": nodes.get("total", 0)},
        "kubernetesVersion": status.get("kubernetesVersion"),
        "stack": status.get("stack"),
        "reachable": bool(api.get("reachable")),
        "latencyMs": api.get("latencyMs"),
        "capiPhase": (status.get("capi") or {}).get("phase"),
        "cloud": (status.get("cloud") or {}).get("state"),
        "reason": ready.get("reason"),
        "message": ready.get("message") or None,
        "since": ready.get("lastTransitionTime"),
        "lastProbeTime": status.get("lastProbeTime"),
    }
    return {k: v for k, v in row.items() if v is not None}


def fleet_report(fleet: dict, members: list[dict]) -> dict:
    """One Fleet with its members, as plain data (the JSON/YAML output)."""
    meta, status = fleet["metadata"], fleet.get("status") or {}
    ready = _ready_condition(status)
    counts = {k: (status.get("counts") or {}).get(k, 0) for k in COUNT_KEYS}
    return {
        "fleet": meta["name"],
        "namespace": meta.get("namespace"),
        "generation": meta.get("generation"),
        "observedGeneration": status.get("observedGeneration"),
        "display": status.get("display") or f"{counts['ready']}/{counts['desired']} ready",
        "status": ready.get("reason") or "Unknown",
        "counts": counts,
        "conditions": status.get("conditions") or [],
        "unwell": status.get("unwell") or [],
        "unwellTotal": status.get("unwellTotal", 0),
        "members": sorted((member_row(m) for m in members), key=lambda r: r["cluster"]),
    }


def members_of(fleet: dict, members: list[dict]) -> list[dict]:
    """The FleetMembers that belong to a Fleet (same namespace, spec.fleet naming it)."""
    meta = fleet["metadata"]
    return [m for m in members if m["metadata"].get("namespace") == meta.get("namespace")
            and (m.get("spec") or {}).get("fleet") == meta["name"]]


def reports(fleets: list[dict], members: list[dict]) -> list[dict]:
    return [fleet_report(f, members_of(f, members)) for f in sorted(
        fleets, key=lambda f: (f["metadata"].get("namespace") or "", f["metadata"]["name"]))]


# -- formats ---------------------------------------------------------------------

def to_json(items: list[dict], single: bool) -> str:
    data = items[0] if single else {"items": items}
    return json.dumps(data, indent=2) + "\n"


def to_yaml(items: list[dict], single: bool) -> str:
    return yaml.safe_dump(items[0] if single else {"items": items}, sort_keys=False)


def _grid(rows: list[list[str]]) -> str:
    """Columns padded like kubectl's tabwriter (three spaces between columns)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows) + "\n"


def _latency(row: dict) -> str:
    return f"{row['latencyMs']}ms" if row.get("latencyMs") is not None and row.get("reachable") else "-"


def _nodes(row: dict) -> str:
    nodes = row["nodes"]
    return f"{nodes['ready']}/{nodes['total']}" if row.get("reachable") else "-"


def to_table(items: list[dict], all_namespaces: bool = False) -> str:
    lead = ["NAMESPACE"] if all_namespaces else []
    fleets = [lead + ["FLEET", "CLUSTERS", "READY", "STACK", "STATUS"]]
    for item in items:
        c = item["counts"]
        fleets.append(([item["namespace"]] if all_namespaces else [])
                      + [item["fleet"], str(c["desired"]), item["display"], f"{c['stackReady']}/{c['desired']}",
                         item["status"]])
    many = len(items) > 1
    members = [lead + (["FLEET"] if many else []) + ["CLUSTER", "PROVIDER", "PHASE", "NODES", "VERSION",
                                                       "STACK", "LATENCY", "MESSAGE"]]
    for item in items:
        for row in item["members"]:
            message = row.get("message") or ("" if row["phase"] == "Ready" else row.get("reason") or "")
            members.append(([item["namespace"]] if all_namespaces else []) + ([item["fleet"]] if many else [])
                           + [row["cluster"], row.get("provider") or "-", row["phase"], _nodes(row),
                              row.get("kubernetesVersion") or "-", row.get("stack") or "-", _latency(row),
                              message[:80]])
    out = _grid(fleets)
    return out + ("\n" + _grid(members) if len(members) > 1 else "")


def _cell(text) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _md_fleet(item: dict) -> list[str]:
    c = item["counts"]
    degraded = next((x for x in item["conditions"] if x.get("type") == "Degraded"), {})
    headline = f"**{item['display']}** · status **{item['status']}**"
    if degraded.get("status") == "True":
        headline += f" · {_cell(degraded.get('message'))}"
    lines = [f"# Fleet `{item['fleet']}` (namespace `{item['namespace']}`)", "", headline, "",
             "| " + " | ".join(COUNT_TITLES) + " |", "|" + "---:|" * len(COUNT_KEYS),
             "| " + " | ".join(str(c[k]) for k in COUNT_KEYS) + " |", ""]
    if item["conditions"]:
        lines += ["## Conditions", "", "| Type | Status | Reason | Message | Since |", "|---|---|---|---|---|"]
        lines += [f"| {x['type']} | {x['status']} | {_cell(x.get('reason'))} | {_cell(x.get('message'))} "
                  f"| {_cell(x.get('lastTransitionTime'))} |" for x in item["conditions"]]
        lines.append("")
    lines += ["## Clusters", "", "| Cluster | Provider | Phase | Nodes | Version | Stack | Latency |",
              "|---|---|---|---:|---|---:|---:|"]
    lines += [f"| {_cell(r['cluster'])} | {_cell(r.get('provider'))} | {r['phase']} | {_nodes(r)} "
              f"| {_cell(r.get('kubernetesVersion') or '-')} | {_cell(r.get('stack') or '-')} | {_latency(r)} |"
              for r in item["members"]]
    lines.append("")
    if item["unwellTotal"]:
        lines += [f"## Unwell clusters ({len(item['unwell'])} of {item['unwellTotal']})", ""]
        lines += [f"- **{_cell(u['cluster'])}**: {_cell(u.get('reason'))} since {_cell(u.get('since') or '?')}"
                  + (f": {_cell(u.get('message'))}" if u.get("message") else "") for u in item["unwell"]]
        lines.append("")
    return lines


def to_markdown(items: list[dict]) -> str:
    lines: list[str] = []
    for item in items:
        lines += _md_fleet(item)
    return "\n".join(lines)
