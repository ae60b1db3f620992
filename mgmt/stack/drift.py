"""Has a workload cluster's copy of an object moved away from what Drover applied?

The cheap test first: one labelled LIST per kind (not a request per object) and a subset
comparison — every field Drover sets must be there with the same value. A mismatch can be the
server's own normalisation (a Secret's stringData, a quantity written as 0.5) rather than a
hand edit, so it is confirmed with a dry-run apply before anything is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from mgmt.api.models import FLEET_LABEL
from mgmt.kube import Kube, KubeError

from .apply import apply_one
from .objects import Ref


def is_subset(desired: Any, live: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(
            is_subset(d, v) for d, v in zip(desired, live))
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)):
        return desired == live
    return desired == live


async def live_objects(client: Kube, fleet: str, kinds: Iterable[tuple[str, str]]) -> dict[Ref, dict]:
    """This fleet's objects of the given kinds in the cluster, by ref."""
    out = {}
    for api_version, kind in sorted(set(kinds)):
        try:
            items = await client.list(api_version, kind, labels={FLEET_LABEL: fleet})
        except KubeError as error:
            if error.not_found:  # the kind itself is gone (its CRD was removed)
                continue
            raise
        for item in items:
            out[Ref.of(item)] = item
    return out


async def differs(client: Kube, desired: dict, live: dict | None, confirmed: dict[Ref, tuple[str, str]]) -> bool:
    """True when applying `desired` would change (or create) the live object. `confirmed`
    remembers objects a dry run found unchanged (by resourceVersion and desired content), so a
    field the server normalises costs one dry run, not one per sync."""
    if live is None:
        return True
    if is_subset(desired, live):
        return False
    ref, seen = Ref.of(desired), (live["metadata"].get("resourceVersion", ""), _digest(desired))
    if confirmed.get(ref) == seen:
        return False
    would_be = await apply_one(client, desired, dry_run=True)
    if _comparable(would_be) != _comparable(live):
        return True
    confirmed[ref] = seen
    return False


def _comparable(obj: dict) -> dict:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("managedFields", "resourceVersion")}
    return {**obj, "metadata": meta}


def _digest(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
