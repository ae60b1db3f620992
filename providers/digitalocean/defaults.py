"""DigitalOcean values shared by the templates and the cloud checks, so both agree."""

from __future__ import annotations

#: Droplet size the templates use when a request names none.
MACHINE_TYPE = "s-2vcpu-4gb"
#: Request variables naming droplet images (slug or numeric ID), as in CAPDO's templates.
IMAGE_VARIABLES = ("DO_CONTROL_PLANE_MACHINE_IMAGE", "DO_NODE_MACHINE_IMAGE")
#: CAPDO reads one account token for all clusters, from this Secret (key `credentials`) in its
#: own namespace, through the manager's DIGITALOCEAN_ACCESS_TOKEN environment variable.
CAPDO_NAMESPACE = "capdo-system"
CAPDO_SECRET = "capdo-manager-bootstrap-credentials"


def safe_name(cluster: str) -> str:
    """CAPDO's DOSafeName: DigitalOcean names cannot hold '.' or '/'."""
    return cluster.replace(".", "-").replace("/", "-")


def cluster_tag(cluster: str) -> str:
    """The tag CAPDO puts on every droplet of a cluster."""
    return f"sigs-k8s-io:capdo:{safe_name(cluster)}"


def load_balancer_name(cluster: str) -> str:
    """CAPDO's API server load balancer."""
    return f"{safe_name(cluster)}-apiserver"
