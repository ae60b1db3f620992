"""vSphere values shared by the templates and the cloud checks, so both agree."""

from __future__ import annotations

import re

from providers.base import ClusterRequest, ProviderError

#: vSphere has no machine types: a Drover machine type names the VM's size, `<N>vcpu-<M>gib`.
#: The default is CAPV's own template's (2 CPUs, 8192 MiB).
MACHINE_TYPE = "2vcpu-8gib"
_MACHINE_TYPE = re.compile(r"(\d+)vcpu-(\d+)gib")
#: CAPV's template disk (GiB); VSPHERE_DISK_GIB overrides it, preflight counts it per machine.
DISK_GIB = 25
#: The variables the template reads the sizes from (control plane, then the worker pool's).
SIZE_VARIABLES = {
    "control plane": ("VSPHERE_CONTROL_PLANE_NUM_CPUS", "VSPHERE_CONTROL_PLANE_MEM_MIB"),
    "worker": ("VSPHERE_WORKER_NUM_CPUS", "VSPHERE_WORKER_MEM_MIB"),
}


def machine_size(machine_type: str, where: str) -> tuple[int, int]:
    """(CPUs, MiB) of a machine type; `where` names the field in the error."""
    match = _MACHINE_TYPE.fullmatch(machine_type.strip().lower())
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ProviderError(f"machineType {machine_type!r} of the {where} is not a vSphere VM size: "
                            f"write <CPUs>vcpu-<memory GiB>gib, e.g. {MACHINE_TYPE}")
    return int(match[1]), int(match[2]) * 1024


def size_variables(machine_type: str, where: str, role: str) -> dict[str, str]:
    cpus, mib = machine_size(machine_type, where)
    cpu_var, mem_var = SIZE_VARIABLES[role]
    return {cpu_var: str(cpus), mem_var: str(mib)}


def credentials_secret_name(request: ClusterRequest) -> str:
    """The Secret (in the cluster's namespace) that VSphereCluster `spec.identityRef` names."""
    return f"{request.name}-vsphere-credentials"


def control_plane_name(cluster: str) -> str:
    return f"{cluster}-control-plane"


def pool_name(cluster: str, pool: str) -> str:
    return f"{cluster}-{pool}"


def vm_prefixes(request: ClusterRequest) -> dict[str, str]:
    """VM name prefix -> what owns those VMs. CAPV names each VM after its VSphereMachine, which
    Cluster API names after the KubeadmControlPlane (`<kcp>-<suffix>`) or the MachineDeployment
    (`<md>-<hash>-<suffix>`)."""
    prefixes = {f"{control_plane_name(request.name)}-": "control plane"}
    for pool in request.workers:
        prefixes[f"{pool_name(request.name, pool.name)}-"] = f"pool {pool.name}"
    return prefixes
