"""The member-cluster simulator (e2e/simulator) as the real kubectl, kubernetes_asyncio and Drover's
own client see it, with answers checked against the real kube-apiserver of the e2e session.

The simulator runs as its own process (`python -m e2e.simulator`) on a free 127.0.0.1 port and is
stopped at the end of the module; each test uses its own virtual cluster or namespace.
"""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import watch as k8s_watch

from devtools.toolchain import crd_dir
from e2e.conftest import Kubectl
from e2e.fixtures.stack import publish_kubeconfigs
from e2e.simulator import Simulator, fields, kubeconfig
from e2e.test_stack_engine import GROUP, Harness, all_ready, crd, put_fleet
from mgmt.health import probes
from mgmt.kube import Kube, KubeError, Unreachable
from mgmt.stack import capabilities
from mgmt.stack.apply import apply_objects
from mgmt.stack.sources import STACK_SOURCE_LABEL

ROOT = Path(__file__).resolve().parent.parent
NODES = 3
CRS_CRD = "addons.cluster.x-k8s.io_clusterresourcesets.yaml"


class Sim:
    """The running simulator: kubeconfigs, kubectl and Kube clients per virtual cluster, the knobs."""

    def __init__(self, url: str, folder: Path):
        self.url, self.folder = url, folder

    def kubeconfig(self, name: str) -> dict:
        return kubeconfig(f"{self.url}/clusters/{name}", name)

    def kubectl(self, name: str) -> Kubectl:
        path = self.folder / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(self.kubeconfig(name)))
        return Kubectl(path)

    async def kube(self, name: str, timeout: float = 10.0) -> Kube:
        return await Kube.from_kubeconfig_dict(self.kubeconfig(name), timeout=timeout)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/admin/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("simulator")
    with open(folder / "simulator.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "e2e.simulator", "--clusters", "4", "--nodes", str(NODES)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, f"the simulator did not start: {(folder / 'simulator.log').read_text()}"
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("http://127.0.0.1:"), info
        yield Sim(info["url"], folder)
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
    assert code == 0, f"the simulator exited with {code}: {(folder / 'simulator.log').read_text()}"


def configmap(name: str, namespace: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": data}


# -- kubectl ---------------------------------------------------------------------------------


def test_kubectl_sees_ready_nodes_and_the_version(sim):
    kubectl = sim.kubectl("sim-0")
    table = kubectl("get", "nodes").splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [line.split()[1] for line in table[1:]] == ["Ready"] * NODES
    nodes = kubectl.get_json("nodes")["items"]
    assert len(nodes) == NODES and all(probes._node_ready(n) for n in nodes)
    version = json.loads(kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == "v1.35.8"


def test_kubectl_apply_of_a_real_crd_then_of_its_kind(sim):
    """CAPI's ClusterResourceSet CRD (read from the CAPI Go module by `make tools`): after it is
    applied, discovery serves its kind and kubectl applies and reads objects of it."""
    kubectl = sim.kubectl("sim-1")
    crd_file = crd_dir() / "v1beta2" / "capi" / CRS_CRD
    assert "ClusterResourceSet" not in kubectl("api-resources")
    out = kubectl("apply", "--server-side", "-f", str(crd_file))
    assert "clusterresourcesets.addons.cluster.x-k8s.io serverside-applied" in out
    crd = kubectl.get_json("crd", "clusterresourcesets.addons.cluster.x-k8s.io")
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]} == {
        "NamesAccepted": "True", "Established": "True"}
    resources = kubectl("api-resources", "--api-group=addons.cluster.x-k8s.io", "-o", "name")
    assert "clusterresourcesets.addons.cluster.x-k8s.io" in resources.split()
    crs = {"apiVersion": "addons.cluster.x-k8s.io/v1beta2", "kind": "ClusterResourceSet",
           "metadata": {"name": "base", "namespace": "default"},
           "spec": {"clusterSelector": {"matchLabels": {"env": "sim"}},
                    "resources": [{"kind": "ConfigMap", "name": "base"}]}}
    assert "serverside-applied" in kubectl.apply(crs, "--server-side").stdout
    got = kubectl.get_json("clusterresourcesets", "base", "-n", "default")
    assert got["spec"] == crs["spec"] and got["metadata"]["generation"] == 1
    kubectl("delete", "-f", str(crd_file))
    assert "ClusterResourceSet" not in kubectl("api-resources")


def created_by_kubectl_create(kubectl: Kubectl, namespace: str, folder: Path) -> list:
    """kubectl create's typed objects (sent as protobuf): what the server made of them."""
    (folder / "blob.bin").write_bytes(bytes(range(256)))
    kubectl("create", "configmap", "made", "-n", namespace, "--from-literal=a=1", "--from-literal=b=two")
    kubectl("create", "secret", "generic", "made", "-n", namespace, "--from-literal=p=q",
            f"--from-file={folder / 'blob.bin'}")
    kubectl("create", "serviceaccount", "made", "-n", namespace)
    kubectl("label", "configmap", "made", "-n", namespace, "team=x")
    return [(o["kind"], o.get("data"), o.get("type"), o["metadata"].get("labels"))
            for o in (kubectl.get_json(kind, "made", "-n", namespace) for kind in ("configmap", "secret", "sa"))]


def test_kubectl_create_as_on_the_real_apiserver(sim, kubectl, namespace, tmp_path):
    simulated = sim.kubectl("sim-3")
    assert simulated("create", "namespace", "made").strip() == "namespace/made created"
    got = created_by_kubectl_create(simulated, "made", tmp_path)
    assert got == created_by_kubectl_create(kubectl, namespace, tmp_path)
    refused = simulated.run("create", "deployment", "web", "--image=nginx", check=False)
    assert refused.returncode == 1 and "protobuf bodies of Namespaces, ConfigMaps" in refused.stderr


def ssa_conflict(kubectl: Kubectl, namespace: str) -> tuple[int, str, dict]:
    """Manager `one` applies two keys, `two` changes both: (exit code, stderr, the object after
    `two` forced them)."""
    kubectl.apply(configmap("owned", namespace, a="1", b="2"), "--server-side", "--field-manager=one")
    clash = configmap("owned", namespace, a="new-a", b="new-b")
    refused = kubectl.apply(clash, "--server-side", "--field-manager=two", check=False)
    kubectl.apply(clash, "--server-side", "--field-manager=two", "--force-conflicts")
    return refused.returncode, refused.stderr, kubectl.get_json("configmap", "owned", "-n", namespace,
                                                                "--show-managed-fields")


def test_ssa_conflict_reads_as_on_the_real_apiserver(sim, kubectl, namespace):
    code, stderr, forced = ssa_conflict(sim.kubectl("sim-1"), "default")
    assert code == 1
    assert stderr.startswith('error: Apply failed with 2 conflicts: conflicts with "one":\n- .data.a\n- .data.b\n')
    real_code, real_stderr, real_forced = ssa_conflict(kubectl, namespace)
    assert (code, stderr) == (real_code, real_stderr)

    def owners(obj: dict) -> list:
        return sorted((e["manager"], e["operation"], json.dumps(e["fieldsV1"], sort_keys=True))
                      for e in obj["metadata"]["managedFields"])
    assert forced["data"] == real_forced["data"] == {"a": "new-a", "b": "new-b"}
    assert owners(forced) == owners(real_forced) == [("two", "Apply", '{"f:data": {"f:a": {}, "f:b": {}}}')]


def ownership_steps(kubectl: Kubectl, namespace: str) -> list:
    """Shared ownership, fields dropped by one of two owners and by the last one, an update
    (kubectl patch) taking a label that an applier then conflicts on: after each step, the data,
    labels and who owns which fields (or the refused apply's exit code and message)."""
    def apply(manager: str, labels: dict | None = None, **data: str):
        obj = configmap("shared", namespace, **data)
        if labels:
            obj["metadata"]["labels"] = labels
        return kubectl.apply(obj, "--server-side", f"--field-manager={manager}", check=False)

    def state(proc: subprocess.CompletedProcess) -> tuple:
        if proc.returncode:
            return proc.returncode, proc.stderr.splitlines()[0]
        obj = kubectl.get_json("configmap", "shared", "-n", namespace, "--show-managed-fields")
        owners = sorted((e["manager"], e["operation"], sorted(map(str, fields.decode(e["fieldsV1"]))))
                        for e in obj["metadata"]["managedFields"])
        return obj.get("data"), obj["metadata"].get("labels"), owners

    steps = [lambda: apply("one", {"team": "a"}, a="1", b="2"),
             lambda: apply("two", None, a="1"),
             lambda: apply("one", {"team": "a"}, b="2"),
             lambda: apply("two", None, c="3"),
             lambda: kubectl.run("patch", "configmap", "shared", "-n", namespace, "--type=merge",
                                 "-p", '{"metadata":{"labels":{"team":"b"}}}'),
             lambda: apply("one", {"team": "a"}, b="2"),
             lambda: apply("one", None, b="2")]
    return [state(step()) for step in steps]


def test_field_ownership_follows_the_real_apiserver(sim, kubectl, namespace):
    got = ownership_steps(sim.kubectl("sim-2"), "default")
    conflict = 'error: Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .metadata.labels.team'
    assert got[-2] == (1, conflict)
    expected = ownership_steps(kubectl, namespace)
    assert got == expected, "\n".join(f"step {i}: {a}\n    real: {b}" for i, (a, b) in enumerate(zip(got, expected)))


async def raw_answers(kube: Kube, namespace: str) -> list[tuple]:
    """(status, reason, message, details) of answers clients parse: not found, already exists, a
    one-field apply conflict (its Status causes), an apply without fieldManager, a stale update."""
    out = []

    async def answer(method: str, path: str, body=None, query=(), content_type="application/json"):
        try:
            result = await kube.request(method, path, body=body, query=query, content_type=content_type)
            out.append(("ok", result.get("kind")))
        except KubeError as error:
            out.append((error.status, error.reason, error.message))
        return out[-1]

    base = f"/api/v1/namespaces/{namespace}/configmaps"
    await answer("GET", f"{base}/nope")
    await answer("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/nope")
    await answer("POST", base, configmap("dup", namespace, k="v"))
    await answer("POST", base, configmap("dup", namespace, k="v"))
    await answer("PATCH", f"{base}/dup", configmap("dup", namespace, k="w"), [("fieldManager", "other")],
                 "application/apply-patch+yaml")
    await answer("PATCH", f"{base}/dup", configmap("dup", namespace, k="w"), (), "application/apply-patch+yaml")
    stale = configmap("dup", namespace, k="z")
    stale["metadata"]["resourceVersion"] = "1"
    await answer("PUT", f"{base}/dup", stale)
    await answer("POST", "/api/v1/namespaces/no-such-namespace/configmaps", configmap("x", "no-such-namespace"))
    await answer("DELETE", f"{base}/dup")
    await answer("DELETE", f"{base}/dup")
    return out


async def test_status_answers_match_the_real_apiserver(sim, mgmt, namespace):
    real = await Kube.from_kubeconfig(str(mgmt.kubeconfig))
    simulated = await sim.kube("sim-2")
    try:
        expected = await raw_answers(real, namespace)
        got = await raw_answers(simulated, "default")
    finally:
        await real.close()
        await simulated.close()
    assert got[4] == (409, "Conflict", 'Apply failed with 1 conflict: conflict with "drover" using v1: .data.k')
    assert got == [tuple(m.replace(namespace, "default") if isinstance(m, str) else m for m in a)
                   for a in expected], f"simulator: {got}\nreal: {expected}"


# -- watch -----------------------------------------------------------------------------------


def read_lines(proc: subprocess.Popen, until, timeout: float = 20) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if until(lines[-1]):
                return lines
    raise AssertionError(f"no matching line in {lines}")


def test_kubectl_get_watch_sees_an_update(sim):
    kubectl = sim.kubectl("sim-3")
    kubectl.apply(configmap("watched", "default", k="old"), "--server-side")
    # A list (not `get configmap watched`, whose watch starts from "0" and so may skip a change
    # made before it starts): the watch resumes from the list's resource version.
    proc = subprocess.Popen([kubectl.path, f"--kubeconfig={kubectl.kubeconfig}", "get", "configmap",
                             "--field-selector=metadata.name=watched", "-n", "default", "-w",
                             "--output-watch-events", "-o",
                             'jsonpath={.type} {.object.data.k}{"\\n"}'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert read_lines(proc, lambda line: line == "ADDED old")
        kubectl("patch", "configmap", "watched", "-n", "default", "--type=merge", "-p", '{"data":{"k":"new"}}')
        assert read_lines(proc, lambda line: line.startswith("MODIFIED"))[-1] == "MODIFIED new"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_kubernetes_asyncio_watch_from_a_resource_version(sim):
    kube = await sim.kube("sim-3")
    try:
        core = k8s.CoreV1Api(kube.api)
        await kube.apply(configmap("streamed", "default", k="1"))
        since = (await core.list_namespaced_config_map("default")).metadata.resource_version
        await kube.patch("v1", "ConfigMap", "streamed", "default", {"data": {"k": "2"}})
        await kube.delete("v1", "ConfigMap", "streamed", "default")
        seen = []
        watcher = k8s_watch.Watch()
        async with asyncio.timeout(20):
            async for event in watcher.stream(core.list_namespaced_config_map, "default",
                                              resource_version=since, timeout_seconds=10):
                if event["object"].metadata.name == "streamed":
                    seen.append((event["type"], (event["object"].data or {}).get("k")))
                if event["type"] == "DELETED":
                    break
        watcher.stop()
        assert seen == [("MODIFIED", "2"), ("DELETED", "2")]
    finally:
        await kube.close()


async def streaming_list(kube: Kube, namespace: str) -> list[tuple]:
    """client-go's WatchListClient request: (type, name or bookmark annotations) of each event."""
    for name in ("first", "second"):
        await kube.apply(configmap(name, namespace, k=name))
    response = await kube.api.call_api(
        f"/api/v1/namespaces/{namespace}/configmaps", "GET", query_params=[
            ("watch", "true"), ("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan"),
            ("allowWatchBookmarks", "true"), ("timeoutSeconds", "60")],
        header_params={"Accept": "application/json"}, _preload_content=False, _return_http_data_only=True)
    events = []
    try:
        async with asyncio.timeout(60):
            while not events or events[-1]["type"] != "BOOKMARK":  # read up to the end of the list
                events.append(json.loads(await response.content.readline()))
    finally:
        response.close()
    return [(e["type"], e["object"]["kind"], e["object"]["metadata"].get("name")
             or e["object"]["metadata"].get("annotations")) for e in events]


async def test_streaming_list_as_on_the_real_apiserver(sim, mgmt, namespace):
    real = await Kube.from_kubeconfig(str(mgmt.kubeconfig))
    simulated = await sim.kube("sim-1")
    try:
        await simulated.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "streams"}})
        got = await streaming_list(simulated, "streams")
        expected = await streaming_list(real, namespace)
    finally:
        await real.close()
        await simulated.close()
    assert got == [("ADDED", "ConfigMap", "first"), ("ADDED", "ConfigMap", "second"),
                   ("BOOKMARK", "ConfigMap", {"k8s.io/initial-events-end": "true"})]
    assert [e for e in expected if e[2] != "kube-root-ca.crt"] == got


