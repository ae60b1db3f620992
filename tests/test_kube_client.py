"""The management client's own behaviour: the rate limit, and discovery asked once by concurrent
callers (the e2e tier runs the client against a real apiserver)."""

from __future__ import annotations

import asyncio

import pytest

from mgmt import kube as kube_module
from mgmt.kube import Kube, KubeError, RateLimiter


class FakeClock:
    def __init__(self, monkeypatch):
        self.now = 0.0
        monkeypatch.setattr(kube_module.time, "monotonic", lambda: self.now)

        async def sleep(seconds):
            self.now += seconds
        monkeypatch.setattr(kube_module.asyncio, "sleep", sleep)


def test_a_burst_goes_at_once_then_requests_are_spaced_by_qps(monkeypatch):
    clock = FakeClock(monkeypatch)
    limiter = RateLimiter(qps=10, burst=5)

    async def take(n):
        times = []
        for _ in range(n):
            await limiter.wait()
            times.append(round(clock.now, 6))
        return times
    times = asyncio.run(take(8))
    assert times[:5] == [0.0] * 5
    assert times[5:] == [0.1, 0.2, 0.3]


def test_a_rate_limit_needs_a_rate():
    with pytest.raises(ValueError):
        RateLimiter(qps=0, burst=1)


class Discovery(Kube):
    """A Kube whose requests answer one group version's discovery, counting them."""

    def __init__(self, kinds):
        self.kinds, self.asked = kinds, 0
        self.limiter = None
        self._resources, self._discovered, self._unknown = {}, set(), {}
        self._discovery_lock = asyncio.Lock()

    async def request(self, method, path, **kwargs):
        self.asked += 1
        await asyncio.sleep(0)
        return {"resources": [{"name": f"{k.lower()}s", "kind": k, "namespaced": True} for k in self.kinds]}


def test_concurrent_callers_discover_a_group_version_once():
    kube = Discovery(["Widget"])

    async def many():
        return await asyncio.gather(*(kube.resource("example.com/v1", "Widget") for _ in range(50)))
    found = asyncio.run(many())
    assert {r.plural for r in found} == {"widgets"}
    assert kube.asked == 1


def test_an_unknown_kind_is_asked_about_again_only_after_a_while(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(kube_module.time, "monotonic", lambda: now[0])
    kube = Discovery(["Widget"])

    async def lookup():
        with pytest.raises(KubeError):
            await kube.resource("example.com/v1", "Gadget")
    for _ in range(10):
        asyncio.run(lookup())
    assert kube.asked == 1
    now[0] += kube_module.UNKNOWN_KIND_RECHECK + 1
    kube.kinds.append("Gadget")  # its CRD was installed meanwhile
    assert asyncio.run(kube.resource("example.com/v1", "Gadget")).plural == "gadgets"
    assert kube.asked == 2
