"""Adopting existing Cluster API Clusters (made by `clusterctl generate cluster | kubectl apply`)
that a Fleet's `selector` matches. Adopted clusters become members; their objects are never
rewritten, and leaving the fleet leaves them untouched."""

from __future__ import annotations

from mgmt.api.models import FleetSpec, LabelSelector, MemberSpec
from mgmt.controller import members
from mgmt.kube import Kube
from mgmt.render import CLUSTER_API

_PREFIXES = (("aws", "AWS"), ("gcp", "GCP"), ("azure", "Azure"), ("digitalocean", "DO"), ("packet", "Packet"),
             ("vsphere", "VSphere"))


def selector_string(selector: LabelSelector | None) -> str | None:
    """A label selector in the API's query syntax (None: select nothing)."""
    if selector is None:
        return None
    parts = [f"{k}={v}" for k, v in sorted(selector.match_labels.items())]
    for expr in selector.match_expressions:
        values = ",".join(expr.values)
        parts.append({"In": f"{expr.key} in ({values})", "NotIn": f"{expr.key} notin ({values})",
                      "Exists": expr.key, "DoesNotExist": f"!{expr.key}"}[expr.operator])
    return ",".join(parts) or None


def provider_of(cluster: dict) -> str | None:
    """The provider of a Cluster, from its infrastructureRef."""
    ref = cluster.get("spec", {}).get("infrastructureRef") or {}
    group = ref.get("apiGroup") or ref.get("apiVersion", "").split("/")[0]
    if group == "infrastructure.drover.dev":
        return "local"
    return next((name for name, prefix in _PREFIXES if ref.get("kind", "").startswith(prefix)), None)


async def adopt(kube: Kube, fleet: dict, spec: FleetSpec, declared: set[str]) -> dict[str, str | None]:
    """Make sure every matching, undeclared Cluster has a member; returns cluster -> provider."""
    selector = selector_string(spec.selector)
    if not selector:
        return {}
    meta = fleet["metadata"]
    adopted = {}
    for cluster in await kube.list(CLUSTER_API, "Cluster", meta["namespace"], selector):
        name = cluster["metadata"]["name"]
        if name in declared:
            continue
        adopted[name] = provider_of(cluster)
        await members.ensure(kube, fleet, MemberSpec(fleet=meta["name"], cluster=name, provider=adopted[name],
                                                     adopted=True, deletion_policy="Orphan"))
    return adopted