async def test_a_watch_from_an_expired_version_gets_410(sim):
    kube = await sim.kube("sim-3")
    try:
        await kube.apply(configmap("churn", "default", n="0"))
        first = (await kube.get("v1", "ConfigMap", "churn", "default"))["metadata"]["resourceVersion"]
        for n in range(1, 80):  # more writes than a virtual cluster keeps events for
            await kube.patch("v1", "ConfigMap", "churn", "default", {"data": {"n": str(n)}})
        answer = await kube.request("GET", "/api/v1/namespaces/default/configmaps",
                                    query=[("watch", "true"), ("resourceVersion", first), ("timeoutSeconds", "5")])
        event = json.loads(answer) if isinstance(answer, str) else answer
        assert event["type"] == "ERROR"
        assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    finally:
        await kube.close()


async def test_status_is_written_through_its_subresource_only(sim):
    crd = yaml.safe_load((crd_dir() / "v1beta2" / "capi" / CRS_CRD).read_text())
    kube = await sim.kube("sim-3")
    try:
        await apply_objects(kube, [crd])
        crs = {"apiVersion": "addons.cluster.x-k8s.io/v1beta2", "kind": "ClusterResourceSet",
               "metadata": {"name": "s", "namespace": "default"}, "spec": {"clusterSelector": {}},
               "status": {"observedGeneration": 7}}
        assert "status" not in await kube.apply(crs)
        applied = await kube.apply({**crs, "spec": None}, manager="capi", subresource="status")
        assert applied["status"] == {"observedGeneration": 7} and applied["spec"] == {"clusterSelector": {}}
        entry = next(e for e in applied["metadata"]["managedFields"] if e["manager"] == "capi")
        assert (entry["subresource"], entry["fieldsV1"]) == ("status", {"f:status": {"f:observedGeneration": {}}})
        patched = await kube.patch(crs["apiVersion"], crs["kind"], "s", "default", {"status": {"observedGeneration": 8},
                                                                                   "spec": {"clusterSelector": None}},
                                   subresource="status")
        assert patched["status"] == {"observedGeneration": 8} and patched["spec"] == {"clusterSelector": {}}
    finally:
        await kube.delete(crd["apiVersion"], crd["kind"], crd["metadata"]["name"])
        await kube.close()


