"""Adoption (issue 8): a cluster made the clusterctl way (`drover generate cluster | kubectl
apply`), built by the real CAPI manager and the local provider, is adopted by a Fleet whose
`selector` matches its labels. The Fleet installs its stack into it without rewriting any of the
cluster's objects, `drover describe cluster` shows it, and deleting the Fleet leaves it running.

The steps share one cluster and run in file order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools import processes
from e2e.conftest import Kubectl
from e2e.fixtures.controller import wait_for
from mgmt.controller.members import member_name
from providers.local.runtime import ClusterProcesses

NS = f"fleet-adopt-{os.getpid() % 10000}"
CLUSTER = "c1"
FLEET = "blue"
WAIT = 300
STACK = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "fleet-hello", "namespace": "adopted-stack"},
                        "data": {"cluster": "{{ cluster.name }}", "provider": "{{ cluster.provider }}"}})
# The cluster's own objects, which adoption must leave as they are.
OWN_OBJECTS = [("cluster", CLUSTER), ("localcluster", CLUSTER), ("localcontrolplane", f"{CLUSTER}-control-plane"),
               ("machinedeployment", f"{CLUSTER}-md-0"), ("localmachinetemplate", f"{CLUSTER}-md-0")]


DROVER = [sys.executable, "-m", "mgmt.cli"]
# No clusterctl config file of the machine's user is read.
DROVER_ENV = {**os.environ, "XDG_CONFIG_HOME": "/nonexistent"}


def drover(*args: str) -> str:
    """The real CLI, as a user runs it."""
    proc = subprocess.run([*DROVER, *args], capture_output=True, text=True, timeout=120, env=DROVER_ENV,
                          check=False)
    assert proc.returncode == 0, f"drover {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc.stdout


def generate_and_apply(kubectl: Kubectl, *args: str) -> str:
    """`drover generate cluster ARGS | kubectl apply -f -`, a real pipe between the two."""
    generate = subprocess.Popen([*DROVER, "generate", "cluster", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=DROVER_ENV)
    apply = subprocess.run([kubectl.path, f"--kubeconfig={kubectl.kubeconfig}", "apply", "-f", "-"],
                           stdin=generate.stdout, capture_output=True, text=True, timeout=120, check=False)
    generate.stdout.close()
    assert generate.wait(60) == 0, generate.stderr.read().decode()
    generate.stderr.close()
    assert apply.returncode == 0, apply.stderr
    return apply.stdout


class Env:
    def __init__(self, kubectl: Kubectl, provider, mgmt, controller, tmp: Path):
        self.kubectl, self.provider, self.mgmt, self.controller, self.tmp = kubectl, provider, mgmt, controller, tmp

    def processes(self) -> ClusterProcesses:
        return ClusterProcesses(self.provider.state_dir, NS, CLUSTER)

    def get(self, kind: str, name: str) -> dict | None:
        result = self.kubectl.run("get", kind, name, "-n", NS, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def workload(self) -> Kubectl:
        path = self.tmp / f"{CLUSTER}.kubeconfig"
        path.write_text(drover("get", "kubeconfig", CLUSTER, "-n", NS, f"--kubeconfig={self.mgmt.kubeconfig}"))
        return Kubectl(path)

    def machines(self) -> list[dict]:
        return self.kubectl.get_json("machines", "-n", NS, "-l", f"cluster.x-k8s.io/cluster-name={CLUSTER}")["items"]

    def member(self) -> dict | None:
        return self.get("fleetmember", member_name(FLEET, CLUSTER))

    def diagnostics(self) -> str:
        fleet = self.get("fleet", FLEET) or {}
        return (self.kubectl("get", "clusters,machines,fleetmembers", "-n", NS, check=False)
                + f"\nFleet finalizers (kopf saw it): {fleet.get('metadata', {}).get('finalizers')}; "
                f"status: {json.dumps(fleet.get('status'))}"
                + "\n--- provider log ---\n" + self.provider.log_tail()
                + "\n--- controller log ---\n" + self.controller.log_tail())


@pytest.fixture(scope="module")
def env(kubectl, mgmt, local_provider, controller, tmp_path_factory):
    kubectl("create", "namespace", NS)
    yield Env(kubectl, local_provider, mgmt, controller, tmp_path_factory.mktemp("adopted"))
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)
    kubectl("delete", "cluster", CLUSTER, "-n", NS, "--wait=false", check=False)
    wait_for(lambda: not kubectl.run("get", "cluster", CLUSTER, "-n", NS, check=False).stdout, WAIT,
             what=f"Cluster {CLUSTER} to be deleted")
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_clusterctl_way_cluster_comes_up(env):
    applied = generate_and_apply(env.kubectl, CLUSTER, "--infrastructure", "local", "--kubernetes-version",
                                 "v1.35.8", "--worker-machine-count", "2", "-n", NS)
    assert f"cluster.cluster.x-k8s.io/{CLUSTER} created" in applied
    env.kubectl("label", "cluster", CLUSTER, "-n", NS, "team=blue")
    wait_for(lambda: (env.get("cluster", CLUSTER).get("status") or {}).get("phase") == "Provisioned", WAIT,
             what=f"Cluster {CLUSTER} Provisioned\n{env.diagnostics()}")
    wait_for(lambda: len([m for m in env.machines() if (m.get("status") or {}).get("nodeRef")]) == 2, WAIT,
             what=f"2 Machines with a nodeRef\n{env.diagnostics()}")


def snapshot(env) -> dict[str, dict]:
    """What a writer would change on the cluster's own objects: spec, labels, annotations, generation."""
    out = {}
    for kind, name in OWN_OBJECTS:
        obj = env.get(kind, name)
        assert obj is not None, f"{kind}/{name} missing"
        meta = obj["metadata"]
        out[f"{kind}/{name}"] = {"spec": obj.get("spec"), "labels": meta.get("labels"),
                                 "annotations": meta.get("annotations"), "generation": meta.get("generation")}
    return out


