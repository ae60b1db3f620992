"""`drover dashboard` in real headless Chromium (over the DevTools protocol), against the session's
management plane, controller and local provider: a demo-like Fleet of three simulated local
clusters that the controller really provisions and stacks, and a Fleet of 1,000 members whose
statuses the test writes (in a namespace the controller does not watch).

Two users: the session's admin, and `dash-viewer`, a client certificate whose Role only reads
Fleets, FleetMembers, Cluster API objects, Events and ConfigMaps (no Secrets, no writes).

The steps run in file order and share the Fleets. `DROVER_SCREENSHOTS=DIR` (what
`make screenshots DIR=...` sets) keeps the screenshots in DIR.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from e2e.fixtures.controller import wait_for
from mgmt.api.models import API_VERSION, FLEET_LABEL
from mgmt.controller.members import member_name
from mgmt.health.aggregate import aggregate, member_conditions, member_phase
from mgmt.kube import Kube

pytest_plugins = ["e2e.fixtures.browser"]

NS = "fleet-dashboard"      # the session controller reconciles fleet-* namespaces
BIG_NS = "dashboard-big"    # not watched: the test writes its members' statuses itself
FLEET, BIG = "demo", "big"
CLUSTERS = ("demo-1", "demo-2", "demo-3")
BIG_SIZE = 1000
VIEWER = "dash-viewer"
WAIT = 240

GREETING_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "greetings.hello.drover.dev"},
    "spec": {"group": "hello.drover.dev", "scope": "Namespaced",
             "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "required": ["message"], "properties": {
                     "message": {"type": "string", "description": "What the greeting says."},
                     "replicas": {"type": "integer", "default": 1, "description": "How many greeters."}}}}}}}]},
}
DATABASE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "postgres"},
                     "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}}
CATALOGUE_ENTRY = "hello-config"  # offline (inline manifests): Ready on a simulated member at once


def fleet_manifest() -> dict:
    return {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": FLEET, "namespace": NS},
            "spec": {"health": {"probeInterval": "3s"},
                     "clusters": [{"name": c, "provider": "local", "flavor": "simulated",
                                   "kubernetesVersion": "v1.35.8", "labels": {"env": env},
                                   "workers": [{"name": "md-0", "replicas": 2}]}
                                  for c, env in zip(CLUSTERS, ("dev", "staging", "prod"))],
                     "stack": {"components": [
                         {"name": "hello-operator", "namespace": "hello-system",
                          "manifests": yaml.safe_dump_all([GREETING_CRD]),
                          "healthChecks": [{"apiVersion": "apiextensions.k8s.io/v1",
                                            "kind": "CustomResourceDefinition", "name": GREETING_CRD["metadata"]["name"]}]},
                         {"name": "database", "namespace": "data", "manifests": yaml.safe_dump(DATABASE)}]}}}


def catalogue() -> dict:
    sample = yaml.safe_load((Path(__file__).parents[1] / "manifests/samples/dashboard-catalogue.yaml").read_text())
    entry = {"namespace": "hello-system", "manifests": yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"}, "data": {"from": "{{ cluster.name }}"}})}
    return {**sample, "metadata": {"name": "drover-catalogue", "namespace": NS},
            "data": {**sample["data"], CATALOGUE_ENTRY: yaml.safe_dump(entry)}}


def viewer_role(namespace: str) -> list[dict]:
    read = ["get", "list", "watch"]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "fleet-viewer", "namespace": namespace},
         "rules": [{"apiGroups": ["fleet.drover.dev"], "resources": ["fleets", "fleetmembers"], "verbs": read},
                   {"apiGroups": ["cluster.x-k8s.io", "infrastructure.drover.dev", "controlplane.drover.dev"],
                    "resources": ["*"], "verbs": read},
                   {"apiGroups": [""], "resources": ["events", "configmaps"], "verbs": read}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "fleet-viewer", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "fleet-viewer"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VIEWER}]},
    ]


# -- the dashboard process ----------------------------------------------------------------------

@contextmanager
def dashboard(kubeconfig: Path, log: Path):
    """`drover dashboard --port 0` as a user runs it; yields its URL, stops it afterwards."""
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mgmt.cli", "dashboard", "--port", "0",
                                 f"--kubeconfig={kubeconfig}"], stdout=subprocess.PIPE, stderr=err, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Drover dashboard: http://127.0.0.1:"), f"{line!r}\n{log.read_text()}"
        yield line.split()[2]
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()


def viewer_kubeconfig(mgmt, path: Path) -> Path:
    server = mgmt.apiserver(audit=True)
    server.client_pair(VIEWER, groups=())
    config = server.kubeconfig(VIEWER)
    config["contexts"][0]["context"]["namespace"] = NS  # it may not list Fleets in every namespace
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def fleet_json(kubectl, namespace: str = NS, name: str = FLEET) -> dict:
    return kubectl.get_json("fleet", name, "-n", namespace, "--show-managed-fields")


def member_status(kubectl, cluster: str) -> dict:
    got = kubectl.run("get", "fleetmember", member_name(FLEET, cluster), "-n", NS, "-o", "json", check=False)
    return (json.loads(got.stdout).get("status") or {}) if got.returncode == 0 else {}


def component_ready(kubectl, cluster: str, component: str) -> bool:
    return any(c["name"] == component and c.get("applied") and c.get("ready")
               for c in member_status(kubectl, cluster).get("components") or [])


@pytest.fixture(scope="module")
def env(kubectl, mgmt, controller, local_provider, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashboard")
    for namespace in (NS, BIG_NS):
        kubectl("create", "namespace", namespace)
        kubectl.apply(viewer_role(namespace))
    kubectl.apply([catalogue(), fleet_manifest()])

    def ready():
        return fleet_json(kubectl).get("status", {}).get("display") == f"{len(CLUSTERS)}/{len(CLUSTERS)} ready" \
            and all(component_ready(kubectl, c, "database") for c in CLUSTERS)
    try:
        wait_for(ready, WAIT, 1, "the demo Fleet Ready with its stack")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{kubectl('get', 'fleets,fleetmembers,clusters', '-n', NS, check=False)}"
                             f"\n{local_provider.log_tail(20)}") from None
    with dashboard(mgmt.kubeconfig, tmp / "admin.log") as admin, \
            dashboard(viewer_kubeconfig(mgmt, tmp / "viewer.kubeconfig"), tmp / "viewer.log") as viewer:
        yield {"admin": admin, "viewer": viewer, "tmp": tmp}
    for namespace in (NS, BIG_NS):
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def page(browser):
    tab = browser.new_page()
    yield tab
    tab.close()


def fleet_url(base: str, namespace: str = NS, name: str = FLEET, query: str = "") -> str:
    return f"{base}fleets/{namespace}/{name}{'?' + query if query else ''}"


def member_url(base: str, cluster: str) -> str:
    return f"{base}fleets/{NS}/{FLEET}/clusters/{cluster}"


# -- 1. overview --------------------------------------------------------------------------------

def test_overview_shows_the_fleets_counts(env, page, kubectl):
    page.goto(env["admin"])
    card = f'section[data-fleet="{NS}/{FLEET}"]'
    counts = fleet_json(kubectl)["status"]["counts"]
    shown = page.evaluate(f"Object.fromEntries([...document.querySelectorAll('{card} dl.counts div')]"
                          ".map(d => [d.dataset.count, Number(d.querySelector('dd').textContent)]))")
    assert shown == counts, (shown, counts)
    assert page.text(f"{card} .ready-display") == f"{len(CLUSTERS)}/{len(CLUSTERS)} ready"
    assert page.text(f"{card} h2 .badge") == "Ready"
    # Keyboard: the skip link is the first thing Tab reaches, and every form field has a label.
    assert page.evaluate("document.querySelector('a').className") == "skip"


# -- 2. an action by clicking, its diff, the apiserver's answer, and the live member page ------------

def test_add_component_by_clicking_reaches_a_member(env, page, browser, kubectl):
    before = fleet_json(kubectl)
    watcher = browser.new_page()  # a member page left open: it must update without a reload
    watcher.goto(member_url(env["admin"], CLUSTERS[0]))
    watcher.wait("document.getElementById('live').dataset.live === 'connected'", 30, "the live connection")
    assert not watcher.exists(f'tr[data-component="{CATALOGUE_ENTRY}"]')

    page.goto(fleet_url(env["admin"]))
    unlabelled = page.evaluate("[...document.querySelectorAll('input:not([type=hidden]), select')]"
                               ".filter(e => !e.closest('label') && !document.querySelector(`label[for=\"${e.id}\"]`)"
                               " && !e.getAttribute('aria-label')).length")
    assert unlabelled == 0
    page.select("#catalogue-entry", CATALOGUE_ENTRY)
    page.click("#add-component button[type=submit]")
    diff = page.text("pre.diff")
    assert f"+    - name: {CATALOGUE_ENTRY}" in diff, diff
    assert "dry run of it makes this change" in page.text("main") and not page.exists("#dry-run")
    assert fleet_json(kubectl)["metadata"]["generation"] == before["metadata"]["generation"]  # nothing sent yet
    page.click("#confirm button[type=submit]")
    answer = page.text("#answer")
    after = fleet_json(kubectl)
    assert f"generation {after['metadata']['generation']}" in answer, answer
    assert [c["name"] for c in after["spec"]["stack"]["components"]] == ["hello-operator", "database", CATALOGUE_ENTRY]
    assert any(m["manager"] == "drover-dashboard" and m["operation"] == "Apply"
               for m in after["metadata"]["managedFields"])

    started = time.monotonic()
    watcher.wait(f"document.querySelector('tr[data-component=\"{CATALOGUE_ENTRY}\"][data-ready=\"true\"]') !== null",
                 WAIT, f"{CATALOGUE_ENTRY} Ready on {CLUSTERS[0]}'s page, live")
    print(f"\n{CATALOGUE_ENTRY}: applied -> Ready on the open member page in {time.monotonic() - started:.1f}s")
    assert component_ready(kubectl, CLUSTERS[0], CATALOGUE_ENTRY)
    watcher.close()

    # The dashboard removes what it added, again through a diff and one apply.
    page.goto(fleet_url(env["admin"]))
    page.click(f'li[data-component="{CATALOGUE_ENTRY}"] button')
    assert f"-    - name: {CATALOGUE_ENTRY}" in page.text("pre.diff")
    page.click("#confirm button[type=submit]")
    assert "accepted" in page.text("#answer")
    assert [c["name"] for c in fleet_json(kubectl)["spec"]["stack"]["components"]] == ["hello-operator", "database"]

    # What kubectl declared the dashboard cannot remove by its apply: said before anything is sent.
    page.goto(fleet_url(env["admin"]))
    page.click('li[data-component="database"] button')
    assert "declared by field manager kubectl-client-side-apply" in page.text("#answer")


def test_a_reader_sees_the_apiservers_refusal(env, page, kubectl):
    generation = fleet_json(kubectl)["metadata"]["generation"]
    page.goto(env["viewer"])  # it may not list Fleets everywhere: its kubeconfig's namespace instead
    assert page.text("h1") == f"Fleets (namespace {NS})"
    assert page.exists(f'section[data-fleet="{NS}/{FLEET}"]') and page.count("section[data-fleet]") == 1
    page.goto(fleet_url(env["viewer"]))
    assert page.text(".ready-display") == f"{len(CLUSTERS)}/{len(CLUSTERS)} ready"  # reading is allowed
    page.select("#catalogue-entry", CATALOGUE_ENTRY)
    page.click("#add-component button[type=submit]")
    assert f'User "{VIEWER}" cannot patch resource "fleets"' in page.text("#dry-run")  # the preview's dry run
    page.click("#confirm button[type=submit]")
    answer = page.text("#answer")
    assert "403 Forbidden" in answer, answer
    assert (f'fleets.fleet.drover.dev "{FLEET}" is forbidden: User "{VIEWER}" cannot patch resource "fleets" '
            f'in API group "fleet.drover.dev" in the namespace "{NS}"') in answer, answer
    assert fleet_json(kubectl)["metadata"]["generation"] == generation


def test_pause_and_resume_the_rollout(env, page, kubectl):
    for button, paused in (("pause", True), ("resume", False)):
        page.goto(fleet_url(env["admin"]))
        page.click(f'#rollout button[value="{button}"]')
        assert f"+    paused: {'true' if paused else 'false'}" in page.text("pre.diff")
        page.click("#confirm button[type=submit]")
        assert "accepted" in page.text("#answer")
        assert fleet_json(kubectl)["spec"]["rollout"]["paused"] is paused
        page.goto(env["admin"])
        assert page.exists(f'section[data-fleet="{NS}/{FLEET}"] .paused') is paused


def test_add_and_remove_a_cluster(env, page, kubectl):
    page.goto(fleet_url(env["admin"]))
    assert page.evaluate("[...document.querySelectorAll('input[name=target]')].map(e => e.value)") == ["local"]
    page.evaluate("document.querySelector('#add-cluster input[name=name]').value = 'demo-4'")
    page.evaluate("document.querySelector('#add-cluster input[name=flavor]').value = 'simulated'")
    page.click("#add-cluster button[type=submit]")
    assert "+  - name: demo-4" in page.text("pre.diff")
    page.click("#confirm button[type=submit]")
    assert "accepted" in page.text("#answer")
    added = next(c for c in fleet_json(kubectl)["spec"]["clusters"] if c["name"] == "demo-4")
    assert added == {"name": "demo-4", "provider": "local", "flavor": "simulated", "kubernetesVersion": "v1.35.8",
                     "workers": [{"name": "md-0", "replicas": 1}], **{k: added[k] for k in added if k not in (
                         "name", "provider", "flavor", "kubernetesVersion", "workers")}}  # and the CRD's defaults
    wait_for(lambda: kubectl.run("get", "fleetmember", member_name(FLEET, "demo-4"), "-n", NS,
                                 check=False).returncode == 0, 60, 0.5, "the controller's FleetMember for demo-4")

    page.goto(fleet_url(env["admin"]))
    page.select("#cluster-change select[name=name]", "demo-4")
    page.click('#cluster-change button[value="remove-cluster"]')
    assert "-  - name: demo-4" in page.text("pre.diff")
    page.click("#confirm button[type=submit]")
    assert "accepted" in page.text("#answer")
    assert [c["name"] for c in fleet_json(kubectl)["spec"]["clusters"]] == list(CLUSTERS)


# -- 3. the member page: connection info only for who may read the kubeconfig ---------------------

def test_member_page_and_kubeconfig_download(env, page):
    cluster = CLUSTERS[1]
    page.goto(member_url(env["admin"], cluster))
    assert page.exists("#kubeconfig-download")
    status = page.evaluate("fetch(document.getElementById('kubeconfig-download').href)"
                           ".then(async r => [r.status, (await r.text()).startsWith('apiVersion')])")
    assert status == [200, True]
    services = page.text("table.services")
    assert "postgres" in services and "LoadBalancer" in services and "5432" in services, services
    assert f"drover get kubeconfig {cluster} -n {NS}" in page.text("dl.connect")
    assert "CustomResourceDefinition/greetings.hello.drover.dev" in page.text('tr[data-component="hello-operator"]')
    assert page.text("pre.tree").startswith("NAME")  # the `drover describe cluster` tree
    assert f"Cluster/{cluster}" in page.text("pre.tree")
    crd = page.text('details[data-crd="greetings.hello.drover.dev"]')
    assert "Greeting" in crd and "hello-operator" in crd
    page.evaluate("document.querySelector('details[data-crd] ').open = true")
    params = page.text('details[data-crd="greetings.hello.drover.dev"] table.params')
    assert "message" in params and "What the greeting says." in params and "replicas" in params, params
    assert "BEGIN" not in page.text() and "client-key-data" not in page.text()

    page.goto(member_url(env["viewer"], cluster))
    assert not page.exists("#kubeconfig-download")
    assert "may not read Secret" in page.text("#no-kubeconfig")
    assert not page.exists("table.services")
    refused = page.evaluate(f"fetch('{member_url(env['viewer'], cluster)}/kubeconfig')"
                            ".then(async r => [r.status, await r.text()])")
    assert refused[0] == 403 and f'User "{VIEWER}" cannot get resource "secrets"' in html.unescape(refused[1])


# -- 4. 1,000 members ------------------------------------------------------------------------------

def big_member(index: int) -> tuple[dict, dict]:
    cluster = f"edge-{index}"
    reachable = index % 10 != 0
    provider, region = ("aws", "eu-west-1") if index % 2 else ("gcp", "us-central1")
    status = {"api": {"reachable": True, "latencyMs": index % 97 + 3} if reachable else
              {"reachable": False, "message": "dial tcp: i/o timeout"},
              "capi": {"phase": "Provisioned", "controlPlaneReady": True}, "nodes": {"ready": 2, "total": 2},
              "kubernetesVersion": "v1.35.8", "stack": "1/1",
              "components": [{"name": "base", "applied": True, "ready": True}]}
    status["phase"] = member_phase(status, False)
    status["conditions"] = member_conditions(status, status["phase"], [])
    meta = {"name": member_name(BIG, cluster), "namespace": BIG_NS, "labels": {FLEET_LABEL: BIG}}
    spec = {"fleet": BIG, "cluster": cluster, "provider": provider, "region": region}
    return ({"apiVersion": API_VERSION, "kind": "FleetMember", "metadata": meta, "spec": spec},
            {"apiVersion": API_VERSION, "kind": "FleetMember", "metadata": {k: meta[k] for k in ("name", "namespace")},
             "status": status})


async def write_big_fleet(kubeconfig: Path) -> None:
    fleet = {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": BIG, "namespace": BIG_NS},
             "spec": {"clusterSets": [{"name": "edge", "count": BIG_SIZE, "template": {
                 "provider": "aws", "region": "eu-west-1", "kubernetesVersion": "v1.35.8",
                 "credentialsRef": {"name": "aws-credentials"}}}]}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-credentials", "namespace": BIG_NS},
              "stringData": {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-key"}}
    members = [big_member(i) for i in range(1, BIG_SIZE + 1)]
    async with await Kube.from_kubeconfig(str(kubeconfig), timeout=120) as kube:
        await kube.apply(secret, manager="e2e-dashboard")
        stored = await kube.apply(fleet, manager="e2e-dashboard")
        limit = asyncio.Semaphore(16)

        async def write(spec: dict, status: dict) -> None:
            async with limit:
                await kube.apply(spec, manager="e2e-dashboard")
                await kube.apply(status, manager="e2e-dashboard", subresource="status")
        await asyncio.gather(*(write(spec, status) for spec, status in members))
        statuses = [{**status, "spec": spec["spec"]} for spec, status in members]
        await kube.apply({"apiVersion": API_VERSION, "kind": "Fleet", "metadata": fleet["metadata"],
                          "status": aggregate(stored, statuses)}, manager="e2e-dashboard", subresource="status")


def test_a_thousand_members_render_a_first_page(env, page, mgmt):
    started = time.monotonic()
    asyncio.run(write_big_fleet(mgmt.kubeconfig))
    print(f"\n{BIG_SIZE} FleetMembers and their statuses written in {time.monotonic() - started:.1f}s")

    started = time.monotonic()
    page.goto(fleet_url(env["admin"], BIG_NS, BIG))
    first = time.monotonic() - started
    assert page.text("#members-summary") == f"{BIG_SIZE} of {BIG_SIZE} members · page 1 of {BIG_SIZE // 50}"
    assert page.count("table.members tbody tr") == 50
    assert page.text(".ready-display") == f"{BIG_SIZE * 9 // 10}/{BIG_SIZE} ready"
    # New clusters may go where credentials exist: local, and AWS with the Secret this Fleet names.
    targets = page.evaluate("[...document.querySelectorAll('input[name=target]')].map(e => e.value)")
    assert targets == ["local", "aws:aws-credentials"], targets
    assert "not-a-real-key" not in page.text() and "AKIDEXAMPLE" not in page.text()

    started = time.monotonic()
    page.goto(fleet_url(env["admin"], BIG_NS, BIG, "state=Unreachable&provider=gcp&sort=cluster&order=desc"))
    filtered = time.monotonic() - started
    unreachable_gcp = sum(1 for i in range(1, BIG_SIZE + 1) if i % 10 == 0 and i % 2 == 0)
    assert page.text("#members-summary").startswith(f"{unreachable_gcp} of {BIG_SIZE} members")
    rows = page.evaluate("[...document.querySelectorAll('table.members tbody tr')].map(r => r.dataset.phase)")
    assert set(rows) == {"Unreachable"} and len(rows) == 50
    page.click('a[rel="next"]')
    assert "page 2 of 2" in page.text("#members-summary")

    page.goto(fleet_url(env["admin"], BIG_NS, BIG, "sort=latency&order=desc"))
    latencies = page.evaluate("[...document.querySelectorAll('table.members tbody tr td:nth-child(6)')]"
                              ".map(td => td.textContent)")
    assert latencies[0] == "99 ms", latencies[:5]
    print(f"{BIG_SIZE}-member Fleet page: first page {first:.2f}s, filtered and sorted {filtered:.2f}s")


# -- 5. screenshots --------------------------------------------------------------------------------

def test_screenshots(env, page, tmp_path):
    folder = Path(os.environ.get("DROVER_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shots = {"overview.png": env["admin"], "fleet.png": fleet_url(env["admin"]),
             "member.png": member_url(env["admin"], CLUSTERS[0])}
    for name, url in shots.items():
        page.goto(url)
        if name == "member.png":
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        if name == "fleet.png":  # earlier steps read this Fleet several times: the chart has its samples
            assert page.exists("figure.chart svg polyline"), page.text("#live")
        path = page.screenshot(folder / name)
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, (name, len(data))
    print(f"\nscreenshots in {folder}: {', '.join(sorted(shots))}")
