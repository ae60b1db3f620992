"""DigitalOcean through Cluster API Provider DigitalOcean (CAPDO, infrastructure v1beta1).

One flavor, `kubeadm`: a kubeadm control plane on droplets. The droplet images (built with
image-builder; DO has no public Cluster API images) and the SSH key fingerprint come from the
request's variables; DO_NODE_MACHINE_IMAGE defaults to the control plane's image.
"""

from __future__ import annotations

from providers.base import ClusterRequest, Provider

from . import cloud, defaults


class DigitalOceanProvider(Provider):
    name = "digitalocean"
    flavors = ("kubeadm",)
    default_flavor = "kubeadm"
    region_variable = "DO_REGION"
    control_plane_machine_variable = "DO_CONTROL_PLANE_MACHINE_TYPE"
    node_machine_variable = "DO_NODE_MACHINE_TYPE"
    default_machine_type = defaults.MACHINE_TYPE
    cloud = cloud

    def provider_variables(self, request: ClusterRequest) -> dict[str, str]:
        control_plane_image, node_image = defaults.IMAGE_VARIABLES
        if control_plane_image in request.variables:
            return {node_image: request.variables[control_plane_image]}
        return {}


PROVIDER = DigitalOceanProvider()
