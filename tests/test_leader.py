"""Leader election logic against an in-memory Lease store that keeps the apiserver's one rule that
matters here: a write carrying a stale resourceVersion is refused with 409 (the e2e failover test
runs the real thing)."""

from __future__ import annotations

import asyncio
import copy

import pytest

from mgmt.controller import leader as leader_module
from mgmt.controller.leader import LeaderElection, Timing
from mgmt.kube import KubeError


class LeaseStore:
    def __init__(self):
        self.lease: dict | None = None
        self.version = 0

    async def get(self, api_version, kind, name, namespace):
        return copy.deepcopy(self.lease)

    async def create(self, obj):
        if self.lease is not None:
            raise KubeError(409, "AlreadyExists", "exists")
        self.version += 1
        self.lease = {**copy.deepcopy(obj), "metadata": {**obj["metadata"], "resourceVersion": str(self.version)}}
        return copy.deepcopy(self.lease)

    async def replace(self, obj):
        if obj["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", "the object has been modified")
        self.version += 1
        self.lease = copy.deepcopy(obj)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(leader_module.time, "monotonic", lambda: now[0])
    return now


def elector(store, identity):
    return LeaderElection(store, "ns", "lease", identity, Timing(lease=6, renew_deadline=4, retry=1))


def test_timing_must_leave_room_to_renew():
    with pytest.raises(ValueError):
        Timing(lease=5, renew_deadline=5, retry=1)


def test_one_replica_leads_and_the_other_waits_out_the_lease_by_its_own_clock(clock):
    store = LeaseStore()
    a, b = elector(store, "a"), elector(store, "b")
    assert asyncio.run(a.try_acquire_or_renew())
    assert not asyncio.run(b.try_acquire_or_renew())
    clock[0] += 5  # a renews in time
    assert asyncio.run(a.try_acquire_or_renew())
    clock[0] += 5
    assert not asyncio.run(b.try_acquire_or_renew()), "b saw the record change 5 s ago: not expired"
    clock[0] += 7  # a stopped renewing
    assert asyncio.run(b.try_acquire_or_renew())
    assert store.lease["spec"]["holderIdentity"] == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1


def test_of_two_replicas_racing_for_an_expired_lease_one_wins(clock):
    store = LeaseStore()
    asyncio.run(elector(store, "gone").try_acquire_or_renew())
    b, c = elector(store, "b"), elector(store, "c")
    stale = asyncio.run(store.get(None, None, None, None))
    asyncio.run(b.try_acquire_or_renew())
    asyncio.run(c.try_acquire_or_renew())
    clock[0] += 7

    async def race():
        real_get = store.get

        async def same_read(*args):  # both read the same version before either writes
            return copy.deepcopy(stale)
        store.get = same_read
        try:
            return await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
        finally:
            store.get = real_get
    assert sorted(asyncio.run(race())) == [False, True]


def test_release_frees_the_lease_at_once(clock):
    store = LeaseStore()
    a, b = elector(store, "a"), elector(store, "b")
    asyncio.run(a.try_acquire_or_renew())
    asyncio.run(b.try_acquire_or_renew())
    asyncio.run(a.release())
    assert asyncio.run(b.try_acquire_or_renew())
