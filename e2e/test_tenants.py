"""Two tenants (issue 13): team-a's Fleet cannot read, write or push team-b's Secrets or objects.

Each team has a namespace the session's controller watches and a Fleet author: a user of the
management apiserver (a client certificate of its CA) bound to a Role that allows Fleets in its
own namespace and nothing else. team-b holds things team-a would like: a stack source Secret and
a chart ConfigMap (both opted in as stack sources), cloud credentials, and an adoptable cluster
whose kubeconfig Secret carries a token. team-a's Fleet names each of them:

- by name in a stack component (manifestsFrom, chartFrom, the kubeconfig Secret as a source): the
  name resolves in team-a's namespace, so each component fails alone, saying what is not found;
- as a cluster's credentialsRef: that member fails alone (CredentialsNotFound);
- by a selector that team-b's cluster matches too: only team-a's own cluster becomes a member;
- by namespace (`team-b/...`, a NAMESPACE variable): refused at `kubectl apply`, naming the field.

team-a's own cluster still goes Ready and gets team-a's own component; nothing of team-b's reaches
it, the controller and team-a's author wrote nothing in team-b (audit log) and team-b's objects
are as they were, and team-a's author cannot even read team-b through the API.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
import yaml

from devtools.localkube import kubeconfig_dict
from devtools.localplane import CONTROLLER_USER
from e2e.fixtures.controller import wait_for
from mgmt.controller.members import member_name

TOKEN = secrets.token_hex(3)
A, B = f"fleet-team-a-{TOKEN}", f"fleet-team-b-{TOKEN}"  # watched by the session's controller (fleet-*)
AUTHOR_A = f"author-a-{TOKEN}"
FLEET = "apps"
SOURCE = "fleet.drover.dev/stack-source"
B_TOKEN = f"team-b-kubeconfig-token-{TOKEN}-5d1e"  # in team-b's cluster kubeconfig
B_KEY = f"team-b-secret-access-key-{TOKEN}"
B_BUNDLE = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-team-b"},
                           "data": {"owner": "team-b"}})
OWN = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "own"},
                      "data": {"cluster": "{{ cluster.name }}"}})
WAIT = 180
# component -> (its source, what its Failed message must say)
REACHING = {
    "b-manifests": ({"manifestsFrom": [{"kind": "Secret", "name": "b-bundle"}]}, f"Secret {A}/b-bundle not found"),
    "b-chart": ({"helm": {"chartFrom": {"kind": "ConfigMap", "name": "b-chart"}}},
                f"ConfigMap {A}/b-chart not found"),
    "b-kubeconfig": ({"manifestsFrom": [{"kind": "Secret", "name": "b1-kubeconfig"}]},
                     f"Secret {A}/b1-kubeconfig not found"),
}


def simulated_cluster(name: str, namespace: str) -> list[dict]:
    """A cluster the local provider simulates, labelled for both teams' selectors."""
    meta = {"name": name, "namespace": namespace,
            "labels": {"cluster.x-k8s.io/cluster-name": name, "tenant": f"shared-{TOKEN}"}}
    return [
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": meta,
         "spec": {"controlPlaneRef": {"apiGroup": "controlplane.drover.dev", "kind": "LocalControlPlane",
                                      "name": f"{name}-control-plane"},
                  "infrastructureRef": {"apiGroup": "infrastructure.drover.dev", "kind": "LocalCluster",
                                        "name": name}}},
        {"apiVersion": "infrastructure.drover.dev/v1alpha1", "kind": "LocalCluster", "metadata": meta,
         "spec": {"simulated": {"nodes": 1}}},
        {"apiVersion": "controlplane.drover.dev/v1alpha1", "kind": "LocalControlPlane",
         "metadata": {**meta, "name": f"{name}-control-plane"}, "spec": {"version": "v1.35.8"}},
    ]