# -- Drover's own calls ------------------------------------------------------------------------


def stack_objects(crd: dict) -> list[dict]:
    return [
        crd,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "apps",
                                                               "labels": {"drover.io/fleet": "f"}},
         "data": {"mode": "fast"}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "other", "labels": {"drover.io/fleet": "f"}},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}},
        {"apiVersion": "addons.cluster.x-k8s.io/v1beta2", "kind": "ClusterResourceSet",
         "metadata": {"name": "base", "namespace": "apps"},
         "spec": {"clusterSelector": {}, "resources": [{"kind": "ConfigMap", "name": "settings"}]}},
    ]


async def test_drover_client_applies_reads_probes_and_deletes(sim):
    crd = yaml.safe_load((crd_dir() / "v1beta2" / "capi" / CRS_CRD).read_text())
    kube = await sim.kube("sim-0")
    try:
        live = await apply_objects(kube, stack_objects(crd))
        assert len(live) == 5
        web = await kube.get("apps/v1", "Deployment", "web", "other")
        assert web["status"]["observedGeneration"] == web["metadata"]["generation"] == 1
        assert {c["type"]: c["status"] for c in web["status"]["conditions"]}["Available"] == "True"
        # Applying the same objects again changes nothing; a dry run with a change writes nothing.
        again = await apply_objects(kube, stack_objects(crd))
        assert all(again[ref]["metadata"]["resourceVersion"] == live[ref]["metadata"]["resourceVersion"]
                   for ref in live)
        changed = {**stack_objects(crd)[2], "data": {"mode": "slow"}}
        assert (await kube.apply(changed, dry_run=True))["data"] == {"mode": "slow"}
        assert (await kube.get("v1", "ConfigMap", "settings", "apps"))["data"] == {"mode": "fast"}
        fleet = await kube.list("v1", "ConfigMap", labels={"drover.io/fleet": "f"})
        assert [c["metadata"]["name"] for c in fleet] == ["settings"]
        caps = await capabilities.discover(kube)
        assert caps.kube_version == "v1.35.8"
        assert {"v1/Node", "apps/v1/Deployment", "addons.cluster.x-k8s.io/v1beta2/ClusterResourceSet"} <= set(
            caps.api_versions)
        assert (await probes._api(kube, 5))["reachable"] is True
        assert await probes._version(kube, 5) == "v1.35.8"
        assert await probes._nodes(kube, 5) == {"ready": NODES, "total": NODES}
        assert await kube.delete("apps/v1", "Deployment", "web", "other") is True
        assert await kube.delete("apps/v1", "Deployment", "web", "other") is False
        assert await kube.get("apps/v1", "Deployment", "web", "other") is None
        # Deleting a namespace takes its objects along; deleting the CRD takes its kind away.
        assert await kube.delete("v1", "Namespace", "apps") is True
        assert await kube.get("v1", "ConfigMap", "settings", "apps") is None
        await kube.delete(crd["apiVersion"], crd["kind"], crd["metadata"]["name"])
        kube.forget_discovery()
        with pytest.raises(KubeError, match="no resource for kind ClusterResourceSet"):
            await kube.get("addons.cluster.x-k8s.io/v1beta2", "ClusterResourceSet", "base", "apps")
    finally:
        await kube.close()


