"""Faults, with real processes (issue 14): a Fleet converges whatever happens to the controller or
to one member, and never loses, duplicates or overruns anything.

The Fleet is ten simulated members (virtual clusters of the session's simulator, made by the real
local provider's `simulated` flavor and provisioned by the real Cluster API manager), run by a
controller of this module's own (outside the session controller's namespaces) so it can be killed.
The steps share the Fleet and run in file order: the kill storm, a member that stops answering,
poisoned members, a removal whose member is deleted by hand. Two replicas and a killed leader are
e2e/test_failover.py's.

`DROVER_KILLS` sets the storm's kills (5 here; `make kill-storm` runs 20 alone).
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import time

import pytest

from devtools.localkube import Etcd
from devtools.localplane import ManagementPlane
from e2e.conftest import Kubectl
from e2e.fixtures.controller import AuditLog, ControllerProcess, cloud_env, wait_for
from e2e.fixtures.faults import (
    APP_OBJECTS,
    Sampler,
    Simulator,
    app_component,
    component,
    members,
    simulated_fleet,
)

TOKEN = secrets.token_hex(3)
NS = f"faults-{TOKEN}"
FLEET = "storm"
CLUSTERS = [f"m{i}" for i in range(10)]
MAX_UNAVAILABLE = 2
PROBE_SECONDS = 5
KILLS = int(os.environ.get("DROVER_KILLS", "5"))
WAIT = 420


class Env:
    def __init__(self, kubectl, controller: ControllerProcess, simulator: Simulator):
        self.kubectl, self.controller, self.simulator = kubectl, controller, simulator
        self.revision = "r1"  # the app's revision once the Fleet converged
        self.components = [app_component(self.revision)]
        self.overrides: dict[str, dict] = {}
        self.clusters = list(CLUSTERS)
        self.extra: list[dict] = []

    def apply(self) -> None:
        self.kubectl.apply(simulated_fleet(NS, FLEET, self.clusters, self.components, f"{PROBE_SECONDS}s",
                                           MAX_UNAVAILABLE, self.overrides, self.extra))

    def converged(self, rev: str, clusters: list[str] | None = None) -> dict[str, dict] | None:
        """The members once every one of `clusters` is Ready with the app at `rev`, ready, in status
        and in the member itself."""
        found = members(self.kubectl, NS)
        for cluster in clusters or self.clusters:
            member = found.get(cluster, {})
            if (member.get("status") or {}).get("phase") != "Ready" or not component(member).get("ready"):
                return None
            if self.simulator.app_revisions(cluster) != [rev] * APP_OBJECTS:
                return None
        return found

    def diagnostics(self) -> str:
        phases = {c: ((m.get("status") or {}).get("phase"), component(m).get("phase"), component(m).get("message"))
                  for c, m in members(self.kubectl, NS).items()}
        return f"members: {phases}\n--- controller log ---\n" + "\n".join(self.controller.logs().splitlines()[-40:])


@pytest.fixture(scope="module")
def env(kubectl, mgmt, local_provider, simulator_url, tmp_path_factory):
    kubectl("create", "namespace", NS)
    controller = ControllerProcess(mgmt.controller_kubeconfig, tmp_path_factory.mktemp("faults") / "controller.log",
                                   {"AWS_EC2_METADATA_DISABLED": "true",
                                    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # no cloud answers here
                                    "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
                                   namespaces=(NS,))
    env = Env(kubectl, controller, Simulator(simulator_url, NS))
    try:
        env.apply()
        controller.start()
        try:
            wait_for(lambda: env.converged("r1"), WAIT, what="ten members Ready with the app at r1")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{env.diagnostics()}") from None
        yield env
        kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)
        # The controller takes the clusters out (Delete); then nothing is left behind.
        wait_for(lambda: not kubectl("get", "fleet", FLEET, "-n", NS, "--ignore-not-found", check=False), 180,
                 what="the Fleet to be deleted")
    finally:
        controller.stop()
        kubectl("patch", "fleet", FLEET, "-n", NS, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                check=False)
        kubectl("delete", "namespace", NS, "--wait=false", check=False)


@pytest.mark.killstorm
def test_kill_storm(env):
    """The app component rolls to new revisions (maxUnavailable 2) while the controller is
    SIGKILLed again and again, each time at a random moment once it is updating members (a new
    revision whenever the last one is everywhere); every member's API answers slowly, so kills
    land in the middle of applies."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for cluster in CLUSTERS:
        env.simulator.knobs(cluster, latency=0.2)
    sampler = Sampler(env.kubectl, env.simulator, NS, CLUSTERS).start()
    revision, revisions = env.revision, 0
    try:
        for _ in range(KILLS):
            while True:  # until the (restarted) controller is seen moving members
                mark = sampler.changes
                if sampler.mid_now == 0 and sampler.revisions_now <= {revision}:
                    revisions += 1
                    revision = f"r{1 + revisions}"
                    env.components = [app_component(revision)]
                    env.apply()
                wait_for(lambda mark=mark: sampler.changes > mark, 180, interval=0.2, what="the controller to move members")
                if sampler.mid_now:
                    break
            time.sleep(rng.uniform(0, 3))
            env.controller.proc.kill()  # SIGKILL: nothing is cleaned up or written on the way out
            env.controller.proc.wait(10)
            last_kill = time.monotonic()
            env.controller.start()
        try:
            wait_for(lambda: env.converged(revision), WAIT, what=f"every member at {revision} after the storm")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{env.diagnostics()}") from None
        converged = time.monotonic() - last_kill
    finally:
        sampler.stop()
        for cluster in CLUSTERS:
            env.simulator.knobs(cluster, latency=0)
    env.revision = revision
    duplicates = {c: objs for c in CLUSTERS if len(objs := env.simulator.app_objects(c)) != APP_OBJECTS
                  or len(set(objs)) != len(objs)}
    # The Fleet's own status follows its members' (the same write pass, a moment later).
    wait_for(lambda: fleet_counts(env.kubectl).get("stackReady") == len(CLUSTERS), 60, what="the Fleet whole")
    print(f"kill storm (seed {seed}): {KILLS} kills survived, all during rollouts "
          f"({revisions} revisions); "
          f"converged {converged:.1f} s after the last kill; "
          f"max members mid-update: {sampler.max_mid_status} by status, {sampler.max_mid_objects} by objects "
          f"({sampler.samples} samples, {sampler.errors} busy); duplicates: {len(duplicates)}; "
          f"statuses lost: {len(sampler.lost)}; members seen Degraded or Failed: {sorted(sampler.unwell)}")
    assert sampler.samples > 10
    assert sampler.max_mid_status <= MAX_UNAVAILABLE and sampler.max_mid_objects <= MAX_UNAVAILABLE
    assert duplicates == {}
    assert sampler.lost == []
    assert sampler.unwell == set(), "a member moving to a new revision is not broken"


