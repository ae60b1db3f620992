"""Hostile Fleets and Secrets (issue 13): a Fleet author gets exactly what a Fleet allows.

Each case tries one attack or malformed field and expects either
- refusal by the real kube-apiserver at `kubectl apply` (the Fleet CRD's schema and CEL rules),
  with a message naming the field, and nothing stored; or
- failure of only its own member or component, with a status that says why, while a good member
  of the same Fleet goes Ready and gets the good component; afterwards no process was started
  (an `exec` kubeconfig would have made a file), nothing reached the workload cluster but the good
  component, and the controller wrote nothing outside the Fleet's namespace (audit log).

The member cases run a controller of their own that authenticates as a ServiceAccount's user,
bound to exactly the shipped ClusterRoles (manifests/install/rbac.yaml) on the session's
apiserver (--authorization-mode=RBAC): the apiserver proves those rules enough for adoption,
probes, the stack and status, and any write beyond them would fail.

Plus the two Fleets whose FleetMember names used to collide (`a-b` + `c`, `a` + `b-c`).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from devtools.localkube import kubeconfig_dict
from e2e.fixtures.controller import ControllerProcess, wait_for
from mgmt import metrics
from mgmt.controller.members import member_name
from mgmt.kube import Kube
from providers.base import RESERVED_VARIABLES

# Not a namespace the e2e controller watches: a Fleet that wrongly got through stays inert.
ADMISSION_NS = "hostile-admission"
# Watched only by this module's controller (the session's watches fleet-* and local-*).
NS = "hostile-members"
COLLIDE_NS = "hostile-collide"
SERVICE_ACCOUNT = f"system:serviceaccount:{NS}:drover"
RBAC = Path(__file__).parent.parent / "manifests" / "install" / "rbac.yaml"
WAIT = 180


def good_fleet(name: str) -> dict:
    return {
        "apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
        "metadata": {"name": name, "namespace": ADMISSION_NS},
        "spec": {
            "clusters": [
                {"name": "a", "provider": "aws", "region": "us-east-1", "kubernetesVersion": "v1.33.4",
                 "credentialsRef": {"name": "aws"}, "workers": [{"name": "md-0", "replicas": 2,
                                                                 "machineType": "m5.large"}],
                 "variables": {"AWS_SSH_KEY_NAME": "ops"}},
                {"name": "b", "provider": "local", "kubernetesVersion": "v1.35.8"},
            ],
            "stack": {"components": [
                {"name": "chart", "namespace": "web", "helm": {
                    "chart": "nginx", "repository": "https://charts.example.com/stable", "version": "1.2.3"}},
                {"name": "oci", "helm": {"chart": "oci://registry.example.com/charts/nginx", "version": "1.0.0"}},
                {"name": "disk", "helm": {"path": "/srv/charts/demo-0.1.0.tgz"}},
                {"name": "packed", "helm": {"chartFrom": {"kind": "ConfigMap", "name": "demo-chart",
                                                          "continuedIn": ["demo-chart-2"]},
                                            "kubeVersion": "v1.30.0", "apiVersions": ["apps/v1"]}},
                {"name": "bundle", "manifestsFrom": [{"kind": "Secret", "name": "bundle", "key": "all.yaml"}]},
            ]},
        },
    }


def at(path: str, value):
    """A change of the good Fleet at a dotted path (list indexes as numbers)."""
    def change(fleet: dict) -> dict:
        node, keys = fleet, path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
        return fleet
    return change


def variable(name: str, value: str):
    return at(f"spec.clusters.0.variables.{name}", value)


CHART = "spec.stack.components[0].helm.chart"
REPO = "spec.stack.components[0].helm.repository"
VERSION = "spec.stack.components[0].helm.version"
PATH = "spec.stack.components[2].helm.path"
VARIABLES = "spec.clusters[0].variables"
INJECTED = 'x"\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: stolen, namespace: kube-system}\n#'


@dataclass
class Case:
    id: str
    change: object
    field: str  # what kubectl's error must name


ADMISSION = [
    # helm: flags, positionals, credentials and internal addresses through chart/repository/version/path
    Case("chart-post-renderer", at("spec.stack.components.0.helm.chart", "--post-renderer=sh"), CHART),
    Case("chart-short-flag", at("spec.stack.components.0.helm.chart", "-x"), CHART),
    Case("chart-extra-args", at("spec.stack.components.0.helm.chart", "nginx --set a=b"), CHART),
    Case("chart-path-traversal", at("spec.stack.components.0.helm.chart", "../../etc/passwd"), CHART),
    Case("chart-newline", at("spec.stack.components.0.helm.chart", "nginx\n--debug"), CHART),
    Case("oci-userinfo", at("spec.stack.components.1.helm.chart", "oci://user:pw@registry.example.com/c"),
         "spec.stack.components[1].helm.chart"),
    Case("oci-flag-segment", at("spec.stack.components.1.helm.chart", "oci://registry.example.com/--x"),
         "spec.stack.components[1].helm.chart"),
    Case("repo-as-flag", at("spec.stack.components.0.helm.repository", "--repo=http://evil"), REPO),
    Case("repo-credentials", at("spec.stack.components.0.helm.repository", "https://bob:s3cret@charts.example.com"),
         REPO),
    Case("repo-query-token", at("spec.stack.components.0.helm.repository", "https://charts.example.com/?token=t"),
         REPO),
    Case("repo-file-scheme", at("spec.stack.components.0.helm.repository", "file:///var/run/secrets"), REPO),
    Case("repo-oversized", at("spec.stack.components.0.helm.repository", "https://c.example.com/" + "a" * 600), REPO),
    Case("version-flag", at("spec.stack.components.0.helm.version", "--devel"), VERSION),
    Case("version-newline", at("spec.stack.components.0.helm.version", "1.0.0\n--post-renderer=sh"), VERSION),
    Case("path-relative", at("spec.stack.components.2.helm.path", "charts/demo"), PATH),
    Case("path-traversal", at("spec.stack.components.2.helm.path", "/srv/charts/../../root/.kube/config"), PATH),
    Case("path-hidden", at("spec.stack.components.2.helm.path", "/root/.kube"), PATH),
    Case("path-flag", at("spec.stack.components.2.helm.path", "-/x"), PATH),
    Case("kube-version-flag", at("spec.stack.components.3.helm.kubeVersion", "--x"),
         "spec.stack.components[3].helm.kubeVersion"),
    Case("api-versions-space", at("spec.stack.components.3.helm.apiVersions", ["apps/v1 --x"]),
         "spec.stack.components[3].helm.apiVersions[0]"),
    # cross-namespace and path-like references
    Case("chart-from-other-namespace", at("spec.stack.components.3.helm.chartFrom.name", "kube-system/charts"),
         "spec.stack.components[3].helm.chartFrom.name"),
    Case("continued-in-other-namespace", at("spec.stack.components.3.helm.chartFrom.continuedIn", ["../x"]),
         "spec.stack.components[3].helm.chartFrom.continuedIn[0]"),
    Case("manifests-from-other-namespace", at("spec.stack.components.4.manifestsFrom.0.name", "kube-system/x"),
         "spec.stack.components[4].manifestsFrom[0].name"),
    Case("manifests-from-configmap-kind", at("spec.stack.components.4.manifestsFrom.0.kind", "ServiceAccount"),
         "spec.stack.components[4].manifestsFrom[0].kind"),
    Case("credentials-other-namespace", at("spec.clusters.0.credentialsRef.name", "kube-system.aws"),
         "spec.clusters[0].credentialsRef.name"),
    Case("component-namespace-upper", at("spec.stack.components.0.namespace", "Kube-System"),
         "spec.stack.components[0].namespace"),
    # template variables: reserved names decide placement and identity
    *[Case(f"reserved-{name.lower()}", variable(name, "kube-system"), VARIABLES) for name in RESERVED_VARIABLES],
    # template variables: values are data, never YAML syntax
    Case("value-new-document", variable("POD_CIDR", INJECTED), VARIABLES),
    Case("value-new-key", variable("POD_CIDR", "10.0.0.0/8\nkind: Secret"), VARIABLES),
    Case("value-mapping", variable("POD_CIDR", "a: b"), VARIABLES),
    Case("value-flow", variable("POD_CIDR", "{a: b}"), VARIABLES),
    Case("value-comment", variable("POD_CIDR", "x #rest"), VARIABLES),
    Case("value-tag", variable("POD_CIDR", "!!binary eA=="), VARIABLES),
    Case("value-anchor", variable("POD_CIDR", "&a x"), VARIABLES),
    Case("value-single-quote", variable("POD_CIDR", "x'y"), VARIABLES),
    Case("value-trailing-colon", variable("POD_CIDR", "x:"), VARIABLES),
    Case("value-homoglyph", variable("POD_CIDR", "cl\u0430ster"), VARIABLES),
    Case("value-rtl-override", variable("POD_CIDR", "x\u202ey"), VARIABLES),
    Case("value-zero-width", variable("POD_CIDR", "x\u200by"), VARIABLES),
    Case("value-oversized", variable("POD_CIDR", "a" * 1025), VARIABLES),
    Case("too-many-variables", at("spec.clusters.0.variables", {f"V{i}": "x" for i in range(101)}), VARIABLES),
    # other strings that reach a template
    Case("region-injection", at("spec.clusters.0.region", "us-east-1\nkind: Secret"), "spec.clusters[0].region"),
    Case("region-upper", at("spec.clusters.0.region", "US EAST"), "spec.clusters[0].region"),
    Case("machine-type-quote", at("spec.clusters.0.workers.0.machineType", 'm5.large"'),
         "spec.clusters[0].workers[0].machineType"),
    Case("control-plane-machine-type", at("spec.clusters.0.controlPlane", {"replicas": 1, "machineType": "$(id)"}),
         "spec.clusters[0].controlPlane.machineType"),
    Case("cluster-name-path", at("spec.clusters.1.name", "../b"), "spec.clusters[1].name"),
    Case("cluster-name-unicode", at("spec.clusters.1.name", "b\u0456"), "spec.clusters[1].name"),
    Case("kubernetes-version-injection", at("spec.clusters.1.kubernetesVersion", "v1.35.8\nx: y"),
         "spec.clusters[1].kubernetesVersion"),
]


@pytest.fixture(scope="module")
def admission_ns(kubectl):
    kubectl("create", "namespace", ADMISSION_NS)
    yield ADMISSION_NS
    kubectl("delete", "namespace", ADMISSION_NS, "--wait=false", check=False)


def test_the_good_fleet_is_accepted(kubectl, admission_ns):
    """The base every case changes is valid (a server-side dry run), so each refusal is its own."""
    kubectl.apply(good_fleet("good"), "--dry-run=server")


@pytest.mark.parametrize("case", ADMISSION, ids=[c.id for c in ADMISSION])
def test_refused_at_apply_naming_the_field(kubectl, admission_ns, case):
    name = case.id[:40].strip("-")
    fleet = case.change(good_fleet(name))
    result = kubectl.apply(fleet, check=False)
    assert result.returncode != 0, f"{case.id}: accepted"
    assert case.field in result.stderr, result.stderr
    assert kubectl.run("get", "fleet", name, "-n", ADMISSION_NS, check=False).returncode != 0


# -- failures of one member or component, with the real controller ----------------------------

def simulated_cluster(name: str) -> list[dict]:
    """A cluster the local provider simulates (a virtual cluster of the session's simulator)."""
    meta = {"name": name, "namespace": NS, "labels": {"cluster.x-k8s.io/cluster-name": name, "suite": "hostile"}}
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


def hostile_kubeconfigs(server: str, marker: Path) -> dict[str, tuple[dict, str]]:
    """cluster name -> (kubeconfig, the setting its member's status must name). Each points at
    the good cluster's real server, so honouring the setting would have worked."""
    def config(cluster: dict | None = None, user: dict | None = None) -> dict:
        return {"apiVersion": "v1", "kind": "Config", "current-context": "x",
                "clusters": [{"name": "x", "cluster": {"server": server, **(cluster or {})}}],
                "users": [{"name": "x", "user": {"token": TOKEN, **(user or {})}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}
    return {
        "kc-exec": (config(user={"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/sh",
                                          "args": ["-c", f"touch {marker}"]}}), "exec"),
        "kc-auth-provider": (config(user={"auth-provider": {"name": "oidc", "config": {"id-token": "x"}}}),
                             "auth-provider"),
        "kc-token-file": (config(user={"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}),
                          "tokenFile"),
        "kc-key-file": (config(user={"client-certificate": "/etc/ssl/c.pem", "client-key": "/etc/ssl/k.pem"}),
                        "client-certificate"),
        "kc-proxy": (config(cluster={"proxy-url": "http://127.0.0.1:9"}), "proxy-url"),
        "kc-insecure": (config(cluster={"insecure-skip-tls-verify": True}), "insecure-skip-tls-verify"),
        "kc-ca-file": (config(cluster={"certificate-authority": "/etc/kubernetes/pki/ca.crt"}),
                       "certificate-authority"),
    }


def bare_cluster(name: str) -> dict:
    return {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS, "labels": {"suite": "hostile"}},
            "spec": {"paused": True}}  # nothing behind it: CAPI leaves it alone


def kubeconfig_secret(name: str, config: dict, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
            "metadata": {"name": f"{name}-kubeconfig", "namespace": NS,
                         "labels": {"cluster.x-k8s.io/cluster-name": name, **(labels or {})}},
            "data": {"value": base64.b64encode(yaml.safe_dump(config).encode()).decode()}}


GOOD = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine"},
                       "data": {"cluster": "{{ cluster.name }}"}})
STOLEN = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stolen"}, "data": {"a": "b"}})
SOURCE = "fleet.drover.dev/stack-source"
TOKEN = "hostile-kubeconfig-token-7f3a9c"  # in every hostile kubeconfig: must never be shown
# component -> what its Failed message must say (each fails on the good member; "fine" is applied)
COMPONENTS = {
    "unlabelled": ({"manifestsFrom": [{"kind": "ConfigMap", "name": "plain-bundle"}]},
                   f"ConfigMap {NS}/plain-bundle is not a stack source: it needs the label {SOURCE}=true"),
    "steal-kubeconfig": ({"manifestsFrom": [{"kind": "Secret", "name": "good-kubeconfig"}]},
                         f"Secret {NS}/good-kubeconfig holds a cluster's credentials"),
    "steal-labelled-kubeconfig": ({"manifestsFrom": [{"kind": "Secret", "name": "kc-exec-kubeconfig"}]},
                                  f"Secret {NS}/kc-exec-kubeconfig holds a cluster's credentials"),
    "chart-unlabelled": ({"helm": {"chartFrom": {"kind": "ConfigMap", "name": "plain-bundle"}}},
                         f"ConfigMap {NS}/plain-bundle is not a stack source"),
    "path-escape": ({"helm": {"path": "/etc"}},
                    "helm.path /etc is not under a chart directory the administrator allows (--helm-chart-dir)"),
    "missing-source": ({"manifestsFrom": [{"kind": "ConfigMap", "name": "nowhere"}]},
                       f"ConfigMap {NS}/nowhere not found"),
}


def hostile_fleet() -> dict:
    components = [{"name": "fine", "namespace": "app", "manifests": GOOD}]
    components += [{"name": name, "namespace": "app", **source} for name, (source, _) in COMPONENTS.items()]
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": "hostile", "namespace": NS},
            "spec": {"selector": {"matchLabels": {"suite": "hostile"}}, "health": {"probeInterval": "3s"},
                     "rollout": {"maxUnavailable": "100%"}, "stack": {"components": components}}}


