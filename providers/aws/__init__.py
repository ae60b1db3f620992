"""Amazon Web Services through Cluster API Provider AWS (CAPA v2.13).

Flavors: `kubeadm` (a kubeadm control plane on EC2, the default) and `eks` (an EKS control
plane with one EKS managed node group per worker pool).
"""

from __future__ import annotations

from providers.base import ClusterRequest, Credentials, Provider, WorkerPool

from . import cloud, defaults


def _version(v: str) -> str:
    return v if v.startswith("v") else f"v{v}"


class AWSProvider(Provider):
    name = "aws"
    flavors = ("kubeadm", "eks")
    default_flavor = "kubeadm"
    credential_kinds = (("infrastructure.cluster.x-k8s.io/v1beta2", "AWSClusterStaticIdentity"),
                        ("infrastructure.cluster.x-k8s.io/v1beta2", "AWSClusterRoleIdentity"))

    def variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {
            "CLUSTER_NAME": request.name,
            "NAMESPACE": request.namespace,
            "KUBERNETES_VERSION": request.kubernetes_version,
            "CONTROL_PLANE_MACHINE_COUNT": str(request.control_plane_replicas),
            "AWS_CONTROL_PLANE_MACHINE_TYPE": request.control_plane_machine_type
            or defaults.MACHINE_TYPE,
            # CAPA reads "" as "no SSH key"; leaving the field out would ask for a key named "default".
            "AWS_SSH_KEY_NAME": "",
            # The kind is AWSClusterRoleIdentity when the credentials name a role (cloud.identity_ref).
            "AWS_CLUSTER_IDENTITY_NAME": defaults.identity_name(request),
            "WORKER_MACHINE_COUNT": "0",
            "AWS_NODE_MACHINE_TYPE": defaults.MACHINE_TYPE,
        }
        if request.region:
            values["AWS_REGION"] = request.region
        if request.flavor == defaults.MANAGED_FLAVOR:
            values["EKS_CLUSTER_NAME"] = defaults.eks_cluster_name(request)
        if request.workers:
            values.update(self.pool_variables(request, request.workers[0]))
        values.update(request.variables)
        values["KUBERNETES_VERSION"] = _version(values["KUBERNETES_VERSION"])
        return values

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        values = super().pool_variables(request, pool)
        values["AWS_NODE_MACHINE_TYPE"] = (
            pool.machine_type
            or request.variables.get("AWS_NODE_MACHINE_TYPE")
            or defaults.MACHINE_TYPE
        )
        return values

    def preflight(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.preflight(request, credentials)

    def cloud_health(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.cloud_health(request, credentials)

    def credential_variables(self, request: ClusterRequest, credentials: Credentials) -> dict[str, str]:
        ref = cloud.identity_ref(request, credentials)
        return {"AWS_CLUSTER_IDENTITY_KIND": ref["kind"], "AWS_CLUSTER_IDENTITY_NAME": ref["name"]}

    def credential_objects(self, request: ClusterRequest, credentials: Credentials) -> list[dict]:
        return cloud.credential_objects(request, credentials)


PROVIDER = AWSProvider()