def fleet_counts(kubectl) -> dict:
    return (kubectl.get_json("fleet", FLEET, "-n", NS).get("status") or {}).get("counts") or {}


def test_a_member_that_stops_answering(env):
    """Its API drops every connection: Unreachable within two probe intervals, the others untouched,
    its stack no longer counted as done; once it answers again it comes back by itself."""
    lost, others = CLUSTERS[3], [c for c in CLUSTERS if c != CLUSTERS[3]]
    env.simulator.knobs(lost, fault="close", faultRate=1)
    broke = time.monotonic()
    try:
        wait_for(lambda: (members(env.kubectl, NS)[lost].get("status") or {}).get("phase") == "Unreachable",
                 60, interval=0.5, what=f"{lost} Unreachable")
        noticed = time.monotonic() - broke
        counts = wait_for(lambda: (c := fleet_counts(env.kubectl)).get("unreachable") == 1 and c, 60,
                          what="the Fleet to count it")
        assert counts["ready"] == len(others) and counts["stackReady"] == len(others), counts
        found = members(env.kubectl, NS)
        assert {c: found[c]["status"]["phase"] for c in others} == {c: "Ready" for c in others}
    finally:
        env.simulator.knobs(lost, fault=None)
    back = time.monotonic()
    wait_for(lambda: env.converged(env.revision), WAIT, what=f"{lost} back")
    wait_for(lambda: fleet_counts(env.kubectl).get("stackReady") == len(CLUSTERS), 60, what="the Fleet whole again")
    print(f"member out of reach: Unreachable after {noticed:.1f} s (probe interval {PROBE_SECONDS} s), "
          f"Ready again {time.monotonic() - back:.1f} s after it answered")
    # Two intervals, plus one probe's own timeout (5 s) for a probe already under way.
    assert noticed <= 2 * PROBE_SECONDS + 5


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.faults.drover.dev"},
    "spec": {"group": "faults.drover.dev", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}
