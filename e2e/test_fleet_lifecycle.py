"""A Fleet with one cluster of every provider and flavor, through the real controller, the real
apiserver with every provider's CRDs, and the real kubectl: rendering, no-op re-apply, upgrade,
scale, removal under both deletion policies, and deletion of the Fleet."""

from __future__ import annotations

import copy
import json
import time

import pytest

from e2e.fixtures.controller import wait_for
from mgmt.api.models import ClusterSpec
from mgmt.controller.members import member_name
from mgmt.controller.objects import contains
from mgmt.render import cluster_request, render_cluster
from providers.base import Credentials

NS = "fleet-every"
FLEET = "every"
GCP_KEY = json.dumps({"type": "service_account", "project_id": "drover-test", "client_email": "ci@drover-test.iam",
                      "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n",
                      "token_uri": "https://oauth2.googleapis.com/token"})
SECRETS = {
    "aws": {"AWS_ACCESS_KEY_ID": "AKIAEVERYPROVIDER01", "AWS_SECRET_ACCESS_KEY": "every-provider-aws-secret-0001"},
    "gcp": {"credentials.json": GCP_KEY},
    "azure": {"AZURE_CLIENT_ID": "00000000-0000-0000-0000-0000000000c1", "AZURE_CLIENT_SECRET": "every-azure-secret-01",
              "AZURE_TENANT_ID": "00000000-0000-0000-0000-0000000000t1",
              "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-0000000000s1"},
    "digitalocean": {"DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_everyprovidertoken0001"},
    "packet": {"PACKET_API_KEY": "every-packet-api-key-0001"},
    "vsphere": {"username": "administrator@vsphere.local", "password": "every-vsphere-password-01"},
}
POOL = [{"name": "md-0", "replicas": 2}]


def cluster(name, provider, flavor=None, **extra) -> dict:
    out = {"name": name, "provider": provider, "kubernetesVersion": "v1.33.4", "workers": copy.deepcopy(POOL)}
    if flavor:
        out["flavor"] = flavor
    if provider != "local":
        out.update(credentialsRef={"name": f"{provider}-credentials"}, skipPreflight=provider != "aws")
    out.update(extra)
    return out


CLUSTERS = [
    cluster("aws-kubeadm", "aws", region="us-east-1"),
    cluster("aws-eks", "aws", "eks", region="us-east-1"),
    cluster("gcp-kubeadm", "gcp", region="us-central1", variables={"GCP_NETWORK_NAME": "default",
                                                                   "IMAGE_ID": "projects/p/global/images/i"}),
    cluster("gcp-gke", "gcp", "gke", region="europe-west1", variables={"GCP_NETWORK_NAME": "default"},
            deletionPolicy="Orphan"),
    cluster("azure-kubeadm", "azure", region="westeurope"),
    cluster("azure-aks", "azure", "aks", region="eastus"),
    cluster("do-kubeadm", "digitalocean", region="nyc3", variables={
        "DO_CONTROL_PLANE_MACHINE_IMAGE": "1", "DO_NODE_MACHINE_IMAGE": "1", "DO_SSH_KEY_FINGERPRINT": "aa:bb"}),
    cluster("packet-kubeadm", "packet", region="da", variables={"PACKET_PROJECT_ID": "p-1"}),
    cluster("vsphere-kubeadm", "vsphere", region="dc-1", variables={
        "VSPHERE_SERVER": "vcenter.example.internal", "VSPHERE_TLS_THUMBPRINT": "AA:" * 19 + "AA",
        "VSPHERE_DATASTORE": "ds-1", "VSPHERE_NETWORK": "VM Network", "VSPHERE_RESOURCE_POOL": "*/Resources",
        "VSPHERE_FOLDER": "vm", "VSPHERE_TEMPLATE": "ubuntu-2404-kube-v1.33.4",
        "CONTROL_PLANE_ENDPOINT_IP": "10.0.0.10", "VSPHERE_SSH_AUTHORIZED_KEY": "ssh-ed25519 AAAA drover"}),
    cluster("local-1", "local", kubernetesVersion="v1.35.8", workers=[]),
]