class Hostile:
    def __init__(self, kubectl, tmp: Path, marker: Path, mark: int, kubeconfigs: dict):
        self.kubectl, self.tmp, self.marker, self.mark, self.kubeconfigs = kubectl, tmp, marker, mark, kubeconfigs

    def member(self, cluster: str) -> dict:
        result = self.kubectl.run("get", "fleetmember", member_name("hostile", cluster), "-n", NS, "-o", "json",
                                  check=False)
        return json.loads(result.stdout) if result.returncode == 0 else {}

    def component(self, name: str) -> dict:
        status = self.member("good").get("status") or {}
        return next((c for c in status.get("components", []) if c["name"] == name), {})

    def diagnostics(self) -> str:
        return self.kubectl("get", "fleet,fleetmembers,clusters", "-n", NS, "-o", "wide", check=False)


def shipped_roles() -> list[dict]:
    """The ClusterRoles of the shipped RBAC, and bindings of the controller's two to our ServiceAccount."""
    docs = [d for d in yaml.safe_load_all(RBAC.read_text().replace("${DROVER_NAMESPACE}", NS))
            if d["kind"] == "ClusterRole"]
    bindings = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": f"{NS}-{role}"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                 "subjects": [{"kind": "ServiceAccount", "name": "drover", "namespace": NS}]}
                for role in ("drover-controller", "drover-controller-secrets")]
    return docs + bindings