WIDGETS = {"name": "widgets", "namespace": "faults-app",
           "manifests": "apiVersion: faults.drover.dev/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n"}


def condition(member: dict, type_: str) -> dict:
    return next((c for c in (member.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


def test_poisoned_members_fail_alone(env):
    """Bad variables (the template no longer parses), a stack kind whose CRD the member lacks, a
    cloud preflight that cannot reach its cloud: each fails only its member, with a condition that
    says why; the rest of the Fleet converges."""
    bad_vars, no_crd = CLUSTERS[7], CLUSTERS[8]
    healthy = [c for c in CLUSTERS if c not in (bad_vars, no_crd)]
    for cluster in CLUSTERS:
        if cluster != no_crd:
            env.simulator.create(cluster, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
    env.kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": NS},
                       "stringData": {"AWS_ACCESS_KEY_ID": "AKIAFAULTS", "AWS_SECRET_ACCESS_KEY": "faults"}})
    env.overrides = {bad_vars: {"variables": {"POD_CIDR": "*undefined"}}}
    env.extra = [{"name": "cloudy", "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
                  "workers": [{"name": "md-0", "replicas": 1}], "credentialsRef": {"name": "aws"}}]
    env.components = [app_component(env.revision), WIDGETS]
    env.apply()

    def poisoned():
        found = members(env.kubectl, NS)
        applied = condition(found.get(bad_vars, {}), "ClusterObjectsApplied")
        widgets = component(found.get(no_crd, {}), "widgets")
        cloudy = found.get("cloudy", {})
        cloud_failed = next((c for c in (cloudy.get("status") or {}).get("conditions") or []
                             if c["type"] == "PreflightPassed" and c["status"] == "False"), None)
        return (applied.get("status") == "False" and widgets.get("phase") == "Failed" and cloud_failed
                and (applied, widgets, cloud_failed))
    applied, widgets, cloud_failed = wait_for(poisoned, WAIT, what="the three poisoned members to fail")
    print(f"poisoned: {bad_vars}: {applied['reason']}: {applied['message'][:120]}; {no_crd} widgets: "
          f"{widgets.get('message', '')[:120]}; cloudy: {cloud_failed['reason']}: {cloud_failed['message'][:120]}")
    assert applied["reason"] == "TemplateError" and "YAML" in applied["message"]
    assert "Widget" in widgets.get("message", "")
    assert cloud_failed["message"]
    wait_for(lambda: env.converged(env.revision, healthy) and all(
        component(m, "widgets").get("ready") for c, m in members(env.kubectl, NS).items() if c in healthy),
        WAIT, what="the rest of the Fleet to converge")
    assert component(members(env.kubectl, NS)[no_crd]).get("ready"), "the member's other component is fine"
    # Poison removed: the members recover by themselves.
    env.overrides, env.extra, env.components = {}, [], [app_component(env.revision)]
    env.apply()
    wait_for(lambda: env.converged(env.revision) and "cloudy" not in members(env.kubectl, NS), WAIT,
             what="every member Ready again and the cloud cluster gone")


def capi_objects(kubectl, cluster: str) -> list[str]:
    listed = kubectl("get", "clusters.cluster.x-k8s.io,localclusters,localcontrolplanes,secrets", "-n", NS,
                     "-l", f"cluster.x-k8s.io/cluster-name={cluster},fleet.drover.dev/fleet={FLEET}",
                     "-o", "name", check=False)
    return listed.split()


def test_a_removal_goes_on_after_its_member_is_deleted(env):
    """A cluster leaves the Fleet; once its removal has begun, the controller is killed and its
    FleetMember deleted by hand: the restarted controller finds the rest from the objects' labels.
    The extra Secret stands for what a cloud provider makes beside the Cluster (credentials) and
    Cluster API does not delete with it."""
    leaving = CLUSTERS[9]
    env.kubectl.apply({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": f"{leaving}-extra", "namespace": NS, "labels": {
                           "cluster.x-k8s.io/cluster-name": leaving, "fleet.drover.dev/fleet": FLEET,
                           "fleet.drover.dev/namespace": NS}}, "stringData": {"k": "v"}})
    env.clusters = CLUSTERS[:9]
    env.apply()
    wait_for(lambda: env.kubectl.get_json("secret", f"{leaving}-extra", "-n", NS)["metadata"].get(
        "annotations", {}).get("fleet.drover.dev/deletion-policy") == "Delete", 120, interval=0.3,
        what="the removal to begin")
    env.controller.proc.kill()
    env.controller.proc.wait(10)
    env.kubectl("delete", "fleetmember", f"{FLEET}.{leaving}", "-n", NS, "--ignore-not-found")
    env.controller.start()
    wait_for(lambda: not capi_objects(env.kubectl, leaving), 300, what=f"every object of {leaving} removed")
    wait_for(lambda: not env.simulator.exists(leaving), 120, what="its virtual cluster gone")
    assert leaving not in members(env.kubectl, NS), "no member comes back for it"
    assert env.converged(env.revision, CLUSTERS[:9])


