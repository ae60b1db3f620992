"""A cluster is rendered once per (request, credentials version); a hit is a copy the caller owns."""

from __future__ import annotations

from mgmt.controller import clusters
from providers.base import ClusterRequest, WorkerPool


def request(version="v1.30.0"):
    return ClusterRequest(name="one", namespace="team", provider="local", flavor="default",
                          kubernetes_version=version, workers=(WorkerPool("md-0", 1),), fleet="web")


def test_rendered_once_per_request_and_copied_out(monkeypatch):
    renders = []
    real = clusters.render_cluster
    monkeypatch.setattr(clusters, "render_cluster", lambda r, c: renders.append(r.name) or real(r, c))
    cache = clusters.RenderedClusters()
    first = cache.objects(request(), None, None)
    first[0]["metadata"]["name"] = "changed by the caller"
    again = cache.objects(request(), None, None)
    assert renders == ["one"] and again == real(request(), None) != first
    cache.objects(request("v1.31.0"), None, None)
    cache.objects(request(), None, "42")
    assert renders == ["one", "one", "one"]


def test_bounded_by_size():
    cache = clusters.RenderedClusters(max_bytes=1)
    cache.objects(request(), None, None)
    cache.objects(request("v1.31.0"), None, None)
    assert len(cache._texts) == 1