async def test_drover_stack_engine_on_simulated_members(sim, mgmt, kubectl, namespace, tmp_path):
    """The real stack engine, as the Fleet controller drives it, on two simulated members (their
    kubeconfig Secrets on the real management cluster): a CRD above 256 KiB from a ConfigMap, a
    custom object of it, a Deployment; a sync with nothing to do writes nothing; a member that
    answers 503, then one that drops connections, fails alone while the other converges."""
    members = [SimpleNamespace(name=f"stack-{x}", kubeconfig=tmp_path / f"stack-{x}.kubeconfig") for x in "ab"]
    sim.admin("POST", "clusters", {"names": [m.name for m in members], "nodes": 1})
    for member in members:
        member.kubeconfig.write_text(yaml.safe_dump(sim.kubeconfig(member.name)))
    publish_kubeconfigs(kubectl, namespace, members)
    big = crd("widgets", "Widget", fields=700)
    (tmp_path / "bundle.yaml").write_text(yaml.safe_dump(big))
    kubectl("create", "configmap", "widget-bundle", "-n", namespace, f"--from-file={tmp_path / 'bundle.yaml'}")
    kubectl("label", "configmap", "widget-bundle", "-n", namespace, f"{STACK_SOURCE_LABEL}=true")
    app = yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
         "data": {"cluster": "{{ cluster.name }}"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}])
    widget = yaml.safe_dump({"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"},
                             "spec": {"color": "{{ cluster.name }}"}})
    fleet = put_fleet(kubectl, namespace, "simulated", [
        {"name": "crds", "namespace": "widgets", "manifestsFrom": [{"kind": "ConfigMap", "name": "widget-bundle"}]},
        {"name": "widgets", "namespace": "widgets", "dependsOn": ["crds"], "manifests": widget},
        {"name": "app", "namespace": "app", "manifests": app}])
    mgmt_kube = await Kube.from_kubeconfig(str(mgmt.kubeconfig))
    harness = Harness(mgmt_kube, namespace, members)
    try:
        results = await harness.sync_until(fleet, all_ready)
        assert {c["name"]: c["phase"] for c in results["stack-a"].components} == {
            "crds": "Ready", "widgets": "Ready", "app": "Ready"}
        for member in members:
            kube = await sim.kube(member.name)
            try:
                assert (await kube.get("v1", "ConfigMap", "settings", "app"))["data"] == {"cluster": member.name}
                assert (await kube.get(f"{GROUP}/v1", "Widget", "w", "widgets"))["spec"] == {"color": member.name}
                stored = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{GROUP}")
                assert len(json.dumps(stored)) > 256 * 1024
            finally:
                await kube.close()
        versions = {m.name: sim.admin("GET", f"clusters/{m.name}")["resourceVersion"] for m in members}
        results = await harness.sync(fleet)
        assert not any(r.changed for r in results.values())
        assert {m.name: sim.admin("GET", f"clusters/{m.name}")["resourceVersion"] for m in members} == versions

        sim.admin("PATCH", "clusters/stack-b", {"fault": "unavailable"})
        fleet = put_fleet(kubectl, namespace, "simulated", [
            {"name": "crds", "namespace": "widgets", "manifestsFrom": [{"kind": "ConfigMap", "name": "widget-bundle"}]},
            {"name": "app", "namespace": "app", "manifests": app}])
        results = await harness.sync(fleet)
        assert results["stack-a"].reachable and results["stack-a"].changed
        assert "ServiceUnavailable" in results["stack-b"].message  # an answer, if not a good one
        sim.admin("PATCH", "clusters/stack-b", {"fault": "close"})
        results = await harness.sync(fleet)
        assert not results["stack-b"].reachable and results["stack-b"].message.startswith("unreachable")
        assert results["stack-a"].reachable and all_ready({"stack-a": results["stack-a"]})
    finally:
        sim.admin("PATCH", "clusters/stack-b", {"fault": None})
        await harness.close()
        await mgmt_kube.close()


