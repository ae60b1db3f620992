"""Helm logic without a cluster: capabilities from discovery and when they are read again, the
render cache key, packed-chart checks, and how hooks are sorted into steps."""

import io
import tarfile

import pytest
from pydantic import ValidationError

from mgmt.api.models import HelmSource
from mgmt.kube import Unreachable
from mgmt.stack import hooks
from mgmt.stack.capabilities import Capabilities, CapabilityCache, aggregated_versions
from mgmt.stack.helm import PackedChart, _cache_key, capability_args, check_archive
from mgmt.stack.objects import Ref, SourceError

# The shape kube-apiserver answers /apis with for an aggregated-discovery Accept header (trimmed).
DISCOVERY = {
    "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
    "items": [
        {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
            {"resource": "deployments", "responseKind": {"group": "", "version": "", "kind": "Deployment"},
             "scope": "Namespaced", "subresources": [
                 {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}},
                 {"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Deployment"}}]}]}]},
        {"metadata": {"name": "cert-manager.io"}, "versions": [
            {"version": "v1", "resources": [{"resource": "issuers", "responseKind": {"kind": "Issuer"}}]},
            {"version": "v1beta1", "resources": [], "freshness": "Stale"}]},
    ]}
CORE = {"kind": "APIGroupDiscoveryList", "items": [{"metadata": {}, "versions": [{"version": "v1", "resources": [
    {"resource": "configmaps", "responseKind": {"kind": "ConfigMap"}}]}]}]}


def test_discovery_gives_group_versions_and_kinds_as_helm_lists_them():
    assert aggregated_versions(DISCOVERY) == {
        "apps/v1", "apps/v1/Deployment", "apps/v1/Scale",
        "cert-manager.io/v1", "cert-manager.io/v1/Issuer", "cert-manager.io/v1beta1"}
    assert aggregated_versions(CORE) == {"v1", "v1/ConfigMap"}


def test_members_with_the_same_capabilities_share_one_render():
    source = HelmSource(chart="demo", repository="http://127.0.0.1:1", version="1.0.0")
    a = Capabilities("v1.35.8", ("v1", "apps/v1"))
    same = Capabilities("v1.35.8", ("apps/v1", "v1"))
    other_api = Capabilities("v1.35.8", ("v1", "apps/v1", "cert-manager.io/v1"))
    other_version = Capabilities("v1.34.0", ("v1", "apps/v1"))
    key = _cache_key("web", "web", source, {}, None, a)
    assert key == _cache_key("web", "web", source, {}, None, same)
    assert key != _cache_key("web", "web", source, {}, None, other_api)
    assert key != _cache_key("web", "web", source, {}, None, other_version)
    assert key[1] is True  # pinned: kept for good


def test_capability_flags():
    assert capability_args(Capabilities()) == []
    assert capability_args(Capabilities("v1.35.8", ("apps/v1", "v1/Pod"))) == [
        "--kube-version", "v1.35.8", "--api-versions", "apps/v1,v1/Pod"]


def test_overrides_are_validated():
    HelmSource(chart="x", repository="http://r", kube_version="v1.30.0",
               api_versions=["monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor", "v1"])
    with pytest.raises(ValidationError, match="kube_version|kubeVersion"):
        HelmSource(chart="x", repository="http://r", kube_version="latest")


def _tgz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_packed_chart_must_be_whole():
    import os
    data = _tgz({"demo/Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
                 "demo/templates/big.txt": os.urandom(200_000)})
    check_archive(PackedChart(data, "chartFrom ConfigMap ns/c"))
    half = len(data) // 2
    with pytest.raises(SourceError, match=r"chartFrom ConfigMap ns/c: not a whole packed chart .*part missing"):
        check_archive(PackedChart(data[:half], "chartFrom ConfigMap ns/c"))
    with pytest.raises(SourceError, match="not a whole packed chart"):
        check_archive(PackedChart(data[half:] + data[:half], "chartFrom ConfigMap ns/c"))
    with pytest.raises(SourceError, match="holds no Chart.yaml"):
        check_archive(PackedChart(_tgz({"x.txt": b"x"}), "chartFrom ConfigMap ns/c"))


# -- hooks ---------------------------------------------------------------------------------------

def obj(kind: str, name: str, hook: str | None = None, weight: str | None = None, policy: str | None = None) -> dict:
    annotations = {k: v for k, v in (("helm.sh/hook", hook), ("helm.sh/hook-weight", weight),
                                     ("helm.sh/hook-delete-policy", policy)) if v is not None}
    api = "batch/v1" if kind == "Job" else "apps/v1" if kind == "Deployment" else "v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "n", "annotations": annotations}}


CHART = [
    obj("Deployment", "app"),
    obj("ServiceAccount", "migrate", "pre-install,pre-upgrade", "-5", "hook-succeeded"),
    obj("Job", "migrate", "pre-install,pre-upgrade", "1", "before-hook-creation,hook-succeeded"),
    obj("Job", "seed", "pre-install", "junk"),
    obj("Job", "smoke", "post-install, post-upgrade"),
    obj("Pod", "test", "test"),
    obj("Job", "cleanup", "pre-delete"),
    obj("ConfigMap", "legacy", "crd-install"),
]


