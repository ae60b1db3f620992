"""A cluster is rendered once per (request, credentials version); a hit is a copy the caller owns."""

from __future__ import annotations

from mgmt.controller import clusters
from providers.base import ClusterRequest, Credentials, WorkerPool


def request(version="v1.30.0"):
    return ClusterRequest(name="one", namespace="team", provider="local", flavor="default",
                          kubernetes_version=version, workers=(WorkerPool("md-0", 1),), fleet="web")


def test_rendered_once_per_request_and_copied_out(monkeypatch):
    renders = []
    real = clusters.render_cluster
    monkeypatch.setattr(clusters, "render_cluster", lambda r, c: renders.append(r.name) or real(r, c))
    cache = clusters.RenderedClusters()
    first = cache.objects(request(), None)
    first[0]["metadata"]["name"] = "changed by the caller"
    again = cache.objects(request(), None)
    assert renders == ["one"] and again == real(request(), None) != first
    cache.objects(request("v1.31.0"), None)
    assert renders == ["one", "one"]


def test_a_render_with_credentials_is_never_kept(monkeypatch):
    renders = []
    monkeypatch.setattr(clusters, "render_cluster", lambda r, c: renders.append(r.name) or [{"kind": "Secret"}])
    cache = clusters.RenderedClusters()
    for _ in range(2):
        cache.objects(request(), Credentials("aws", {"key": "value"}))
    assert renders == ["one", "one"] and not cache._texts


def test_bounded_by_size():
    sizes = []
    for version in ("v1.30.0", "v1.31.0", "v1.32.0"):
        probe = clusters.RenderedClusters()
        probe.objects(request(version), None)
        sizes.append(probe._bytes)
    cache = clusters.RenderedClusters(max_bytes=sizes[0] + sizes[1])
    for version in ("v1.30.0", "v1.31.0", "v1.32.0"):
        cache.objects(request(version), None)
    assert len(cache._texts) == 2 and cache._bytes == sizes[1] + sizes[2] <= cache.max_bytes