def fleet() -> dict:
    """The Fleet as the module's tests have changed it so far."""
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
            "metadata": {"name": FLEET, "namespace": NS},
            "spec": {"clusters": CLUSTERS, "health": {"probeInterval": "2s"}}}


def secrets() -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{p}-credentials", "namespace": NS},
             "stringData": data} for p, data in SECRETS.items()]


def rendered(spec: dict) -> list[dict]:
    parsed = ClusterSpec.model_validate(spec)
    credentials = Credentials(f"{parsed.provider}-credentials", SECRETS[parsed.provider]) \
        if parsed.provider != "local" else None
    return render_cluster(cluster_request(parsed, NS, FLEET), credentials)


def live(kubectl, obj: dict) -> dict | None:
    meta = obj["metadata"]
    kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else obj["kind"]
    args = ["get", kind, meta["name"], "-o", "json"] + (["-n", meta["namespace"]] if meta.get("namespace") else [])
    result = kubectl.run(*args, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def member(kubectl, name: str) -> dict | None:
    result = kubectl.run("get", "fleetmember", member_name(FLEET, name), "-n", NS, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def failure_reasons(m: dict | None) -> set[str]:
    return {c.get("reason") for c in ((m or {}).get("status") or {}).get("conditions", []) if c.get("status") != "True"}


@pytest.fixture(scope="module")
def every(kubectl, controller, local_provider, shared_crds):
    kubectl("create", "namespace", NS)
    kubectl.apply(secrets())
    kubectl.apply(fleet())
    yield
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)


def all_objects_present(kubectl, spec) -> bool:
    return all(live(kubectl, obj) is not None for obj in rendered(spec))


def test_every_provider_and_flavor_is_rendered_and_accepted(kubectl, every):
    for spec in CLUSTERS:
        wait_for(lambda spec=spec: all_objects_present(kubectl, spec), 180, what=f"objects of {spec['name']}")
    for spec in CLUSTERS:
        for sent in rendered(spec):
            stored = live(kubectl, sent)
            body = {k: v for k, v in sent.items() if k not in ("apiVersion", "kind")}
            if sent["kind"] == "Secret":  # stored base64; compare the keys only
                assert set(stored.get("data", {})) >= set(body.get("data", {}))
                continue
            assert contains(stored, body), f"{sent['kind']}/{sent['metadata']['name']}: server pruned or changed fields"
    # CAPDO's and CAPV's CRDs come from ../shared (the module proxy serves neither provider).
    for name in ("do-kubeadm", "vsphere-kubeadm"):
        assert "ApplyFailed" not in failure_reasons(member(kubectl, name)), member(kubectl, name)["status"]


def test_retired_provider_is_flagged(kubectl, every):
    packet = wait_for(lambda: (member(kubectl, "packet-kubeadm") or {}).get("status") and
                      member(kubectl, "packet-kubeadm"), 120, what="packet member status")
    text = json.dumps(packet["status"]["conditions"])
    assert "2026-06-30" in text


def resource_versions(kubectl) -> dict[str, str]:
    versions = {}
    for spec in CLUSTERS:
        for obj in rendered(spec):
            found = live(kubectl, obj)
            if found:
                versions[f"{obj['kind']}/{obj['metadata']['name']}"] = found["metadata"]["resourceVersion"]
    for kind in ("fleetmembers", "fleets"):
        for item in kubectl.get_json(kind, "-n", NS)["items"]:
            versions[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return versions


def settled(kubectl) -> dict[str, str]:
    """The resourceVersions once the local cluster is up and nothing has changed for a while."""
    wait_for(lambda: ((member(kubectl, "local-1") or {}).get("status") or {}).get("phase") == "Ready", 240,
             what="the local cluster to be Ready")

    def unchanged():
        before = resource_versions(kubectl)
        time.sleep(6)  # three probe intervals
        return before if resource_versions(kubectl) == before else None
    return wait_for(unchanged, 180, interval=0, what="the fleet to settle")


def test_reapplying_the_same_fleet_writes_nothing(kubectl, every, audit):
    wait_for(lambda: all(all_objects_present(kubectl, s) for s in CLUSTERS), 180, what="every object")
    before, mark = settled(kubectl), audit.mark()
    # kubectl's client-side apply resends lists the server defaulted ("configured"); the server
    # finds nothing to change, so no object may get a new resourceVersion.
    kubectl.apply(fleet())
    time.sleep(8)  # several probe and stack cycles
    assert resource_versions(kubectl) == before
    writes = audit.writes(mark)
    assert not writes, f"controller wrote while nothing changed: {[w['requestURI'] for w in writes]}"


def test_controller_restart_resumes_without_rewriting(kubectl, every, audit, controller):
    before, mark = settled(kubectl), audit.mark()
    controller.restart()
    time.sleep(10)  # a full reconcile, stack and several probe cycles after the restart
    assert resource_versions(kubectl) == before
    writes = audit.writes(mark)
    assert not writes, f"restarted controller rewrote: {[w['requestURI'] for w in writes]}"


def set_cluster(name: str, **changes) -> list[dict]:
    clusters = copy.deepcopy(CLUSTERS)
    for spec in clusters:
        if spec["name"] == name:
            spec.update(changes)
    return clusters


def get(kubectl, kind: str, name: str) -> dict:
    return kubectl.get_json(kind, name, "-n", NS)


def test_scale_changes_replicas(kubectl, every):
    global CLUSTERS
    CLUSTERS = set_cluster("aws-kubeadm", workers=[{"name": "md-0", "replicas": 3}], controlPlane={"replicas": 3})
    kubectl.apply(fleet())
    wait_for(lambda: get(kubectl, "machinedeployment", "aws-kubeadm-md-0")["spec"]["replicas"] == 3, 60,
             what="MachineDeployment scaled to 3")
    assert get(kubectl, "kubeadmcontrolplane", "aws-kubeadm-control-plane")["spec"]["replicas"] == 3


def test_a_field_someone_else_set_is_a_conflict_on_that_member_not_overwritten(kubectl, every):
    """Each Fleet applies under its own field manager, without force: the real apiserver decides
    what conflicts; the member says which field and whose, and the person's value stays."""
    global CLUSTERS
    md = "aws-kubeadm-md-0"
    kubectl("patch", "machinedeployment", md, "-n", NS, "--type=merge", "-p", '{"spec": {"replicas": 5}}')
    CLUSTERS = set_cluster("aws-kubeadm", workers=[{"name": "md-0", "replicas": 4}], controlPlane={"replicas": 3})
    kubectl.apply(fleet())

    def conflict() -> dict | None:
        conditions = ((member(kubectl, "aws-kubeadm") or {}).get("status") or {}).get("conditions", [])
        return next((c for c in conditions if c.get("reason") == "ApplyFailed"), None)
    condition = wait_for(conflict, 90, what="the conflict on the aws-kubeadm member")
    assert '"kubectl-patch"' in condition["message"] and ".spec.replicas" in condition["message"], condition
    assert get(kubectl, "machinedeployment", md)["spec"]["replicas"] == 5, "the other manager's value was overwritten"
    managed = kubectl.get_json("machinedeployment", md, "-n", NS, "--show-managed-fields")["metadata"]["managedFields"]
    managers = {m["manager"] for m in managed}
    assert f"drover/{NS}/{FLEET}" in managers and "drover" not in managers
    assert "ApplyFailed" not in failure_reasons(member(kubectl, "gcp-kubeadm")), "only that member fails"

    CLUSTERS = set_cluster("aws-kubeadm", workers=[{"name": "md-0", "replicas": 5}], controlPlane={"replicas": 3})
    kubectl.apply(fleet())  # the same value as the other manager's: the field is shared, no conflict
    wait_for(lambda: conflict() is None, 90, what="the conflict to end once the Fleet declares the same value")


def test_version_change_upgrades_control_plane_first(kubectl, every):
    global CLUSTERS
    CLUSTERS = set_cluster("aws-kubeadm", kubernetesVersion="v1.34.1")
    kubectl.apply(fleet())
    kcp = "aws-kubeadm-control-plane"
    wait_for(lambda: get(kubectl, "kubeadmcontrolplane", kcp)["spec"]["version"] == "v1.34.1", 60,
             what="control plane version")
    time.sleep(4)  # more reconciles: the workers must keep waiting
    md = get(kubectl, "machinedeployment", "aws-kubeadm-md-0")
    assert md["spec"]["template"]["spec"]["version"] == "v1.33.4", "workers upgraded before the control plane"
    # The control plane reports the new version (as KubeadmControlPlane's controller would) ...
    kubectl("patch", "kubeadmcontrolplane", kcp, "-n", NS, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {"version": "v1.34.1"}}))
    # ... and only then do the workers follow.
    wait_for(lambda: get(kubectl, "machinedeployment", "aws-kubeadm-md-0")["spec"]["template"]["spec"]["version"]
             == "v1.34.1", 60, what="workers upgraded after the control plane")


