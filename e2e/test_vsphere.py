"""The vSphere provider against vcsim, govmomi's vSphere API simulator (the engine of VMware's own
vcsim; built by the toolchain, started here on 127.0.0.1): preflight good and bad through pyVmomi,
cloud health of VMs named as CAPV names them, and both reaching a Fleet member's status through the
real controller."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import subprocess
import threading
import time
import urllib.parse
from contextlib import contextmanager

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from devtools import processes
from devtools.toolchain import binary
from e2e.fixtures.controller import wait_for
from mgmt.controller.members import member_name
from providers.base import ClusterRequest, Credentials, WorkerPool
from providers.vsphere import cloud

TEMPLATE = "ubuntu-2404-kube-v1.33.4"
USERNAME, PASSWORD = "administrator@vsphere.local", "vcsim-Only-Pa55word-e2e"


@dataclasses.dataclass
class Vcsim:
    host: str
    port: int
    username: str
    password: str
    thumbprint: str

    @property
    def credentials(self) -> Credentials:
        return Credentials("vsphere-credentials", {"username": self.username, "password": self.password})

    def variables(self, **changes) -> dict[str, str]:
        """Placement variables naming what vcsim's default inventory (and the `template` fixture) has."""
        return {"VSPHERE_SERVER": f"{self.host}:{self.port}", "VSPHERE_TLS_THUMBPRINT": self.thumbprint,
                "VSPHERE_DATACENTER": "DC0", "VSPHERE_DATASTORE": "LocalDS_0", "VSPHERE_NETWORK": "VM Network",
                "VSPHERE_RESOURCE_POOL": "DC0_C0/Resources", "VSPHERE_FOLDER": "vm", "VSPHERE_TEMPLATE": TEMPLATE,
                "CONTROL_PLANE_ENDPOINT_IP": "10.0.0.10", "VSPHERE_SSH_AUTHORIZED_KEY": "ssh-ed25519 AAAA test",
                **changes}

    @contextmanager
    def api(self):
        """A pyVmomi session for arranging the inventory (the test's own, not the provider's)."""
        instance = SmartConnect(host=self.host, port=self.port, user=self.username, pwd=self.password,
                                disableSslCertValidation=True)
        try:
            yield instance.RetrieveContent()
        finally:
            Disconnect(instance)


@contextmanager
def running_vcsim(directory, *flags: str):
    """vcsim on a free port of 127.0.0.1, accepting only USERNAME/PASSWORD; stopped on exit."""
    log = directory / "vcsim.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([binary("vcsim"), "-l", "127.0.0.1:0", "-username", USERNAME, "-password", PASSWORD,
                                 *flags], stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        assert line and line[0].strip(), f"vcsim printed no address in 60 s:\n{log.read_text()}"
        ready = json.loads(line[0])
        url = urllib.parse.urlsplit(ready["url"])
        assert (urllib.parse.unquote(url.username), url.password) == (USERNAME, PASSWORD)
        yield Vcsim(url.hostname, url.port, USERNAME, PASSWORD, ready["thumbprint"])
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def vcsim(tmp_path_factory):
    with running_vcsim(tmp_path_factory.mktemp("vcsim")) as server:
        yield server


def wait_task(task) -> None:
    # pyVim's WaitForTask reads task.info.name, which vcsim leaves unset.
    deadline = time.monotonic() + 60
    while task.info.state not in ("success", "error"):
        assert time.monotonic() < deadline, "vcsim task did not finish in 60 s"
        time.sleep(0.05)
    assert task.info.state == "success", task.info.error


def find(content, path: str):
    found = content.searchIndex.FindByInventoryPath(path)
    assert found is not None, path
    return found


def clone(content, source: str, name: str, template: bool = False, power_on: bool = True,
          annotation: str | None = None) -> None:
    """A VM cloned as CAPV clones one (from the template, into the folder and resource pool)."""
    spec = vim.vm.CloneSpec(template=template, powerOn=False, location=vim.vm.RelocateSpec(
        pool=None if template else find(content, "DC0/host/DC0_C0/Resources")))
    wait_task(find(content, f"DC0/vm/{source}").CloneVM_Task(folder=find(content, "DC0/vm"), name=name, spec=spec))
    vm = find(content, f"DC0/vm/{name}")
    if annotation is not None:
        wait_task(vm.ReconfigVM_Task(vim.vm.ConfigSpec(annotation=annotation)))
    if power_on and not template:
        wait_task(vm.PowerOnVM_Task())


