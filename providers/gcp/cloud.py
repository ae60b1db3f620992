"""GCP through google-cloud-container and google-cloud-compute: credentials, preflight, cloud-side
health and the credentials Secret CAPG reads.

Clients use the REST transport (one HTTP session, no gRPC channel per call; it is also the wire
the tests fake). Calls pass `retry=None`: providers.retry is the only retry loop.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from dataclasses import dataclass

import google.auth.exceptions as google_auth_exc
import requests
from google.api_core import exceptions as google_exc
from google.cloud import compute_v1, container_v1
from google.oauth2 import service_account
from google.rpc import code_pb2

from providers import base
from providers.base import (
    CloudHealth,
    ClusterRequest,
    Credentials,
    PreflightFailure,
    ProviderError,
)
from providers.gcp import defaults
from providers.retry import (
    call,
    call_list,
    describe_error,
    hide_secrets_in_logs,
    redact,
    secrets_hidden,
)

#: Keys that may hold the service-account JSON; CAPG's own Secrets use `credentials`.
JSON_KEYS = ("credentials.json", "credentials", "service-account.json")
#: The base64 form clusterctl users keep for CAPG.
B64_KEY = "GCP_B64ENCODED_CREDENTIALS"
_REQUIRED_FIELDS = ("type", "client_email", "private_key", "token_uri")
_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_TIMEOUT = 20.0
# REST answers map to the HTTP-named classes (Unauthorized, Forbidden), gRPC to the others.
_AUTH_ERRORS = (
    google_exc.Unauthenticated,
    google_exc.Unauthorized,
    google_exc.PermissionDenied,
    google_exc.Forbidden,
    google_auth_exc.RefreshError,
)
_API_ERRORS = (
    google_exc.GoogleAPIError,
    google_auth_exc.GoogleAuthError,
    requests.RequestException,
)

# google-auth logs each request's headers, bearer token included, as `extra` at DEBUG.
hide_secrets_in_logs("google.auth.transport.requests")


@dataclass(frozen=True, repr=False)
class GcpCredentials:
    text: str
    info: dict
    project: str

    def secrets(self) -> list[str | None]:
        return [self.text, self.info.get("private_key"), self.info.get("private_key_id")]

    def __repr__(self) -> str:
        return f"GcpCredentials(project={self.project!r}, client_email={self.info.get('client_email')!r})"


def parse_credentials(
    credentials: Credentials | None, request: ClusterRequest | None = None
) -> GcpCredentials:
    """The service-account key from the Secret; errors name keys and fields, never values.
    The project is the cluster's GCP_PROJECT variable, else the key's project_id."""
    if credentials is None:
        raise ProviderError("GCP clusters need a credentialsRef Secret")
    where = f"Secret {credentials.secret_name!r}"
    key = next((k for k in (*JSON_KEYS, B64_KEY) if credentials.get(k)), None)
    if key is None:
        raise ProviderError(
            f"{where} needs a service-account key in credentials.json (or {B64_KEY}); "
            f"it has keys: {', '.join(sorted(credentials.keys())) or 'none'}"
        )
    try:
        text = credentials[key]
        if key == B64_KEY:
            text = base64.b64decode(text, validate=True).decode()
        info = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ProviderError(f"key {key} of {where} is not service-account JSON") from None
    if not isinstance(info, dict):
        raise ProviderError(f"key {key} of {where} is not service-account JSON")
    missing = [f for f in _REQUIRED_FIELDS if not info.get(f)]
    if missing:
        raise ProviderError(
            f"the service-account JSON in key {key} of {where} has no {', '.join(missing)}"
        )
    if info["type"] != "service_account":
        raise ProviderError(
            f"key {key} of {where} holds a {info['type']!r} credential, not a service_account key"
        )
    project = (request.variables.get("GCP_PROJECT") if request else None) or info.get("project_id")
    if not project:
        raise ProviderError(
            f"the service-account JSON in {where} has no project_id and GCP_PROJECT is not set"
        )
    return GcpCredentials(text, info, project)


def google_credentials(creds: GcpCredentials) -> service_account.Credentials:
    try:
        return service_account.Credentials.from_service_account_info(creds.info, scopes=_SCOPES)
    except (ValueError, google_auth_exc.GoogleAuthError):
        raise ProviderError("the service-account JSON has an unreadable private_key") from None


def _client(cls, gcreds: service_account.Credentials):
    return cls(credentials=gcreds, transport="rest")


def _some(items, limit: int = 12) -> str:
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more or "none"


def _version_key(version: str) -> tuple:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def _explain(exc: Exception) -> str:
    message = getattr(exc, "message", None) or (
        exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    )
    message = re.sub(
        r"^[A-Z]+ https?://\S+: ", "", message
    )  # REST errors start with the request line
    return f"{describe_error(exc)}: {message}" if message else describe_error(exc)


def _region_of(location: str) -> tuple[str, str | None]:
    """`europe-west1-b` -> (`europe-west1`, `europe-west1-b`); a region -> (region, None)."""
    if re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", location):
        return location.rsplit("-", 1)[0], location
    return location, None


def machine_types(request: ClusterRequest) -> dict[str, list[str]]:
    """Machine type -> what asks for it; the GKE control plane has no machines of ours."""
    return base.machine_types(request, defaults.MACHINE_TYPE, request.flavor != defaults.MANAGED_FLAVOR)


# --- preflight -------------------------------------------------------------------------------


def preflight(request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
    try:
        creds = parse_credentials(credentials, request)
        gcreds = google_credentials(creds)
    except ProviderError as exc:
        return [PreflightFailure("InvalidCredentials", str(exc))]
    if not request.region:
        return [PreflightFailure("RegionNotSet", f"GCP cluster {request.name} has no region")]
    try:
        with secrets_hidden(creds.secrets()):
            failures = _preflight(request, creds.project, gcreds)
    except _AUTH_ERRORS as exc:
        failures = [
            PreflightFailure(
                "InvalidCredentials",
                (
                    f"GCP rejected service account {creds.info['client_email']} from Secret "
                    f"{credentials.secret_name!r}: {_explain(exc)}"
                ),
            )
        ]
    except _API_ERRORS as exc:
        failures = [PreflightFailure("CloudAPIError", f"GCP API call failed: {_explain(exc)}")]
    secrets = creds.secrets()
    return [PreflightFailure(f.reason, redact(f.message, secrets)) for f in failures]


def _preflight(request: ClusterRequest, project: str, gcreds) -> list[PreflightFailure]:
    region_name, zone = _region_of(request.region)
    regions = _client(compute_v1.RegionsClient, gcreds)
    try:
        region = call(
            regions.get, project=project, region=region_name, retry=None, timeout=_TIMEOUT
        )
    except (google_exc.NotFound, google_exc.BadRequest):
        known = sorted(
            r.name for r in call_list(regions.list, project=project, retry=None, timeout=_TIMEOUT)
        )
        return [
            PreflightFailure(
                "RegionNotFound",
                f"GCP region {region_name!r} does not exist; regions: {_some(known)}",
            )
        ]
    zones = sorted(z.rsplit("/", 1)[-1] for z in region.zones)
    if zone and zone not in zones:
        return [
            PreflightFailure(
                "RegionNotFound",
                f"GCP zone {zone!r} does not exist in {region_name}; zones: {_some(zones)}",
            )
        ]
    failures = _check_machine_types(gcreds, project, [zone] if zone else zones, request)
    if request.flavor == defaults.MANAGED_FLAVOR:
        failures += _check_gke_version(gcreds, project, request)
    return failures


def _check_machine_types(
    gcreds, project: str, zones: list[str], request: ClusterRequest
) -> list[PreflightFailure]:
    wanted = machine_types(request)
    if not wanted:
        return []
    client = _client(compute_v1.MachineTypesClient, gcreds)
    offered: set[str] = set()
    for zone in zones:
        listed = call_list(client.list, project=project, zone=zone, retry=None, timeout=_TIMEOUT)
        offered |= {m.name for m in listed}
    failures = []
    for mtype, users in wanted.items():
        if mtype in offered:
            continue
        similar = sorted(t for t in offered if t.split("-")[0] == mtype.split("-")[0]) or sorted(
            offered
        )
        failures.append(
            PreflightFailure(
                "MachineTypeNotOffered",
                (
                    f"machine type {mtype} ({', '.join(users)}) is not offered in {request.region}; "
                    f"offered: {_some(similar)}"
                ),
            )
        )
    return failures


def gke_versions(gcreds, project: str, location: str) -> list[str]:
    """Versions GKE accepts for a new cluster here (any channel), newest first."""
    client = _client(container_v1.ClusterManagerClient, gcreds)
    config = call(
        client.get_server_config,
        name=f"projects/{project}/locations/{location}",
        retry=None,
        timeout=_TIMEOUT,
    )
    valid = set(config.valid_master_versions)
    for channel in config.channels:
        valid.update(channel.valid_versions)
    return sorted(valid, key=_version_key, reverse=True)


def _check_gke_version(gcreds, project: str, request: ClusterRequest) -> list[PreflightFailure]:
    offered = gke_versions(gcreds, project, request.region)
    want = request.kubernetes_version.lstrip("v")
    # "1.31" and "1.31.5" name any GKE build of that line, e.g. 1.31.5-gke.1234000
    if any(v == want or v.startswith((want + ".", want + "-")) for v in offered):
        return []
    return [
        PreflightFailure(
            "KubernetesVersionUnsupported",
            (
                f"GKE in {request.region} does not offer Kubernetes {want} "
                f"(requested {request.kubernetes_version}); offered: {_some(offered, 8)}"
            ),
        )
    ]


# --- cloud health ----------------------------------------------------------------------------

_GKE_STATE = {
    "PROVISIONING": "Provisioning",
    "RUNNING": "Healthy",
    "RECONCILING": "Healthy",
    "STOPPING": "Deleting",
    "ERROR": "Degraded",
    "DEGRADED": "Degraded",
}
_POOL_STATE = {
    "PROVISIONING": "Provisioning",
    "RUNNING": "Healthy",
    "RECONCILING": "Healthy",
    "STOPPING": "Healthy",
    "RUNNING_WITH_ERROR": "Degraded",
    "ERROR": "Degraded",
}
_INSTANCE_STATE = {
    "PROVISIONING": "Provisioning",
    "STAGING": "Provisioning",
    "RUNNING": "Healthy",
    "REPAIRING": "Degraded",
    "STOPPING": "Degraded",
    "STOPPED": "Degraded",
    "SUSPENDING": "Degraded",
    "SUSPENDED": "Degraded",
    "TERMINATED": "Degraded",
}


def cloud_health(request: ClusterRequest, credentials: Credentials | None) -> CloudHealth:
    try:
        creds = parse_credentials(credentials, request)
        gcreds = google_credentials(creds)
    except ProviderError as exc:
        return CloudHealth("Unknown", str(exc))
    if not request.region:
        return CloudHealth("Unknown", f"GCP cluster {request.name} has no region")
    try:
        with secrets_hidden(creds.secrets()):
            if request.flavor == defaults.MANAGED_FLAVOR:
                health = _gke_health(gcreds, creds.project, request)
            else:
                health = _instances_health(gcreds, creds.project, request)
    except _API_ERRORS as exc:
        health = CloudHealth("Unknown", f"GCP API call failed: {_explain(exc)}")
    secrets = creds.secrets()
    return CloudHealth(health.state, base.shorten(redact(health.message, secrets)), health.details)


def _condition_code(condition) -> str:
    if condition.canonical_code:  # a google.rpc.Code number
        return code_pb2.Code.Name(condition.canonical_code)
    return condition.code.name


def _conditions(where: str, conditions) -> list[str]:
    return [f"{where}: {_condition_code(c)}: {c.message}" for c in conditions]


def _gke_health(gcreds, project: str, request: ClusterRequest) -> CloudHealth:
    name = defaults.gke_cluster_name(request)
    client = _client(container_v1.ClusterManagerClient, gcreds)
    path = f"projects/{project}/locations/{request.region}/clusters/{name}"
    try:
        cluster = call(client.get_cluster, name=path, retry=None, timeout=_TIMEOUT)
    except google_exc.NotFound:
        return CloudHealth("NotFound", f"GKE cluster {name} does not exist in {request.region}")
    status = cluster.status.name
    details = {"gke.status": status, "gke.version": cluster.current_master_version}
    if status == "STOPPING":
        return CloudHealth("Deleting", f"GKE cluster {name} is being deleted", details)
    issues = _conditions("cluster", cluster.conditions)
    states = [_GKE_STATE.get(status, "Unknown"), "Degraded" if issues else "Healthy"]
    for pool in cluster.node_pools:
        details[f"nodepool.{pool.name}"] = pool.status.name
        pool_issues = _conditions(f"node pool {pool.name}", pool.conditions)
        states += [
            _POOL_STATE.get(pool.status.name, "Unknown"),
            "Degraded" if pool_issues else "Healthy",
        ]
        issues += pool_issues
    message = "; ".join(issues) or cluster.status_message or f"GKE cluster {name} is {status}"
    return CloudHealth(base.worst_state(states), message, details)


def _instances_health(gcreds, project: str, request: ClusterRequest) -> CloudHealth:
    region, zone = _region_of(request.region)
    label = defaults.owned_label(request.name)
    client = _client(compute_v1.InstancesClient, gcreds)
    scopes = call_list(
        client.aggregated_list,
        request={"project": project, "filter": f'labels.{label} = "owned"'},
        retry=None,
        timeout=_TIMEOUT,
    )
    instances = [
        i
        for scope, listed in scopes
        if scope.rsplit("/", 1)[-1].startswith(zone or region + "-")
        for i in listed.instances
    ]
    if not instances:
        return CloudHealth("NotFound", f"no instances labelled {label}=owned in {request.region}")
    states = Counter(i.status for i in instances)
    details = {f"instances.{s.lower()}": str(n) for s, n in sorted(states.items())}
    bad = sorted(
        i.name for i in instances if _INSTANCE_STATE.get(i.status, "Unknown") == "Degraded"
    )
    if bad:
        return CloudHealth(
            "Degraded", f"{len(bad)} instance(s) not running: {_some(bad, 5)}", details
        )
    starting = sum(n for s, n in states.items() if _INSTANCE_STATE.get(s) == "Provisioning")
    if starting:
        return CloudHealth(
            "Provisioning", f"{starting} of {len(instances)} instances starting", details
        )
    return CloudHealth("Healthy", f"{len(instances)} instances running", details)


# --- credential objects ----------------------------------------------------------------------


def credential_objects(request: ClusterRequest, credentials: Credentials) -> list[dict]:
    """The Secret CAPG reads: `defaults.credentials_secret_name(request)` in the cluster's
    namespace, key `credentials` holding the service-account JSON. The template must set
    `spec.credentialsRef: {name, namespace}` on GCPCluster (kubeadm) or GCPManagedCluster (GKE)."""
    creds = parse_credentials(credentials, request)
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": defaults.credentials_secret_name(request),
                "namespace": request.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "drover",
                    "drover.dev/cluster": request.name,
                },
            },
            "data": {"credentials": base64.b64encode(creds.text.encode()).decode()},
        }
    ]