# -- knobs and size ----------------------------------------------------------------------------


async def test_faults_and_latency_hit_only_their_cluster(sim):
    broken, fine = await sim.kube("sim-2", timeout=1.0), await sim.kube("sim-1", timeout=5.0)
    try:
        sim.admin("PATCH", "clusters/sim-2", {"fault": "unavailable"})
        with pytest.raises(KubeError) as error:
            await broken.request("GET", "/readyz")
        assert (error.value.status, error.value.reason) == (503, "ServiceUnavailable")
        assert (await probes._api(fine, 5))["reachable"] is True
        sim.admin("PATCH", "clusters/sim-2", {"fault": "error"})
        with pytest.raises(KubeError) as error:
            await broken.list("v1", "Node")
        assert (error.value.status, error.value.reason) == (500, "InternalError")
        sim.admin("PATCH", "clusters/sim-2", {"fault": "close"})
        with pytest.raises(Unreachable):
            await broken.request("GET", "/version")
        sim.admin("PATCH", "clusters/sim-2", {"fault": None, "latency": 3.0})
        with pytest.raises(Unreachable, match="Timeout"):
            await broken.request("GET", "/version")  # the client gives up after 1 s
        assert (await probes._nodes(fine, 5))["ready"] == NODES
        knobs = sim.admin("PATCH", "clusters/sim-2", {"latency": 0})
        assert (knobs["latency"], knobs["fault"]) == (0.0, None)
        assert (await probes._api(broken, 5))["reachable"] is True
        with pytest.raises(urllib.error.HTTPError) as bad:
            sim.admin("PATCH", "clusters/sim-2", {"fault": "explode"})
        assert bad.value.code == 400 and "fault" in json.loads(bad.value.read())["error"]
    finally:
        sim.admin("PATCH", "clusters/sim-2", {"fault": None, "latency": 0})
        await broken.close()
        await fine.close()


