"""Fleets split across controller replicas: Fleet `namespace/name` belongs to shard
sha256("namespace/name") mod count, and a replica acts only on its shard's Fleets (kopf's `when`
filters: no daemon, finalizer or deletion for the others). With leader election, each shard has its
own Lease, so two replicas of one shard never both act and a shard's standby takes over alone.

Each shard has its own finalizer: kopf removes its finalizer from objects its filters exclude, so
with one shared name a shard would unblock the deletion of another shard's Fleet. A Fleet that
changed shards keeps the finalizer of its former owner until its deletion, which drops it.

Changing the count moves Fleets between shards: roll it out by stopping every replica first (a
Deployment's Recreate strategy), or an old and a new replica may briefly act on the same Fleet."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FINALIZER = "fleet.drover.dev/finalizer"


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self):
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard index {self.index} is not in 0..{self.count - 1}")

    def owns(self, namespace: str, name: str) -> bool:
        return self.count == 1 or shard_of(namespace, name, self.count) == self.index

    def lease_name(self, base: str) -> str:
        return base if self.count == 1 else f"{base}-shard-{self.index}"

    @property
    def finalizer(self) -> str:
        return FINALIZER if self.count == 1 else f"{FINALIZER}-shard-{self.index}"

    def without_stale_finalizers(self, finalizers: list[str]) -> list[str]:
        """The finalizers less those of Drover's other shard layouts (this shard owns the Fleet now)."""
        return [f for f in finalizers
                if f == self.finalizer or not (f == FINALIZER or f.startswith(f"{FINALIZER}-shard-"))]

    def __str__(self) -> str:
        return f"shard {self.index} of {self.count}"


def shard_of(namespace: str, name: str, count: int) -> int:
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def index_from_hostname(hostname: str) -> int | None:
    """A StatefulSet Pod's ordinal (`drover-controller-2` -> 2)."""
    found = re.search(r"-(\d+)$", hostname)
    return int(found.group(1)) if found else None