def member_ready(kubectl, cluster: str) -> bool:
    member = members(kubectl, NS).get(cluster, {})
    return (member.get("status") or {}).get("phase") == "Ready" and bool(component(member).get("ready"))


def test_provider_killed_mid_create_then_workload_apiserver_killed(env, local_provider):
    """A real local cluster joins the Fleet; the local provider is SIGKILLed while it starts the
    cluster's processes, and started again; later the cluster's kube-apiserver is SIGKILLed. Each
    time the member comes back Ready with its stack, with no one's help."""
    real = "real"
    env.extra = [{"name": real, "provider": "local", "kubernetesVersion": "v1.35.8",
                  "workers": [{"name": "md-0", "replicas": 1}]}]
    env.apply()
    mine = f"/clusters/{NS}/{real}/"
    wait_for(lambda: any(mine in str(p) for p in local_provider.pid_files()), 300, interval=0.2,
             what="the provider to start creating the cluster")
    local_provider.restart()  # SIGKILL mid-create, then a new provider
    killed = time.monotonic()
    wait_for(lambda: member_ready(env.kubectl, real), WAIT, what=f"{real} Ready after the provider was killed")
    created = time.monotonic() - killed

    def apiserver() -> int | None:
        return next((pid for path, pid in local_provider.record_pids().items()
                     if mine in str(path) and path.stem == "kube-apiserver"), None)
    old = apiserver()
    assert old
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: apiserver() not in (None, old), 120, what="a new kube-apiserver")
    wait_for(lambda: member_ready(env.kubectl, real), WAIT, what=f"{real} Ready after its apiserver was killed")
    print(f"provider killed mid-create: {real} Ready {created:.1f} s later; workload apiserver killed: "
          f"Ready again {time.monotonic() - killed:.1f} s later")
    assert all(member_ready(env.kubectl, c) for c in env.clusters), "the others untouched"
    env.extra = []
    env.apply()
    wait_for(lambda: real not in members(env.kubectl, NS), 180, what=f"{real} removed")


