"""A Fleet of three local clusters through the real controller and the real local provider,
applied with the real kubectl: provisioning, the stack (helm, a CRD over 256 KiB, dependsOn),
quiet steady state, drift, rollout, pause, prune, a broken component, an unreachable member,
scaling, removal, a killed provider and deletion of the Fleet.

The steps share one Fleet and run in file order (each needs the state the one before left).
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from devtools import processes
from e2e.conftest import Kubectl, drover
from e2e.fixtures.bundles import prometheus_operator
from e2e.fixtures.controller import wait_for
from e2e.fixtures.stack import HelmCli
from mgmt.api.models import API_VERSION
from mgmt.controller.members import member_name
from mgmt.stack.sources import STACK_SOURCE_LABEL
from providers.local.runtime import ClusterProcesses

NS = "local-fleet"
SOURCE = f"{STACK_SOURCE_LABEL}=true"  # what lets a Fleet read a ConfigMap or Secret
FLEET = "lf"
CLUSTERS = ("la", "lb", "lc")
PROBE = 3.0          # health.probeInterval, seconds
STACK = 5.0          # the controller's stack loop interval (mgmt.controller.runtime.STACK_INTERVAL)
WAIT = 300
GROUP = "localfleet.drover.dev"
CRD_LIMIT = 262144   # what client-side apply's last-applied annotation may hold


# -- the Fleet ---------------------------------------------------------------------------------

def big_crd(fields: int = 700) -> dict:
    """A Widget CRD with as many documented fields as a real operator's (well over 256 KiB)."""
    props = {f"field{i:04d}": {"type": "string", "description": f"Field {i}. " + "Lorem ipsum dolor sit. " * 18}
             for i in range(fields)}
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {**props, "color": {"type": "string"}}},
                                   "status": loose}}}}]},
    }


def app_manifests(version: str) -> str:
    """Needs the Widget CRD (so it dependsOn `crds`); `version` changes its content."""
    labels = {"app": "app"}
    return yaml.safe_dump_all([
        {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w-{{ cluster.name }}"},
         "spec": {"color": "blue"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"}, "data": {"version": version}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels, "annotations": {"drover.dev/version": version}},
                               "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]}}}},
    ])


BROKEN = yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "broken"},
                         "spec": {"ports": [{"port": 70000}]}})
EXTRA = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"},
                        "data": {"cluster": "{{ cluster.name }}"}})


@dataclass
class Fleet:
    """The Fleet as the steps have changed it so far, and what they need to reach it."""

    kubectl: Kubectl
    provider: object
    tmp: Path
    helm: object
    clusters: list[dict] = field(default_factory=lambda: [
        {"name": name, "provider": "local", "kubernetesVersion": "v1.35.8",
         "workers": [{"name": "md-0", "replicas": 2}]} for name in CLUSTERS])
    components: list[dict] = field(default_factory=list)
    rollout: dict = field(default_factory=lambda: {"maxUnavailable": 1})
    workloads: dict[str, Kubectl] = field(default_factory=dict)

    def body(self) -> dict:
        return {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": FLEET, "namespace": NS},
                "spec": {"clusters": self.clusters, "stack": {"components": self.components},
                         "rollout": self.rollout, "health": {"probeInterval": f"{PROBE:.0f}s"}}}

    def apply(self) -> None:
        self.kubectl.run("apply", "--server-side", "--field-manager=e2e-local-fleet", "-f", "-",
                         input=json.dumps(self.body()))

    def set_component(self, name: str, **changes) -> None:
        for component in self.components:
            if component["name"] == name:
                component.update(changes)

    def names(self) -> list[str]:
        return [c["name"] for c in self.clusters]

    # -- reading ------------------------------------------------------------------------------

    def member(self, cluster: str) -> dict | None:
        result = self.kubectl.run("get", "fleetmember", member_name(FLEET, cluster), "-n", NS, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def status(self, cluster: str) -> dict:
        return (self.member(cluster) or {}).get("status") or {}

    def component(self, cluster: str, name: str) -> dict:
        return next((c for c in self.status(cluster).get("components", []) if c["name"] == name), {})

    def fleet_status(self) -> dict:
        return self.kubectl.get_json("fleet", FLEET, "-n", NS).get("status") or {}

    def workload(self, cluster: str) -> Kubectl:
        if cluster not in self.workloads:
            self.workloads[cluster] = self.kubectl.for_cluster(cluster, NS, self.tmp)
        return self.workloads[cluster]

    def exists(self, cluster: str, *what: str) -> bool:
        return self.workload(cluster).run("get", *what, "-o", "name", check=False, timeout=30).returncode == 0

    def ready_nodes(self, cluster: str) -> int:
        result = self.workload(cluster).run("get", "nodes", "-o", "json", check=False, timeout=30)
        if result.returncode != 0:
            return 0
        return sum(1 for n in json.loads(result.stdout)["items"]
                   if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])))

    def processes(self, cluster: str) -> ClusterProcesses:
        return ClusterProcesses(self.provider.state_dir, NS, cluster)

    def stack_settled(self, names: list[str], clusters: list[str] | None = None) -> bool:
        """Every member shows exactly these components, each applied and ready."""
        for cluster in clusters or self.names():
            components = self.status(cluster).get("components", [])
            if sorted(c["name"] for c in components) != sorted(names):
                return False
            if not all(c.get("applied") and c.get("ready") for c in components):
                return False
        return True

    def diagnostics(self) -> str:
        stacks = {c: [{k: s.get(k) for k in ("name", "revision", "applied", "ready", "phase", "message")}
                      for s in self.status(c).get("components", [])] for c in self.names()}
        return (self.kubectl("get", "fleet,fleetmembers,clusters,machines", "-n", NS, check=False)
                + "\n--- stacks ---\n" + json.dumps(stacks, indent=1)
                + "\n--- provider log ---\n" + self.provider.log_tail(30))


