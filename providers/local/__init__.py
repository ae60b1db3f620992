"""The `local` provider: clusters whose control plane is a real kube-apiserver on 127.0.0.1 and
whose machines are kwok-kept Nodes (see `providers.local.operator`). Needs no cloud account."""

from __future__ import annotations

from providers.base import ClusterRequest, Provider


class LocalProvider(Provider):
    name = "local"
    flavors = ("default",)
    default_flavor = "default"
    needs_credentials = False

    def variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {
            "CLUSTER_NAME": request.name,
            "NAMESPACE": request.namespace,
            "KUBERNETES_VERSION": request.kubernetes_version,
            "CONTROL_PLANE_MACHINE_COUNT": str(request.control_plane_replicas),
            "WORKER_MACHINE_COUNT": "0",
        }
        if request.workers:
            values.update(self.pool_variables(request, request.workers[0]))
        values.update(request.variables)
        if not values["KUBERNETES_VERSION"].startswith("v"):
            values["KUBERNETES_VERSION"] = "v" + values["KUBERNETES_VERSION"]
        return values


PROVIDER = LocalProvider()
