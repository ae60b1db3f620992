"""The local provider's API: Cluster API infrastructure and control-plane kinds
that follow the v1beta2 provider contracts (`status.initialization.*`,
`spec.controlPlaneEndpoint`, the contract label on the CRDs)."""

from __future__ import annotations

from pydantic import Field

from mgmt.api.crdgen import Kind
from mgmt.api.models import Condition, Model

INFRA_GROUP = "infrastructure.drover.dev"
CONTROL_PLANE_GROUP = "controlplane.drover.dev"
VERSION = "v1alpha1"
CONTRACT_LABELS = {"cluster.x-k8s.io/v1beta2": VERSION}


class Endpoint(Model):
    host: str = ""
    port: int = 0


class Initialization(Model):
    provisioned: bool | None = None


class ControlPlaneInitialization(Model):
    control_plane_initialized: bool | None = None


class Address(Model):
    type: str
    address: str


class Simulation(Model):
    nodes: int = Field(0, ge=0, le=5000, description="Ready Nodes the virtual cluster reports (its workers).")


class LocalClusterSpec(Model):
    control_plane_endpoint: Endpoint | None = None
    simulated: Simulation | None = Field(None, description=(
        "For tests and benches only: start no processes; the cluster is a virtual cluster of the "
        "simulator the provider was started with (--simulator-url)."))


class LocalClusterStatus(Model):
    initialization: Initialization = Field(default_factory=Initialization)
    conditions: list[Condition] = Field(default_factory=list)


class Capacity(Model):
    cpu: str = "4"
    memory: str = "8Gi"
    pods: str = "110"


class LocalMachineSpec(Model):
    provider_id: str | None = Field(None, alias="providerID")
    capacity: Capacity = Field(default_factory=Capacity)


class LocalMachineStatus(Model):
    initialization: Initialization = Field(default_factory=Initialization)
    addresses: list[Address] = Field(default_factory=list)
    node_name: str | None = None
    conditions: list[Condition] = Field(default_factory=list)


class MachineTemplateResource(Model):
    spec: LocalMachineSpec = Field(default_factory=LocalMachineSpec)


class LocalMachineTemplateSpec(Model):
    template: MachineTemplateResource = Field(default_factory=MachineTemplateResource)


class LocalControlPlaneSpec(Model):
    version: str = Field(pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$")
    replicas: int = Field(1, ge=1, le=7, description="Accepted for compatibility; one API server serves.")
    control_plane_endpoint: Endpoint | None = None


class LocalControlPlaneStatus(Model):
    initialization: ControlPlaneInitialization = Field(default_factory=ControlPlaneInitialization)
    external_managed_control_plane: bool = True
    version: str | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    up_to_date_replicas: int | None = None
    conditions: list[Condition] = Field(default_factory=list)


def _kind(group, kind, plural, spec, status, columns=()):
    return Kind(group, VERSION, kind, plural, spec, status, categories=["cluster-api"],
                labels=CONTRACT_LABELS, columns=list(columns))


_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
KINDS = [
    _kind(INFRA_GROUP, "LocalCluster", "localclusters", LocalClusterSpec, LocalClusterStatus, [
        {"name": "Provisioned", "type": "boolean", "jsonPath": ".status.initialization.provisioned"}, _AGE]),
    _kind(INFRA_GROUP, "LocalMachineTemplate", "localmachinetemplates", LocalMachineTemplateSpec, None),
    _kind(INFRA_GROUP, "LocalMachine", "localmachines", LocalMachineSpec, LocalMachineStatus, [
        {"name": "ProviderID", "type": "string", "jsonPath": ".spec.providerID"},
        {"name": "Node", "type": "string", "jsonPath": ".status.nodeName"},
        {"name": "Provisioned", "type": "boolean", "jsonPath": ".status.initialization.provisioned"}, _AGE]),
    _kind(CONTROL_PLANE_GROUP, "LocalControlPlane", "localcontrolplanes", LocalControlPlaneSpec,
          LocalControlPlaneStatus, [
              {"name": "Endpoint", "type": "string", "jsonPath": ".spec.controlPlaneEndpoint.port"},
              {"name": "Initialized", "type": "boolean",
               "jsonPath": ".status.initialization.controlPlaneInitialized"},
              {"name": "Version", "type": "string", "jsonPath": ".status.version"}, _AGE]),
]
