"""Leader election on a coordination.k8s.io Lease, as client-go's `leaderelection` does it.

Replicas of the controller share one Lease. A replica acts only while it holds the Lease: it
takes a free or expired Lease, renews it every `retry` seconds, and gives up (the process
exits, as controller-runtime's managers do) when it could not renew within `renew_deadline`,
so that two replicas never both act. An expired Lease is judged by the local clock since this
replica last saw the record change, never by the holder's timestamps, so clock skew between
machines cannot make two leaders. Every update carries the resourceVersion it read: of two
replicas racing for one Lease, the apiserver lets one win.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mgmt.kube import Kube, KubeError

log = logging.getLogger("drover.leader")

API_VERSION = "coordination.k8s.io/v1"


@dataclass(frozen=True)
class Timing:
    """client-go's defaults: a Lease lasts 15 s, is renewed every 2 s, given up after 10 s."""

    lease: float = 15.0
    renew_deadline: float = 10.0
    retry: float = 2.0

    def __post_init__(self):
        if not self.lease > self.renew_deadline > self.retry > 0:
            raise ValueError("leader election needs lease > renew deadline > retry > 0")


def micro_time(now: datetime | None = None) -> str:
    """A Kubernetes MicroTime."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElection:
    kube: Kube
    namespace: str
    name: str
    identity: str
    timing: Timing = field(default_factory=Timing)
    holder: str | None = None  # as last read
    _seen: tuple[str, float] | None = None  # (the record as last read, when it changed, local clock)

    async def acquire(self) -> None:
        """Wait until this replica holds the Lease."""
        waiting_for = None
        while not await self.try_acquire_or_renew():
            if self.holder != waiting_for:
                log.info("waiting for the leader Lease %s/%s, held by %s", self.namespace, self.name, self.holder)
                waiting_for = self.holder
            await asyncio.sleep(self.timing.retry)
        log.info("became leader: Lease %s/%s held by %s", self.namespace, self.name, self.identity)

    async def hold(self) -> None:
        """Renew the Lease until a renewal fails for longer than the renew deadline; then return."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.timing.retry)
            try:
                if await self.try_acquire_or_renew():
                    renewed = time.monotonic()
                    continue
            except (KubeError, OSError, TimeoutError) as error:
                log.warning("could not renew the leader Lease: %s", error)
            if time.monotonic() - renewed > self.timing.renew_deadline:
                log.error("lost the leader Lease %s/%s (not renewed within %.0f s)",
                          self.namespace, self.name, self.timing.renew_deadline)
                return

    async def release(self) -> None:
        """Give the Lease up on a clean shutdown, so that another replica need not wait it out."""
        lease = await self.kube.get(API_VERSION, "Lease", self.name, self.namespace)
        if lease is None or lease.get("spec", {}).get("holderIdentity") != self.identity:
            return
        spec = {key: value for key, value in lease["spec"].items() if key != "holderIdentity"}
        await self.kube.replace({**lease, "spec": {**spec, "leaseDurationSeconds": 1, "renewTime": micro_time()}})
        log.info("released the leader Lease %s/%s", self.namespace, self.name)

    async def try_acquire_or_renew(self) -> bool:
        lease = await self.kube.get(API_VERSION, "Lease", self.name, self.namespace)
        if lease is None:
            return await self._create()
        spec = lease.get("spec") or {}
        self._observe(lease)
        holder = spec.get("holderIdentity")
        if holder and holder != self.identity and not self._expired(spec):
            return False
        now = micro_time()
        update = {"holderIdentity": self.identity, "leaseDurationSeconds": round(self.timing.lease),
                  "renewTime": now}
        if holder != self.identity:
            update |= {"acquireTime": now, "leaseTransitions": spec.get("leaseTransitions", 0) + (1 if holder else 0)}
        try:
            updated = await self.kube.replace({**lease, "spec": {**spec, **update}})
        except KubeError as error:
            if error.status == 409:  # another replica wrote first
                return False
            raise
        self._observe(updated)
        return True

    async def _create(self) -> bool:
        now = micro_time()
        try:
            created = await self.kube.create({
                "apiVersion": API_VERSION, "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": round(self.timing.lease),
                         "acquireTime": now, "renewTime": now, "leaseTransitions": 0}})
        except KubeError as error:
            if error.status == 409:
                return False
            raise
        self._observe(created)
        return True

    def _observe(self, lease: dict) -> None:
        spec = lease.get("spec") or {}
        self.holder = spec.get("holderIdentity")
        record = repr(sorted(spec.items()))
        if self._seen is None or self._seen[0] != record:
            self._seen = (record, time.monotonic())

    def _expired(self, spec: dict) -> bool:
        duration = spec.get("leaseDurationSeconds") or self.timing.lease
        return self._seen is not None and time.monotonic() - self._seen[1] > duration
