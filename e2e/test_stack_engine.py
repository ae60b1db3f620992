"""The stack engine against real workload API servers (three kube-apiservers on one etcd).

There are no kubelets or controllers behind these API servers, so the tests play the part of
the controllers where health needs one: they set a Deployment's status, or a custom object's
Ready condition, themselves.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
import yaml

from e2e.fixtures.stack import publish_kubeconfigs
from mgmt.api.models import API_VERSION, FLEET_LABEL
from mgmt.kube import Kube
from mgmt.stack import MemberTarget, StackEngine
from mgmt.stack.helm import Helm, HelmPolicy
from mgmt.stack.inventory import NAMESPACE as INVENTORY_NS
from mgmt.stack.inventory import inventory_name
from mgmt.stack.sources import STACK_SOURCE_LABEL
from mgmt.workload import WorkloadClients

GROUP = "stack.drover.dev"
CRD = "apiextensions.k8s.io/v1"
SOURCE = f"{STACK_SOURCE_LABEL}=true"  # what lets a Fleet read a ConfigMap or Secret
LIMIT = 262144  # what client-side apply's last-applied annotation may hold


def crd(plural: str, kind: str, fields: int = 0) -> dict:
    """A CRD; `fields` generated string properties make it as large as a real operator's."""
    props = {f"field{i:04d}": {"type": "string", "description": f"Field {i}. " + "Lorem ipsum dolor sit. " * 18}
             for i in range(fields)}
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    spec = {"type": "object", "properties": {**props, "color": {"type": "string"}}} if fields else loose
    return {
        "apiVersion": CRD, "kind": "CustomResourceDefinition", "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": spec, "status": loose}}}}]},
    }


def put_fleet(kubectl, namespace: str, name: str, components: list[dict], rollout: dict | None = None) -> dict:
    """Create or update a Fleet through the real API (so its CRD validates it); the stored object."""
    fleet = {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": name, "namespace": namespace},
             "spec": {"stack": {"components": components}, "rollout": rollout or {"maxUnavailable": 1}}}
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(fleet))
    return kubectl.get_json("fleet", name, "-n", namespace)


class Harness:
    """A StackEngine driven the way the Fleet controller drives it."""

    def __init__(self, mgmt_kube: Kube, namespace: str, clusters, **engine_args):
        self.clients = WorkloadClients(mgmt_kube, timeout=10)
        self.engine = StackEngine(mgmt_kube, self.clients, **engine_args)
        self.targets = [MemberTarget(c.name, namespace, "local", None, {"tier": f"tier-{c.name}"}) for c in clusters]
        self.recorded: dict[str, list[dict]] = {}

    async def sync(self, fleet: dict) -> dict:
        results = await self.engine.sync(fleet, self.targets, self.recorded)
        for cluster, result in results.items():
            self.recorded[cluster] = result.components
        return results

    async def sync_until(self, fleet: dict, done, attempts: int = 20, between=None) -> dict:
        for _ in range(attempts):
            results = await self.sync(fleet)
            if done(results):
                return results
            if between:
                await between()
            await asyncio.sleep(0.2)
        raise AssertionError(f"not converged: {json.dumps({c: r.components for c, r in results.items()})}")

    async def close(self) -> None:
        await self.clients.close()


def component(results, cluster: str, name: str) -> dict:
    return next(c for c in results[cluster].components if c["name"] == name)


def all_ready(results) -> bool:
    return all(r.reachable and r.components and all(c["ready"] and c["applied"] for c in r.components)
               for r in results.values())


async def kubes(clusters) -> dict[str, Kube]:
    return {c.name: await c.kube() for c in clusters}


async def mark_available(kube: Kube, name: str, namespace: str) -> None:
    """What the deployment controller and kubelet would report for a running Deployment."""
    deployment = await kube.get("apps/v1", "Deployment", name, namespace)
    if deployment is None:
        return
    await kube.patch("apps/v1", "Deployment", name, namespace, {"status": {
        "observedGeneration": deployment["metadata"]["generation"], "replicas": 1, "readyReplicas": 1,
        "availableReplicas": 1, "updatedReplicas": 1,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "message": "set by the test"}]}}, subresource="status")