@pytest.fixture(scope="module")
def template(vcsim):
    """An image-builder-like template: its name and annotation say which Kubernetes it holds."""
    with vcsim.api() as content:
        clone(content, "DC0_H0_VM0", TEMPLATE, template=True,
              annotation="Cluster API vSphere image - Ubuntu 24.04 and Kubernetes v1.33.4")
    return TEMPLATE


POOLS = (WorkerPool("md-0", 2),)


def request(vcsim, name="c1", version="v1.33.4", workers=POOLS, **changes) -> ClusterRequest:
    return ClusterRequest(name=name, namespace="team-a", provider="vsphere", flavor="kubeadm",
                          kubernetes_version=version, workers=workers, variables=vcsim.variables(**changes))


def test_preflight_passes_when_everything_is_there(vcsim, template):
    assert cloud.preflight(request(vcsim), vcsim.credentials) == []
    # an absolute inventory path and a path inside the datacenter name the same things
    assert cloud.preflight(request(vcsim, VSPHERE_FOLDER="/DC0/vm", VSPHERE_DATASTORE="datastore/LocalDS_0",
                                   VSPHERE_RESOURCE_POOL="host/DC0_C0/Resources/DC0_C0_RP1"),
                           vcsim.credentials) == []


BAD = {
    "missing datacenter": ({"VSPHERE_DATACENTER": "DC9"}, "DatacenterNotFound",
                           "datacenter 'DC9' (VSPHERE_DATACENTER) not found; there are: DC0"),
    "wrong thumbprint": ({"VSPHERE_TLS_THUMBPRINT": "AA:" * 19 + "AA"}, "ThumbprintMismatch",
                         "not VSPHERE_TLS_THUMBPRINT AA:AA:AA"),
    "missing template": ({"VSPHERE_TEMPLATE": "ubuntu-2404-kube-v1.99.0"}, "TemplateNotFound",
                         "template 'ubuntu-2404-kube-v1.99.0' (VSPHERE_TEMPLATE) not found in DC0"),
    "not enough space": ({"VSPHERE_DISK_GIB": "2000"}, "InsufficientDatastoreSpace",
                         "datastore 'LocalDS_0' (VSPHERE_DATASTORE): "),
    "missing datastore": ({"VSPHERE_DATASTORE": "ssd-9"}, "DatastoreNotFound", "'ssd-9' (VSPHERE_DATASTORE) not found"),
    "missing network": ({"VSPHERE_NETWORK": "prod"}, "NetworkNotFound", "network 'prod' (VSPHERE_NETWORK)"),
    "missing resource pool": ({"VSPHERE_RESOURCE_POOL": "gold"}, "ResourcePoolNotFound", "(VSPHERE_RESOURCE_POOL)"),
    "ambiguous resource pool": ({"VSPHERE_RESOURCE_POOL": "*/Resources"}, "ResourcePoolAmbiguous",
                                "names several: host/DC0_C0/Resources, host/DC0_H0/Resources"),
    "missing folder": ({"VSPHERE_FOLDER": "vm/team-b"}, "FolderNotFound", "folder 'vm/team-b' (VSPHERE_FOLDER)"),
    "folder of networks": ({"VSPHERE_FOLDER": "network"}, "FolderNotForVMs", "cannot hold virtual machines"),
    "no server": ({"VSPHERE_SERVER": f"127.0.0.1:{processes.free_port()}"}, "CloudAPIError",
                  "cannot be reached: ConnectionRefusedError"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_preflight_names_what_is_wrong(vcsim, template, case):
    changes, reason, text = BAD[case]
    failures = cloud.preflight(request(vcsim, **changes), vcsim.credentials)
    assert [f.reason for f in failures] == [reason], failures
    assert text in failures[0].message
    assert vcsim.password not in failures[0].message


def test_datacenters_inside_folders(tmp_path):
    with running_vcsim(tmp_path, "-folder", "1", "-cluster", "0", "-vm", "0") as server:
        with server.api() as content:
            [folder] = [e.name for e in content.rootFolder.childEntity]
        placement = {"VSPHERE_RESOURCE_POOL": "DC0_H0/Resources", "VSPHERE_TEMPLATE": "missing"}
        [failure] = cloud.preflight(request(server, **placement), server.credentials)
        assert failure.message == f"template 'missing' (VSPHERE_TEMPLATE) not found in {folder}/DC0"
        absolute = request(server, **placement, VSPHERE_DATACENTER=f"{folder}/DC0", VSPHERE_FOLDER=f"/{folder}/DC0/vm")
        assert [f.reason for f in cloud.preflight(absolute, server.credentials)] == ["TemplateNotFound"]
        [failure] = cloud.preflight(request(server, VSPHERE_DATACENTER="DC7"), server.credentials)
        assert failure.message == f"datacenter 'DC7' (VSPHERE_DATACENTER) not found; there are: {folder}/DC0"


def test_preflight_refuses_a_wrong_login(vcsim, template, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = Credentials("vsphere-credentials", {"VSPHERE_USERNAME": USERNAME, "VSPHERE_PASSWORD": "not-the-password"})
    assert cloud.preflight(request(vcsim), vcsim.credentials) == []
    [failure] = cloud.preflight(request(vcsim), wrong)
    assert failure.reason == "InvalidCredentials"
    assert failure.message == f"vSphere server 127.0.0.1:{vcsim.port} refused the user '{USERNAME}'"
    [failure] = cloud.preflight(request(vcsim), Credentials("vsphere-credentials", {"username": USERNAME}))
    assert failure.message == ("Secret 'vsphere-credentials' needs username and password (or VSPHERE_USERNAME and "
                               "VSPHERE_PASSWORD); it has keys: username")
    assert PASSWORD not in caplog.text and "not-the-password" not in caplog.text


def test_preflight_space_counts_every_machine(vcsim, template):
    with vcsim.api() as content:
        free_gib = find(content, "DC0/datastore/LocalDS_0").summary.freeSpace / 1024 ** 3
    disk = int(free_gib // 3)  # three machines fit, four do not
    fits = request(vcsim, VSPHERE_DISK_GIB=str(disk))
    assert cloud.preflight(fits, vcsim.credentials) == []
    more = dataclasses.replace(fits, workers=(WorkerPool("md-0", 2), WorkerPool("gpu", 1)))
    [failure] = cloud.preflight(more, vcsim.credentials)
    assert failure.reason == "InsufficientDatastoreSpace"
    assert failure.message.endswith(f"GiB free, 4 machines of {disk} GiB need {4 * disk}")


def test_preflight_checks_the_template_kubernetes_version(vcsim, template):
    [failure] = cloud.preflight(request(vcsim, version="v1.34.1"), vcsim.credentials)
    assert failure == cloud.PreflightFailure(
        "TemplateVersionMismatch",
        f"template '{TEMPLATE}' (VSPHERE_TEMPLATE) holds Kubernetes v1.33.4, not v1.34.1")
    # a template that says nothing about its version is not judged
    assert cloud.preflight(request(vcsim, version="v1.34.1", VSPHERE_TEMPLATE="DC0_H0_VM1"), vcsim.credentials) == []


def test_cloud_health_reads_the_clusters_vms(vcsim, template):
    health = request(vcsim, name="h1", workers=(WorkerPool("md-0", 2),))
    assert cloud.cloud_health(health, vcsim.credentials).state == "NotFound"
    with vcsim.api() as content:
        clone(content, TEMPLATE, "h1-control-plane-x7k2p")
        clone(content, TEMPLATE, "h1-md-0-6d4f8b9c5-q2w3e")
        clone(content, TEMPLATE, "h10-control-plane-aaaaa")  # another cluster's VM
    seen = cloud.cloud_health(health, vcsim.credentials)
    assert (seen.state, seen.message) == ("Provisioning", "2 of 3 VMs exist, all powered on")
    with vcsim.api() as content:
        clone(content, TEMPLATE, "h1-md-0-6d4f8b9c5-r4t5y")
    seen = cloud.cloud_health(health, vcsim.credentials)
    assert (seen.state, seen.message, dict(seen.details)) == ("Healthy", "3 VMs powered on", {"vms.poweredOn": "3"})
    with vcsim.api() as content:
        wait_task(find(content, "DC0/vm/h1-md-0-6d4f8b9c5-q2w3e").PowerOffVM_Task())
    seen = cloud.cloud_health(health, vcsim.credentials)
    assert seen.state == "Degraded"
    assert seen.message == "h1-md-0-6d4f8b9c5-q2w3e (pool md-0) is poweredOff"
    assert dict(seen.details) == {"vms.poweredOff": "1", "vms.poweredOn": "2"}
    wrong = request(vcsim, name="h1", VSPHERE_TLS_THUMBPRINT="AA:" * 19 + "AA")
    assert cloud.cloud_health(wrong, vcsim.credentials).state == "Unknown"


# --- through the controller ------------------------------------------------------------------

NS = "fleet-vsphere"


def member_status(kubectl, cluster: str) -> dict:
    result = kubectl.run("get", "fleetmember", member_name("vsphere", cluster), "-n", NS, "-o", "json", check=False)
    return (json.loads(result.stdout).get("status") or {}) if result.returncode == 0 else {}


def condition(status: dict, kind: str) -> dict:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


def wait_status(kubectl, cluster: str, check, what: str, timeout: float = 120) -> dict:
    """The member's status once `check(status)` holds (a timeout shows the last status)."""
    def ready():
        status = member_status(kubectl, cluster)
        if not check(status):
            raise AssertionError(status)
        return status
    return wait_for(ready, timeout, what=what)


def test_a_fleet_member_shows_preflight_failures_then_cloud_health(kubectl, controller, shared_crds, vcsim,
                                                                    template):
    spec = {"name": "m1", "provider": "vsphere", "region": "eu-site-1", "kubernetesVersion": "v1.33.4",
            "credentialsRef": {"name": "vsphere-credentials"}, "workers": [{"name": "md-0", "replicas": 1}],
            "variables": vcsim.variables(VSPHERE_TEMPLATE="missing-template", VSPHERE_DISK_GIB="100000")}
    fleet = {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet", "metadata": {"name": "vsphere", "namespace": NS},
             "spec": {"clusters": [spec], "health": {"probeInterval": "2s"}}}
    kubectl("create", "namespace", NS)
    try:
        kubectl.apply([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vsphere-credentials", "namespace": NS},
                        "stringData": {"username": vcsim.username, "password": vcsim.password}}, fleet])
        failed = wait_status(kubectl, "m1", lambda s: condition(s, "PreflightPassed").get("status") == "False",
                             "the member's preflight to fail")
        preflight = condition(failed, "PreflightPassed")
        assert preflight["reason"] == "TemplateNotFound"
        assert preflight["message"].startswith(
            "template 'missing-template' (VSPHERE_TEMPLATE) not found in DC0; datastore 'LocalDS_0' (VSPHERE_DATASTORE): ")
        assert preflight["message"].endswith("GiB free, 2 machines of 100000 GiB need 200000")
        assert kubectl.run("get", "vspherecluster", "m1", "-n", NS, check=False).returncode != 0

        spec["variables"] = vcsim.variables()
        kubectl.apply(fleet)
        status = wait_status(kubectl, "m1", lambda s: (s.get("cloud") or {}).get("state") == "NotFound",
                             "preflight to pass and cloud health to run")
        assert condition(status, "PreflightPassed")["status"] == "True"
        stored = kubectl.get_json("vspherecluster", "m1", "-n", NS)
        assert stored["spec"]["identityRef"] == {"kind": "Secret", "name": "m1-vsphere-credentials"}
        secret = kubectl.get_json("secret", "m1-vsphere-credentials", "-n", NS)
        assert base64.b64decode(secret["data"]["password"]).decode() == vcsim.password

        with vcsim.api() as content:
            clone(content, TEMPLATE, "m1-control-plane-k9d8s")
            clone(content, TEMPLATE, "m1-md-0-59c7f6d8b-p0o9i", power_on=False)
        cloud_status = wait_status(kubectl, "m1", lambda s: (s.get("cloud") or {}).get("state") == "Degraded",
                                   "cloud health to see the VMs", 60)["cloud"]
        assert cloud_status["message"] == "m1-md-0-59c7f6d8b-p0o9i (pool md-0) is poweredOff"
        everything = json.dumps(kubectl.get_json("fleetmembers", "-n", NS)) + json.dumps(kubectl.get_json("fleets", "-n", NS))
        assert vcsim.password not in everything
    finally:
        # the Fleet goes first (its members stop being probed), so no later test sees its writes
        kubectl("delete", "fleet", "vsphere", "-n", NS, "--timeout=180s", check=False, timeout=200)
        kubectl("delete", "namespace", NS, "--wait=false", check=False)