def team_b_objects(server: str) -> list[dict]:
    """What team-b keeps (made by an administrator): a paused Cluster with nothing behind it
    (CAPI leaves it alone) whose kubeconfig points at a real server, sources, credentials."""
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "b",
              "clusters": [{"name": "b", "cluster": {"server": server}}],
              "users": [{"name": "b", "user": {"token": B_TOKEN}}],
              "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}]}
    source = {SOURCE: "true"}
    return [
        {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
         "metadata": {"name": "b1", "namespace": B, "labels": {"tenant": f"shared-{TOKEN}"}}, "spec": {"paused": True}},
        {"apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
         "metadata": {"name": "b1-kubeconfig", "namespace": B, "labels": {"cluster.x-k8s.io/cluster-name": "b1"}},
         "data": {"value": base64.b64encode(yaml.safe_dump(config).encode()).decode()}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b-bundle", "namespace": B, "labels": source},
         "stringData": {"bundle.yaml": B_BUNDLE}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b-chart", "namespace": B, "labels": source},
         "data": {"chart.tgz": "not a chart"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-b", "namespace": B},
         "stringData": {"AWS_ACCESS_KEY_ID": f"AKIATEAMB{TOKEN.upper()}", "AWS_SECRET_ACCESS_KEY": B_KEY}},
    ]


def author_rbac(namespace: str, user: str) -> list[dict]:
    """Fleets in `namespace`, and reading their members: all a Fleet author is given."""
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "fleet-author", "namespace": namespace},
         "rules": [{"apiGroups": ["fleet.drover.dev"], "resources": ["fleets"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                   {"apiGroups": ["fleet.drover.dev"], "resources": ["fleetmembers"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "fleet-author", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "fleet-author"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]},
    ]


def team_a_fleet(**change) -> dict:
    components = [{"name": "own", "namespace": "app", "manifests": OWN}]
    components += [{"name": name, "namespace": "app", **source} for name, (source, _) in REACHING.items()]
    spec = {"selector": {"matchLabels": {"tenant": f"shared-{TOKEN}"}},
            "clusters": [{"name": "a-aws", "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
                          "workers": [{"name": "md-0", "replicas": 1}], "credentialsRef": {"name": "aws-b"}}],
            "health": {"probeInterval": "3s"}, "rollout": {"maxUnavailable": "100%"},
            "stack": {"components": components}}
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": FLEET, "namespace": A},
            "spec": {**spec, **change}}


class Tenants:
    def __init__(self, kubectl, author, tmp: Path, mark: int, team_b_versions: dict):
        self.kubectl, self.author, self.tmp, self.mark = kubectl, author, tmp, mark
        self.team_b_versions = team_b_versions

    def member(self, cluster: str) -> dict:
        result = self.kubectl.run("get", "fleetmember", member_name(FLEET, cluster), "-n", A, "-o", "json",
                                  check=False)
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def component(self, name: str) -> dict:
        status = self.member("a1").get("status") or {}
        return next((c for c in status.get("components", []) if c["name"] == name), {})

    def diagnostics(self) -> str:
        return self.kubectl("get", "fleet,fleetmembers,clusters", "-n", A, "-o", "wide", check=False)


def versions(kubectl, namespace: str) -> dict[str, str]:
    """kind/name -> resourceVersion of what a team keeps (its Cluster aside: CAPI writes its status)."""
    items = kubectl.get_json("secrets,configmaps,fleets,fleetmembers", "-n", namespace)["items"]
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}