@pytest.fixture
async def mgmt_kube(mgmt):
    kube = await Kube.from_kubeconfig(str(mgmt.kubeconfig))
    yield kube
    await kube.close()


# ---------------------------------------------------------------------------------------------


async def test_stack_is_installed_kept_and_pruned(mgmt_kube, kubectl, namespace, workload_clusters, helm_repo,
                                                  tmp_path):
    clusters = workload_clusters
    publish_kubeconfigs(kubectl, namespace, clusters)
    big = crd("widgets", "Widget", fields=700)
    assert len(json.dumps(big)) > LIMIT
    bundle = yaml.safe_dump_all([big, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "widget-settings"},
                                       "data": {"cluster": "{{ cluster.name }}", "tier": "{{ cluster.labels.tier }}"}}])
    (tmp_path / "bundle.yaml").write_text(bundle)
    kubectl("create", "configmap", "widget-bundle", "-n", namespace, f"--from-file={tmp_path / 'bundle.yaml'}")
    kubectl("label", "configmap", "widget-bundle", "-n", namespace, SOURCE)
    widgets = yaml.safe_dump({"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                              "metadata": {"name": "w-{{ cluster.name }}"}, "spec": {"color": "blue"}})
    components = [
        {"name": "web", "namespace": "web", "helm": {
            "chart": helm_repo.chart, "repository": helm_repo.url, "version": helm_repo.version,
            "values": {"fullnameOverride": "web", "podAnnotations": {"drover/cluster": "{{ cluster.name }}"}}}},
        {"name": "crds", "namespace": "widgets", "manifestsFrom": [{"kind": "ConfigMap", "name": "widget-bundle"}]},
        {"name": "widgets", "namespace": "widgets", "dependsOn": ["crds"], "manifests": widgets},
    ]
    fleet = put_fleet(kubectl, namespace, "stack", components)
    harness = Harness(mgmt_kube, namespace, clusters)
    live = await kubes(clusters)
    try:
        async def play_controllers():
            for kube in live.values():
                await mark_available(kube, "web", "web")

        results = await harness.sync_until(fleet, all_ready, between=play_controllers)
        for cluster in clusters:
            kube = live[cluster.name]
            deployment = await kube.get("apps/v1", "Deployment", "web", "web")
            assert deployment["spec"]["template"]["metadata"]["annotations"]["drover/cluster"] == cluster.name
            assert deployment["metadata"]["labels"][FLEET_LABEL] == "stack"
            assert await kube.get("v1", "Service", "web", "web") is not None
            stored = await kube.get(CRD, "CustomResourceDefinition", f"widgets.{GROUP}")
            assert len(json.dumps(stored["spec"])) > LIMIT
            settings = await kube.get("v1", "ConfigMap", "widget-settings", "widgets")
            assert settings["data"] == {"cluster": cluster.name, "tier": f"tier-{cluster.name}"}
            assert await kube.get(f"{GROUP}/v1", "Widget", f"w-{cluster.name}", "widgets") is not None
            inventory = await kube.get("v1", "ConfigMap", inventory_name("stack"), INVENTORY_NS)
            assert set(inventory["data"]) == {"web", "crds", "widgets"}
            for name in ("web", "crds", "widgets"):
                status = component(results, cluster.name, name)
                assert status["revision"] == json.loads(inventory["data"][name])["revision"]
                assert status["phase"] == "Ready" and status["appliedAt"] and status["readyAt"]

        # The same CRD through client-side apply does not fit its last-applied annotation.
        other = crd("gadgets", "Gadget", fields=700)
        proc = type(kubectl)(clusters[0].kubeconfig).run(
            "apply", "--dry-run=server", "-f", "-", input=json.dumps(other), check=False)
        assert proc.returncode != 0 and "Too long" in proc.stderr

        # Nothing changed: a sync writes nothing to any workload cluster.
        before = {c.name: len(c.writes_by()) for c in clusters}
        started = time.monotonic()
        results = await harness.sync(fleet)
        quiet_sync = time.monotonic() - started
        assert not any(r.changed for r in results.values())
        assert {c.name: len(c.writes_by()) for c in clusters} == before
        print(f"no-op sync of 3 components x 3 clusters took {quiet_sync:.3f}s")

        # Drift: a Deployment deleted and a ConfigMap edited by hand come back.
        await live["w2"].delete("apps/v1", "Deployment", "web", "web")
        await live["w3"].patch("v1", "ConfigMap", "widget-settings", "widgets", {"data": {"cluster": "edited"}})
        results = await harness.sync(fleet)
        assert component(results, "w2", "web")["drifted"] and not component(results, "w1", "web")["drifted"]
        assert component(results, "w3", "crds")["drifted"] and not component(results, "w3", "web")["drifted"]
        assert await live["w2"].get("apps/v1", "Deployment", "web", "web") is not None
        assert (await live["w3"].get("v1", "ConfigMap", "widget-settings", "widgets"))["data"]["cluster"] == "w3"
        await harness.sync_until(fleet, all_ready, between=play_controllers)

        # Removing a component, and an object from another, prunes them everywhere.
        (tmp_path / "bundle.yaml").write_text(yaml.safe_dump(big))
        kubectl("delete", "configmap", "widget-bundle", "-n", namespace)
        kubectl("create", "configmap", "widget-bundle", "-n", namespace, f"--from-file={tmp_path / 'bundle.yaml'}")
        kubectl("label", "configmap", "widget-bundle", "-n", namespace, SOURCE)
        fleet = put_fleet(kubectl, namespace, "stack", [components[0], components[1]])
        results = await harness.sync(fleet)
        assert all(r.changed for r in results.values())  # the removed component is pruned at once
        # the changed "crds" goes through the rollout (maxUnavailable 1), one cluster after another
        results = await harness.sync_until(fleet, all_ready, between=play_controllers)
        for cluster in clusters:
            kube = live[cluster.name]
            assert [c["name"] for c in results[cluster.name].components] == ["web", "crds"]
            assert await kube.get(f"{GROUP}/v1", "Widget", f"w-{cluster.name}", "widgets") is None
            assert await kube.get("v1", "ConfigMap", "widget-settings", "widgets") is None
            assert await kube.get(CRD, "CustomResourceDefinition", f"widgets.{GROUP}") is not None
            assert await kube.get("v1", "Namespace", "widgets") is not None  # Drover did not declare it
            inventory = await kube.get("v1", "ConfigMap", inventory_name("stack"), INVENTORY_NS)
            assert set(inventory["data"]) == {"web", "crds"}
    finally:
        for kube in live.values():
            await kube.close()
        await harness.close()


async def test_a_broken_component_fails_alone(mgmt_kube, kubectl, namespace, workload_clusters):
    publish_kubeconfigs(kubectl, namespace, workload_clusters)
    kubectl("create", "secret", "generic", "good-manifests", "-n", namespace, "--from-literal",
            "cm.yaml=" + yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"},
                                         "data": {"from": "secret"}}))
    kubectl("label", "secret", "good-manifests", "-n", namespace, SOURCE)
    broken = yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad"},
                             "spec": {"ports": [{"port": 70000}]}})
    fleet = put_fleet(kubectl, namespace, "broken", [
        {"name": "good", "namespace": "good", "manifestsFrom": [{"kind": "Secret", "name": "good-manifests"}]},
        {"name": "bad", "namespace": "good", "manifests": broken},
        {"name": "x", "manifests": "", "dependsOn": ["y"]},
        {"name": "y", "manifests": "", "dependsOn": ["x"]},
    ])
    harness = Harness(mgmt_kube, namespace, workload_clusters)
    live = await kubes(workload_clusters)
    try:
        results = await harness.sync(fleet)
        for cluster in workload_clusters:
            assert results[cluster.name].reachable
            good, bad = component(results, cluster.name, "good"), component(results, cluster.name, "bad")
            assert good["ready"] and good["applied"]
            assert bad["phase"] == "Failed" and not bad["applied"]
            assert "Service/good/bad" in bad["message"] and "must be between 1 and 65535" in bad["message"]
            for name in ("x", "y"):
                assert component(results, cluster.name, name)["message"] == "dependsOn cycle: x -> y -> x"
            assert (await live[cluster.name].get("v1", "ConfigMap", "good", "good"))["data"] == {"from": "secret"}
        # The failure is remembered: the next sync does not hammer the cluster with the same apply.
        before = {c.name: len(c.writes_by()) for c in workload_clusters}
        results = await harness.sync(fleet)
        assert "must be between 1 and 65535" in component(results, "w1", "bad")["message"]
        assert {c.name: len(c.writes_by()) for c in workload_clusters} == before
    finally:
        for kube in live.values():
            await kube.close()
        await harness.close()


