"""Azure values shared by the templates and the cloud checks, so both agree."""

from __future__ import annotations

from providers.base import ClusterRequest

#: VM size the templates use when a request names none.
MACHINE_TYPE = "Standard_D2s_v3"
MANAGED_FLAVOR = "aks"


def owned_tag(cluster: str) -> str:
    """The tag CAPZ puts (value `owned`) on the VMs of a self-managed cluster."""
    return f"sigs.k8s.io_cluster-api-provider-azure_cluster_{cluster}"


def resource_group(request: ClusterRequest) -> str:
    """The cluster's resource group: AZURE_RESOURCE_GROUP, else the cluster's name."""
    return request.variables.get("AZURE_RESOURCE_GROUP") or request.name


def aks_cluster_name(request: ClusterRequest) -> str:
    """The AKS resource's name (CAPZ names it after the AzureManagedControlPlane)."""
    return request.variables.get("AKS_CLUSTER_NAME") or request.name


def identity_name(request: ClusterRequest) -> str:
    """Name of the AzureClusterIdentity (and its Secret) in the cluster's namespace."""
    return f"{request.name}-azure-identity"