SHOWN: list[Fleet] = []  # the module's Fleet, for what a timed-out wait shows


def wait(check, what: str, timeout: float = WAIT, interval: float = 1.0):
    try:
        return wait_for(check, timeout, interval, what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{SHOWN[0].diagnostics() if SHOWN else ''}") from None


def phases(fleet: Fleet) -> dict[str, str | None]:
    return {c: fleet.status(c).get("phase") for c in fleet.names()}


def last_probe_times(metrics: str) -> dict[str, float]:
    """drover_member_last_probe_timestamp_seconds of this Fleet's members, by cluster."""
    out = {}
    for line in metrics.splitlines():
        if line.startswith("drover_member_last_probe_timestamp_seconds{") and f'fleet="{FLEET}"' in line:
            cluster = re.search(r'cluster="([^"]+)"', line).group(1)
            out[cluster] = float(line.rsplit(" ", 1)[1])
    return out


def timestamp(text: str) -> float:
    """An RFC 3339 UTC time (with or without microseconds) in seconds since the epoch."""
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture(scope="module")
def fleet(kubectl, controller, local_provider, helm_repo, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local-fleet")
    kubectl("create", "namespace", NS)
    bundle = tmp / "bundle.yaml"
    bundle.write_text(yaml.safe_dump(big_crd()))
    kubectl("create", "configmap", "widget-crd", "-n", NS, f"--from-file={bundle}")
    kubectl("label", "configmap", "widget-crd", "-n", NS, SOURCE)
    out = Fleet(kubectl, local_provider, tmp, helm_repo)
    out.components = [
        {"name": "web", "namespace": "web", "helm": {
            "chart": helm_repo.chart, "repository": helm_repo.url, "version": helm_repo.version,
            # "y" is a string that YAML 1.1 writers leave bare and helm would read back as true
            "values": {"fullnameOverride": "web", "podAnnotations": {"drover/cluster": "{{ cluster.name }}",
                                                                      "drover/flag": "y"}}}},
        {"name": "crds", "manifestsFrom": [{"kind": "ConfigMap", "name": "widget-crd"}]},
        {"name": "app", "namespace": "app", "dependsOn": ["crds"], "manifests": app_manifests("1")},
    ]
    out.apply()
    SHOWN[:] = [out]
    yield out
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)


# -- 1. provisioning (issue 4) -------------------------------------------------------------------

def test_clusters_are_provisioned_with_ready_nodes(fleet):
    k = fleet.kubectl
    for cluster in CLUSTERS:
        wait(lambda c=cluster: k.get_json("cluster", c, "-n", NS).get("status", {}).get("phase") == "Provisioned"
             if k.run("get", "cluster", c, "-n", NS, check=False).returncode == 0 else False,
             f"Cluster {cluster} Provisioned")
    for cluster in CLUSTERS:
        def running(c=cluster):
            machines = k.get_json("machines", "-n", NS, "-l", f"cluster.x-k8s.io/cluster-name={c}")["items"]
            return len(machines) == 2 and all(m.get("status", {}).get("phase") == "Running"
                                              and m["status"].get("nodeRef") for m in machines)
        wait(running, f"2 Running machines with a nodeRef in {cluster}")
        wait(lambda c=cluster: fleet.ready_nodes(c) == 2, f"2 Ready Nodes in {cluster}")
    for cluster in CLUSTERS:
        workload = fleet.workload(cluster)
        workload("create", "deployment", "hello", "--image=registry.k8s.io/pause:3.10", "--replicas=1")
        workload("wait", "--for=condition=Available", "deployment/hello", "--timeout=180s", timeout=200)


# -- 2. the stack (issue 5) ------------------------------------------------------------------------

def test_stack_is_applied_and_healthy_on_every_member(fleet):
    assert len(json.dumps(big_crd())) > CRD_LIMIT
    wait(lambda: fleet.stack_settled(["web", "crds", "app"]), "every component applied and ready everywhere")
    for cluster in CLUSTERS:
        web = fleet.workload(cluster).get_json("deployment", "web", "-n", "web")
        assert web["spec"]["template"]["metadata"]["annotations"]["drover/flag"] == "y"
        assert fleet.exists(cluster, "crd", f"widgets.{GROUP}")
        assert fleet.exists(cluster, f"widgets.{GROUP}", f"w-{cluster}", "-n", "app")
        assert fleet.exists(cluster, "deployment", "app", "-n", "app")
        assert fleet.status(cluster)["stack"] == "3/3"
    waited = fleet.kubectl.run("wait", "--for=condition=Ready", f"fleet/{FLEET}", "-n", NS, "--timeout=240s",
                               check=False, timeout=260)
    assert waited.returncode == 0, waited.stderr + fleet.diagnostics()
    assert fleet.fleet_status()["display"] == "3/3 ready"


# -- 3. a quiet fleet writes nothing (issue 6) ------------------------------------------------------

def test_steady_fleet_writes_nothing(fleet, audit, controller):
    wait(lambda: set(phases(fleet).values()) == {"Ready"}, "every member Ready")
    time.sleep(PROBE + STACK)  # let the statuses of the last cycles land
    mark, probed = audit.mark(), last_probe_times(controller.metrics())
    time.sleep(3 * PROBE + STACK)  # three probe cycles and at least one stack cycle
    writes = audit.writes(mark)
    assert not writes, f"controller wrote while nothing changed: {[w['requestURI'] for w in writes]}"
    after = last_probe_times(controller.metrics())
    assert all(after[c] >= probed[c] + 2 * PROBE for c in CLUSTERS), f"probes did not run: {probed} -> {after}"


# -- 4. drift, rollout, pause, prune, a broken component (issue 5) ----------------------------------

def test_deleted_deployment_comes_back(fleet):
    workload = fleet.workload("lb")
    uid = workload.get_json("deployment", "app", "-n", "app")["metadata"]["uid"]
    workload("delete", "deployment", "app", "-n", "app")
    wait(lambda: fleet.exists("lb", "deployment", "app", "-n", "app")
         and workload.get_json("deployment", "app", "-n", "app")["metadata"]["uid"] != uid,
         "the deleted Deployment recreated", timeout=120)
    workload("wait", "--for=condition=Available", "deployment/app", "-n", "app", "--timeout=120s", timeout=140)
    wait(lambda: fleet.stack_settled(["web", "crds", "app"]), "the stack ready again")


def app_revisions(fleet: Fleet) -> dict[str, str]:
    return {c: fleet.component(c, "app").get("revision") for c in fleet.names()}


def test_changed_component_rolls_out_one_cluster_at_a_time(fleet):
    before = app_revisions(fleet)
    fleet.set_component("app", manifests=app_manifests("2"))
    fleet.apply()
    wait(lambda: all(fleet.component(c, "app").get("revision") not in (None, before[c])
                     and fleet.component(c, "app").get("ready") for c in CLUSTERS)
         and fleet.stack_settled(["web", "crds", "app"]), "app version 2 ready everywhere", timeout=180)
    rolled = sorted((fleet.component(c, "app") for c in CLUSTERS), key=lambda s: s["appliedAt"])
    print("rollout (appliedAt, readyAt):", [(s["appliedAt"], s["readyAt"]) for s in rolled])
    for earlier, later in itertools.pairwise(rolled):
        assert timestamp(later["appliedAt"]) >= timestamp(earlier["readyAt"]), \
            f"maxUnavailable 1 exceeded: {json.dumps(rolled, indent=1)}"
    for cluster in CLUSTERS:
        assert fleet.workload(cluster).get_json("configmap", "app-config", "-n", "app")["data"]["version"] == "2"


def test_paused_rollout_applies_nothing_until_resumed(fleet):
    before = app_revisions(fleet)
    fleet.rollout = {"maxUnavailable": 1, "paused": True}
    fleet.set_component("app", manifests=app_manifests("3"))
    fleet.apply()
    wait(lambda: all(fleet.component(c, "app").get("phase") == "Paused" for c in CLUSTERS),
         "app Paused on every member", timeout=60)
    time.sleep(2 * STACK)  # more stack cycles while paused
    assert app_revisions(fleet) == before
    for cluster in CLUSTERS:
        assert fleet.workload(cluster).get_json("configmap", "app-config", "-n", "app")["data"]["version"] == "2"
    fleet.rollout = {"maxUnavailable": 1, "paused": False}
    fleet.apply()
    wait(lambda: all(fleet.component(c, "app").get("revision") not in (None, before[c]) for c in CLUSTERS)
         and fleet.stack_settled(["web", "crds", "app"]), "app version 3 ready everywhere after resuming")
    for cluster in CLUSTERS:
        assert fleet.workload(cluster).get_json("configmap", "app-config", "-n", "app")["data"]["version"] == "3"


def test_removed_component_is_pruned_everywhere(fleet):
    fleet.components = [c for c in fleet.components if c["name"] != "web"]
    fleet.apply()
    wait(lambda: not any(fleet.exists(c, "deployment", "web", "-n", "web") for c in CLUSTERS),
         "the web chart's Deployment pruned from every cluster", timeout=120)
    wait(lambda: fleet.stack_settled(["crds", "app"]), "members list only crds and app")
    for cluster in CLUSTERS:
        assert not fleet.exists(cluster, "service", "web", "-n", "web")
        assert fleet.exists(cluster, "deployment", "app", "-n", "app")


def test_broken_component_fails_alone(fleet):
    fleet.components += [{"name": "broken", "namespace": "app", "manifests": BROKEN},
                         {"name": "extra", "namespace": "app", "manifests": EXTRA}]
    fleet.apply()

    def broken_everywhere():
        found = {c: fleet.component(c, "broken") for c in CLUSTERS}
        return all(s.get("phase") == "Failed" for s in found.values()) and found
    found = wait(broken_everywhere, "broken marked Failed on every member", timeout=120)
    for cluster, status in found.items():
        assert "70000" in status["message"] and "65535" in status["message"], status  # the server's own words
        assert not status["applied"] and not status["ready"]
    # The rest carries on: the component added alongside is applied, the others stay ready.
    wait(lambda: all(fleet.component(c, name).get("ready") and fleet.component(c, name).get("applied")
                     for c in CLUSTERS for name in ("crds", "app", "extra")), "the other components ready")
    for cluster in CLUSTERS:
        assert fleet.workload(cluster).get_json("configmap", "extra", "-n", "app")["data"]["cluster"] == cluster
        assert not fleet.exists(cluster, "service", "broken", "-n", "app")
    fleet.components = [c for c in fleet.components if c["name"] not in ("broken", "extra")]
    fleet.apply()
    wait(lambda: fleet.stack_settled(["crds", "app"]), "broken and extra gone from every member")
    wait(lambda: not any(fleet.exists(c, "configmap", "extra", "-n", "app") for c in CLUSTERS), "extra pruned")
    wait(lambda: fleet.fleet_status().get("display") == "3/3 ready", "the fleet ready again")


# -- 4b. a real operator bundle, and a manifest with a typo (issue 19) ------------------------------

def prometheus_sources(kubectl: Kubectl, tmp: Path) -> dict[str, int]:
    """prometheus-operator's CRDs in three shapes: the largest (over 1 MiB of YAML) gzipped in a
    ConfigMap, two in a Secret, the other seven in a chart packed by the real helm; sizes by file."""
    bundle = prometheus_operator()
    by_name = {p.name.split("_")[1].removesuffix(".yaml"): p for p in bundle.crd_files}
    big, in_secret = by_name.pop("alertmanagerconfigs"), [by_name.pop("servicemonitors"), by_name.pop("podmonitors")]
    zipped = tmp / "alertmanagerconfigs.yaml.gz"
    zipped.write_bytes(gzip.compress(big.read_bytes()))
    kubectl("create", "configmap", "prom-crds-big", "-n", NS, f"--from-file={zipped}")
    kubectl("create", "secret", "generic", "prom-crds", "-n", NS, *(f"--from-file={p}" for p in in_secret))
    kubectl("label", "configmap/prom-crds-big", "secret/prom-crds", "-n", NS, SOURCE)
    chart = tmp / "prom-crds-chart"
    (chart / "crds").mkdir(parents=True)
    (chart / "templates").mkdir()
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: prom-crds\nversion: {bundle.version[1:]}\n")
    for path in by_name.values():
        shutil.copy(path, chart / "crds" / path.name)
    HelmCli(tmp)("package", str(chart), "--destination", str(tmp))
    packed = tmp / f"prom-crds-{bundle.version[1:]}.tgz"
    kubectl("create", "configmap", "prom-chart", "-n", NS, f"--from-file=chart.tgz={packed}")
    kubectl("label", "configmap", "prom-chart", "-n", NS, SOURCE)
    return {p.name: p.stat().st_size for p in bundle.crd_files}


def prometheus_components() -> list[dict]:
    operator = "---\n".join(p.read_text() for p in prometheus_operator().operator_files)
    return [
        {"name": "prom-crds", "manifestsFrom": [{"kind": "ConfigMap", "name": "prom-crds-big"},
                                                {"kind": "Secret", "name": "prom-crds"}]},
        {"name": "prom-chart-crds", "helm": {"chartFrom": {"kind": "ConfigMap", "name": "prom-chart",
                                                           "key": "chart.tgz"}}},
        {"name": "prom-operator", "dependsOn": ["prom-crds"], "manifests": operator},
    ]


TYPO = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n\tkey: value\n"


def test_real_operator_bundle_becomes_ready(fleet):
    """prometheus-operator's own CRDs (one of 1.4 MB, enums of `=`), Deployment and RBAC, from the
    Go module, pushed from a ConfigMap (gzip), a Secret, a packed chart and inline manifests."""
    sizes = prometheus_sources(fleet.kubectl, fleet.tmp)
    assert max(sizes.values()) > 1 << 20, sizes
    fleet.components += prometheus_components()
    fleet.apply()
    names = ["crds", "app", "prom-crds", "prom-chart-crds", "prom-operator"]
    wait(lambda: fleet.stack_settled(names), "the operator bundle applied and ready everywhere", timeout=420)
    for cluster in CLUSTERS:
        k = fleet.workload(cluster)
        crds = k("get", "crds", "-o", "name")
        assert sum(1 for line in crds.splitlines() if line.endswith(".monitoring.coreos.com")) == len(sizes)
        k("wait", "--for=condition=Available", "deployment/prometheus-operator", "-n", "default",
          "--timeout=120s", timeout=140)
        stored = k.get_json("crd", "alertmanagerconfigs.monitoring.coreos.com")
        assert '"="' in json.dumps(stored["spec"]), "the = enum value did not arrive as a string"
        assert fleet.exists(cluster, "servicemonitor", "prometheus-operator", "-n", "default")


def test_a_manifest_typo_fails_its_component_not_the_cluster(fleet):
    """A tab where YAML wants spaces: the component fails on every member naming the document and
    line, the clusters stay Ready (READY 3/3), STACK and Degraded tell of the stack."""
    fleet.kubectl("create", "configmap", "typo", "-n", NS, f"--from-literal=typo.yaml={TYPO}")
    fleet.kubectl("label", "configmap", "typo", "-n", NS, SOURCE)
    fleet.components.append({"name": "typo", "namespace": "app",
                             "manifestsFrom": [{"kind": "ConfigMap", "name": "typo"}]})
    fleet.apply()
    try:
        found = wait(lambda: all(fleet.component(c, "typo").get("phase") == "Failed" for c in CLUSTERS)
                     and {c: fleet.component(c, "typo") for c in CLUSTERS}, "typo Failed on every member",
                     timeout=120)
        for status in found.values():
            assert "ConfigMap typo key typo.yaml" in status["message"] and "line 6" in status["message"], status
        # The Fleet's status follows its members' within FLEET_WRITE_INTERVAL; before the failures are
        # in it, stackReady is 0 already (no member lists typo as ready) but nothing is said failed.
        status = wait(lambda: (s := fleet.fleet_status()).get("counts", {}).get("stackReady") == 0
                      and condition(s, "Degraded")["reason"] == "StackFailed"
                      and {u["cluster"] for u in s.get("unwell", [])} == set(CLUSTERS) and s,
                      "no member with its whole stack, the Fleet degraded by it", timeout=60)
        assert status["display"] == "3/3 ready", status
        assert condition(status, "Ready")["status"] == "True"
        degraded = condition(status, "Degraded")
        assert degraded["status"] == "True" and degraded["reason"] == "StackFailed", degraded
        assert {u["cluster"] for u in status["unwell"]} == set(CLUSTERS)
        assert all(fleet.status(c)["phase"] == "Ready" for c in CLUSTERS)
        # NAME CLUSTERS READY STATUS STACK DEGRADED(clusters) AGE
        columns = fleet.kubectl("get", "fleet", FLEET, "-n", NS, "-o", "wide", "--no-headers").split()
        assert columns[1:7] == ["3", "3/3", "ready", "Ready", "0", "0"], columns
        report = ["status", FLEET, "-n", NS, f"--kubeconfig={fleet.kubectl.kubeconfig}"]
        table = drover(*report).stdout
        assert "3/3 ready   0/3" in table and table.count("components not ready: typo") == 3, table
        rows = json.loads(drover(*report, "-o", "json").stdout)["members"]
        assert all(r["phase"] == "Ready" and r["reason"] == "StackFailed" and "line 6" in r["message"]
                   for r in rows), rows
    finally:
        fleet.components = [c for c in fleet.components if c["name"] in ("crds", "app")]
        fleet.apply()
    wait(lambda: fleet.stack_settled(["crds", "app"]), "the bundle and the typo gone from every member",
         timeout=300)
    wait(lambda: condition(fleet.fleet_status(), "Degraded")["status"] == "False", "the fleet no longer degraded")
    assert not any(fleet.exists(c, "deployment", "prometheus-operator", "-n", "default") for c in CLUSTERS)


# -- 5. an unreachable member (issue 6) ----------------------------------------------------------

def condition(status: dict, type_: str) -> dict:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def test_unreachable_member_degrades_the_fleet_alone(fleet, controller):
    wait(lambda: set(phases(fleet).values()) == {"Ready"}, "every member Ready")
    procs = fleet.processes("lc")
    # The provider would revive the apiserver within seconds: stop it first.
    fleet.provider.stop()
    try:
        stopped_at = time.time()
        processes.stop("kube-apiserver", procs.state_dir)
        assert procs.pids()["kube-apiserver"] is None
        wait(lambda: fleet.status("lc").get("phase") == "Unreachable", "lc Unreachable", timeout=60)
        went = timestamp(condition(fleet.status("lc"), "Ready")["lastTransitionTime"])
        # lastTransitionTime has whole seconds: one second of rounding on top of two intervals.
        print(f"lc Unreachable {went - stopped_at:.1f}s after its apiserver stopped")
        assert went - stopped_at <= 2 * PROBE + 1, f"Unreachable after {went - stopped_at:.1f}s"
        status = wait(lambda: (s := fleet.fleet_status()).get("display") == "2/3 ready" and s,
                      "the fleet at 2/3", timeout=30)
        degraded = condition(status, "Degraded")
        assert degraded["status"] == "True" and "lc" in degraded["message"], degraded
        assert condition(status, "Ready")["status"] == "False"
        assert fleet.status("la")["phase"] == fleet.status("lb")["phase"] == "Ready"
        first = last_probe_times(controller.metrics())
        time.sleep(2 * PROBE + 1)
        second = last_probe_times(controller.metrics())
        for cluster in ("la", "lb"):
            assert second[cluster] > first[cluster], f"{cluster} no longer probed: {first} -> {second}"
    finally:
        fleet.provider.start()
    wait(lambda: procs.pids()["kube-apiserver"] is not None, "the provider to revive lc's apiserver", timeout=120)
    wait(lambda: fleet.status("lc").get("phase") == "Ready", "lc Ready again", timeout=120)
    wait(lambda: fleet.fleet_status().get("display") == "3/3 ready", "the fleet at 3/3", timeout=60)
    print("Degraded at 3/3:", condition(fleet.fleet_status(), "Degraded"))
    # lc's stack is looked at again on the stack pass after its probe found it back
    wait(lambda: condition(fleet.fleet_status(), "Degraded")["status"] == "False" or None,
         "the fleet no longer degraded", timeout=60)


# -- 6. scale, remove, a killed provider (issue 4) ------------------------------------------------

def test_scaling_workers_adds_a_node(fleet):
    for spec in fleet.clusters:
        if spec["name"] == "lb":
            spec["workers"] = [{"name": "md-0", "replicas": 3}]
    fleet.apply()
    wait(lambda: fleet.ready_nodes("lb") == 3, "3 Ready Nodes in lb")
    wait(lambda: fleet.status("lb").get("nodes", {}).get("ready") == 3, "lb's member counting 3 Nodes", timeout=60)
    assert fleet.ready_nodes("la") == 2


def test_removed_cluster_is_deleted_with_its_processes(fleet):
    procs = fleet.processes("lc")
    pids = [pid for pid in procs.pids().values() if pid]
    assert len(pids) == 4, procs.pids()
    fleet.clusters = [c for c in fleet.clusters if c["name"] != "lc"]
    fleet.apply()
    k = fleet.kubectl
    wait(lambda: fleet.member("lc") is None, "lc's member gone")
    wait(lambda: not k("get", "clusters,machines,machinedeployments,localclusters,localcontrolplanes", "-n", NS,
                       "-l", "cluster.x-k8s.io/cluster-name=lc", "-o", "name").strip(), "lc's objects gone")
    wait(lambda: not [pid for pid in pids if processes.alive(pid)], "lc's processes stopped", timeout=60)
    assert not procs.state_dir.exists()
    assert k.run("get", "secret", "lc-kubeconfig", "-n", NS, check=False).returncode != 0
    wait(lambda: fleet.fleet_status().get("display") == "2/2 ready", "the fleet at 2/2", timeout=60)


def test_killed_provider_leaves_clusters_running(fleet):
    before = {c: fleet.processes(c).pids()["kube-apiserver"] for c in ("la", "lb")}
    assert all(before.values()), before
    logged = fleet.provider.log.stat().st_size
    fleet.provider.restart()

    def adopted() -> int:
        with open(fleet.provider.log, "rb") as log:
            log.seek(logged)
            return log.read().decode(errors="replace").count("adopted running processes")
    wait(lambda: adopted() >= 2, "the new provider to adopt la and lb", timeout=120)
    time.sleep(2 * PROBE)
    assert {c: fleet.processes(c).pids()["kube-apiserver"] for c in ("la", "lb")} == before
    assert phases(fleet) == {"la": "Ready", "lb": "Ready"}
    assert fleet.ready_nodes("la") == 2 and fleet.ready_nodes("lb") == 3


# -- finally ------------------------------------------------------------------------------------

def test_deleting_the_fleet_removes_everything(fleet):
    pids = [pid for c in ("la", "lb") for pid in fleet.processes(c).pids().values() if pid]
    assert pids
    k = fleet.kubectl
    k("delete", "fleet", FLEET, "-n", NS, "--wait=false")
    wait(lambda: k.run("get", "fleet", FLEET, "-n", NS, check=False).returncode != 0, "the Fleet gone")
    wait(lambda: not k("get", "clusters,machines,fleetmembers", "-n", NS, "-o", "name").strip(),
         "clusters, machines and members gone")
    wait(lambda: not [pid for pid in pids if processes.alive(pid)], "every cluster process stopped", timeout=60)
    assert not list((fleet.provider.state_dir / "clusters" / NS).glob("*/apiserver.json"))
    assert not [s for s in k.get_json("secrets", "-n", NS)["items"] if s["metadata"]["name"].endswith("-kubeconfig")]
