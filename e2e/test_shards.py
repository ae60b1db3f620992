"""Fleets split across two controller shards (`--shard-count 2 --shard-index 0|1`): each Fleet is
reconciled by its own shard's replica and left entirely alone by the other (no finalizer, no
member, no log line).

The Fleets are of AWS clusters against the session's moto server, as in test_failover.py."""

from __future__ import annotations

import secrets

import pytest

from e2e.fixtures.controller import ControllerProcess, cloud_env, wait_for
from mgmt.controller.shards import shard_of

TOKEN = secrets.token_hex(4)
NS = f"shards-{TOKEN}"  # outside the session controller's namespaces
KEYS = {"AWS_ACCESS_KEY_ID": f"AKIASH{TOKEN.upper()}", "AWS_SECRET_ACCESS_KEY": f"shard-secret-{TOKEN}"}


def fleet_in_shard(index: int) -> str:
    return next(f"fleet-{n}" for n in range(100) if shard_of(NS, f"fleet-{n}", 2) == index)


FLEETS = (fleet_in_shard(0), fleet_in_shard(1))


def fleet(name: str) -> dict:
    cluster = {"name": "one", "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
               "workers": [{"name": "md-0", "replicas": 1}], "credentialsRef": {"name": "aws"}}
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": name, "namespace": NS},
            "spec": {"clusters": [cluster], "health": {"probeInterval": "3s"}}}


def members_of(kubectl, name: str) -> list[str]:
    return [m["metadata"]["name"] for m in
            kubectl.get_json("fleetmembers", "-n", NS, "-l", f"fleet.drover.dev/fleet={name}")["items"]]


@pytest.fixture(scope="module")
def shards(kubectl, mgmt, moto_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("shards")
    kubectl("create", "namespace", NS)
    kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws", "namespace": NS},
                   "stringData": KEYS})
    replicas = [ControllerProcess(mgmt.controller_kubeconfig, directory / f"shard-{i}.log", cloud_env(moto_server),
                                  namespaces=(NS,), args=("--shard-count=2", f"--shard-index={i}"))
                for i in (0, 1)]
    yield kubectl, replicas
    for proc in replicas:
        proc.stop()
    for name in FLEETS:
        kubectl("delete", "fleet", name, "-n", NS, "--wait=false", check=False)
        kubectl("patch", "fleet", name, "-n", NS, "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_each_shard_reconciles_only_its_own_fleets(shards):
    kubectl, (zero, one) = shards
    zero.start()
    wait_for(lambda: "acting on the Fleets of shard 0 of 2" in zero.logs(), 60, what="shard 0 to start")
    kubectl.apply([fleet(FLEETS[0]), fleet(FLEETS[1])])
    wait_for(lambda: members_of(kubectl, FLEETS[0]), 120, what=f"shard 0 to reconcile {FLEETS[0]}")
    wait_for(lambda: kubectl.get_json("fleet", FLEETS[0], "-n", NS).get("status", {}).get("observedGeneration"), 60,
             what=f"{FLEETS[0]}'s status")
    other = kubectl.get_json("fleet", FLEETS[1], "-n", NS)
    assert not other["metadata"].get("finalizers") and not other.get("status") and not members_of(kubectl, FLEETS[1])

    one.start()
    wait_for(lambda: members_of(kubectl, FLEETS[1]), 120, what=f"shard 1 to reconcile {FLEETS[1]}")
    assert kubectl.get_json("fleet", FLEETS[1], "-n", NS)["metadata"]["finalizers"] == ["fleet.drover.dev/finalizer-shard-1"]
    assert FLEETS[1] not in zero.logs() and FLEETS[0] not in one.logs()


def test_each_shard_deletes_only_its_own_fleets_and_drops_former_owners_finalizers(shards):
    kubectl, (_, one) = shards
    one.stop()
    # as a Fleet keeps it from a former shard layout (here: one shard), until its deletion drops it
    kubectl("patch", "fleet", FLEETS[1], "-n", NS, "--type=json",
            "-p", '[{"op": "add", "path": "/metadata/finalizers/-", "value": "fleet.drover.dev/finalizer"}]')
    kubectl("delete", "fleet", FLEETS[0], "-n", NS, "--timeout=120s", timeout=150)
    kubectl("delete", "fleet", FLEETS[1], "-n", NS, "--wait=false")
    wait_for(lambda: not members_of(kubectl, FLEETS[0]), 60, what=f"{FLEETS[0]}'s members to go")
    stuck = kubectl.get_json("fleet", FLEETS[1], "-n", NS)
    assert stuck["metadata"].get("deletionTimestamp") and members_of(kubectl, FLEETS[1]), \
        "shard 0 must not finish a deletion that is shard 1's"
    one.start()
    wait_for(lambda: kubectl.run("get", "fleet", FLEETS[1], "-n", NS, check=False).returncode != 0, 120,
             what=f"shard 1 to delete {FLEETS[1]}")