@pytest.fixture(scope="module")
def restricted_controller(kubectl, mgmt, tmp_path_factory):
    """`drover controller` as the ServiceAccount's user (a client certificate of the session's CA
    naming it, as its token would), with only the shipped RBAC, watching this module's namespaces."""
    tmp = tmp_path_factory.mktemp("restricted")
    for namespace in (NS, COLLIDE_NS):
        kubectl("create", "namespace", namespace)
    roles = shipped_roles()
    kubectl.apply(roles)
    server = mgmt.apiserver(audit=True)
    pair = server.client_pair(SERVICE_ACCOUNT, ("system:serviceaccounts", f"system:serviceaccounts:{NS}"))
    config = tmp / "controller.kubeconfig"
    config.write_text(yaml.safe_dump(kubeconfig_dict(server.name, server.url, (server.pki_dir / "ca.crt").read_bytes(),
                                                     pair.cert_pem, pair.key_pem, "drover")))
    assert kubectl("auth", "can-i", "create", "pods", f"--as={SERVICE_ACCOUNT}", "-n", NS,
                   check=False).strip() == "no"
    proc = ControllerProcess(config, tmp / "controller.log", {"AWS_EC2_METADATA_DISABLED": "true"},
                             namespaces=(NS, COLLIDE_NS))
    proc.start()
    yield proc
    proc.stop()
    kubectl("delete", "clusterrolebinding", *(d["metadata"]["name"] for d in roles
                                               if d["kind"] == "ClusterRoleBinding"), check=False)


