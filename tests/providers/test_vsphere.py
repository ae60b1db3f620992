"""The vSphere provider's logic: variables and VM sizes, the rendered template, the credentials
Secret, server and credential parsing, and how a template says its Kubernetes version. Preflight and
cloud health against a vSphere API are in e2e/test_vsphere.py (vcsim)."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

import providers
from mgmt.render import render_cluster
from providers.base import ClusterRequest, Credentials, ProviderError, WorkerPool
from providers.vsphere import cloud, defaults

PLACEMENT = {
    "VSPHERE_SERVER": "vcenter.corp.internal", "VSPHERE_TLS_THUMBPRINT": "AB:" * 19 + "CD",
    "VSPHERE_DATACENTER": "Datacenter 1", "VSPHERE_DATASTORE": "vsanDatastore", "VSPHERE_NETWORK": "VM Network",
    "VSPHERE_RESOURCE_POOL": "*/Resources", "VSPHERE_FOLDER": "vm/k8s", "VSPHERE_TEMPLATE": "ubuntu-2404-kube-v1.33.4",
    "CONTROL_PLANE_ENDPOINT_IP": "10.20.0.5", "VSPHERE_SSH_AUTHORIZED_KEY": "ssh-ed25519 AAAAC3Nz+x/y= ops",
}
CREDS = Credentials("vsphere-creds", {"username": "k8s@vsphere.local", "password": "S3cret-vsphere-pw"})


def request(**changes) -> ClusterRequest:
    fields = {"name": "onprem-1", "namespace": "team-a", "provider": "vsphere", "flavor": "kubeadm",
              "kubernetes_version": "1.33.4", "region": "eu-site-1", "control_plane_replicas": 3,
              "control_plane_machine_type": "4vcpu-16gib",
              "workers": (WorkerPool("md-0", 2), WorkerPool("big", 1, "16vcpu-64gib")),
              "variables": PLACEMENT, "fleet": "edge"}
    return ClusterRequest(**{**fields, **changes})


def by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


def test_registered():
    impl = providers.get("vsphere")
    assert (impl.flavors, impl.default_flavor, providers.accepted_flavors("vsphere")) == (
        ("kubeadm",), "kubeadm", ["kubeadm"])
    assert "vsphere" in providers.CLOUDS


def test_rendered_cluster():
    objects = by_kind(render_cluster(request(), CREDS))
    assert {k: [o["apiVersion"] for o in v] for k, v in objects.items()} == {
        "Cluster": ["cluster.x-k8s.io/v1beta2"],
        "VSphereCluster": ["infrastructure.cluster.x-k8s.io/v1beta2"],
        "VSphereMachineTemplate": ["infrastructure.cluster.x-k8s.io/v1beta2"] * 3,
        "KubeadmControlPlane": ["controlplane.cluster.x-k8s.io/v1beta2"],
        "MachineDeployment": ["cluster.x-k8s.io/v1beta2"] * 2,
        "KubeadmConfigTemplate": ["bootstrap.cluster.x-k8s.io/v1beta2"] * 2,
        "Secret": ["v1"],
    }
    cluster = objects["VSphereCluster"][0]["spec"]
    assert cluster == {"server": "vcenter.corp.internal", "thumbprint": PLACEMENT["VSPHERE_TLS_THUMBPRINT"],
                       "controlPlaneEndpoint": {"host": "10.20.0.5", "port": 6443},
                       "identityRef": {"kind": "Secret", "name": "onprem-1-vsphere-credentials"}}
    sizes = {t["metadata"]["name"]: (t["spec"]["template"]["spec"]["numCPUs"], t["spec"]["template"]["spec"]["memoryMiB"])
             for t in objects["VSphereMachineTemplate"]}
    assert sizes == {"onprem-1-control-plane": (4, 16384), "onprem-1-md-0": (2, 8192), "onprem-1-big": (16, 65536)}
    machine = objects["VSphereMachineTemplate"][0]["spec"]["template"]["spec"]
    assert (machine["datacenter"], machine["folder"], machine["template"], machine["diskGiB"]) == (
        "Datacenter 1", "vm/k8s", "ubuntu-2404-kube-v1.33.4", 25)
    assert machine["network"] == {"devices": [{"networkName": "VM Network", "dhcp4": True}]}
    kcp = objects["KubeadmControlPlane"][0]["spec"]
    assert (kcp["replicas"], kcp["version"]) == (3, "v1.33.4")
    kube_vip = next(f for f in kcp["kubeadmConfigSpec"]["files"] if f["path"].endswith("kube-vip.yaml"))
    assert "value: \"10.20.0.5\"" in kube_vip["content"] and "value: \"6443\"" in kube_vip["content"]
    assert kcp["kubeadmConfigSpec"]["users"][0]["sshAuthorizedKeys"] == [PLACEMENT["VSPHERE_SSH_AUTHORIZED_KEY"]]
    assert [md["spec"]["replicas"] for md in objects["MachineDeployment"]] == [2, 1]


def test_credentials_secret():
    [secret] = cloud.credential_objects(request(), CREDS)
    assert secret["metadata"]["name"] == "onprem-1-vsphere-credentials"
    assert secret["metadata"]["namespace"] == "team-a"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"username": "k8s@vsphere.local", "password": "S3cret-vsphere-pw"}
    clusterctl_keys = Credentials("c", {"VSPHERE_USERNAME": "u@local", "VSPHERE_PASSWORD": "pw-2345"})
    assert cloud.parse_credentials(clusterctl_keys).username == "u@local"
    assert "pw-2345" not in repr(cloud.parse_credentials(clusterctl_keys))


@pytest.mark.parametrize("data", [{}, {"username": "u"}, {"password": "p", "token": "t"}])
def test_credentials_errors_name_keys_only(data):
    with pytest.raises(ProviderError) as error:
        cloud.parse_credentials(Credentials("creds", data))
    assert str(error.value).startswith("Secret 'creds' needs username and password")
    assert str(error.value).endswith(f"it has keys: {', '.join(sorted(data)) or 'none'}")


def test_machine_types_and_sizes():
    impl = providers.get("vsphere")
    values = impl.variables(request(control_plane_machine_type=None))
    assert (values["VSPHERE_CONTROL_PLANE_NUM_CPUS"], values["VSPHERE_CONTROL_PLANE_MEM_MIB"]) == ("2", "8192")
    explicit = request(variables={**PLACEMENT, "VSPHERE_WORKER_NUM_CPUS": "6"})
    assert impl.pool_variables(explicit, explicit.workers[1])["VSPHERE_WORKER_NUM_CPUS"] == "6"
    with pytest.raises(ProviderError, match=r"machineType 'm5.large' of the worker pool big is not a vSphere VM size"):
        impl.pool_variables(explicit, WorkerPool("big", 1, "m5.large"))
    with pytest.raises(ProviderError, match="of the control plane"):
        render_cluster(request(control_plane_machine_type="0vcpu-8gib"), CREDS)


def test_region_stands_for_the_datacenter_unless_named():
    impl = providers.get("vsphere")
    bare = {k: v for k, v in PLACEMENT.items() if k != "VSPHERE_DATACENTER"}
    assert impl.variables(request(variables=bare))["VSPHERE_DATACENTER"] == "eu-site-1"
    assert impl.variables(request())["VSPHERE_DATACENTER"] == "Datacenter 1"


@pytest.mark.parametrize("value,expected", [
    ("vcenter.corp.internal", ("vcenter.corp.internal", 443)),
    ("127.0.0.1:8989", ("127.0.0.1", 8989)),
    ("https://vc.example:8443/sdk", ("vc.example", 8443)),
])
def test_server_forms(value, expected):
    assert cloud.parse_server(value) == expected


@pytest.mark.parametrize("value", ["http://vc.example", "vc.example:port", "https:///sdk"])
def test_bad_server(value):
    with pytest.raises(ProviderError, match=r"VSPHERE_SERVER .* is not a host, host:port or https:// URL"):
        cloud.parse_server(value)


def test_missing_variables_fail_preflight_before_any_call():
    bare = {k: v for k, v in PLACEMENT.items() if k not in ("VSPHERE_TEMPLATE", "VSPHERE_TLS_THUMBPRINT")}
    [failure] = cloud.preflight(request(variables=bare), CREDS)
    assert failure == cloud.PreflightFailure(
        "VariableNotSet", "vSphere cluster onprem-1 needs the variables VSPHERE_TLS_THUMBPRINT, VSPHERE_TEMPLATE")
    [failure] = cloud.preflight(request(), None)
    assert failure.reason == "InvalidCredentials"


def template(name: str, annotation: str | None = None):
    return SimpleNamespace(name=name, config=SimpleNamespace(annotation=annotation))


@pytest.mark.parametrize("vm,version,ok", [
    (template("ubuntu-2404-kube-v1.33.4"), "v1.33.4", True),
    (template("ubuntu-2404-kube-v1.33.4"), "v1.34.0", False),
    (template("capi-image", "Cluster API vSphere image - Ubuntu 24.04 and Kubernetes v1.32.1"), "1.32.1", True),
    (template("capi-image", "Kubernetes v1.32.1"), "v1.33.0", False),
    (template("photon-5-golden"), "v1.33.0", True),  # says nothing: not judged
])
def test_template_version(vm, version, ok):
    failures = cloud._check_template(request(kubernetes_version=version), vm, "t")
    assert (failures == []) == ok
    if not ok:
        assert failures[0].reason == "TemplateVersionMismatch"


def test_vm_prefixes_follow_capi_names():
    assert defaults.vm_prefixes(request()) == {
        "onprem-1-control-plane-": "control plane", "onprem-1-md-0-": "pool md-0", "onprem-1-big-": "pool big"}
