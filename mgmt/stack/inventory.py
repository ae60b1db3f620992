"""What Drover applied to a workload cluster for one Fleet, kept in that cluster.

A ConfigMap `drover-system/drover-inventory-<fleet>`; one key per component holding JSON
`{"revision", "appliedAt", "objects": [[apiVersion, kind, namespace, name], ...]}`. Whatever is
listed here and no longer rendered is pruned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mgmt.kube import Kube, KubeError

from .objects import Ref, is_crd, is_namespace

NAMESPACE = "drover-system"


def inventory_name(fleet: str) -> str:
    return f"drover-inventory-{fleet}"


@dataclass
class Entry:
    revision: str | None
    applied_at: str | None
    objects: list[Ref] = field(default_factory=list)

    def wire(self) -> str:
        refs = sorted(set(self.objects))
        return json.dumps({"revision": self.revision, "appliedAt": self.applied_at,
                           "objects": [list(r) for r in refs]}, sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> Entry:
        data = json.loads(text)
        return cls(data.get("revision"), data.get("appliedAt"), [Ref(*r) for r in data.get("objects", [])])


Inventory = dict[str, Entry]


def decode(configmap: dict | None) -> Inventory:
    out = {}
    for name, text in ((configmap or {}).get("data") or {}).items():
        try:
            out[name] = Entry.parse(text)
        except (ValueError, TypeError):
            continue  # a hand-mangled entry: treated as never applied
    return out


def encode(inventory: Inventory) -> dict[str, str]:
    return {name: entry.wire() for name, entry in sorted(inventory.items())}


async def read(client: Kube, fleet: str, timeout: float) -> tuple[dict | None, Inventory]:
    """The inventory ConfigMap (None when absent) and its entries. The first request to a
    cluster in a sync, so it carries the short timeout that tells an unreachable cluster."""
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{inventory_name(fleet)}"
    try:
        configmap = await client.request("GET", path, timeout=timeout)
    except KubeError as error:
        if error.not_found:
            return None, {}
        raise
    return configmap, decode(configmap)


async def write(client: Kube, fleet: str, inventory: Inventory) -> None:
    if await client.get("v1", "Namespace", NAMESPACE) is None:
        await _create_namespace(client, NAMESPACE)
    await client.apply({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": inventory_name(fleet), "namespace": NAMESPACE,
                     "labels": {"app.kubernetes.io/managed-by": "drover"}},
        "data": encode(inventory),
    })


async def _create_namespace(client: Kube, name: str) -> None:
    try:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except KubeError as error:
        if error.status != 409:
            raise


def stale(inventory: Inventory, keep: set[Ref]) -> list[Ref]:
    """Objects listed in the inventory that nothing keeps, in deletion order: ordinary objects,
    then namespaces, then CRDs (whose removal takes their custom objects along)."""
    listed = {ref for entry in inventory.values() for ref in entry.objects}
    gone = listed - keep
    return sorted(gone, key=lambda r: (is_crd(r), is_namespace(r), r))
