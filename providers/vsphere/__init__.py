"""VMware vSphere through Cluster API Provider vSphere (CAPV v1.16, infrastructure v1beta2).

One flavor, `kubeadm`: a kubeadm control plane on VMs cloned from a template VM, with kube-vip
holding the control plane endpoint (CONTROL_PLANE_ENDPOINT_IP), as CAPV's default flavor. Where
the VMs go (VSPHERE_SERVER, VSPHERE_DATACENTER, VSPHERE_DATASTORE, VSPHERE_NETWORK,
VSPHERE_RESOURCE_POOL, VSPHERE_FOLDER, VSPHERE_TEMPLATE, VSPHERE_TLS_THUMBPRINT) comes from the
request's variables, with clusterctl's names. A Fleet's `region` (a lowercase DNS label, as for
every provider) stands for the datacenter when no VSPHERE_DATACENTER variable names it; vSphere
names such as `DC0` or `Datacenter 1` go in the variable. A machine type is a VM size,
`<CPUs>vcpu-<memory GiB>gib` (defaults.MACHINE_TYPE).
"""

from __future__ import annotations

from providers.base import ClusterRequest, Provider, WorkerPool

from . import cloud, defaults


class VSphereProvider(Provider):
    name = "vsphere"
    flavors = ("kubeadm",)
    default_flavor = "kubeadm"
    region_variable = "VSPHERE_DATACENTER"
    default_machine_type = defaults.MACHINE_TYPE
    cloud = cloud

    def provider_variables(self, request: ClusterRequest) -> dict[str, str]:
        values = {"VSPHERE_CREDENTIALS_SECRET_NAME": defaults.credentials_secret_name(request)}
        machine_type = request.control_plane_machine_type or self.default_machine_type
        values.update(defaults.size_variables(machine_type, "control plane", "control plane"))
        return values

    def pool_variables(self, request: ClusterRequest, pool: WorkerPool) -> dict[str, str]:
        values = super().pool_variables(request, pool)
        values.update(defaults.size_variables(pool.machine_type or self.default_machine_type,
                                              f"worker pool {pool.name}", "worker"))
        # Sizes the Fleet's variables give outright win over the machine type.
        values.update({k: v for k, v in request.variables.items() if k in defaults.SIZE_VARIABLES["worker"]})
        return values


PROVIDER = VSphereProvider()
