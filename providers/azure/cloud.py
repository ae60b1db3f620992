"""Azure through azure-identity and the azure-mgmt clients: credentials, preflight, cloud-side
health and the CAPZ AzureClusterIdentity.

Clients are built with `retry_total=0`: providers.retry is the only retry loop.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from providers import base
from providers.azure import defaults
from providers.base import (
    CloudHealth,
    ClusterRequest,
    Credentials,
    PreflightFailure,
    ProviderError,
)
from providers.retry import (
    call,
    call_list,
    describe_error,
    hide_secrets_in_logs,
    http_status,
    is_transient,
    redact,
    secrets_hidden,
)

#: Accepted names per field: the azure-identity environment names first, then CAPZ's and
#: `az ad sp create-for-rbac`'s.
CLIENT_ID_KEYS = ("AZURE_CLIENT_ID", "clientID", "appId")
CLIENT_SECRET_KEYS = ("AZURE_CLIENT_SECRET", "clientSecret", "password")
TENANT_ID_KEYS = ("AZURE_TENANT_ID", "tenantID", "tenant")
SUBSCRIPTION_ID_KEYS = ("AZURE_SUBSCRIPTION_ID", "subscriptionID", "subscriptionId")
_IDENTITY_API = "infrastructure.cluster.x-k8s.io/v1beta1"
_TIMEOUTS = {"connection_timeout": 10, "read_timeout": 30}

# azure-core masks Authorization itself; this also covers the secret in any message it logs.
hide_secrets_in_logs(
    "azure.core.pipeline.policies.http_logging_policy", "azure.identity._internal.get_token_mixin"
)


@dataclass(frozen=True, repr=False)
class ServicePrincipal:
    client_id: str
    client_secret: str
    tenant_id: str
    subscription_id: str

    def __repr__(self) -> str:
        return f"ServicePrincipal(client_id={self.client_id!r}, subscription_id={self.subscription_id!r})"


def parse_credentials(credentials: Credentials | None) -> ServicePrincipal:
    """The service principal from the Secret; errors name keys, never values."""
    if credentials is None:
        raise ProviderError("Azure clusters need a credentialsRef Secret")
    values, missing = [], []
    for keys in (CLIENT_ID_KEYS, CLIENT_SECRET_KEYS, TENANT_ID_KEYS, SUBSCRIPTION_ID_KEYS):
        value = next(
            (credentials.get(k).strip() for k in keys if (credentials.get(k) or "").strip()), None
        )
        values.append(value)
        if value is None:
            missing.append(keys[0])
    if missing:
        raise ProviderError(f"Secret {credentials.secret_name!r} has no {', '.join(missing)}")
    return ServicePrincipal(*values)


def token_credential(sp: ServicePrincipal) -> TokenCredential:
    return ClientSecretCredential(sp.tenant_id, sp.client_id, sp.client_secret)


def _client(cls, credential: TokenCredential, *args):
    return cls(credential, *args, retry_total=0, **_TIMEOUTS)


def _some(items, limit: int = 12) -> str:
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more or "none"


def _text(value) -> str:
    """An SDK enum's value, or the string itself."""
    return str(getattr(value, "value", value) or "")


