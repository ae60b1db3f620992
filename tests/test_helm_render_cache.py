"""One helm run per (chart, version, values, capabilities), however many members ask at once, and
a render cache bounded by the size of what it holds."""

from __future__ import annotations

import asyncio

import pytest

from mgmt.api.models import HelmSource
from mgmt.stack.helm import Helm, SourceError

SOURCE = HelmSource(chart="podinfo", repository="https://charts.example.com", version="6.7.0")


class CountedHelm(Helm):
    """Helm with `helm template` replaced by an answer per release (the binary is not the subject)."""

    def __init__(self, output=lambda release: f"kind: ConfigMap # {release}\n", **kwargs):
        super().__init__(**kwargs)
        self.output, self.runs = output, []
        self.release_gate = asyncio.Event()

    async def _run(self, release, namespace, source, values, packed_chart, capabilities):
        self.runs.append(release)
        await self.release_gate.wait()
        return self.output(release)


async def test_members_asking_at_once_share_one_helm_run():
    helm = CountedHelm()
    waiting = [asyncio.ensure_future(helm.template("web", "apps", SOURCE, {"replicas": 2})) for _ in range(50)]
    await asyncio.sleep(0.01)
    helm.release_gate.set()
    assert set(await asyncio.gather(*waiting)) == {"kind: ConfigMap # web\n"}
    assert helm.runs == ["web"]
    assert await helm.template("web", "apps", SOURCE, {"replicas": 2}) == "kind: ConfigMap # web\n"
    await helm.template("web", "apps", SOURCE, {"replicas": 3})
    assert helm.runs == ["web", "web"]


async def test_one_waiter_cancelled_leaves_the_render_to_the_others():
    helm = CountedHelm()
    first = asyncio.ensure_future(helm.template("web", "apps", SOURCE, {}))
    second = asyncio.ensure_future(helm.template("web", "apps", SOURCE, {}))
    await asyncio.sleep(0.01)
    first.cancel()
    helm.release_gate.set()
    assert await second == "kind: ConfigMap # web\n"
    assert helm.runs == ["web"]


async def test_a_failed_render_reaches_every_waiter_and_is_not_kept():
    def fail(release):
        raise SourceError("helm template podinfo: chart not found")

    helm = CountedHelm(output=fail)
    helm.release_gate.set()
    results = await asyncio.gather(*(helm.template("web", "apps", SOURCE, {}) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, SourceError) for r in results)
    with pytest.raises(SourceError):
        await helm.template("web", "apps", SOURCE, {})
    assert len(helm.runs) == 2


async def test_the_cache_is_bounded_by_size_not_count():
    helm = CountedHelm(output=lambda release: release * 1000, cache_bytes=3500)
    helm.release_gate.set()
    for name in ("a", "b", "c", "d"):
        await helm.template(name, "apps", SOURCE, {})
    assert helm._cached_bytes == 3000 and len(helm._cache) == 3
    await helm.template("b", "apps", SOURCE, {})
    assert helm.runs == ["a", "b", "c", "d"]        # b still held
    await helm.template("a", "apps", SOURCE, {})
    assert helm.runs == ["a", "b", "c", "d", "a"]   # a was the oldest: evicted