async def test_an_unreachable_member_does_not_hold_up_the_fleet(mgmt_kube, kubectl, namespace, workload_clusters):
    publish_kubeconfigs(kubectl, namespace, workload_clusters)
    fleet = put_fleet(kubectl, namespace, "partial", [
        {"name": "settings", "namespace": "partial", "manifests": yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": "1"}})}])
    harness = Harness(mgmt_kube, namespace, workload_clusters)
    down = workload_clusters[2]
    down.server.stop()
    try:
        results = await harness.sync(fleet)
        assert not results["w3"].reachable and results["w3"].message.startswith("unreachable: ")
        assert results["w3"].components == []
        for name in ("w1", "w2"):
            assert results[name].reachable and component(results, name, "settings")["ready"]
    finally:
        down.restart()
    try:
        results = await harness.sync_until(fleet, all_ready)
        assert results["w3"].changed
    finally:
        await harness.close()


async def test_rollout_respects_max_unavailable_and_paused(mgmt_kube, kubectl, namespace, workload_clusters):
    publish_kubeconfigs(kubectl, namespace, workload_clusters)
    live = await kubes(workload_clusters)

    def components(version: str) -> list[dict]:
        gate = {"apiVersion": f"{GROUP}/v1", "kind": "Gate", "metadata": {"name": "g"}, "spec": {"version": version}}
        return [{"name": "gate-crd", "manifests": yaml.safe_dump(crd("gates", "Gate"))},
                {"name": "gated", "namespace": "gates", "dependsOn": ["gate-crd"], "manifests": yaml.safe_dump(gate),
                 "healthChecks": [{"apiVersion": f"{GROUP}/v1", "kind": "Gate", "name": "g", "condition": "Ready"}]}]

    seen: dict[str, int] = {}

    async def gate_controller():
        """Marks a Gate Ready one look after it first sees its new generation (a slow operator)."""
        for name, kube in live.items():
            gate = await kube.get(f"{GROUP}/v1", "Gate", "g", "gates")
            if gate is None:
                continue
            generation = gate["metadata"]["generation"]
            if seen.get(name) != generation:
                seen[name] = generation
                continue
            await kube.patch(f"{GROUP}/v1", "Gate", "g", "gates", {"status": {"conditions": [
                {"type": "Ready", "status": "True", "observedGeneration": generation, "reason": "Test",
                 "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}, subresource="status")

    harness = Harness(mgmt_kube, namespace, workload_clusters)

    async def versions():
        return {n: (await k.get(f"{GROUP}/v1", "Gate", "g", "gates"))["spec"]["version"] for n, k in live.items()}

    try:
        fleet = put_fleet(kubectl, namespace, "roll", components("v1"))
        results = await harness.sync_until(fleet, all_ready, between=gate_controller)
        assert await versions() == {"w1": "v1", "w2": "v1", "w3": "v1"}

        # maxUnavailable 1: one cluster at a time, each waiting for the previous to be ready.
        fleet = put_fleet(kubectl, namespace, "roll", components("v2"))
        history = []
        for _ in range(40):
            results = await harness.sync(fleet)
            updating = [c for c in results if component(results, c, "gated")["applied"]
                        and not component(results, c, "gated")["ready"]]
            history.append(updating)
            assert len(updating) <= 1, history
            if await versions() == {"w1": "v2", "w2": "v2", "w3": "v2"} and all_ready(results):
                break
            await gate_controller()
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"rollout did not finish: {history}")
        intervals = sorted((component(results, c, "gated")["appliedAt"], component(results, c, "gated")["readyAt"])
                           for c in results)
        for (_, ready_before), (applied_next, _) in itertools.pairwise(intervals):
            assert ready_before <= applied_next, intervals

        # paused: a change waits; unpaused, it rolls out.
        fleet = put_fleet(kubectl, namespace, "roll", components("v3"), {"maxUnavailable": 1, "paused": True})
        for _ in range(3):
            results = await harness.sync(fleet)
            await gate_controller()
        assert await versions() == {"w1": "v2", "w2": "v2", "w3": "v2"}
        for cluster in results:
            status = component(results, cluster, "gated")
            assert status["phase"] == "Paused" and not status["applied"] and status["ready"]
            assert "rollout paused" in status["message"]
        fleet = put_fleet(kubectl, namespace, "roll", components("v3"), {"maxUnavailable": "100%"})
        for _ in range(20):
            results = await harness.sync(fleet)
            if await versions() == {"w1": "v3", "w2": "v3", "w3": "v3"} and all_ready(results):
                break
            await gate_controller()
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("rollout did not resume after unpausing")
    finally:
        for kube in live.values():
            await kube.close()
        await harness.close()


async def test_helm_charts_from_a_configmap_a_path_and_a_bad_version(mgmt_kube, kubectl, namespace,
                                                                     workload_clusters, helm_repo, tmp_path):
    clusters = workload_clusters[:1]
    publish_kubeconfigs(kubectl, namespace, clusters)
    kubectl("create", "configmap", "packed-chart", "-n", namespace, f"--from-file=chart.tgz={helm_repo.packed}")
    kubectl("label", "configmap", "packed-chart", "-n", namespace, SOURCE)
    fleet = put_fleet(kubectl, namespace, "charts", [
        {"name": "packed", "namespace": "packed", "helm": {
            "chartFrom": {"kind": "ConfigMap", "name": "packed-chart", "key": "chart.tgz"},
            "values": {"fullnameOverride": "packed-{{ cluster.name }}"}}},
        {"name": "local", "namespace": "local", "helm": {"path": str(helm_repo.packed), "values": {
            "fullnameOverride": "local", "service": {"port": 8080}}}},
        {"name": "missing", "namespace": "missing", "helm": {
            "chart": helm_repo.chart, "repository": helm_repo.url, "version": "9.9.9"}},
    ])
    policy = HelmPolicy(chart_dirs=(str(helm_repo.packed.parent),))  # helm.path needs an allowed directory
    harness = Harness(mgmt_kube, namespace, clusters, helm=Helm(policy=policy))
    kube = await clusters[0].kube()
    try:
        results = await harness.sync(fleet)
        assert await kube.get("apps/v1", "Deployment", "packed-w1", "packed") is not None
        assert (await kube.get("v1", "Service", "local", "local"))["spec"]["ports"][0]["port"] == 8080
        assert component(results, "w1", "packed")["applied"] and component(results, "w1", "local")["applied"]
        missing = component(results, "w1", "missing")
        assert missing["phase"] == "Failed" and "9.9.9" in missing["message"] and "helm template" in missing["message"]
    finally:
        await kube.close()
        await harness.close()