def test_hooks_drover_runs_and_what_it_leaves_out():
    main, hooked = hooks.split(CHART)
    assert [o["metadata"]["name"] for o in main] == ["app"]
    assert [(o["kind"], o["metadata"]["name"]) for o in hooked] == [
        ("ServiceAccount", "migrate"), ("Job", "migrate"), ("Job", "seed"), ("Job", "smoke")]
    assert hooks.weight(CHART[3]) == 0 and hooks.weight(CHART[1]) == -5
    assert hooks.delete_policies(CHART[4]) == {"before-hook-creation"}  # helm's default


def test_install_and_upgrade_steps_in_weight_order():
    install = [(s.phase, [o["metadata"]["name"] for o in s.objects]) for s in hooks.steps(CHART, install=True)]
    assert install == [("pre-install", ["migrate"]), ("pre-install", ["seed"]), ("pre-install", ["migrate"]),
                       ("main", ["app"]), ("post-install", ["smoke"])]
    assert [s.objects[0]["kind"] for s in hooks.steps(CHART, True)[:3]] == ["ServiceAccount", "Job", "Job"]
    upgrade = [(s.phase, [o["metadata"]["name"] for o in s.objects]) for s in hooks.steps(CHART, install=False)]
    assert upgrade == [("pre-upgrade", ["migrate"]), ("pre-upgrade", ["migrate"]), ("main", ["app"]),
                       ("post-upgrade", ["smoke"])]


def test_hooks_deleted_on_success_are_not_kept():
    assert hooks.kept(CHART) == sorted([Ref("apps/v1", "Deployment", "n", "app"), Ref("batch/v1", "Job", "n", "seed"),
                                        Ref("batch/v1", "Job", "n", "smoke")])
    plain = [obj("Deployment", "app"), obj("ConfigMap", "c")]
    assert hooks.kept(plain) == sorted(Ref.of(o) for o in plain)


def test_hook_outcomes_read_from_the_cluster():
    def job(*conditions):
        return {"kind": "Job", "status": {"active": 1, "conditions": [
            {"type": t, "status": "True", "message": m} for t, m in conditions]}}
    hook, pod = obj("Job", "j", "post-install"), obj("Pod", "p", "post-install")
    assert hooks.outcome(hook, job(("Complete", "")))[0] == "done"
    assert hooks.outcome(hook, job(("FailureTarget", ""), ("Failed", "BackoffLimitExceeded"))) == (
        "failed", "BackoffLimitExceeded")
    assert hooks.outcome(hook, job(("SuccessCriteriaMet", "")))[0] == "running"
    assert hooks.outcome(pod, {"kind": "Pod", "status": {"phase": "Succeeded"}})[0] == "done"
    assert hooks.outcome(pod, {"kind": "Pod", "status": {"phase": "Failed", "reason": "Evicted"}}) == (
        "failed", "Evicted")
    assert hooks.outcome(pod, {"kind": "Pod", "status": {}}) == ("running", "Pending")
    assert hooks.outcome(obj("ServiceAccount", "s", "pre-install"), {"kind": "ServiceAccount"})[0] == "done"
    assert hooks.outcome(hook, None) == ("failed", "deleted before it finished")
    assert hooks.outcome({**hook, "spec": {"ttlSecondsAfterFinished": 0}}, None)[0] == "done"


# -- when capabilities are read again --------------------------------------------------------------

class Discovery:
    """Answers /version, /api and /apis like a kube-apiserver with aggregated discovery; counts reads."""

    def __init__(self, version: str = "v1.35.8"):
        self.version, self.reads, self.down = version, 0, False

    async def request(self, method: str, path: str, timeout=None, accept=None):
        if self.down:
            raise Unreachable("127.0.0.1:1: connection refused")
        self.reads += path == "/version"
        return {"/version": {"gitVersion": self.version}, "/api": CORE, "/apis": DISCOVERY}[path]


async def test_capabilities_are_kept_until_the_member_changes():
    cache, client = CapabilityCache(ttl=3600), Discovery()
    first = await cache.get(("ns", "a"), client)
    assert first.kube_version == "v1.35.8" and "cert-manager.io/v1/Issuer" in first.api_versions
    assert await cache.get(("ns", "a"), client) is first and client.reads == 1
    cache.changed(("ns", "a"))                       # the stack applied something there
    client.version = "v1.36.0"
    assert (await cache.get(("ns", "a"), client)).kube_version == "v1.36.0" and client.reads == 2
    other = Discovery("v1.34.1")                     # a new kubeconfig: maybe another cluster
    assert (await cache.get(("ns", "a"), other)).kube_version == "v1.34.1"
    cache.changed(("ns", "a"))
    other.down = True                                # unreachable: what was last seen is used
    assert (await cache.get(("ns", "a"), other)).kube_version == "v1.34.1"
    with pytest.raises(Unreachable):                 # nothing known yet: the render says why
        await cache.get(("ns", "c"), other)


async def test_capabilities_expire():
    cache, client = CapabilityCache(ttl=0), Discovery()
    await cache.get(("ns", "a"), client)
    await cache.get(("ns", "a"), client)
    assert client.reads == 2
    assert await cache.get(("ns", "a"), client, reachable=False) and client.reads == 2
