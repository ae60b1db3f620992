"""Helm charts through the real controller onto two local clusters (real kube-apiserver,
controller manager, scheduler, kwok Nodes), rendered by the real helm:

- the README's cert-manager component, the chart built at test time from the cert-manager Go
  module at the version the README names, served from a helm repository on 127.0.0.1;
- a chart made here that branches on `.Capabilities`, given through `chartFrom` split across
  keys and ConfigMaps, on a member that serves an API and one that does not, and with overrides;
- a chart made here with hooks, whose pre-install Job is held (its Pod cannot be scheduled) until
  the test lets it run, so the order can be seen.

The tests share one Fleet and run in file order.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from devtools import processes
from e2e.conftest import Kubectl
from e2e.fixtures.controller import wait_for
from e2e.fixtures.stack import HelmCli, _QuietHandler
from mgmt.api.models import API_VERSION
from mgmt.controller.members import member_name
from mgmt.kube import Kube
from mgmt.stack.capabilities import discover
from mgmt.stack.sources import STACK_SOURCE_LABEL

NS = "local-helm"
FLEET = "hc"
CLUSTERS = ("ha", "hb")
WAIT = 300
README = Path(__file__).parent.parent / "README.md"
CERT_MANAGER = "github.com/cert-manager/cert-manager"
GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.probe.drover.dev"},
    "spec": {"group": "probe.drover.dev", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def readme_fleet() -> dict:
    """The example Fleet of the README's "What it does" section, as written."""
    text = README.read_text()
    block = re.search(r"## What it does.*?```yaml\n(.*?)```", text, re.DOTALL).group(1)
    return yaml.safe_load(block)


# -- charts ----------------------------------------------------------------------------------------

def make_chart(root: Path, name: str, templates: dict[str, str], values: dict | None = None) -> Path:
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": "0.1.0",
                                                      "kubeVersion": ">= 1.22.0-0"}))
    (chart / "values.yaml").write_text(yaml.safe_dump(values or {}))
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text)
    return chart


PROBE_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  gadgets: {{ .Capabilities.APIVersions.Has "probe.drover.dev/v1/Gadget" | quote }}
  deployments: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | quote }}
{{- if .Capabilities.APIVersions.Has "probe.drover.dev/v1/Gadget" }}
---
apiVersion: probe.drover.dev/v1
kind: Gadget
metadata:
  name: {{ .Release.Name }}
{{- end }}
"""

def hook_job(name: str, events: str, policy: str, held: bool = False) -> str:
    """A Job hook. A `held` one runs only on Nodes labelled hooks.drover.dev/open=yes; with the value
    `failPre` it can run nowhere and its deadline fails it."""
    lines = ["apiVersion: batch/v1", "kind: Job", "metadata:", f"  name: {name}", "  annotations:",
             f'    helm.sh/hook: "{events}"', f"    helm.sh/hook-delete-policy: {policy}",
             "    round: {{ .Values.round | quote }}", "spec:", "  backoffLimit: 0"]
    if held:
        lines += ["  {{- if .Values.failPre }}", "  activeDeadlineSeconds: 1", "  {{- end }}"]
    lines += ["  template:", "    spec:", "      restartPolicy: Never"]
    if held:
        lines += ['      nodeSelector: {hooks.drover.dev/open: {{ if .Values.failPre }}"never"{{ else }}"yes"{{ end }}}']
    lines += ["      containers: [{name: run, image: registry.k8s.io/pause:3.10}]"]
    return "\n".join(lines) + "\n"


HOOKED_TEMPLATES = {
    "app.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hooked-app}
spec:
  replicas: 1
  selector: {matchLabels: {app: hooked-app}}
  template:
    metadata:
      labels: {app: hooked-app}
      annotations: {round: {{ .Values.round | quote }}}
    spec:
      containers: [{name: app, image: registry.k8s.io/pause:3.10}]
""",
    "pre-config.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: hooked-pre-config
  annotations: {helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "-5"}
data: {round: {{ .Values.round | quote }}}
""",
    "pre-job.yaml": hook_job("hooked-pre", "pre-install,pre-upgrade", "hook-succeeded", held=True),
    "post-job.yaml": hook_job("hooked-post", "post-install,post-upgrade", "before-hook-creation"),
    "test.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: hooked-test
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: t, image: registry.k8s.io/pause:3.10}]
""",
    "cleanup.yaml": hook_job("hooked-cleanup", "pre-delete", "hook-succeeded"),
}


