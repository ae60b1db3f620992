"""Cloud preflight and credentials through the real controller (issue 7): its AWS SDK talks to a
moto server. A Fleet with one good AWS cluster, one in a region that does not exist and one whose
credentials Secret is missing: only the good one gets Cluster API objects, the others say why in
their FleetMember and in a Warning Event. Then no log, Event or status holds a credential."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

import pytest

from e2e.fixtures.controller import wait_for
from mgmt.api.models import CLUSTER_NAME_LABEL, FLEET_LABEL, ClusterSpec
from mgmt.controller.members import member_name
from mgmt.controller.objects import template_kinds
from mgmt.render import cluster_request, render_cluster
from providers.base import Credentials

TOKEN = secrets.token_hex(4)
NS = f"fleet-cloud-{TOKEN}"
FLEET = "clouds"
GOOD, BAD, NO_CREDS = f"good-{TOKEN}", f"bad-{TOKEN}", f"nocreds-{TOKEN}"
BAD_REGION = "us-nowhere-1"
# Distinctive values: any key works with moto, and a scan can only find what is unique.
KEYS = {
    "aws-good": {"AWS_ACCESS_KEY_ID": f"AKIAGOOD{TOKEN.upper()}", "AWS_SECRET_ACCESS_KEY": f"good-secret-{TOKEN}-x9"},
    "aws-bad": {"AWS_ACCESS_KEY_ID": f"AKIABAD{TOKEN.upper()}", "AWS_SECRET_ACCESS_KEY": f"bad-secret-{TOKEN}-q7"},
}


def aws_cluster(name: str, region: str, secret: str) -> dict:
    return {"name": name, "provider": "aws", "region": region, "kubernetesVersion": "v1.33.4",
            "workers": [{"name": "md-0", "replicas": 1}], "credentialsRef": {"name": secret}}


CLUSTERS = [
    aws_cluster(GOOD, "us-east-1", "aws-good"),
    aws_cluster(BAD, BAD_REGION, "aws-bad"),
    aws_cluster(NO_CREDS, "us-east-1", "aws-absent"),
]


def credential_values() -> list[str]:
    values = [v for data in KEYS.values() for v in data.values()]
    return values + [base64.b64encode(v.encode()).decode() for v in values]


def rendered(spec: dict) -> list[dict]:
    parsed = ClusterSpec.model_validate(spec)
    data = KEYS.get(spec["credentialsRef"]["name"], KEYS["aws-good"])
    return render_cluster(cluster_request(parsed, NS, FLEET), Credentials(spec["credentialsRef"]["name"], data))


def live(kubectl, obj: dict) -> dict | None:
    meta = obj["metadata"]
    kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else obj["kind"]
    args = ["get", kind, meta["name"], "-o", "json"] + (["-n", meta["namespace"]] if meta.get("namespace") else [])
    result = kubectl.run(*args, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def labelled(kubectl, cluster: str) -> list[str]:
    """Every object of any kind the AWS template (and its identities) makes, labelled as `cluster`."""
    found = []
    for api_version, kind in template_kinds("aws", None):
        resource = f"{kind.lower()}.{api_version.split('/')[0]}" if "/" in api_version else kind.lower()
        items = kubectl.get_json(resource, "-A", "-l", f"{FLEET_LABEL}={FLEET},{CLUSTER_NAME_LABEL}={cluster}")
        found += [f"{kind}/{i['metadata']['name']}" for i in items["items"]]
    return found


def member(kubectl, cluster: str) -> dict | None:
    result = kubectl.run("get", "fleetmember", member_name(FLEET, cluster), "-n", NS, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def condition(m: dict | None, type_: str) -> dict | None:
    return next((c for c in ((m or {}).get("status") or {}).get("conditions", []) if c["type"] == type_), None)


def failed_preflight(kubectl, cluster: str, reason: str):
    found = condition(member(kubectl, cluster), "PreflightPassed")
    return found if found and found["status"] == "False" and found["reason"] == reason else None


def warning_events(kubectl, cluster: str) -> list[dict]:
    items = kubectl.get_json("events", "-n", NS)["items"]
    return [e for e in items if e["type"] == "Warning" and e["involvedObject"]["name"] == member_name(FLEET, cluster)]


class Watch:
    """The real `kubectl get --watch` of the namespace's Fleets, FleetMembers and Events (one
    kubectl per kind, as it watches only one): every version written while the module runs."""

    KINDS = ("fleets", "fleetmembers", "events")

    def __init__(self, kubectl, directory: Path):
        self.paths = [directory / f"{kind}.json" for kind in self.KINDS]
        self.procs = []
        for kind, path in zip(self.KINDS, self.paths):
            with open(path, "w") as out:
                self.procs.append(subprocess.Popen(
                    [kubectl.path, f"--kubeconfig={kubectl.kubeconfig}", "get", kind, "-n", NS, "--watch",
                     "-o", "json"], stdout=out, stderr=subprocess.STDOUT))

    def text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.paths)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def cloud_fleet(kubectl, controller, tmp_path_factory):
    kubectl("create", "namespace", NS)
    watch = Watch(kubectl, tmp_path_factory.mktemp("watch"))
    kubectl.apply([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
                    "stringData": data} for name, data in KEYS.items()])
    kubectl.apply({"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
                   "metadata": {"name": FLEET, "namespace": NS},
                   "spec": {"clusters": CLUSTERS, "health": {"probeInterval": "3s"}}})
    yield watch
    watch.stop()
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)
    wait_for(lambda: kubectl.run("get", "fleet", FLEET, "-n", NS, check=False).returncode != 0, 180,
             what="the Fleet to be deleted")
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_good_cluster_gets_every_object(kubectl, cloud_fleet):
    objects = rendered(CLUSTERS[0])
    kinds = {o["kind"] for o in objects}
    assert {"Cluster", "AWSCluster", "KubeadmControlPlane", "MachineDeployment", "AWSMachineTemplate",
            "KubeadmConfigTemplate", "AWSClusterStaticIdentity", "Secret"} <= kinds
    wait_for(lambda: all(live(kubectl, o) for o in objects), 180, what=f"every object of {GOOD}")
    passed = wait_for(lambda: condition(member(kubectl, GOOD), "PreflightPassed"), 60, what="good preflight")
    assert (passed["status"], passed["reason"]) == ("True", "Passed")
    identity = live(kubectl, next(o for o in objects if o["kind"] == "AWSClusterStaticIdentity"))
    assert identity["spec"]["allowedNamespaces"] == {"list": [NS]}


def test_bad_region_gets_no_objects_and_says_why(kubectl, cloud_fleet):
    found = wait_for(lambda: failed_preflight(kubectl, BAD, "RegionNotFound"), 120, what=f"{BAD} RegionNotFound")
    assert f"AWS region '{BAD_REGION}' does not exist" in found["message"]
    assert "us-east-1" in found["message"]  # it lists the regions there are
    # The good cluster went on: its objects are there while the bad one has none.
    wait_for(lambda: live(kubectl, rendered(CLUSTERS[0])[0]), 120, what=f"{GOOD} objects")
    assert labelled(kubectl, BAD) == []
    assert [o["kind"] for o in rendered(CLUSTERS[1]) if live(kubectl, o)] == []
    m = member(kubectl, BAD)
    assert m["status"]["phase"] == "Failed"
    ready = condition(m, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "RegionNotFound"
    events = wait_for(lambda: warning_events(kubectl, BAD), 60, what=f"a Warning Event about {BAD}")
    assert any(f"AWS region '{BAD_REGION}' does not exist" in e["message"] for e in events), events


def test_missing_secret_gets_no_objects_and_says_why(kubectl, cloud_fleet):
    found = wait_for(lambda: failed_preflight(kubectl, NO_CREDS, "CredentialsNotFound"), 120,
                     what=f"{NO_CREDS} CredentialsNotFound")
    assert found["message"] == f"Secret {NS}/aws-absent (credentialsRef) does not exist"
    assert labelled(kubectl, NO_CREDS) == []
    events = wait_for(lambda: warning_events(kubectl, NO_CREDS), 60, what=f"a Warning Event about {NO_CREDS}")
    assert any("aws-absent" in e["message"] for e in events), events


def test_creating_the_secret_lets_the_cluster_go_on(kubectl, cloud_fleet):
    kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-absent", "namespace": NS},
                   "stringData": KEYS["aws-good"]})
    # The controller rereads Secrets on its resync; a change of the Fleet's spec wakes it sooner.
    kubectl("patch", "fleet", FLEET, "-n", NS, "--type=merge", "-p",
            json.dumps({"spec": {"health": {"probeInterval": "4s"}}}))
    objects = rendered(CLUSTERS[2])
    wait_for(lambda: all(live(kubectl, o) for o in objects), 180, what=f"every object of {NO_CREDS}")
    wait_for(lambda: (condition(member(kubectl, NO_CREDS), "PreflightPassed") or {}).get("status") == "True",
             60, what=f"{NO_CREDS} preflight to pass")


def test_no_credential_in_logs_events_or_status(kubectl, controller, local_provider, cloud_fleet):
    wait_for(lambda: labelled(kubectl, GOOD), 120, what="the good cluster's objects")
    texts = {
        "controller log": controller.logs(),
        "events": kubectl("get", "events", "-A", "-o", "json"),
        "fleets": kubectl("get", "fleets", "-A", "-o", "json"),
        "fleetmembers": kubectl("get", "fleetmembers", "-A", "-o", "json"),
    }
    if local_provider.log.exists():
        texts["local provider log"] = local_provider.log.read_text(errors="replace")
    texts["every status and Event written (watch)"] = cloud_fleet.text()
    # the right things were scanned: they hold what this module's Fleet made
    assert "RegionNotFound" in texts["fleetmembers"] and f"AWS region '{BAD_REGION}'" in texts["events"]
    assert "CredentialsNotFound" in texts["every status and Event written (watch)"]
    assert f"{NS}/aws-absent" in texts["controller log"]
    leaks = [(where, value) for where, text in texts.items() for value in credential_values() if value in text]
    assert not leaks, f"credential values found in: {sorted({where for where, _ in leaks})}"



def test_deleting_the_fleet_removes_every_copy_of_the_keys(kubectl, cloud_fleet):
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false")
    wait_for(lambda: kubectl.run("get", "fleet", FLEET, "-n", NS, check=False).returncode != 0, 180,
             what="the Fleet to be deleted")
    for cluster in (GOOD, BAD, NO_CREDS):
        assert labelled(kubectl, cluster) == []
    copies = kubectl.get_json("secrets", "-A", "-l", f"drover.dev/cluster-namespace={NS}")["items"]
    assert copies == [], [c["metadata"]["name"] for c in copies]
