"""Two controller replicas with leader election (`--leader-elect`): only the holder of the Lease
acts; when it is killed (SIGKILL: no chance to release the Lease) the standby takes over once the
Lease expires, resumes from the members' statuses and does nothing twice.

The Fleet is of AWS clusters against the session's moto server: cheap, and the controller's
whole path (render, preflight, apply, FleetMembers, status, Events) runs for them."""

from __future__ import annotations

import re
import secrets
import time

import pytest

from devtools.localplane import CONTROLLER_NAMESPACE
from e2e.fixtures.controller import ControllerProcess, cloud_env, wait_for

TOKEN = secrets.token_hex(4)
NS = f"failover-{TOKEN}"  # outside the session controller's namespaces
FLEET = "ha"
# In the controller's own namespace, where the shipped RBAC lets it hold Leases; named for this run.
LEASE = f"failover-{TOKEN}"
TIMING = ("--leader-elect-lease-duration=6", "--leader-elect-renew-deadline=4", "--leader-elect-retry-period=1")
KEYS = {"AWS_ACCESS_KEY_ID": f"AKIAHA{TOKEN.upper()}", "AWS_SECRET_ACCESS_KEY": f"ha-secret-{TOKEN}"}


def aws_cluster(name: str) -> dict:
    return {"name": name, "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
            "workers": [{"name": "md-0", "replicas": 1}], "credentialsRef": {"name": "aws"}}


def fleet(*clusters: str) -> dict:
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": FLEET, "namespace": NS},
            "spec": {"clusters": [aws_cluster(c) for c in clusters], "health": {"probeInterval": "3s"}}}


def replica(mgmt, moto_server, directory, name: str) -> ControllerProcess:
    return ControllerProcess(mgmt.controller_kubeconfig, directory / f"{name}.log", cloud_env(moto_server),
                             namespaces=(NS,), args=("--leader-elect", f"--leader-elect-namespace={CONTROLLER_NAMESPACE}",
                                   f"--leader-elect-name={LEASE}", *TIMING))


def identity(proc: ControllerProcess) -> str | None:
    found = re.search(r"became leader: Lease \S+ held by (\S+)", proc.logs())
    return found.group(1) if found else None


def lease(kubectl) -> dict:
    return kubectl.get_json("lease", LEASE, "-n", CONTROLLER_NAMESPACE)["spec"]


def clusters_with_members(kubectl) -> list[str]:
    return sorted(m["spec"]["cluster"] for m in kubectl.get_json("fleetmembers", "-n", NS)["items"])


def events_by_member(kubectl) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in kubectl.get_json("events", "-n", NS)["items"]:
        if event["involvedObject"]["kind"] == "FleetMember":
            name = event["involvedObject"]["name"]
            counts[name] = counts.get(name, 0) + event.get("count", 1)
    return counts


def settled_events(kubectl) -> dict[str, int]:
    """The Event counts once two reads, two probe intervals apart, agree."""
    def unchanged():
        before = events_by_member(kubectl)
        time.sleep(6)
        return before if events_by_member(kubectl) == before else None
    return wait_for(unchanged, 120, interval=0, what="the members' Events to settle")


@pytest.fixture(scope="module")
def replicas(kubectl, mgmt, moto_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("failover")
    kubectl("create", "namespace", NS)
    kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": NS},
                   "stringData": KEYS})
    first, second = replica(mgmt, moto_server, directory, "a"), replica(mgmt, moto_server, directory, "b")
    first.start()
    wait_for(lambda: identity(first), 60, what="the first replica to take the Lease")
    second.start()
    yield kubectl, first, second
    for proc in (first, second):
        proc.stop()
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)
    kubectl("patch", "fleet", FLEET, "-n", NS, "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
    kubectl("delete", "namespace", NS, "--wait=false", check=False)
    kubectl("delete", "lease", LEASE, "-n", CONTROLLER_NAMESPACE, check=False)


def test_only_the_leader_acts(replicas):
    kubectl, first, second = replicas
    kubectl.apply(fleet("one", "two"))
    wait_for(lambda: clusters_with_members(kubectl) == ["one", "two"], 120, what="members made by the leader")
    wait_for(lambda: "waiting for the leader Lease" in second.logs(), 30, what="the standby to wait")
    assert lease(kubectl)["holderIdentity"] == identity(first)
    assert identity(second) is None, "the standby must not act while the leader renews"


def test_the_standby_takes_over_when_the_leader_is_killed(replicas):
    kubectl, first, second = replicas
    # Past Pending: CAPI moves a new Cluster on to Provisioning when it gets to it (later on a busy
    # host), a real transition that would otherwise land after the failover.
    wait_for(lambda: all(m.get("status", {}).get("phase") not in (None, "Pending")
                         for m in kubectl.get_json("fleetmembers", "-n", NS)["items"]),
             120, what="both members to have a phase past Pending")
    events_before = settled_events(kubectl)
    assert events_before, "the members' transitions should have Events"
    first.proc.kill()  # SIGKILL: the Lease is left to expire
    first.proc.wait(10)
    killed = time.monotonic()
    kubectl.apply(fleet("one", "two", "three"))
    wait_for(lambda: identity(second), 60, what="the standby to take the Lease")
    took_over = time.monotonic() - killed
    print(f"failover: the standby led {took_over:.1f} s after the leader was killed (Lease of 6 s)")
    wait_for(lambda: clusters_with_members(kubectl) == ["one", "three", "two"], 120,
             what="the new leader to act on the changed Fleet")
    spec = lease(kubectl)
    assert spec["holderIdentity"] == identity(second)
    assert spec["leaseTransitions"] == 1
    # Resumed, not redone: the members that already had their status got no Event again.
    time.sleep(5)
    events_after = events_by_member(kubectl)
    for name, count in events_before.items():
        assert events_after.get(name) == count, f"{name}: {count} Events before the failover, {events_after.get(name)} after"


def test_a_clean_stop_releases_the_lease(replicas):
    kubectl, _, second = replicas
    second.stop()  # SIGTERM
    assert not lease(kubectl).get("holderIdentity")