@pytest.fixture(scope="module")
def tenants(kubectl, mgmt, controller, local_provider, audit, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tenants")
    for namespace in (A, B):
        kubectl("create", "namespace", namespace)
    kubectl.apply(author_rbac(A, AUTHOR_A))
    server = mgmt.apiserver(audit=True)
    pair = server.client_pair(AUTHOR_A, ("fleet-authors",))
    config = tmp / "author-a.kubeconfig"
    config.write_text(yaml.safe_dump(kubeconfig_dict(server.name, server.url, (server.pki_dir / "ca.crt").read_bytes(),
                                                     pair.cert_pem, pair.key_pem, AUTHOR_A)))
    config.chmod(0o600)
    author = type(kubectl)(config)
    kubectl.apply(simulated_cluster("a1", A))
    wait_for(lambda: kubectl.run("get", "secret", "a1-kubeconfig", "-n", A, check=False).returncode == 0,
             WAIT, what="team-a's cluster's kubeconfig Secret")
    a1 = yaml.safe_load(base64.b64decode(kubectl.get_json("secret", "a1-kubeconfig", "-n", A)["data"]["value"]))
    # team-b's kubeconfig points at team-a's real workload server: honouring it would have worked
    kubectl.apply(team_b_objects(a1["clusters"][0]["cluster"]["server"]))
    before = versions(kubectl, B)
    mark = audit.mark()
    author.apply(team_a_fleet())
    yield Tenants(kubectl, author, tmp, mark, before)
    kubectl("delete", "fleet", FLEET, "-n", A, "--wait=false", check=False)
    kubectl("delete", "clusters", "--all", "-n", A, "--wait=false", check=False)
    kubectl("delete", "clusters", "--all", "-n", B, "--wait=false", check=False)
    for namespace in (A, B):
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_team_a_author_cannot_read_or_write_team_b(tenants):
    author = tenants.author
    for args in (("get", "secrets", "-n", B), ("get", "secret", "aws-b", "-n", B), ("get", "configmaps", "-n", B),
                 ("get", "fleets", "-n", B), ("get", "clusters", "-n", B), ("get", "secrets", "-n", A)):
        result = author.run(*args, check=False)
        assert result.returncode != 0 and "Forbidden" in result.stderr, (args, result.stdout, result.stderr)
    foreign = team_a_fleet()
    foreign["metadata"]["namespace"] = B
    result = author.apply(foreign, check=False)
    assert result.returncode != 0 and "forbidden" in result.stderr, result.stderr
    assert author.get_json("fleet", FLEET, "-n", A)["metadata"]["namespace"] == A  # the Role does work


@pytest.mark.parametrize(("path", "value", "field"), [
    ("variables", {"NAMESPACE": B}, "spec.clusters[0].variables"),
    ("manifestsFrom", [{"kind": "Secret", "name": f"{B}/b-bundle"}], "spec.stack.components[1].manifestsFrom[0].name"),
    ("credentialsRef", {"name": f"{B}.aws-b"}, "spec.clusters[0].credentialsRef.name"),
], ids=["namespace-variable", "manifests-from-team-b", "credentials-ref-team-b"])
def test_naming_team_b_is_refused_at_apply(tenants, path, value, field):
    fleet = team_a_fleet()
    if path == "manifestsFrom":
        fleet["spec"]["stack"]["components"][1]["manifestsFrom"] = value
    else:
        fleet["spec"]["clusters"][0][path] = value
    fleet["metadata"]["name"] = f"refused-{path.lower()}"
    result = tenants.author.apply(fleet, check=False)
    assert result.returncode != 0 and field in result.stderr, result.stderr


def test_team_a_cluster_goes_ready_with_its_own_component(tenants):
    wait_for(lambda: tenants.member("a1").get("status", {}).get("phase") == "Ready", WAIT,
             what=f"team-a's member Ready\n{tenants.diagnostics()}")
    own = wait_for(lambda: tenants.component("own").get("applied") and tenants.component("own"), WAIT,
                   what=f"team-a's component applied\n{tenants.diagnostics()}")
    assert own["phase"] == "Ready", own
    workload = tenants.kubectl.for_cluster("a1", A, tenants.tmp)
    assert workload.get_json("configmap", "own", "-n", "app")["data"] == {"cluster": "a1"}


@pytest.mark.parametrize("name", list(REACHING))
def test_a_component_naming_team_b_fails_alone(tenants, name):
    found = wait_for(lambda: tenants.component(name).get("phase") == "Failed" and tenants.component(name), WAIT,
                     what=f"component {name} Failed\n{tenants.diagnostics()}")
    assert REACHING[name][1] in found["message"], found
    assert tenants.member("a1")["status"]["phase"] == "Ready"


def test_team_b_credentials_fail_only_their_member(tenants):
    def failed():
        conditions = (tenants.member("a-aws").get("status") or {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == "PreflightPassed" and c["status"] == "False"), None)
    found = wait_for(failed, WAIT, what=f"a-aws's preflight to fail\n{tenants.diagnostics()}")
    assert found["reason"] == "CredentialsNotFound"
    assert found["message"] == f"Secret {A}/aws-b (credentialsRef) does not exist", found
    assert tenants.member("a1")["status"]["phase"] == "Ready"


def test_team_b_cluster_is_not_adopted(tenants):
    wait_for(lambda: tenants.member("a1"), WAIT, what="team-a's member")
    members = tenants.kubectl.get_json("fleetmembers", "-A")["items"]
    clusters = {(m["metadata"]["namespace"], m["spec"]["cluster"]) for m in members if m["spec"]["fleet"] == FLEET}
    assert (A, "a1") in clusters and (B, "b1") not in clusters and (A, "b1") not in clusters, clusters
    assert not tenants.kubectl.get_json("fleetmembers", "-n", B)["items"]


def test_nothing_of_team_b_was_read_into_team_a_or_written(tenants, audit):
    wait_for(lambda: all(tenants.component(n).get("phase") == "Failed" for n in REACHING), WAIT,
             what="the stack synced")
    workload = tenants.kubectl.for_cluster("a1", A, tenants.tmp)
    configmaps = {c["metadata"]["name"] for c in workload.get_json("configmaps", "-A")["items"]}
    assert "own" in configmaps and "from-team-b" not in configmaps, configmaps
    shown = "\n".join(tenants.kubectl(*args) for args in (
        ("get", "fleet,fleetmembers", "-n", A, "-o", "json"), ("get", "events", "-n", A, "-o", "json")))
    for value in (B_TOKEN, B_KEY, "from-team-b", base64.b64encode(B_TOKEN.encode()).decode()):
        assert value not in shown
    writes = [w for user in (CONTROLLER_USER, AUTHOR_A) for w in audit.writes(tenants.mark, user=user)]
    assert any(w["objectRef"].get("namespace") == A for w in writes), "no write of team-a's in the audit log"
    in_b = [(w["user"]["username"], w["verb"], w["objectRef"].get("resource"), w["objectRef"].get("name"))
            for w in writes if w["objectRef"].get("namespace") == B]
    assert not in_b, in_b
    assert versions(tenants.kubectl, B) == tenants.team_b_versions
