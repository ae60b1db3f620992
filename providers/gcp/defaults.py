"""GCP values shared by the templates and the cloud checks, so both agree."""

from __future__ import annotations

from providers.base import ClusterRequest

#: Machine type the templates use when a request names none.
MACHINE_TYPE = "n2-standard-2"
MANAGED_FLAVOR = "gke"


def owned_label(cluster: str) -> str:
    """The label CAPG puts (value `owned`) on the instances of a self-managed cluster."""
    return f"capg-cluster-{cluster}"


def gke_cluster_name(request: ClusterRequest) -> str:
    """The GKE cluster's name; the GKE template must set GCPManagedControlPlane
    `spec.clusterName` to the same."""
    return request.variables.get("GKE_CLUSTER_NAME") or request.name


def credentials_secret_name(request: ClusterRequest) -> str:
    """The Secret (in the cluster's namespace) that GCPCluster/GCPManagedCluster
    `spec.credentialsRef` names."""
    return f"{request.name}-gcp-credentials"
