"""Equinix Metal (Packet) through Cluster API Provider Packet (CAPP v0.9).

One flavor, `kubeadm`: a kubeadm control plane on bare-metal servers. The Fleet's region is the
Equinix Metal metro; PACKET_PROJECT_ID comes from the request's variables.
"""

from __future__ import annotations

from providers.base import ClusterRequest, Credentials, Provider, WorkerPool

from . import cloud

DEFAULT_CONTROL_PLANE_MACHINE_TYPE = "c3.small.x86"
DEFAULT_NODE_MACHINE_TYPE = "c3.small.x86"


def _version(v: str) -> str:
    return v if v.startswith("v") else f"v{v}"


class PacketProvider(Provider):
    name = "packet"
    flavors = ("kubeadm",)
    default_flavor = "kubeadm"
    retired = (
        "Equinix Metal (Packet) was shut down on 2026-06-30; Drover still renders and validates "
        "Packet clusters only so they can be migrated to another provider."
    )

    def variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {
            "CLUSTER_NAME": request.name,
            "NAMESPACE": request.namespace,
            "KUBERNETES_VERSION": request.kubernetes_version,
            "CONTROL_PLANE_MACHINE_COUNT": str(request.control_plane_replicas),
            "CONTROL_PLANE_NODE_TYPE": request.control_plane_machine_type
            or DEFAULT_CONTROL_PLANE_MACHINE_TYPE,
            "WORKER_MACHINE_COUNT": "0",
            "WORKER_NODE_TYPE": DEFAULT_NODE_MACHINE_TYPE,
        }
        if request.region:
            values["METRO"] = request.region
        if request.workers:
            values.update(self.pool_variables(request, request.workers[0]))
        values.update(request.variables)
        values["KUBERNETES_VERSION"] = _version(values["KUBERNETES_VERSION"])
        return values

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        values = super().pool_variables(request, pool)
        values["WORKER_NODE_TYPE"] = (
            pool.machine_type
            or request.variables.get("WORKER_NODE_TYPE")
            or DEFAULT_NODE_MACHINE_TYPE
        )
        return values

    def preflight(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.preflight(request, credentials)

    def cloud_health(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.cloud_health(request, credentials)

    def credential_objects(self, request: ClusterRequest, credentials: Credentials) -> list[dict]:
        return cloud.credential_objects(request, credentials)


PROVIDER = PacketProvider()
