"""Microsoft Azure through Cluster API Provider Azure (CAPZ v1.23).

Flavors: `kubeadm` (a kubeadm control plane on VMs, the default) and `aks` (an AKS cluster with
one agent pool per worker pool; the first pool is the System pool AKS requires).
AZURE_SUBSCRIPTION_ID comes from the request's variables.
"""

from __future__ import annotations

import re

from providers.base import ClusterRequest, Credentials, Provider, WorkerPool

from . import cloud, defaults

# AKS Linux agent pool names: lowercase letters and digits, starting with a letter, at most 12.
_AGENT_POOL_MAX = 12


def agent_pool_names(workers: tuple[WorkerPool, ...]) -> dict[str, str]:
    """A valid, unique AKS agent pool name for each worker pool, in declaration order."""
    names: dict[str, str] = {}
    for index, pool in enumerate(workers):
        base = re.sub(r"[^a-z0-9]", "", pool.name.lower())
        if not base or not base[0].isalpha():
            base = f"p{base}"
        name, n = base[:_AGENT_POOL_MAX], index
        while name in names.values():
            suffix = str(n)
            name = base[: _AGENT_POOL_MAX - len(suffix)] + suffix
            n += 1
        names[pool.name] = name
    return names


class AzureProvider(Provider):
    name = "azure"
    flavors = ("kubeadm", "aks")
    default_flavor = "kubeadm"
    credential_kinds = (("infrastructure.cluster.x-k8s.io/v1beta1", "AzureClusterIdentity"),)

    region_variable = "AZURE_LOCATION"
    control_plane_machine_variable = "AZURE_CONTROL_PLANE_MACHINE_TYPE"
    node_machine_variable = "AZURE_NODE_MACHINE_TYPE"
    default_machine_type = defaults.MACHINE_TYPE
    cloud = cloud

    def provider_variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {"AZURE_CLUSTER_IDENTITY_NAME": defaults.identity_name(request),
                  "AZURE_RESOURCE_GROUP": defaults.resource_group(request)}
        if request.flavor == defaults.MANAGED_FLAVOR:
            values["AKS_CLUSTER_NAME"] = defaults.aks_cluster_name(request)
        return values

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        values = super().pool_variables(request, pool)
        if request.flavor == defaults.MANAGED_FLAVOR:
            workers = request.workers if pool in request.workers else (pool, *request.workers)
            values["AZURE_NODE_POOL_NAME"] = agent_pool_names(workers)[pool.name]
            values["AZURE_NODE_POOL_MODE"] = "System" if workers[0].name == pool.name else "User"
        return values

    def credential_variables(self, request: ClusterRequest, credentials: Credentials) -> dict[str, str]:
        return {"AZURE_SUBSCRIPTION_ID": cloud.parse_credentials(credentials).subscription_id}


PROVIDER = AzureProvider()
