"""Amazon Web Services through Cluster API Provider AWS (CAPA v2.13).

Flavors: `kubeadm` (a kubeadm control plane on EC2, the default) and `eks` (an EKS control
plane with one EKS managed node group per worker pool).
"""

from __future__ import annotations

from providers.base import ClusterRequest, Credentials, Provider

from . import cloud, defaults


class AWSProvider(Provider):
    name = "aws"
    flavors = ("kubeadm", "eks")
    default_flavor = "kubeadm"
    credential_kinds = (("infrastructure.cluster.x-k8s.io/v1beta2", "AWSClusterStaticIdentity"),
                        ("infrastructure.cluster.x-k8s.io/v1beta2", "AWSClusterRoleIdentity"))
    region_variable = "AWS_REGION"
    control_plane_machine_variable = "AWS_CONTROL_PLANE_MACHINE_TYPE"
    node_machine_variable = "AWS_NODE_MACHINE_TYPE"
    default_machine_type = defaults.MACHINE_TYPE
    cloud = cloud

    def provider_variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {
            # CAPA reads "" as "no SSH key"; leaving the field out would ask for a key named "default".
            "AWS_SSH_KEY_NAME": "",
            # The kind is AWSClusterRoleIdentity when the credentials name a role (credential_variables).
            "AWS_CLUSTER_IDENTITY_NAME": defaults.identity_name(request),
        }
        if request.flavor == defaults.MANAGED_FLAVOR:
            values["EKS_CLUSTER_NAME"] = defaults.eks_cluster_name(request)
        return values

    def credential_variables(self, request: ClusterRequest, credentials: Credentials) -> dict[str, str]:
        ref = cloud.identity_ref(request, credentials)
        return {"AWS_CLUSTER_IDENTITY_KIND": ref["kind"], "AWS_CLUSTER_IDENTITY_NAME": ref["name"]}


PROVIDER = AWSProvider()