# -- the management plane restarted under a running controller (a plane of this test's own) ----

def restart_apiserver(plane: ManagementPlane) -> None:
    plane.apiserver(audit=True).stop()
    plane.apiserver(audit=True)  # started again on its port, from the same etcd; waits until ready


def restart_etcd(plane: ManagementPlane) -> None:
    etcd = plane.etcd
    etcd.stop()
    Etcd.ensure(etcd.state_dir)  # started again on its ports, from its data


def successful_writes(audit: AuditLog) -> dict[str, int]:
    """Writes of objects (not status, not Events) that succeeded, by object, from the audit log."""
    counts: dict[str, int] = {}
    for event in audit.writes(0):
        ref = event.get("objectRef") or {}
        if ref.get("subresource") or ref.get("resource") in ("events", "leases") or \
                (event.get("responseStatus") or {}).get("code", 0) >= 300:
            continue
        key = f"{ref.get('resource')}/{ref.get('namespace')}/{ref.get('name')}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_management_plane_restarted_mid_reconcile(moto_server, tmp_path):
    """kube-apiserver, then etcd, restarted while the controller reconciles a Fleet of AWS clusters
    (against moto: the whole path runs, nothing provisions): the same controller process carries on
    and writes each object once."""
    plane = ManagementPlane(tmp_path / "mgmt")
    controller = None
    try:
        plane.up(audit=True)
        kubectl = Kubectl(plane.kubeconfig)
        ns, names = "restarts", [f"c{i}" for i in range(4)]
        kubectl("create", "namespace", ns)
        kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": ns},
                       "stringData": {"AWS_ACCESS_KEY_ID": "AKIARESTART", "AWS_SECRET_ACCESS_KEY": "restart"}})
        controller = ControllerProcess(plane.controller_kubeconfig, tmp_path / "controller.log", cloud_env(moto_server),
                                       namespaces=(ns,))
        controller.start()
        pid = controller.proc.pid
        kubectl.apply({"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
                       "metadata": {"name": "plane", "namespace": ns},
                       "spec": {"health": {"probeInterval": "3s"}, "clusters": [
                           {"name": n, "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
                            "workers": [{"name": "md-0", "replicas": 1}], "credentialsRef": {"name": "aws"}}
                           for n in names]}})
        wait_for(lambda: kubectl("get", "fleetmembers", "-n", ns, "-o", "name").strip(), 120, interval=0.2,
                 what="the reconcile to be under way")
        restart_apiserver(plane)
        time.sleep(2)
        restart_etcd(plane)

        def settled():
            found = members(kubectl, ns)
            return (sorted(found) == names and all((m.get("status") or {}).get("phase") for m in found.values())
                    and (kubectl.get_json("fleet", "plane", "-n", ns).get("status") or {}).get(
                        "counts", {}).get("desired") == len(names))
        wait_for(settled, 300, what="the Fleet reconciled after the restarts")
        assert controller.proc.poll() is None and controller.proc.pid == pid, "recovered without a restart"
        time.sleep(8)  # two more probe intervals: nothing is written again
        writes = successful_writes(AuditLog(plane.apiserver(audit=True).audit_log))
        # The Fleet is the user's object: kopf writes its finalizer and its handled-state annotation.
        twice = {key: n for key, n in writes.items() if n > 1 and not key.startswith("fleets/")}
        print(f"management plane restarted (apiserver, then etcd): the controller (pid {pid}) carried on; "
              f"{len(writes)} objects written, written twice: {len(twice)} (the Fleet itself: "
              f"{writes.get(f'fleets/{ns}/plane', 0)} writes)")
        assert twice == {}
        assert sum(1 for key in writes if key.startswith("fleetmembers/")) == len(names)
    finally:
        if controller is not None:
            controller.stop()
        plane.down()
