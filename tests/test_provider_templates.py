"""The cloud providers' clusterctl templates, rendered through the provider classes.

The controller renders a template's cluster documents once with `variables(request)` and the
documents of a worker pool (those naming WORKER_POOL_NAME) once per pool with
`pool_variables(request, pool)` on top; these tests do the same.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.resources
import re

import pytest
import yaml

from mgmt.templating import MissingVariablesError, list_variables, render
from providers.base import ClusterRequest, ProviderError, WorkerPool

CLUSTER = "prod-eu"
NAMESPACE = "team-a"
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
DEPLOYMENT_NAME_LABEL = "cluster.x-k8s.io/deployment-name"
POOL_NAME_VAR = "${WORKER_POOL_NAME:=md-0}"

CORE = "cluster.x-k8s.io/v1beta2"
KCP = "controlplane.cluster.x-k8s.io/v1beta2"
KCT = "bootstrap.cluster.x-k8s.io/v1beta2"
CAPA = "infrastructure.cluster.x-k8s.io/v1beta2"
CAPA_CP = "controlplane.cluster.x-k8s.io/v1beta2"
V1BETA1 = "infrastructure.cluster.x-k8s.io/v1beta1"  # CAPG, CAPZ, CAPDO, CAPP

KUBEADM_POOL = {"MachineDeployment": CORE, "KubeadmConfigTemplate": KCT}

# (provider, flavor) -> (cluster documents, documents of one worker pool), as {kind: apiVersion}.
# The kubeadm control plane has its own machine template, so the worker pool's machine template
# kind also appears among the cluster documents.
EXPECTED_KINDS = {
    ("aws", "kubeadm"): (
        {"Cluster": CORE, "AWSCluster": CAPA, "KubeadmControlPlane": KCP, "AWSMachineTemplate": CAPA},
        {**KUBEADM_POOL, "AWSMachineTemplate": CAPA},
    ),
    ("aws", "eks"): (
        {"Cluster": CORE, "AWSManagedCluster": CAPA, "AWSManagedControlPlane": CAPA_CP},
        {"MachinePool": CORE, "AWSManagedMachinePool": CAPA},
    ),
    ("gcp", "kubeadm"): (
        {"Cluster": CORE, "GCPCluster": V1BETA1, "KubeadmControlPlane": KCP, "GCPMachineTemplate": V1BETA1},
        {**KUBEADM_POOL, "GCPMachineTemplate": V1BETA1},
    ),
    ("gcp", "gke"): (
        {"Cluster": CORE, "GCPManagedCluster": V1BETA1, "GCPManagedControlPlane": V1BETA1},
        {"MachinePool": CORE, "GCPManagedMachinePool": V1BETA1},
    ),
    ("azure", "kubeadm"): (
        {"Cluster": CORE, "AzureCluster": V1BETA1, "KubeadmControlPlane": KCP, "AzureMachineTemplate": V1BETA1},
        {**KUBEADM_POOL, "AzureMachineTemplate": V1BETA1},
    ),
    ("azure", "aks"): (
        {"Cluster": CORE, "AzureManagedControlPlane": V1BETA1, "AzureManagedCluster": V1BETA1},
        {"MachinePool": CORE, "AzureManagedMachinePool": V1BETA1},
    ),
    ("digitalocean", "kubeadm"): (
        {"Cluster": CORE, "DOCluster": V1BETA1, "KubeadmControlPlane": KCP, "DOMachineTemplate": V1BETA1},
        {**KUBEADM_POOL, "DOMachineTemplate": V1BETA1},
    ),
    ("packet", "kubeadm"): (
        {"Cluster": CORE, "PacketCluster": V1BETA1, "KubeadmControlPlane": KCP, "PacketMachineTemplate": V1BETA1},
        {**KUBEADM_POOL, "PacketMachineTemplate": V1BETA1},
    ),
}
CASES = sorted(EXPECTED_KINDS)

REGIONS = {"aws": "eu-west-1", "gcp": "europe-west1", "azure": "westeurope", "digitalocean": "fra1", "packet": "da"}
REGION_VARIABLE = {
    "aws": "AWS_REGION", "gcp": "GCP_REGION", "azure": "AZURE_LOCATION", "digitalocean": "DO_REGION",
    "packet": "METRO",
}
# Values no request field carries; a real Fleet gives them as variables.
USER_VARIABLES = {
    "aws": {},
    "gcp": {"GCP_PROJECT": "my-project", "GCP_NETWORK_NAME": "default",
            "IMAGE_ID": "projects/my-project/global/images/capi-ubuntu-2404-k8s-v1-33-1"},
    "azure": {"AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000"},
    "digitalocean": {"DO_CONTROL_PLANE_MACHINE_IMAGE": "164112345",
                     "DO_SSH_KEY_FINGERPRINT": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"},
    "packet": {"PACKET_PROJECT_ID": "0d5f1e5a-7d0e-4f3e-9d0b-6a2b5e2b1f00"},
}
# Variable names of the machine types: (control plane, worker pool).
MACHINE_TYPE_VARIABLES = {
    "aws": ("AWS_CONTROL_PLANE_MACHINE_TYPE", "AWS_NODE_MACHINE_TYPE"),
    "gcp": ("GCP_CONTROL_PLANE_MACHINE_TYPE", "GCP_NODE_MACHINE_TYPE"),
    "azure": ("AZURE_CONTROL_PLANE_MACHINE_TYPE", "AZURE_NODE_MACHINE_TYPE"),
    "digitalocean": ("DO_CONTROL_PLANE_MACHINE_TYPE", "DO_NODE_MACHINE_TYPE"),
    "packet": ("CONTROL_PLANE_NODE_TYPE", "WORKER_NODE_TYPE"),
}
REQUEST_MACHINE_TYPES = {
    "aws": ("m6i.xlarge", "g5.xlarge"),
    "gcp": ("n2-standard-4", "a2-highgpu-1g"),
    "azure": ("Standard_D4s_v5", "Standard_NC6s_v3"),
    "digitalocean": ("s-4vcpu-8gb", "g-8vcpu-32gb"),
    "packet": ("m3.small.x86", "m3.large.x86"),
}

# Every template's variables with their defaults (None: required), as clusterctl lists them.
COMMON = {"CLUSTER_NAME": None, "NAMESPACE": None, "KUBERNETES_VERSION": None,
          "WORKER_MACHINE_COUNT": None, "WORKER_POOL_NAME": "md-0"}
AWS_COMMON = {**COMMON, "AWS_REGION": None, "AWS_SSH_KEY_NAME": None, "AWS_NODE_MACHINE_TYPE": None,
              "AWS_CLUSTER_IDENTITY_KIND": "AWSClusterStaticIdentity",
              "AWS_CLUSTER_IDENTITY_NAME": "drover-${NAMESPACE}-${CLUSTER_NAME}"}
GCP_COMMON = {**COMMON, "GCP_PROJECT": None, "GCP_REGION": None, "GCP_NETWORK_NAME": None,
              "GCP_NODE_MACHINE_TYPE": None, "GCP_CREDENTIALS_SECRET_NAME": "${CLUSTER_NAME}-gcp-credentials"}
AZURE_COMMON = {**COMMON, "WORKER_MACHINE_COUNT": "2", "AZURE_LOCATION": None, "AZURE_SUBSCRIPTION_ID": None,
                "AZURE_NODE_MACHINE_TYPE": None, "AZURE_RESOURCE_GROUP": "${CLUSTER_NAME}",
                "AZURE_SSH_PUBLIC_KEY_B64": '""',
                "AZURE_CLUSTER_IDENTITY_NAME": "${CLUSTER_NAME}-azure-identity"}
EXPECTED_VARIABLES = {
    ("aws", "kubeadm"): {**AWS_COMMON, "CONTROL_PLANE_MACHINE_COUNT": None, "AWS_CONTROL_PLANE_MACHINE_TYPE": None},
    ("aws", "eks"): {**AWS_COMMON, "EKS_CLUSTER_NAME": "${CLUSTER_NAME}"},
    ("gcp", "kubeadm"): {**GCP_COMMON, "CONTROL_PLANE_MACHINE_COUNT": None,
                         "GCP_CONTROL_PLANE_MACHINE_TYPE": None, "IMAGE_ID": None},
    ("gcp", "gke"): {**GCP_COMMON, "GKE_CLUSTER_NAME": "${CLUSTER_NAME}"},
    ("azure", "kubeadm"): {**AZURE_COMMON, "CONTROL_PLANE_MACHINE_COUNT": "1",
                           "AZURE_CONTROL_PLANE_MACHINE_TYPE": None, "AZURE_VNET_NAME": "${CLUSTER_NAME}-vnet"},
    ("azure", "aks"): {**AZURE_COMMON, "AKS_CLUSTER_NAME": "${CLUSTER_NAME}",
                       "AZURE_NODE_POOL_NAME": "md0", "AZURE_NODE_POOL_MODE": "System"},
    ("digitalocean", "kubeadm"): {
        **COMMON, "CONTROL_PLANE_MACHINE_COUNT": None, "DO_REGION": None, "DO_CONTROL_PLANE_MACHINE_TYPE": None,
        "DO_NODE_MACHINE_TYPE": None, "DO_CONTROL_PLANE_MACHINE_IMAGE": None, "DO_NODE_MACHINE_IMAGE": None,
        "DO_SSH_KEY_FINGERPRINT": None,
    },
    ("packet", "kubeadm"): {
        **COMMON, "CONTROL_PLANE_MACHINE_COUNT": None, "PACKET_PROJECT_ID": None, "METRO": None,
        "CONTROL_PLANE_NODE_TYPE": None, "WORKER_NODE_TYPE": None, "NODE_OS": "ubuntu_20_04",
        "CPEM_VERSION": "v3.7.0", "POD_CIDR": "192.168.0.0/16", "SERVICE_CIDR": "172.26.0.0/16",
    },
}

# CAPI's validating webhook: versions must be semantic versions (with a "v": the defaulting
# webhook, which is absent, would add it).
KUBE_SEMVER = re.compile(r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)([-0-9a-zA-Z_.+]*)?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def provider(name: str):
    return importlib.import_module(f"providers.{name}").PROVIDER


def full_request(name: str, flavor: str, **changes) -> ClusterRequest:
    request = ClusterRequest(
        name=CLUSTER, namespace=NAMESPACE, provider=name, flavor=flavor, kubernetes_version="1.33.1",
        region=REGIONS[name], control_plane_replicas=3,
        control_plane_machine_type=REQUEST_MACHINE_TYPES[name][0],
        workers=(WorkerPool("md-0", 2), WorkerPool("gpu-workers", 1, REQUEST_MACHINE_TYPES[name][1])),
        labels={"env": "prod"}, variables=USER_VARIABLES[name], fleet="fleet-a",
    )
    return dataclasses.replace(request, **changes)


def split(text: str) -> list[str]:
    return [doc for doc in re.split(r"^---\s*$", text, flags=re.MULTILINE) if yaml.safe_load(doc)]


def is_pool_document(doc: str) -> bool:
    return "WORKER_POOL_NAME" in doc


def render_cluster(name: str, request: ClusterRequest) -> tuple[list[dict], dict[str, list[dict]]]:
    """The cluster's objects and each worker pool's objects, rendered as the controller does."""
    impl = provider(name)
    docs = split(impl.template(request.flavor))
    values = impl.variables(request)
    cluster = [yaml.safe_load(render(d, values)) for d in docs if not is_pool_document(d)]
    pools = {
        pool.name: [
            yaml.safe_load(render(d, {**values, **impl.pool_variables(request, pool)}))
            for d in docs if is_pool_document(d)
        ]
        for pool in request.workers
    }
    return cluster, pools


def kinds(objects: list[dict]) -> dict[str, str]:
    found: dict[str, str] = {}
    for obj in objects:
        assert found.setdefault(obj["kind"], obj["apiVersion"]) == obj["apiVersion"]
    return found


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def refs(obj: dict) -> list[dict]:
    """Every v1beta2 object reference {apiGroup, kind, name} inside a CAPI object."""
    spec = obj["spec"]
    found = []
    if obj["kind"] == "Cluster":
        found = [spec["controlPlaneRef"], spec["infrastructureRef"]]
    elif obj["kind"] == "KubeadmControlPlane":
        found = [spec["machineTemplate"]["spec"]["infrastructureRef"]]
    elif obj["kind"] in ("MachineDeployment", "MachinePool"):
        machine = spec["template"]["spec"]
        found = [machine["infrastructureRef"]]
        if "configRef" in machine["bootstrap"]:
            found.append(machine["bootstrap"]["configRef"])
    return found


# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,flavor", CASES)
def test_template_file_per_flavor(name, flavor):
    impl = provider(name)
    assert flavor in impl.flavors
    text = impl.template(flavor)
    file = "cluster-template.yaml" if flavor == impl.default_flavor else f"cluster-template-{flavor}.yaml"
    path = importlib.resources.files(f"providers.{name}").joinpath("templates", file)
    assert text == path.read_text()


def test_every_provider_flavor_is_covered():
    for name in REGIONS:
        impl = provider(name)
        assert impl.name == name
        assert impl.default_flavor == "kubeadm"
        assert {f for n, f in CASES if n == name} == set(impl.flavors)


@pytest.mark.parametrize("name", sorted(REGIONS))
def test_unknown_flavor_is_refused(name):
    with pytest.raises(ProviderError, match="no flavor"):
        provider(name).template("nope")


@pytest.mark.parametrize("name,flavor", CASES)
def test_list_variables(name, flavor):
    assert list_variables(provider(name).template(flavor)) == EXPECTED_VARIABLES[(name, flavor)]


@pytest.mark.parametrize("name,flavor", CASES)
def test_worker_pool_documents(name, flavor):
    """Pool documents name themselves after the pool; no other document mentions the pool."""
    docs = split(provider(name).template(flavor))
    cluster_kinds, pool_kinds = EXPECTED_KINDS[(name, flavor)]
    pool_docs = [d for d in docs if is_pool_document(d)]
    assert sorted(yaml.safe_load(d)["kind"] for d in pool_docs) == sorted(pool_kinds)
    for doc in pool_docs:
        assert POOL_NAME_VAR in yaml.safe_load(doc)["metadata"]["name"]
    for doc in docs:
        if not is_pool_document(doc):
            assert yaml.safe_load(doc)["kind"] in cluster_kinds


@pytest.mark.parametrize("name,flavor", CASES)
def test_rendered_objects(name, flavor):
    request = full_request(name, flavor)
    cluster, pools = render_cluster(name, request)
    cluster_kinds, pool_kinds = EXPECTED_KINDS[(name, flavor)]
    assert kinds(cluster) == cluster_kinds
    assert len(cluster) == len(cluster_kinds)
    for pool in request.workers:
        assert kinds(pools[pool.name]) == pool_kinds
        assert len(pools[pool.name]) == len(pool_kinds)
        for obj in pools[pool.name]:
            assert obj["metadata"]["name"] == f"{CLUSTER}-{pool.name}"

    everything = cluster + [o for objs in pools.values() for o in objs]
    names = {(o["apiVersion"].split("/")[0], o["kind"], o["metadata"]["name"]) for o in everything}
    assert len(names) == len(everything), "two objects share a kind and name"
    for obj in everything:
        meta = obj["metadata"]
        assert DNS_SUBDOMAIN.match(meta["name"]), meta["name"]
        assert meta["namespace"] == NAMESPACE
        assert meta["labels"][CLUSTER_NAME_LABEL] == CLUSTER
        assert not any(k.startswith("fleet.drover.dev/") for k in meta["labels"])
        assert "spec" in obj
        for ref in refs(obj):
            assert set(ref) == {"apiGroup", "kind", "name"}
            assert (ref["apiGroup"], ref["kind"], ref["name"]) in names, ref

    (cl,) = by_kind(cluster, "Cluster")
    assert cl["metadata"]["name"] == CLUSTER
    text = "".join(yaml.safe_dump(o) for o in everything)
    assert not [v for v in EXPECTED_VARIABLES[(name, flavor)] if "${" + v in text]


@pytest.mark.parametrize("name,flavor", CASES)
def test_capi_webhook_defaults_are_explicit(name, flavor):
    """What CAPI v1.13's defaulting webhooks would set (there are none in our management cluster)."""
    request = full_request(name, flavor)
    cluster, pools = render_cluster(name, request)

    for kcp in by_kind(cluster, "KubeadmControlPlane"):
        spec = kcp["spec"]
        assert spec["replicas"] == 3
        assert spec["version"] == "v1.33.1"
        assert spec["rollout"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
        assert spec["machineTemplate"]["spec"]["deletion"] == {"nodeDeletionTimeoutSeconds": 10}
        assert spec["kubeadmConfigSpec"]["format"] == "cloud-config"

    for pool in request.workers:
        objects = pools[pool.name]
        for kct in by_kind(objects, "KubeadmConfigTemplate"):
            assert kct["spec"]["template"]["spec"]["format"] == "cloud-config"
        for md in by_kind(objects, "MachineDeployment"):
            spec, name_ = md["spec"], md["metadata"]["name"]
            assert LABEL_VALUE.match(name_) and len(name_) <= 63
            assert spec["clusterName"] == CLUSTER
            assert spec["replicas"] == pool.replicas
            assert spec["rollout"]["strategy"] == {
                "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            }
            selector = {CLUSTER_NAME_LABEL: CLUSTER, DEPLOYMENT_NAME_LABEL: name_}
            assert spec["selector"] == {"matchLabels": selector}
            assert spec["template"]["metadata"]["labels"] == selector
            machine = spec["template"]["spec"]
            assert machine["clusterName"] == CLUSTER
            assert KUBE_SEMVER.match(machine["version"])
            assert machine["deletion"] == {"nodeDeletionTimeoutSeconds": 10}
        for mp in by_kind(objects, "MachinePool"):
            spec = mp["spec"]
            assert spec["clusterName"] == CLUSTER
            assert spec["replicas"] == pool.replicas
            machine = spec["template"]["spec"]
            assert machine["clusterName"] == CLUSTER
            assert KUBE_SEMVER.match(machine["version"])
            assert machine["deletion"] == {"nodeDeletionTimeoutSeconds": 10}
            assert machine["bootstrap"] == {"dataSecretName": ""}


@pytest.mark.parametrize("name,flavor", CASES)
def test_machine_types(name, flavor):
    impl = provider(name)
    cp_var, node_var = MACHINE_TYPE_VARIABLES[name]
    cp_type, pool_type = REQUEST_MACHINE_TYPES[name]
    request = full_request(name, flavor)
    default_pool, typed_pool = request.workers
    values = impl.variables(request)
    assert values[cp_var] == cp_type
    default = impl.pool_variables(request, default_pool)
    typed = impl.pool_variables(request, typed_pool)
    assert default["WORKER_POOL_NAME"] == "md-0" and default["WORKER_MACHINE_COUNT"] == "2"
    assert typed["WORKER_POOL_NAME"] == "gpu-workers" and typed["WORKER_MACHINE_COUNT"] == "1"
    assert typed[node_var] == pool_type
    assert default[node_var] and default[node_var] != pool_type

    bare = impl.variables(full_request(name, flavor, control_plane_machine_type=None))
    assert bare[cp_var] == default[node_var], "the provider default applies to both"

    # What the request's variables say wins over what is derived (a pool's own type still wins).
    overriding = full_request(name, flavor, variables={**USER_VARIABLES[name], cp_var: "x1", node_var: "x2"})
    assert impl.variables(overriding)[cp_var] == "x1"
    assert impl.pool_variables(overriding, default_pool)[node_var] == "x2"
    assert impl.pool_variables(overriding, typed_pool)[node_var] == pool_type


@pytest.mark.parametrize("name,flavor", CASES)
def test_derived_variables(name, flavor):
    impl = provider(name)
    values = impl.variables(full_request(name, flavor))
    assert values["CLUSTER_NAME"] == CLUSTER
    assert values["NAMESPACE"] == NAMESPACE
    assert values["KUBERNETES_VERSION"] == "v1.33.1"
    assert values[REGION_VARIABLE[name]] == REGIONS[name]
    assert values["CONTROL_PLANE_MACHINE_COUNT"] == "3"
    for key, value in USER_VARIABLES[name].items():
        assert values[key] == value
    # A reserved variable is Drover's: a Fleet's value is ignored here (and refused at admission).
    assert impl.variables(full_request(name, flavor, variables={**USER_VARIABLES[name], "NAMESPACE": "x"}))[
        "NAMESPACE"] == NAMESPACE


@pytest.mark.parametrize("name,flavor", CASES)
def test_whole_template_renders_with_cluster_variables(name, flavor):
    """The whole file also renders as plain clusterctl would, the first pool standing in."""
    impl = provider(name)
    objects = list(yaml.safe_load_all(render(impl.template(flavor), impl.variables(full_request(name, flavor)))))
    cluster_kinds, pool_kinds = EXPECTED_KINDS[(name, flavor)]
    assert kinds(objects) == {**cluster_kinds, **pool_kinds}
    for obj in objects:
        if obj["kind"] in pool_kinds and obj["kind"] not in cluster_kinds:
            assert obj["metadata"]["name"] == f"{CLUSTER}-md-0"


@pytest.mark.parametrize("name,flavor", CASES)
def test_missing_region_fails_with_clusterctl_message(name, flavor):
    impl = provider(name)
    variable = REGION_VARIABLE[name]
    request = full_request(name, flavor, region=None)
    with pytest.raises(MissingVariablesError) as err:
        render(impl.template(flavor), impl.variables(request))
    assert err.value.missing == [variable]
    assert str(err.value) == (
        f"value for variables [{variable}] is not set. Please set the value using os environment "
        "variables or the clusterctl config file"
    )


@pytest.mark.parametrize("name,flavor", [c for c in CASES if USER_VARIABLES[c[0]]])
def test_missing_user_variables_are_all_named(name, flavor):
    impl = provider(name)
    request = full_request(name, flavor, variables={})
    required = {k for k, v in EXPECTED_VARIABLES[(name, flavor)].items() if v is None}
    expected = sorted(required - set(impl.variables(request)))
    assert expected and set(expected) <= set(USER_VARIABLES[name]) | {"DO_NODE_MACHINE_IMAGE"}
    with pytest.raises(MissingVariablesError) as err:
        render(impl.template(flavor), impl.variables(request))
    assert err.value.missing == expected
    assert f"value for variables [{', '.join(expected)}] is not set" in str(err.value)


def test_aws_identity_and_eks_names():
    impl = provider("aws")
    for flavor in ("kubeadm", "eks"):
        cluster, pools = render_cluster("aws", full_request("aws", flavor))
        holder = by_kind(cluster, "AWSCluster" if flavor == "kubeadm" else "AWSManagedControlPlane")[0]
        assert holder["spec"]["identityRef"] == {
            "kind": "AWSClusterStaticIdentity", "name": f"drover-{NAMESPACE}-{CLUSTER}",
        }
        assert holder["spec"]["region"] == "eu-west-1"
        assert holder["spec"]["sshKeyName"] == "", "no SSH key unless asked for"
    (cp,) = by_kind(cluster, "AWSManagedControlPlane")
    assert cp["spec"]["eksClusterName"] == CLUSTER
    assert cp["spec"]["version"] == "v1.33.1"
    (mmp,) = by_kind(pools["gpu-workers"], "AWSManagedMachinePool")
    assert mmp["spec"]["eksNodegroupName"] == f"{CLUSTER}-gpu-workers"
    assert mmp["spec"]["instanceType"] == "g5.xlarge"
    renamed = full_request("aws", "eks", variables={"EKS_CLUSTER_NAME": "other"})
    assert impl.variables(renamed)["EKS_CLUSTER_NAME"] == "other"


def test_gcp_credentials_and_gke_name():
    for flavor, kind in (("kubeadm", "GCPCluster"), ("gke", "GCPManagedCluster")):
        cluster, _ = render_cluster("gcp", full_request("gcp", flavor))
        (infra,) = by_kind(cluster, kind)
        assert infra["spec"]["credentialsRef"] == {"name": f"{CLUSTER}-gcp-credentials", "namespace": NAMESPACE}
        assert infra["spec"]["project"] == "my-project"
    (cp,) = by_kind(cluster, "GCPManagedControlPlane")
    assert cp["spec"]["clusterName"] == CLUSTER
    assert cp["spec"]["location"] == "europe-west1"


def test_azure_identity_and_aks_pools():
    impl = provider("azure")
    request = full_request("azure", "aks", workers=(
        WorkerPool("md-0", 2), WorkerPool("gpu-workers", 1), WorkerPool("9-extra-long-pool-name", 1),
        WorkerPool("md0", 1),
    ))
    cluster, pools = render_cluster("azure", request)
    (cp,) = by_kind(cluster, "AzureManagedControlPlane")
    assert cp["spec"]["identityRef"]["name"] == f"{CLUSTER}-azure-identity"
    assert cp["spec"]["resourceGroupName"] == CLUSTER
    assert cp["spec"]["nodeResourceGroupName"] == f"MC_{CLUSTER}_{CLUSTER}_westeurope"
    agent_pools = [by_kind(pools[p.name], "AzureManagedMachinePool")[0] for p in request.workers]
    assert [p["spec"]["name"] for p in agent_pools] == ["md0", "gpuworkers", "p9extralongp", "md03"]
    assert [p["spec"]["mode"] for p in agent_pools] == ["System", "User", "User", "User"]
    for pool in agent_pools:
        assert re.fullmatch(r"[a-z][a-z0-9]{0,11}", pool["spec"]["name"])
        mode = pool["metadata"]["labels"]["azuremanagedmachinepool.infrastructure.cluster.x-k8s.io/agentpoolmode"]
        assert mode == pool["spec"]["mode"]
    kubeadm, _ = render_cluster("azure", full_request("azure", "kubeadm"))
    (infra,) = by_kind(kubeadm, "AzureCluster")
    assert infra["spec"]["identityRef"]["name"] == f"{CLUSTER}-azure-identity"
    assert impl.variables(full_request("azure", "aks"))["AKS_CLUSTER_NAME"] == CLUSTER


def test_digitalocean_images_and_keys():
    cluster, pools = render_cluster("digitalocean", full_request("digitalocean", "kubeadm"))
    (cp,) = by_kind(cluster, "DOMachineTemplate")
    (node,) = by_kind(pools["md-0"], "DOMachineTemplate")
    for template in (cp, node):
        spec = template["spec"]["template"]["spec"]
        assert spec["image"] == 164112345, "an image ID stays an integer"
        assert spec["sshKeys"] == [USER_VARIABLES["digitalocean"]["DO_SSH_KEY_FINGERPRINT"]]
    slug = full_request("digitalocean", "kubeadm", variables={
        **USER_VARIABLES["digitalocean"], "DO_NODE_MACHINE_IMAGE": "ubuntu-24-04-x64",
    })
    _, pools = render_cluster("digitalocean", slug)
    assert by_kind(pools["md-0"], "DOMachineTemplate")[0]["spec"]["template"]["spec"]["image"] == "ubuntu-24-04-x64"


def test_packet_is_retired_but_renders():
    impl = provider("packet")
    assert isinstance(impl.retired, str) and "2026-06-30" in impl.retired
    cluster, _ = render_cluster("packet", full_request("packet", "kubeadm"))
    (infra,) = by_kind(cluster, "PacketCluster")
    assert infra["spec"] == {"metro": "da", "projectID": USER_VARIABLES["packet"]["PACKET_PROJECT_ID"],
                             "vipManager": "CPEM"}
    (kcp,) = by_kind(cluster, "KubeadmControlPlane")
    post = kcp["spec"]["kubeadmConfigSpec"]["postKubeadmCommands"][0]
    assert '"projectID": "0d5f1e5a-7d0e-4f3e-9d0b-6a2b5e2b1f00"' in post
    assert "{{ .apiKey }}" in post and "${CPEM_YAML}" in post, "CAPP's and the shell's own variables stay"


@pytest.mark.parametrize("name", ["aws", "gcp", "azure", "digitalocean"])
def test_current_providers_are_not_retired(name):
    assert provider(name).retired is None