def _explain(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or (getattr(exc, "message", None) or str(exc))
    return f"{describe_error(exc)}: {message.strip().splitlines()[0]}"


def _version_key(version: str) -> tuple:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def _listed(result) -> list:
    # azure-mgmt-containerservice >= 35 renames `values` (now a dict method) to `values_property`
    values = getattr(result, "values_property", None)
    return list(values if values is not None else result.values or [])


def machine_types(request: ClusterRequest) -> dict[str, list[str]]:
    """VM size -> what asks for it; the AKS control plane has no VMs of ours."""
    return base.machine_types(request, defaults.MACHINE_TYPE, request.flavor != defaults.MANAGED_FLAVOR)


# --- preflight -------------------------------------------------------------------------------


def preflight(request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
    try:
        sp = parse_credentials(credentials)
    except ProviderError as exc:
        return [PreflightFailure("InvalidCredentials", str(exc))]
    if not request.region:
        return [PreflightFailure("RegionNotSet", f"Azure cluster {request.name} has no location")]
    try:
        with secrets_hidden([sp.client_secret]):
            failures = _preflight(request, sp, credentials.secret_name)
    except AzureError as exc:
        reason = "InsufficientPermissions" if http_status(exc) == 403 else "CloudAPIError"
        failures = [PreflightFailure(reason, f"Azure API call failed: {_explain(exc)}")]
    secrets = [sp.client_secret]
    return [PreflightFailure(f.reason, redact(f.message, secrets)) for f in failures]


def _preflight(
    request: ClusterRequest, sp: ServicePrincipal, secret: str
) -> list[PreflightFailure]:
    credential = token_credential(sp)
    subscriptions = _client(SubscriptionClient, credential)
    try:
        locations = call_list(subscriptions.subscriptions.list_locations, sp.subscription_id)
    except (ClientAuthenticationError, HttpResponseError) as exc:
        if is_transient(exc):
            raise
        return [
            PreflightFailure(
                "InvalidCredentials",
                (
                    f"Azure rejected service principal {sp.client_id} from Secret {secret!r} "
                    f"for subscription {sp.subscription_id}: {_explain(exc)}"
                ),
            )
        ]
    names = sorted(location.name for location in locations)
    if request.region not in names:
        return [
            PreflightFailure(
                "RegionNotFound",
                f"Azure location {request.region!r} does not exist; locations: {_some(names)}",
            )
        ]
    failures = _check_vm_sizes(
        _client(ComputeManagementClient, credential, sp.subscription_id), request
    )
    if request.flavor == defaults.MANAGED_FLAVOR:
        aks = _client(ContainerServiceClient, credential, sp.subscription_id)
        failures += _check_aks_version(aks, request)
    return failures


def _family(size: str) -> str:
    """`Standard_D2s_v3` -> `d`."""
    part = size.split("_")[1] if "_" in size else size
    return re.sub(r"\d.*", "", part).lower()


def _check_vm_sizes(
    compute: ComputeManagementClient, request: ClusterRequest
) -> list[PreflightFailure]:
    wanted = machine_types(request)
    if not wanted:
        return []
    skus = call_list(compute.resource_skus.list, filter=f"location eq '{request.region}'")
    restricted: dict[str, str | None] = {}  # lower-case size -> restriction reason (None: usable)
    names: dict[str, str] = {}
    for sku in skus:
        if sku.resource_type != "virtualMachines":
            continue
        reasons = [
            _text(r.reason_code) for r in sku.restrictions or [] if _text(r.type) == "Location"
        ]
        names[sku.name.lower()] = sku.name
        restricted[sku.name.lower()] = reasons[0] if reasons else None
    usable = sorted(names[k] for k, reason in restricted.items() if reason is None)
    failures = []
    for size, users in wanted.items():
        where = f"VM size {size} ({', '.join(users)})"
        if size.lower() not in restricted:
            similar = [s for s in usable if _family(s) == _family(size)] or usable
            message = f"{where} is not offered in {request.region}; offered: {_some(similar)}"
        elif restricted[size.lower()]:
            message = f"{where} is not available to this subscription in {request.region} ({restricted[size.lower()]})"
        else:
            continue
        failures.append(PreflightFailure("MachineTypeNotOffered", message))
    return failures


def aks_versions(aks: ContainerServiceClient, location: str) -> dict[str, list[str]]:
    """AKS minor versions here -> their patch versions, newest first."""
    result = call(aks.managed_clusters.list_kubernetes_versions, location)
    return {
        v.version: sorted(v.patch_versions or {}, key=_version_key, reverse=True)
        for v in sorted(_listed(result), key=lambda v: _version_key(v.version), reverse=True)
    }


def _check_aks_version(
    aks: ContainerServiceClient, request: ClusterRequest
) -> list[PreflightFailure]:
    offered = aks_versions(aks, request.region)
    want = request.kubernetes_version.lstrip("v")
    minor = ".".join(want.split(".")[:2])
    if minor in offered and (want == minor or want in offered[minor]):
        return []
    patches = [p for patch_list in offered.values() for p in patch_list] or list(offered)
    return [
        PreflightFailure(
            "KubernetesVersionUnsupported",
            (
                f"AKS in {request.region} does not offer Kubernetes {want} "
                f"(requested {request.kubernetes_version}); offered: {_some(patches, 8)}"
            ),
        )
    ]


# --- cloud health ----------------------------------------------------------------------------

_PROVISIONING_STATE = {
    "Succeeded": "Healthy",
    "Updating": "Healthy",
    "Upgrading": "Healthy",
    "Scaling": "Healthy",
    "Creating": "Provisioning",
    "Starting": "Provisioning",
    "Stopping": "Degraded",
    "Deleting": "Deleting",
    "Failed": "Degraded",
    "Canceled": "Degraded",
}


def cloud_health(request: ClusterRequest, credentials: Credentials | None) -> CloudHealth:
    try:
        sp = parse_credentials(credentials)
    except ProviderError as exc:
        return CloudHealth("Unknown", str(exc))
    credential = token_credential(sp)
    try:
        with secrets_hidden([sp.client_secret]):
            if request.flavor == defaults.MANAGED_FLAVOR:
                health = _aks_health(
                    _client(ContainerServiceClient, credential, sp.subscription_id), request
                )
            else:
                health = _vms_health(
                    _client(ComputeManagementClient, credential, sp.subscription_id), request
                )
    except AzureError as exc:
        health = CloudHealth("Unknown", f"Azure API call failed: {_explain(exc)}")
    secrets = [sp.client_secret]
    return CloudHealth(health.state, base.shorten(redact(health.message, secrets)), health.details)


def _power(resource) -> str:
    return _text(resource.power_state.code) if resource.power_state else ""


def _aks_health(aks: ContainerServiceClient, request: ClusterRequest) -> CloudHealth:
    group, name = defaults.resource_group(request), defaults.aks_cluster_name(request)
    try:
        cluster = call(aks.managed_clusters.get, group, name)
    except ResourceNotFoundError:
        return CloudHealth(
            "NotFound", f"AKS cluster {name} does not exist in resource group {group}"
        )
    state, power = cluster.provisioning_state, _power(cluster)
    details = {
        "aks.provisioningState": state,
        "aks.powerState": power,
        "aks.version": cluster.current_kubernetes_version or cluster.kubernetes_version or "",
    }
    if state == "Deleting":
        return CloudHealth("Deleting", f"AKS cluster {name} is being deleted", details)
    states, issues = [_PROVISIONING_STATE.get(state, "Unknown")], []
    if state in ("Failed", "Canceled"):
        issues.append(f"cluster: provisioning {state}")
    if power == "Stopped":
        states.append("Degraded")
        issues.append("cluster: stopped")
    for pool in call_list(aks.agent_pools.list, group, name):
        pool_power = _power(pool)
        details[f"agentpool.{pool.name}"] = f"{pool.provisioning_state}/{pool_power}".rstrip("/")
        states.append(_PROVISIONING_STATE.get(pool.provisioning_state, "Unknown"))
        if pool.provisioning_state in ("Failed", "Canceled"):
            issues.append(f"agent pool {pool.name}: provisioning {pool.provisioning_state}")
        if pool_power == "Stopped":
            states.append("Degraded")
            issues.append(f"agent pool {pool.name}: stopped")
    message = (
        "; ".join(issues) or f"AKS cluster {name} is {state}, {power or 'power state unknown'}"
    )
    return CloudHealth(base.worst_state(states), message, details)


def _vm_power(vm) -> str:
    statuses = vm.instance_view.statuses if vm.instance_view else None
    return next(
        (s.code.split("/", 1)[1] for s in statuses or [] if s.code.startswith("PowerState/")),
        "unknown",
    )


def _vms_health(compute: ComputeManagementClient, request: ClusterRequest) -> CloudHealth:
    group, tag = defaults.resource_group(request), defaults.owned_tag(request.name)
    try:
        vms = call_list(compute.virtual_machines.list, group, expand="instanceView")
    except ResourceNotFoundError:
        return CloudHealth("NotFound", f"resource group {group} does not exist")
    ours = [vm for vm in vms if (vm.tags or {}).get(tag) == "owned"]
    if not ours:
        return CloudHealth("NotFound", f"no VMs tagged {tag}=owned in resource group {group}")
    power = {vm.name: _vm_power(vm) for vm in ours}
    details = {f"vm.{vm.name}": f"{vm.provisioning_state}/{power[vm.name]}" for vm in ours}
    bad = sorted(
        vm.name
        for vm in ours
        if vm.provisioning_state == "Failed"
        or power[vm.name] in ("stopped", "stopping", "deallocated", "deallocating")
    )
    if bad:
        return CloudHealth(
            "Degraded", f"{len(bad)} VM(s) failed or not running: {_some(bad, 5)}", details
        )
    starting = [n for n, p in power.items() if p != "running"]
    if starting:
        return CloudHealth("Provisioning", f"{len(starting)} of {len(ours)} VMs starting", details)
    return CloudHealth("Healthy", f"{len(ours)} VMs running", details)


# --- credential objects ----------------------------------------------------------------------


def identity_ref(request: ClusterRequest) -> dict:
    """What AzureCluster / AzureManagedControlPlane `spec.identityRef` must be."""
    return {
        "kind": "AzureClusterIdentity",
        "name": defaults.identity_name(request),
        "namespace": request.namespace,
    }


def credential_objects(request: ClusterRequest, credentials: Credentials) -> list[dict]:
    """A Secret `<identity>-secret` with key `clientSecret` and an AzureClusterIdentity
    `<identity>` (type ServicePrincipal) pointing at it, both in the cluster's namespace and
    usable from that namespace only. The template must set `spec.identityRef` from
    `identity_ref()` and `spec.subscriptionID` to the principal's subscription."""
    sp = parse_credentials(credentials)
    name = defaults.identity_name(request)
    labels = {"app.kubernetes.io/managed-by": "drover", "drover.dev/cluster": request.name}
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": f"{name}-secret",
                "namespace": request.namespace,
                "labels": labels,
            },
            "data": {"clientSecret": base64.b64encode(sp.client_secret.encode()).decode()},
        },
        {
            "apiVersion": _IDENTITY_API,
            "kind": "AzureClusterIdentity",
            "metadata": {"name": name, "namespace": request.namespace, "labels": labels},
            "spec": {
                "type": "ServicePrincipal",
                "clientID": sp.client_id,
                "tenantID": sp.tenant_id,
                "clientSecret": {"name": f"{name}-secret", "namespace": request.namespace},
                "allowedNamespaces": {"list": [request.namespace]},
            },
        },
    ]
