"""Google Cloud through Cluster API Provider GCP (CAPG v1.13).

Flavors: `kubeadm` (a kubeadm control plane on GCE, the default) and `gke` (a GKE cluster with
one node pool per worker pool). GCP_PROJECT and GCP_NETWORK_NAME, and IMAGE_ID for kubeadm
(GCP has no public Cluster API images), come from the request's variables.
"""

from __future__ import annotations

from providers.base import ClusterRequest, Credentials, Provider, WorkerPool

from . import cloud, defaults


def _version(v: str) -> str:
    return v if v.startswith("v") else f"v{v}"


class GCPProvider(Provider):
    name = "gcp"
    flavors = ("kubeadm", "gke")
    default_flavor = "kubeadm"

    def variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {
            "CLUSTER_NAME": request.name,
            "NAMESPACE": request.namespace,
            "KUBERNETES_VERSION": request.kubernetes_version,
            "CONTROL_PLANE_MACHINE_COUNT": str(request.control_plane_replicas),
            "GCP_CONTROL_PLANE_MACHINE_TYPE": request.control_plane_machine_type
            or defaults.MACHINE_TYPE,
            "GCP_CREDENTIALS_SECRET_NAME": defaults.credentials_secret_name(request),
            "WORKER_MACHINE_COUNT": "0",
            "GCP_NODE_MACHINE_TYPE": defaults.MACHINE_TYPE,
        }
        if request.region:
            values["GCP_REGION"] = request.region
        if request.flavor == defaults.MANAGED_FLAVOR:
            values["GKE_CLUSTER_NAME"] = defaults.gke_cluster_name(request)
        if request.workers:
            values.update(self.pool_variables(request, request.workers[0]))
        values.update(request.variables)
        values["KUBERNETES_VERSION"] = _version(values["KUBERNETES_VERSION"])
        return values

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        values = super().pool_variables(request, pool)
        values["GCP_NODE_MACHINE_TYPE"] = (
            pool.machine_type
            or request.variables.get("GCP_NODE_MACHINE_TYPE")
            or defaults.MACHINE_TYPE
        )
        return values

    def preflight(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.preflight(request, credentials)

    def cloud_health(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.cloud_health(request, credentials)

    def credential_variables(self, request: ClusterRequest, credentials: Credentials) -> dict[str, str]:
        return {"GCP_PROJECT": cloud.parse_credentials(credentials, request).project}

    def credential_objects(self, request: ClusterRequest, credentials: Credentials) -> list[dict]:
        return cloud.credential_objects(request, credentials)


PROVIDER = GCPProvider()
