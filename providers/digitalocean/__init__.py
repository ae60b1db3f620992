"""DigitalOcean through Cluster API Provider DigitalOcean (CAPDO, infrastructure v1beta1).

One flavor, `kubeadm`: a kubeadm control plane on droplets. The droplet images (built with
image-builder; DO has no public Cluster API images) and the SSH key fingerprint come from the
request's variables; DO_NODE_MACHINE_IMAGE defaults to the control plane's image.
"""

from __future__ import annotations

from providers.base import ClusterRequest, Credentials, Provider, WorkerPool

from . import cloud, defaults


def _version(v: str) -> str:
    return v if v.startswith("v") else f"v{v}"


class DigitalOceanProvider(Provider):
    name = "digitalocean"
    flavors = ("kubeadm",)
    default_flavor = "kubeadm"

    def variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {
            "CLUSTER_NAME": request.name,
            "NAMESPACE": request.namespace,
            "KUBERNETES_VERSION": request.kubernetes_version,
            "CONTROL_PLANE_MACHINE_COUNT": str(request.control_plane_replicas),
            "DO_CONTROL_PLANE_MACHINE_TYPE": request.control_plane_machine_type
            or defaults.MACHINE_TYPE,
            "WORKER_MACHINE_COUNT": "0",
            "DO_NODE_MACHINE_TYPE": defaults.MACHINE_TYPE,
        }
        if request.region:
            values["DO_REGION"] = request.region
        control_plane_image, node_image = defaults.IMAGE_VARIABLES
        if control_plane_image in request.variables:
            values[node_image] = request.variables[control_plane_image]
        if request.workers:
            values.update(self.pool_variables(request, request.workers[0]))
        values.update(request.variables)
        values["KUBERNETES_VERSION"] = _version(values["KUBERNETES_VERSION"])
        return values

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        values = super().pool_variables(request, pool)
        values["DO_NODE_MACHINE_TYPE"] = (
            pool.machine_type
            or request.variables.get("DO_NODE_MACHINE_TYPE")
            or defaults.MACHINE_TYPE
        )
        return values

    def preflight(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.preflight(request, credentials)

    def cloud_health(self, request: ClusterRequest, credentials: Credentials | None):
        return cloud.cloud_health(request, credentials)

    def credential_objects(self, request: ClusterRequest, credentials: Credentials) -> list[dict]:
        return cloud.credential_objects(request, credentials)


PROVIDER = DigitalOceanProvider()