async def test_in_process_simulator_and_its_python_knobs(tmp_path):
    """The same simulator run inside a test's own event loop (for tests that drive faults step by
    step); stopping it ends open watches."""
    simulator = Simulator(nodes=1)
    simulator.add("solo")
    url = await simulator.start()
    kube = await Kube.from_kubeconfig_dict(simulator.kubeconfig("solo"), timeout=5)
    try:
        assert url.startswith("http://127.0.0.1:") and simulator.server("solo") == f"{url}/clusters/solo"
        assert await probes._nodes(kube, 5) == {"ready": 1, "total": 1}
        simulator.cluster("solo").fault = "unavailable"
        assert (await probes._api(kube, 5))["reachable"] is False
        simulator.cluster("solo").fault = None
        watch = asyncio.create_task(kube.request("GET", "/api/v1/namespaces", query=[("watch", "1")]))
        async with asyncio.timeout(10):
            while not simulator.stats()["watches"]:
                await asyncio.sleep(0.05)
        await simulator.stop()
        listing = await asyncio.wait_for(watch, 10)
        assert [json.loads(line)["object"]["metadata"]["name"] for line in listing.splitlines()] == [
            "default", "kube-node-lease", "kube-public", "kube-system"]
    finally:
        await kube.close()
        await simulator.stop()


def test_memory_per_virtual_cluster(sim):
    """A figure, not a limit: resident memory added by 500 more virtual clusters."""
    before = sim.admin("GET", "stats")
    names = [f"bulk-{i}" for i in range(500)]
    sim.admin("POST", "clusters", {"names": names, "nodes": NODES})
    after = sim.admin("GET", "stats")
    assert after["clusters"] == before["clusters"] + len(names)
    assert [line.split()[1] for line in sim.kubectl("bulk-499")("get", "nodes").splitlines()[1:]] == ["Ready"] * 3
    per_cluster = (after["rssBytes"] - before["rssBytes"]) / len(names)
    print(f"\nsimulator: {per_cluster / 1024:.1f} KiB resident per virtual cluster ({NODES} nodes), "
          f"{after['rssBytes'] / 2**20:.0f} MiB for {after['clusters']} clusters", file=sys.stderr)
    for name in names:
        sim.admin("DELETE", f"clusters/{name}")
    assert sim.admin("GET", "stats")["clusters"] == before["clusters"]