def managers(env, kind: str, name: str) -> set[str]:
    return {f["manager"] for f in env.get(kind, name)["metadata"].get("managedFields", [])}


@pytest.fixture(scope="module")
def before_adoption(env, audit):
    return snapshot(env), audit.mark()


def fleet() -> dict:
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": FLEET, "namespace": NS},
            "spec": {"selector": {"matchLabels": {"team": "blue"}}, "health": {"probeInterval": "3s"},
                     "stack": {"components": [{"name": "hello", "namespace": "adopted-stack",
                                               "manifests": STACK}]}}}


def test_fleet_adopts_the_cluster_and_installs_its_stack(env, before_adoption):
    env.kubectl.apply(fleet())
    member = wait_for(env.member, 120, what=f"a FleetMember for {CLUSTER}\n{env.diagnostics()}")
    assert member["spec"]["adopted"] is True and member["spec"]["cluster"] == CLUSTER
    assert member["spec"]["provider"] == "local"
    workload = env.workload()

    def installed():
        result = workload.run("get", "configmap", "fleet-hello", "-n", "adopted-stack", "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    configmap = wait_for(installed, 180, what=f"the stack in {CLUSTER}\n{env.diagnostics()}")
    assert configmap["data"] == {"cluster": CLUSTER, "provider": "local"}
    wait_for(lambda: (env.member().get("status") or {}).get("phase") == "Ready", 120,
             what=f"member Ready\n{env.diagnostics()}")


def test_adopted_objects_were_not_rewritten(env, before_adoption, audit):
    before, mark = before_adoption
    assert snapshot(env) == before
    for kind, name in OWN_OBJECTS[:1] + OWN_OBJECTS[3:4]:  # (the local provider writes its own kinds' status)
        assert "drover" not in managers(env, kind, name), f"{kind}/{name}: {managers(env, kind, name)}"
    writes = [w for w in audit.writes(mark) if w["objectRef"].get("namespace") == NS]
    touched = {(w["objectRef"]["resource"], w["objectRef"].get("name")) for w in writes
               if w["objectRef"]["resource"] not in ("fleets", "fleetmembers", "events")}
    assert not touched, f"the controller wrote the adopted cluster's objects: {sorted(touched)}"


def test_describe_shows_the_tree_and_the_stack(env):
    text = drover("describe", "cluster", CLUSTER, "-n", NS, f"--kubeconfig={env.mgmt.kubeconfig}")
    (env.tmp / "describe.txt").write_text(text)  # for whoever reads a failure
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["NAME", "REPLICAS"]
    assert lines[1].startswith(f"Cluster/{CLUSTER}")
    assert any(f"ClusterInfrastructure - LocalCluster/{CLUSTER}" in line for line in lines), text
    assert any(f"ControlPlane - LocalControlPlane/{CLUSTER}-control-plane" in line for line in lines), text
    assert any(f"MachineDeployment/{CLUSTER}-md-0" in line for line in lines), text
    names = [m["metadata"]["name"] for m in env.machines()]
    assert "Machines..." in text or all(name in text for name in names), text
    assert f"Stack of {member_name(FLEET, CLUSTER)} (Fleet {FLEET})" in text
    assert any(line.startswith("hello ") for line in lines), text


def test_deleting_the_fleet_leaves_the_adopted_cluster_running(env, audit):
    pids = {name: pid for name, pid in env.processes().pids().items() if pid}
    assert pids, "no processes recorded for the cluster"
    mark = audit.mark()
    env.kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false")
    wait_for(lambda: env.get("fleet", FLEET) is None, 120, what="the Fleet to be deleted")
    wait_for(lambda: env.member() is None, 60, what="its FleetMember to be gone")
    cluster = env.get("cluster", CLUSTER)
    assert cluster is not None and not cluster["metadata"].get("deletionTimestamp")
    assert cluster["status"]["phase"] == "Provisioned"
    deletes = [w["objectRef"] for w in audit.writes(mark) if w["verb"] == "delete"
               and w["objectRef"]["resource"] not in ("fleets", "fleetmembers", "events")]
    assert not deletes, f"the controller deleted: {deletes}"
    assert all(processes.alive(pid) for pid in pids.values())
    nodes = env.workload().get_json("nodes")["items"]
    assert len(nodes) == 2


def test_deleting_the_cluster_stops_its_processes(env):
    pids = [pid for pid in env.processes().pids().values() if pid]
    env.kubectl("delete", "cluster", CLUSTER, "-n", NS, "--wait=false")
    wait_for(lambda: env.get("cluster", CLUSTER) is None, WAIT, what=f"Cluster {CLUSTER} deleted\n{env.diagnostics()}")
    wait_for(lambda: not [pid for pid in pids if processes.alive(pid)], 60, what="the cluster's processes to stop")