@pytest.fixture(scope="module")
def hostile(kubectl, restricted_controller, local_provider, simulator_url, audit, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    marker = tmp / "exec-ran"
    mark = audit.mark()
    kubectl.apply(simulated_cluster("good"))
    wait_for(lambda: kubectl.run("get", "secret", "good-kubeconfig", "-n", NS, check=False).returncode == 0,
             WAIT, what="the good cluster's kubeconfig Secret")
    server = yaml.safe_load(base64.b64decode(kubectl.get_json("secret", "good-kubeconfig", "-n", NS)["data"]["value"]))
    kubeconfigs = hostile_kubeconfigs(server["clusters"][0]["cluster"]["server"], marker)
    kubectl.apply([bare_cluster(name) for name in kubeconfigs])
    # even opted in as a stack source, a kubeconfig Secret is never read as one
    kubectl.apply([kubeconfig_secret(name, config, {SOURCE: "true"} if name == "kc-exec" else None)
                   for name, (config, _) in kubeconfigs.items()])
    kubectl("create", "configmap", "plain-bundle", "-n", NS, f"--from-literal=stolen.yaml={STOLEN}")
    kubectl.apply(hostile_fleet())
    yield Hostile(kubectl, tmp, marker, mark, kubeconfigs)
    kubectl("delete", "fleet", "hostile", "-n", NS, "--wait=false", check=False)
    kubectl("delete", "clusters", "--all", "-n", NS, "--wait=false", check=False)
    kubectl("delete", "namespace", NS, "--wait=false", check=False)


def test_the_good_member_goes_ready_with_the_good_component(hostile):
    wait_for(lambda: hostile.member("good").get("status", {}).get("phase") == "Ready", WAIT,
             what=f"the good member Ready\n{hostile.diagnostics()}")
    fine = wait_for(lambda: hostile.component("fine").get("applied") and hostile.component("fine"), WAIT,
                    what=f"the good component applied\n{hostile.diagnostics()}")
    assert fine["phase"] == "Ready", fine
    workload = hostile.kubectl.for_cluster("good", NS, hostile.tmp)
    assert workload.get_json("configmap", "fine", "-n", "app")["data"] == {"cluster": "good"}


@pytest.mark.parametrize("name", list(COMPONENTS))
def test_a_hostile_component_fails_alone_saying_why(hostile, name):
    expected = COMPONENTS[name][1]
    found = wait_for(lambda: hostile.component(name).get("phase") == "Failed" and hostile.component(name), WAIT,
                     what=f"component {name} Failed\n{hostile.diagnostics()}")
    assert expected in found["message"], found
    assert hostile.member("good")["status"]["phase"] == "Ready"


@pytest.mark.parametrize("cluster", ["kc-exec", "kc-auth-provider", "kc-token-file", "kc-key-file", "kc-proxy",
                                     "kc-insecure", "kc-ca-file"])
def test_a_hostile_kubeconfig_fails_its_member_naming_the_setting(hostile, cluster):
    setting = hostile.kubeconfigs[cluster][1]

    def said():
        message = ((hostile.member(cluster).get("status") or {}).get("api") or {}).get("message") or ""
        return f"the kubeconfig sets {setting} " in message and message
    message = wait_for(said, WAIT, what=f"{cluster}'s member naming {setting}\n{hostile.diagnostics()}")
    assert message.startswith(f"Secret {NS}/{cluster}-kubeconfig: "), message
    assert "/var/run" not in message and "/etc/" not in message and "touch" not in message, message
    assert hostile.member("good")["status"]["phase"] == "Ready"


def test_nothing_ran_nothing_leaked_and_nothing_outside_the_namespace_was_written(hostile, audit,
                                                                                  restricted_controller):
    wait_for(lambda: hostile.component("path-escape").get("phase") == "Failed", WAIT, what="the stack synced")
    assert not hostile.marker.exists(), "the exec kubeconfig's command ran"
    workload = hostile.kubectl.for_cluster("good", NS, hostile.tmp)
    configmaps = {c["metadata"]["name"] for c in workload.get_json("configmaps", "-n", "app")["items"]}
    assert "stolen" not in configmaps and "fine" in configmaps
    secrets = [s["metadata"]["name"] for s in workload.get_json("secrets", "-A")["items"]]
    assert not [s for s in secrets if "kubeconfig" in s], secrets
    writes = audit.writes(hostile.mark, user=SERVICE_ACCOUNT)
    assert writes, "the audit log shows no write of the controller's ServiceAccount"
    outside = [(w["verb"], w["objectRef"].get("resource"), w["objectRef"].get("namespace"), w["objectRef"].get("name"))
               for w in writes if w["objectRef"].get("namespace") in (None, "kube-system", "default", "kube-public")]
    assert not outside, outside
    ours = [w for w in writes if w["objectRef"].get("namespace") == NS]
    assert {w["objectRef"]["resource"] for w in ours} <= {"fleets", "fleetmembers", "events"}, ours
    forbidden = [w for w in writes if (w.get("responseStatus") or {}).get("code") == 403]
    assert not forbidden, f"the shipped RBAC refused the controller: {forbidden[:3]}"
    refused = [line for line in restricted_controller.logs().splitlines() if "Forbidden" in line]
    assert not refused, f"the shipped RBAC refused the controller a read: {refused[:3]}"


def test_no_credential_reaches_logs_events_or_status(hostile, restricted_controller):
    """The kubeconfigs' token and the stolen bundle appear in no controller log line, Event or
    member status (all of the namespace's, as the API serves them)."""
    texts = {"controller log": restricted_controller.logs(),
             "events": hostile.kubectl("get", "events", "-n", NS, "-o", "json"),
             "fleetmembers": hostile.kubectl("get", "fleetmembers", "-n", NS, "-o", "json"),
             "fleet": hostile.kubectl("get", "fleet", "hostile", "-n", NS, "-o", "json")}
    for where, text in texts.items():
        for secret in (TOKEN, base64.b64encode(TOKEN.encode()).decode(), "stolen.yaml", "touch "):
            assert secret not in text, f"{secret!r} in {where}"


# -- metrics beyond localhost ---------------------------------------------------------------------

def scrape(port: int, token: str | None) -> int:
    request = urllib.request.Request(f"https://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # a certificate made at start
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_metrics_beyond_localhost_answer_only_tokens_the_apiserver_allows(kubectl, restricted_controller):
    """The controller's reviews (as its ServiceAccount, shipped RBAC) against the real apiserver:
    a ServiceAccount bound to drover-metrics-reader reads /metrics, another does not."""
    for name in ("scraper", "stranger"):
        kubectl("create", "serviceaccount", name, "-n", NS)
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": f"{NS}-metrics-reader"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "drover-metrics-reader"},
               "subjects": [{"kind": "ServiceAccount", "name": "scraper", "namespace": NS}]}
    kubectl.apply(binding)
    tokens = {name: kubectl("create", "token", name, "-n", NS).strip() for name in ("scraper", "stranger")}
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    kube = asyncio.run_coroutine_threadsafe(Kube.from_kubeconfig(str(restricted_controller.kubeconfig)),
                                            loop).result(30)
    server = metrics.serve(0, "127.0.0.1", metrics.Reviewer(kube, loop), metrics.self_signed_context())
    try:
        port = server.server_port
        assert scrape(port, None) == 401
        assert scrape(port, tokens["stranger"]) == 403
        assert scrape(port, tokens["scraper"][:-4] + "AAAA") == 403  # a forged signature
        assert scrape(port, tokens["scraper"]) == 200
    finally:
        server.shutdown()
        server.server_close()
        asyncio.run_coroutine_threadsafe(kube.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        kubectl("delete", "clusterrolebinding", f"{NS}-metrics-reader", check=False)
    assert not [line for line in restricted_controller.logs().splitlines() if tokens["scraper"] in line]


# -- FleetMember names that used to collide -----------------------------------------------------

def test_fleets_a_b_and_a_keep_their_own_members(kubectl, restricted_controller):
    """Fleet `a-b` adopting cluster `c` and Fleet `a` adopting cluster `b-c`: both members were
    `a-b-c`; now each Fleet has its own, owned by it alone."""
    try:
        for cluster, team in (("c", "ab"), ("b-c", "a")):
            obj = copy.deepcopy(bare_cluster(cluster))
            obj["metadata"].update(namespace=COLLIDE_NS, labels={"team": team})
            kubectl.apply(obj)
        for fleet, team in (("a-b", "ab"), ("a", "a")):
            kubectl.apply({"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
                           "metadata": {"name": fleet, "namespace": COLLIDE_NS},
                           "spec": {"selector": {"matchLabels": {"team": team}}}})

        def members():
            items = kubectl.get_json("fleetmembers", "-n", COLLIDE_NS)["items"]
            return len(items) == 2 and {m["metadata"]["name"]: m for m in items}
        found = wait_for(members, WAIT, what="two FleetMembers")
        fleets = {f["metadata"]["name"]: f["metadata"]["uid"] for f in kubectl.get_json("fleets", "-n", COLLIDE_NS)["items"]}
        for fleet, cluster in (("a-b", "c"), ("a", "b-c")):
            member = found[member_name(fleet, cluster)]
            assert member["spec"]["fleet"] == fleet and member["spec"]["cluster"] == cluster
            assert [o["uid"] for o in member["metadata"]["ownerReferences"]] == [fleets[fleet]]
    finally:
        kubectl("delete", "fleets,clusters", "--all", "-n", COLLIDE_NS, "--wait=false", check=False)
        kubectl("delete", "namespace", COLLIDE_NS, "--wait=false", check=False)