def test_removing_a_cluster_deletes_its_objects(kubectl, every):
    global CLUSTERS
    removed = next(c for c in CLUSTERS if c["name"] == "aws-eks")
    CLUSTERS = [c for c in CLUSTERS if c["name"] != "aws-eks"]
    kubectl.apply(fleet())
    wait_for(lambda: all(live(kubectl, o) is None for o in rendered(removed)), 180, what="aws-eks objects deleted")
    wait_for(lambda: member(kubectl, "aws-eks") is None, 60, what="aws-eks member deleted")


def test_removing_an_orphan_cluster_leaves_its_objects(kubectl, every):
    global CLUSTERS
    removed = next(c for c in CLUSTERS if c["name"] == "gcp-gke")
    CLUSTERS = [c for c in CLUSTERS if c["name"] != "gcp-gke"]
    kubectl.apply(fleet())
    wait_for(lambda: member(kubectl, "gcp-gke") is None, 60, what="gcp-gke member removed")
    for obj in rendered(removed):
        stored = live(kubectl, obj)
        assert stored is not None, f"{obj['kind']} of an Orphan cluster was deleted"
        assert "fleet.drover.dev/fleet" not in stored["metadata"].get("labels", {})
        assert stored["metadata"]["annotations"]["fleet.drover.dev/orphaned-from"] == FLEET


def test_deleting_the_fleet_deletes_its_clusters_in_order(kubectl, every, audit):
    mark = audit.mark()
    remaining = [c for c in CLUSTERS if c.get("deletionPolicy") != "Orphan"]
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false")
    wait_for(lambda: kubectl.run("get", "fleet", FLEET, "-n", NS, check=False).returncode != 0, 240,
             what="the Fleet to be gone")
    for spec in remaining:
        leftovers = [o for o in rendered(spec) if live(kubectl, o) is not None]
        assert not leftovers, f"{spec['name']}: left behind {[o['kind'] for o in leftovers]}"
    assert kubectl.get_json("fleetmembers", "-n", NS)["items"] == []
    deletes = [(w["objectRef"].get("resource"), w["objectRef"].get("name")) for w in audit.writes(mark)
               if w["verb"] == "delete"]
    for spec in remaining:
        if not spec["workers"]:
            continue
        pool = f"{spec['name']}-md-0"
        md = next(i for i, d in enumerate(deletes) if d in (("machinedeployments", pool), ("machinepools", pool)))
        cl = deletes.index(("clusters", spec["name"]))
        assert md < cl, f"{spec['name']}: Cluster deleted before its workers"