def huge_chart() -> bytes:
    """A valid chart archive holding one file over helm's 5 MiB per-file limit (zeros: tiny packed)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in (("huge/Chart.yaml", b"apiVersion: v2\nname: huge\nversion: 0.1.0\n"),
                           ("huge/files/zeros", bytes(6 * 1024 * 1024))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class Repo:
    url: str
    root: Path


@pytest.fixture(scope="module")
def charts(tmp_path_factory):
    """The cert-manager chart packed from its Go module at the README's version, in a helm
    repository served from 127.0.0.1; a helm CLI for charts made by the tests."""
    root = tmp_path_factory.mktemp("charts")
    helm = HelmCli(root)
    version = next(c for c in readme_fleet()["spec"]["stack"]["components"]
                   if c["name"] == "cert-manager")["helm"]["version"]
    downloaded = subprocess.run(["go", "mod", "download", "-json", f"{CERT_MANAGER}@{version}"], capture_output=True,
                                text=True, timeout=600, cwd=root, env={**os.environ, "GOFLAGS": "-mod=mod"}, check=False)
    assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
    source = Path(json.loads(downloaded.stdout)["Dir"]) / "deploy" / "charts" / "cert-manager"
    repo = root / "repo"
    repo.mkdir()
    # The module's Chart.yaml says v0.0.0 ("set by the release tool"): package it as that release.
    helm("package", str(source), "--version", version, "--app-version", version, "--destination", str(repo))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(repo)))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm("repo", "index", str(repo), "--url", url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield helm, Repo(url, repo)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# -- the Fleet ---------------------------------------------------------------------------------------

@dataclass
class Fleet:
    kubectl: Kubectl
    tmp: Path
    components: list[dict] = field(default_factory=list)
    workloads: dict[str, Kubectl] = field(default_factory=dict)

    def apply(self) -> None:
        body = {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": FLEET, "namespace": NS},
                "spec": {"clusters": [{"name": c, "provider": "local", "kubernetesVersion": "v1.35.8",
                                       "workers": [{"name": "md-0", "replicas": 1}]} for c in CLUSTERS],
                         "stack": {"components": self.components}, "rollout": {"maxUnavailable": "100%"},
                         "health": {"probeInterval": "3s"}}}
        self.kubectl.run("apply", "--server-side", "--field-manager=e2e-helm", "-f", "-", input=json.dumps(body))

    def status(self, cluster: str) -> dict:
        result = self.kubectl.run("get", "fleetmember", member_name(FLEET, cluster), "-n", NS, "-o", "json", check=False)
        return json.loads(result.stdout).get("status") or {} if result.returncode == 0 else {}

    def component(self, cluster: str, name: str) -> dict:
        return next((c for c in self.status(cluster).get("components", []) if c["name"] == name), {})

    def condition(self, cluster: str, kind: str) -> dict:
        return next((c for c in self.status(cluster).get("conditions", []) if c["type"] == kind), {})

    def ready(self, name: str) -> bool:
        return all(self.component(c, name).get("ready") and self.component(c, name).get("applied") for c in CLUSTERS)

    def workload(self, cluster: str) -> Kubectl:
        if cluster not in self.workloads:
            self.workloads[cluster] = self.kubectl.for_cluster(cluster, NS, self.tmp)
        return self.workloads[cluster]

    def get(self, cluster: str, *what: str) -> dict | None:
        result = self.workload(cluster).run("get", *what, "-o", "json", check=False, timeout=30)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def diagnostics(self) -> str:
        stacks = {c: [{k: s.get(k) for k in ("name", "revision", "applied", "ready", "phase", "message")}
                      for s in (self.kubectl.get_json("fleetmember", member_name(FLEET, c), "-n", NS).get("status") or {})
                      .get("components", [])] for c in CLUSTERS}
        return json.dumps(stacks, indent=1)


SHOWN: list[Fleet] = []


def wait(check, what: str, timeout: float = WAIT):
    try:
        return wait_for(check, timeout, 1.0, what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{SHOWN[0].diagnostics() if SHOWN else ''}") from None


@pytest.fixture(scope="module")
def fleet(kubectl, controller, local_provider, tmp_path_factory):
    kubectl("create", "namespace", NS)
    out = Fleet(kubectl, tmp_path_factory.mktemp("helm-fleet"))
    out.apply()
    SHOWN[:] = [out]
    for cluster in CLUSTERS:
        wait(lambda c=cluster: kubectl.run("get", "secret", f"{c}-kubeconfig", "-n", NS, check=False).returncode == 0,
             f"{cluster}'s kubeconfig")
        wait(lambda c=cluster: (out.get(c, "nodes") or {}).get("items"), f"a Node in {cluster}")
    yield out
    pids = [pid for c in CLUSTERS for pid in _cluster_pids(local_provider, c)]
    kubectl("delete", "fleet", FLEET, "-n", NS, "--wait=false", check=False)
    wait_for(lambda: not kubectl("get", "clusters", "-n", NS, "-o", "name").strip(), 180, 1.0, "the clusters gone")
    wait_for(lambda: not [p for p in pids if processes.alive(p)], 60, 1.0, "the clusters' processes stopped")


def _cluster_pids(provider, cluster: str) -> list[int]:
    from providers.local.runtime import ClusterProcesses
    return [pid for pid in ClusterProcesses(provider.state_dir, NS, cluster).pids().values() if pid]


def when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# -- 1. cert-manager, as the README declares it -----------------------------------------------------

def test_readme_cert_manager_becomes_ready(fleet, charts, kubectl):
    example = readme_fleet()
    kubectl.run("apply", "--dry-run=server", "-n", NS, "-f", "-", input=json.dumps(example))  # the CRD takes it
    component = next(c for c in example["spec"]["stack"]["components"] if c["name"] == "cert-manager")
    assert component["helm"]["values"]["crds"]["enabled"] is True
    _, repo = charts
    component["helm"]["repository"] = repo.url   # the only change: a repository this test can reach
    fleet.components = [component]
    fleet.apply()
    wait(lambda: fleet.ready("cert-manager"), "cert-manager applied and ready on every member")
    namespace = component["namespace"]
    for cluster in CLUSTERS:
        deployments = fleet.get(cluster, "deployments", "-n", namespace)["items"]
        assert sorted(d["metadata"]["name"] for d in deployments) == [
            "cert-manager", "cert-manager-cainjector", "cert-manager-webhook"]
        for deployment in deployments:
            assert any(c["type"] == "Available" and c["status"] == "True" for c in deployment["status"]["conditions"])
        crds = [c for c in fleet.get(cluster, "crds")["items"] if c["spec"]["group"].endswith("cert-manager.io")]
        assert len(crds) == 6 and all(any(c["type"] == "Established" and c["status"] == "True"
                                          for c in crd["status"]["conditions"]) for crd in crds)
        assert fleet.get(cluster, "validatingwebhookconfiguration", "cert-manager-webhook")
        # startupapicheck is a post-install hook deleted once it succeeded: its Job ran to completion
        # (the Job controller's events say so) and is gone, with its ServiceAccount.
        assert fleet.get(cluster, "job", "cert-manager-startupapicheck", "-n", namespace) is None
        assert fleet.get(cluster, "serviceaccount", "cert-manager-startupapicheck", "-n", namespace) is None
        events = fleet.get(cluster, "events", "-n", namespace, "--field-selector",
                           "involvedObject.kind=Job,involvedObject.name=cert-manager-startupapicheck")["items"]
        assert "Completed" in {e["reason"] for e in events}, events


# -- 2. capabilities ----------------------------------------------------------------------------------

def test_chart_renders_for_the_apis_each_member_serves(fleet, charts, kubectl):
    helm, _ = charts
    tmp = fleet.tmp
    chart = make_chart(tmp, "probe", {"probe.yaml": PROBE_TEMPLATE})
    helm("package", str(chart), "--destination", str(tmp))
    packed = (tmp / "probe-0.1.0.tgz").read_bytes()
    third = len(packed) // 3 + 1
    parts = [packed[i:i + third] for i in range(0, len(packed), third)]
    assert len(parts) == 3
    for i, part in enumerate(parts):
        (tmp / f"probe.tgz.a{'abc'[i]}").write_bytes(part)
    # Parts in key order, first two keys in one ConfigMap, the last in another.
    kubectl("create", "configmap", "probe-1", "-n", NS, f"--from-file={tmp / 'probe.tgz.aa'}",
            f"--from-file={tmp / 'probe.tgz.ab'}")
    kubectl("create", "configmap", "probe-2", "-n", NS, f"--from-file={tmp / 'probe.tgz.ac'}")
    kubectl("create", "configmap", "huge", "-n", NS, f"--from-file=chart.tgz={_write(tmp / 'huge.tgz', huge_chart())}")
    kubectl("label", "configmap", "probe-1", "probe-2", "huge", "-n", NS, f"{STACK_SOURCE_LABEL}=true")
    fleet.workload("ha").apply(GADGET_CRD)   # ha serves probe.drover.dev/v1; hb does not
    fleet.workload("ha")("wait", "--for=condition=Established", "crd/gadgets.probe.drover.dev", "--timeout=60s")
    whole = {"kind": "ConfigMap", "name": "probe-1", "continuedIn": ["probe-2"]}
    fleet.components += [
        {"name": "probe", "namespace": "probe", "helm": {"chartFrom": whole}},
        {"name": "pinned", "namespace": "probe", "helm": {"chartFrom": whole, "kubeVersion": "v1.30.0",
                                                          "apiVersions": ["v1", "apps/v1"]}},
        {"name": "torn", "namespace": "probe", "helm": {"chartFrom": {"kind": "ConfigMap", "name": "probe-2"}}},
        {"name": "lost", "namespace": "probe", "helm": {"chartFrom": {**whole, "continuedIn": ["probe-3"]}}},
        {"name": "huge", "namespace": "probe", "helm": {"chartFrom": {"kind": "ConfigMap", "name": "huge"}}},
    ]
    fleet.apply()
    version = json.loads(fleet.workload("ha")("version", "-o", "json"))["serverVersion"]["gitVersion"]

    def rendered(cluster: str, name: str) -> dict:
        return (fleet.get(cluster, "configmap", name, "-n", "probe") or {}).get("data") or {}

    wait(lambda: fleet.ready("probe") and fleet.ready("pinned")
         and rendered("ha", "probe").get("gadgets") == "true", "probe and pinned ready, ha's render with gadgets")
    assert rendered("ha", "probe") == {"kubeVersion": version, "gadgets": "true", "deployments": "true"}
    assert rendered("hb", "probe") == {"kubeVersion": version, "gadgets": "false", "deployments": "true"}
    assert fleet.get("ha", "gadget", "probe", "-n", "probe") is not None
    assert fleet.get("hb", "crd", "gadgets.probe.drover.dev") is None
    assert fleet.component("ha", "probe")["revision"] != fleet.component("hb", "probe")["revision"]
    for cluster in CLUSTERS:  # the overrides replace what the member says
        assert rendered(cluster, "pinned") == {"kubeVersion": "v1.30.0", "gadgets": "false", "deployments": "false"}
        torn, lost, huge = (fleet.component(cluster, n) for n in ("torn", "lost", "huge"))
        assert torn["phase"] == "Failed" and "chartFrom ConfigMap local-helm/probe-2: not a whole packed chart" in \
            torn["message"], torn
        assert lost["phase"] == "Failed" and lost["message"] == "ConfigMap local-helm/probe-3 not found", lost
        assert huge["phase"] == "Failed" and re.search(r"chartFrom ConfigMap local-helm/huge: .*larger than the "
                                                       r"maximum file size", huge["message"]), huge
        wait(lambda c=cluster: fleet.condition(c, "StackReady").get("reason") == "StackFailed",
             f"{cluster}'s StackReady condition naming the broken charts", 60)
        stack = fleet.condition(cluster, "StackReady")
        assert stack["status"] == "False" and "torn" in stack["message"], stack
        assert "not a whole packed chart" in stack["message"], stack
    fleet.components = [c for c in fleet.components if c["name"] not in ("torn", "lost", "huge")]
    fleet.apply()


async def test_capabilities_are_what_kubectl_sees(fleet):
    """The versions and kinds Drover reads from aggregated discovery, against kubectl's own lists."""
    workload = fleet.workload("ha")
    client = await Kube.from_kubeconfig(str(workload.kubeconfig))
    try:
        capabilities = await discover(client, timeout=10)
    finally:
        await client.close()
    versions = set(workload("api-versions").split())
    kinds = set()
    for line in workload("api-resources", "--no-headers").splitlines():
        columns = line.split()
        kinds.add(f"{columns[-3]}/{columns[-1]}")   # APIVERSION, NAMESPACED, KIND
    served = set(capabilities.api_versions)
    assert {v for v in served if not v.rsplit("/", 1)[-1][0].isupper()} == versions  # Kinds are capitalized
    assert kinds <= served and "probe.drover.dev/v1/Gadget" in kinds
    assert capabilities.kube_version == json.loads(workload("version", "-o", "json"))["serverVersion"]["gitVersion"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- 3. hooks --------------------------------------------------------------------------------------------

def test_hooks_run_around_the_main_objects(fleet, charts, kubectl):
    helm, _ = charts
    chart = make_chart(fleet.tmp, "hooked", HOOKED_TEMPLATES, {"round": 1, "failPre": False})
    helm("package", str(chart), "--destination", str(fleet.tmp))
    kubectl("create", "configmap", "hooked-chart", "-n", NS, f"--from-file=chart={fleet.tmp / 'hooked-0.1.0.tgz'}")
    kubectl("label", "configmap", "hooked-chart", "-n", NS, f"{STACK_SOURCE_LABEL}=true")
    hooked = {"name": "hooked", "namespace": "hooked", "helm": {
        "chartFrom": {"kind": "ConfigMap", "name": "hooked-chart", "key": "chart"}, "values": {"round": 1}}}
    fleet.components.append(hooked)
    fleet.apply()

    # The pre-install Job cannot run yet (no Node carries its nodeSelector): the main objects wait.
    for cluster in CLUSTERS:
        wait(lambda c=cluster: "running the pre-install hook Job/hooked/hooked-pre" in
             (fleet.component(c, "hooked").get("message") or ""), f"{cluster} running the pre-install hook")
        assert fleet.component(cluster, "hooked")["phase"] == "Progressing"
        assert fleet.get(cluster, "configmap", "hooked-pre-config", "-n", "hooked")  # weight -5: before the Job
        assert fleet.get(cluster, "deployment", "hooked-app", "-n", "hooked") is None
    for cluster in CLUSTERS:
        fleet.workload(cluster)("label", "nodes", "--all", "hooks.drover.dev/open=yes")
    wait(lambda: fleet.ready("hooked"), "hooked applied and ready everywhere")

    posts = {}
    for cluster in CLUSTERS:
        get = functools.partial(fleet.get, cluster)
        app, pre_config = get("deployment", "hooked-app", "-n", "hooked"), get("configmap", "hooked-pre-config",
                                                                               "-n", "hooked")
        post = get("job", "hooked-post", "-n", "hooked")
        assert get("job", "hooked-pre", "-n", "hooked") is None          # hook-succeeded: deleted
        events = get("events", "-n", "hooked", "--field-selector", "involvedObject.name=hooked-pre")["items"]
        assert "Completed" in {e["reason"] for e in events}
        assert when(pre_config["metadata"]["creationTimestamp"]) <= when(app["metadata"]["creationTimestamp"])
        available = next(c for c in app["status"]["conditions"] if c["type"] == "Available")
        assert when(post["metadata"]["creationTimestamp"]) >= when(available["lastTransitionTime"])
        assert any(c["type"] == "Complete" and c["status"] == "True" for c in post["status"]["conditions"])
        assert get("pod", "hooked-test", "-n", "hooked") is None         # test hooks are not run
        assert get("job", "hooked-cleanup", "-n", "hooked") is None      # nor pre-delete ones
        posts[cluster] = post["metadata"]["uid"]

    # An upgrade runs the upgrade hooks again; before-hook-creation replaces the post Job.
    hooked["helm"]["values"] = {"round": 2}
    fleet.apply()
    wait(lambda: fleet.ready("hooked") and all(
        (fleet.get(c, "deployment", "hooked-app", "-n", "hooked") or {}).get("spec", {}).get("template", {})
        .get("metadata", {}).get("annotations", {}).get("round") == "2" for c in CLUSTERS), "the upgrade through")
    for cluster in CLUSTERS:
        post = fleet.get(cluster, "job", "hooked-post", "-n", "hooked")
        assert post["metadata"]["uid"] != posts[cluster] and post["metadata"]["annotations"]["round"] == "2"
        assert fleet.get(cluster, "configmap", "hooked-pre-config", "-n", "hooked")["data"] == {"round": "2"}

    # A pre-upgrade hook that fails stops the upgrade before the main objects.
    hooked["helm"]["values"] = {"round": 3, "failPre": True}
    fleet.apply()
    for cluster in CLUSTERS:
        wait(lambda c=cluster: fleet.component(c, "hooked").get("phase") == "Failed", f"{cluster}: hooked Failed")
        assert "pre-upgrade hook Job/hooked/hooked-pre failed" in fleet.component(cluster, "hooked")["message"]
        app = fleet.get(cluster, "deployment", "hooked-app", "-n", "hooked")
        assert app["spec"]["template"]["metadata"]["annotations"]["round"] == "2"

    # Removing the component prunes what its hooks left behind too.
    fleet.components = [c for c in fleet.components if c["name"] != "hooked"]
    fleet.apply()
    for cluster in CLUSTERS:
        wait(lambda c=cluster: not [o for o in fleet.get(c, "deployments,jobs,configmaps", "-n", "hooked")["items"]
                                    if o["metadata"]["name"].startswith("hooked")], f"{cluster}: hooked pruned")
