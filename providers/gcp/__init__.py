"""Google Cloud through Cluster API Provider GCP (CAPG v1.13).

Flavors: `kubeadm` (a kubeadm control plane on GCE, the default) and `gke` (a GKE cluster with
one node pool per worker pool). GCP_PROJECT and GCP_NETWORK_NAME, and IMAGE_ID for kubeadm
(GCP has no public Cluster API images), come from the request's variables.
"""

from __future__ import annotations

from providers.base import ClusterRequest, Credentials, Provider

from . import cloud, defaults


class GCPProvider(Provider):
    name = "gcp"
    flavors = ("kubeadm", "gke")
    default_flavor = "kubeadm"
    region_variable = "GCP_REGION"
    control_plane_machine_variable = "GCP_CONTROL_PLANE_MACHINE_TYPE"
    node_machine_variable = "GCP_NODE_MACHINE_TYPE"
    default_machine_type = defaults.MACHINE_TYPE
    cloud = cloud

    def provider_variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {"GCP_CREDENTIALS_SECRET_NAME": defaults.credentials_secret_name(request)}
        if request.flavor == defaults.MANAGED_FLAVOR:
            values["GKE_CLUSTER_NAME"] = defaults.gke_cluster_name(request)
        return values

    def credential_variables(self, request: ClusterRequest, credentials: Credentials) -> dict[str, str]:
        return {"GCP_PROJECT": cloud.parse_credentials(credentials, request).project}


PROVIDER = GCPProvider()
