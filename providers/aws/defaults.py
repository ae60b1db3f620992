"""AWS values shared by the templates and the cloud checks, so both agree."""

from __future__ import annotations

from providers.base import ClusterRequest

#: Instance type the templates use when a request names none.
MACHINE_TYPE = "t3.large"
MANAGED_FLAVOR = "eks"
#: Namespace of the CAPA controller; AWSClusterStaticIdentity Secrets must live there.
CAPA_NAMESPACE = "capa-system"


def owned_tag(cluster: str) -> str:
    """The tag CAPA puts (value `owned`) on every EC2 resource of a self-managed cluster."""
    return f"sigs.k8s.io/cluster-api-provider-aws/cluster/{cluster}"


def eks_cluster_name(request: ClusterRequest) -> str:
    """The EKS cluster's name; the EKS template must set `spec.eksClusterName` to the same."""
    return request.variables.get("EKS_CLUSTER_NAME") or request.name


def identity_name(request: ClusterRequest) -> str:
    """Name of the cluster-scoped CAPA identity (and its Secret) made for one cluster."""
    return f"drover-{request.namespace}-{request.name}"[:253]
