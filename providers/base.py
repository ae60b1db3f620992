"""The one interface between the controller and an infrastructure provider.

The controller hands a provider a `ClusterRequest` (what the Fleet declares for one
cluster) and, for cloud providers, the `Credentials` read from the cluster's
`credentialsRef` Secret. A provider answers three questions: which clusterctl
template and variables render the cluster, is the cloud ready for it (preflight),
and what does the cloud itself say about it (cloud health). Providers never call
the Kubernetes API; SDK calls are synchronous and the controller runs them in a
thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

#: Variables that decide where a cluster's objects go, what they are called and whose cloud
#: identity they use. Drover derives them; a Fleet's `variables` may not set them (the Fleet CRD
#: refuses them, and `variables` below ignores them for Fleets stored before it did).
RESERVED_VARIABLES = (
    "CLUSTER_NAME", "NAMESPACE", "WORKER_POOL_NAME",
    "AWS_CLUSTER_IDENTITY_KIND", "AWS_CLUSTER_IDENTITY_NAME", "AZURE_CLUSTER_IDENTITY_NAME",
    "GCP_CREDENTIALS_SECRET_NAME", "VSPHERE_CREDENTIALS_SECRET_NAME",
)


@dataclass(frozen=True)
class WorkerPool:
    name: str
    replicas: int
    machine_type: str | None = None


@dataclass(frozen=True)
class ClusterRequest:
    """One declared cluster, as the provider sees it."""

    name: str
    namespace: str
    provider: str
    flavor: str
    kubernetes_version: str
    region: str | None = None
    control_plane_replicas: int = 1
    control_plane_machine_type: str | None = None
    workers: tuple[WorkerPool, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    fleet: str | None = None


def user_variables(request: ClusterRequest) -> dict[str, str]:
    """The request's own variables, without the reserved ones."""
    return {k: v for k, v in request.variables.items() if k not in RESERVED_VARIABLES}


class Credentials:
    """The data of a credentials Secret. Its repr never shows the values."""

    def __init__(self, secret_name: str, data: Mapping[str, str]):
        self.secret_name = secret_name
        self._data = dict(data)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._data.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def keys(self):
        return self._data.keys()

    def values(self):
        """The secret values themselves, for redaction checks."""
        return list(self._data.values())

    def __repr__(self) -> str:
        return f"Credentials(secret={self.secret_name!r}, keys={sorted(self._data)!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class PreflightFailure:
    """A reason the cloud cannot host the cluster; `reason` is CamelCase."""

    reason: str
    message: str


@dataclass(frozen=True)
class CloudHealth:
    """The cloud's own view of a cluster.

    `state` is one of Healthy, Degraded, Provisioning, Deleting, NotFound, Unknown.
    `details` holds short, non-secret facts (node group status, power state, ...).
    """

    state: str
    message: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


def machine_types(request: ClusterRequest, default: str, control_plane: bool = True) -> dict[str, list[str]]:
    """Machine type -> what asks for it (`control plane`, `pool NAME`), for preflight messages.
    Managed control planes (EKS, GKE, AKS) run on no machines of ours: control_plane=False."""
    wanted: dict[str, list[str]] = {}
    if control_plane:
        wanted.setdefault(request.control_plane_machine_type or default, []).append("control plane")
    for pool in request.workers:
        wanted.setdefault(pool.machine_type or default, []).append(f"pool {pool.name}")
    return wanted


#: CloudHealth states from best to worst.
SEVERITY = ("Healthy", "Provisioning", "Unknown", "Degraded")


def worst_state(states) -> str:
    """The worst of several CloudHealth states (Healthy when there are none)."""
    return max(states, key=SEVERITY.index, default="Healthy")


def shorten(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProviderError(Exception):
    """A request the provider cannot render (bad flavor, missing value)."""


class Provider:
    """Base for every provider; subclasses set the class attributes and override hooks."""

    name: str = ""
    flavors: tuple[str, ...] = ()
    default_flavor: str = ""
    #: False for providers that need no cloud account (local).
    needs_credentials: bool = True
    #: A sentence shown as a warning condition on every member of this provider.
    retired: str | None = None
    #: (apiVersion, kind) of what credential_objects makes besides Secrets.
    credential_kinds: tuple[tuple[str, str], ...] = ()

    def template(self, flavor: str) -> str:
        """The clusterctl template text for a flavor."""
        if flavor not in self.flavors:
            raise ProviderError(
                f"provider {self.name!r} has no flavor {flavor!r} (choose one of {', '.join(self.flavors)})"
            )
        file = "cluster-template.yaml" if flavor == self.default_flavor else f"cluster-template-{flavor}.yaml"
        return resources.files(f"providers.{self.name}").joinpath("templates", file).read_text()

    #: The template variables that take the region and the machine types, and their defaults.
    region_variable: str | None = None
    control_plane_machine_variable: str | None = None
    node_machine_variable: str | None = None
    default_machine_type: str | None = None
    #: The module with preflight/cloud_health/credential_objects (the cloud SDK layer), if any.
    cloud = None

    def variables(self, request: ClusterRequest) -> dict[str, str]:
        """clusterctl variables derived from the request (the request's own `variables` win,
        except for RESERVED_VARIABLES)."""
        values = {
            "CLUSTER_NAME": request.name,
            "NAMESPACE": request.namespace,
            "KUBERNETES_VERSION": request.kubernetes_version,
            "CONTROL_PLANE_MACHINE_COUNT": str(request.control_plane_replicas),
            "WORKER_MACHINE_COUNT": "0",
        }
        if self.control_plane_machine_variable:
            values[self.control_plane_machine_variable] = (request.control_plane_machine_type
                                                           or self.default_machine_type)
        if self.node_machine_variable:
            values[self.node_machine_variable] = self.default_machine_type
        if request.region and self.region_variable:
            values[self.region_variable] = request.region
        values.update(self.provider_variables(request))
        if request.workers:
            values.update(self.pool_variables(request, request.workers[0]))
        values.update(user_variables(request))
        if not values["KUBERNETES_VERSION"].startswith("v"):
            values["KUBERNETES_VERSION"] = "v" + values["KUBERNETES_VERSION"]
        return values

    def provider_variables(self, request: ClusterRequest) -> dict[str, str]:
        """What this provider's templates need besides the common variables."""
        return {}

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        """Variables of one worker pool, on top of the cluster's."""
        values = {"WORKER_POOL_NAME": pool.name, "WORKER_MACHINE_COUNT": str(pool.replicas)}
        if self.node_machine_variable:
            values[self.node_machine_variable] = (pool.machine_type or request.variables.get(
                self.node_machine_variable) or self.default_machine_type)
        return values

    def preflight(self, request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
        return self.cloud.preflight(request, credentials) if self.cloud else []

    def cloud_health(self, request: ClusterRequest, credentials: Credentials | None) -> CloudHealth | None:
        return self.cloud.cloud_health(request, credentials) if self.cloud else None

    def credential_variables(self, request: ClusterRequest, credentials: Credentials) -> dict[str, str]:
        """Template variables that come from the credentials (identity kind, project, subscription)."""
        return {}

    def credential_objects(self, request: ClusterRequest, credentials: Credentials) -> list[dict]:
        """Objects the CAPI provider needs to use these credentials (identities, Secrets)."""
        return self.cloud.credential_objects(request, credentials) if self.cloud else []
