"""AWS through boto3's core, botocore: credentials, preflight, cloud-side health and CAPA
identities.

Endpoints: botocore resolves `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) by itself and
nothing here passes `endpoint_url`, so pointing the controller at a moto server is only that
environment variable. Sessions are botocore's (not `boto3.Session`, which adds its resource path
to the shared model loader on every construction); clients are the same either way.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import functools
import logging
from collections import Counter
from dataclasses import dataclass

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from providers import base
from providers.aws import defaults
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
    error_code,
    hide_secrets_in_logs,
    http_status,
    is_transient,
    redact,
    secrets_hidden,
)

log = logging.getLogger(__name__)

# botocore logs signed requests (access key ID, session token) and response bodies (AssumeRole's
# keys) at DEBUG.
hide_secrets_in_logs("botocore.endpoint", "botocore.auth", "botocore.parsers")

# One attempt per botocore call: providers.retry is the only retry loop.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=20,
)
_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
}
_IDENTITY_API = "infrastructure.cluster.x-k8s.io/v1beta2"

ACCESS_KEY_KEYS = ("AWS_ACCESS_KEY_ID", "aws_access_key_id", "AccessKeyID")
SECRET_KEY_KEYS = ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key", "SecretAccessKey")
SESSION_TOKEN_KEYS = ("AWS_SESSION_TOKEN", "aws_session_token", "SessionToken")
ROLE_ARN_KEYS = ("AWS_ROLE_ARN", "role_arn", "RoleARN")
EXTERNAL_ID_KEYS = ("AWS_EXTERNAL_ID", "external_id", "ExternalID")
#: clusterawsadm's base64-encoded profile, or the text of a ~/.aws/credentials file.
PROFILE_KEYS = ("AWS_B64ENCODED_CREDENTIALS", "credentials")


@dataclass(frozen=True, repr=False)
class AwsCredentials:
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    role_arn: str | None = None
    external_id: str | None = None

    def secrets(self) -> list[str | None]:
        # not the external ID: AWS does not treat it as secret, and CAPA keeps it in a spec
        return [self.access_key_id, self.secret_access_key, self.session_token]

    def __repr__(self) -> str:
        return f"AwsCredentials(static_keys={bool(self.access_key_id)}, role_arn={self.role_arn!r})"


def _first(data, keys) -> str | None:
    return next((data.get(k).strip() for k in keys if data.get(k) and data.get(k).strip()), None)


def _profile(credentials: Credentials) -> dict | None:
    """The [default] (or only) section of an AWS credentials file kept in the Secret."""
    key = next((k for k in PROFILE_KEYS if credentials.get(k)), None)
    if key is None:
        return None
    where = f"key {key} of Secret {credentials.secret_name!r}"
    try:
        text = credentials[key]
        if key == "AWS_B64ENCODED_CREDENTIALS":
            text = base64.b64decode(text, validate=True).decode()
        parser = configparser.ConfigParser()
        parser.read_string(text)
    except (binascii.Error, UnicodeDecodeError, configparser.Error):
        # `from None`: configparser errors quote the offending line, which may be a key.
        raise ProviderError(f"{where} is not an AWS credentials profile") from None
    sections = parser.sections()
    if not sections:
        raise ProviderError(f"{where} has no profile section")
    return dict(parser["default" if "default" in sections else sections[0]])


def parse_credentials(credentials: Credentials | None) -> AwsCredentials:
    """Access keys and/or a role from the Secret; errors name keys, never values."""
    if credentials is None:
        raise ProviderError("AWS clusters need a credentialsRef Secret")
    data = _profile(credentials) or credentials
    creds = AwsCredentials(
        access_key_id=_first(data, ACCESS_KEY_KEYS),
        secret_access_key=_first(data, SECRET_KEY_KEYS),
        session_token=_first(data, SESSION_TOKEN_KEYS),
        role_arn=_first(data, ROLE_ARN_KEYS),
        external_id=_first(data, EXTERNAL_ID_KEYS),
    )
    where = f"Secret {credentials.secret_name!r}"
    if creds.access_key_id and not creds.secret_access_key:
        raise ProviderError(f"{where} has AWS_ACCESS_KEY_ID but no AWS_SECRET_ACCESS_KEY")
    if creds.secret_access_key and not creds.access_key_id:
        raise ProviderError(f"{where} has AWS_SECRET_ACCESS_KEY but no AWS_ACCESS_KEY_ID")
    if not creds.access_key_id and not creds.role_arn:
        raise ProviderError(
            f"{where} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN "
            f"(it has keys: {', '.join(sorted(credentials.keys())) or 'none'})"
        )
    return creds


# Sessions share one loader so that the (large) API models are parsed once per process, not per
# call; a loader is read-only once loaded.
_LOADER = botocore.session.get_session().get_component("data_loader")


def _new_session(
    region: str, key: str | None = None, secret: str | None = None, token: str | None = None
) -> botocore.session.Session:
    """boto3's core session; without keys it finds the controller's own credentials."""
    sess = botocore.session.get_session()
    sess.register_component("data_loader", _LOADER)
    sess.set_config_variable("region", region)
    if key:
        sess.set_credentials(key, secret, token)
    return sess


def session(creds: AwsCredentials, region: str) -> botocore.session.Session:
    """A session with the access keys, or with the role assumed (from the keys, else from the
    controller's own identity)."""
    base = _new_session(region, creds.access_key_id, creds.secret_access_key, creds.session_token)
    if not creds.role_arn:
        return base
    extra = {"ExternalId": creds.external_id} if creds.external_id else {}
    sts = _client(base, "sts")
    out = call(sts.assume_role, RoleArn=creds.role_arn, RoleSessionName="drover", **extra)[
        "Credentials"
    ]
    return _new_session(region, out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"])


def _client(sess: botocore.session.Session, service: str, region: str | None = None):
    return sess.create_client(service, region_name=region, config=_CONFIG)


@functools.cache
def _known_regions() -> frozenset[str]:
    """Regions botocore has endpoints for, in every partition (static data; loading it is slow)."""
    known = _new_session("us-east-1")
    return frozenset(
        region
        for partition in known.get_available_partitions()
        for region in known.get_available_regions("ec2", partition_name=partition)
    )


def _api_region(region: str) -> str:
    """Where to ask global questions: the region itself if botocore knows it (so the right
    partition answers), else us-east-1, as an unknown name has no endpoint to ask."""
    return region if region in _known_regions() else "us-east-1"


def _some(items, limit: int = 12) -> str:
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more or "none"


def _explain(exc: Exception) -> str:
    text = describe_error(exc)
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message")
        text = f"{exc.operation_name}: {text}" + (f": {message}" if message else "")
    return text


def _minor(version: str) -> str:
    return ".".join(version.lstrip("v").split(".")[:2])


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def machine_types(request: ClusterRequest) -> dict[str, list[str]]:
    """Instance type -> what asks for it; the EKS control plane has no instances of ours."""
    return base.machine_types(request, defaults.MACHINE_TYPE, request.flavor != defaults.MANAGED_FLAVOR)


# --- preflight -------------------------------------------------------------------------------


def preflight(request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
    try:
        creds = parse_credentials(credentials)
    except ProviderError as exc:
        return [PreflightFailure("InvalidCredentials", str(exc))]
    if not request.region:
        return [PreflightFailure("RegionNotSet", f"AWS cluster {request.name} has no region")]
    try:
        with secrets_hidden(creds.secrets()):
            failures = _preflight(request, creds, credentials.secret_name)
    except (ClientError, BotoCoreError) as exc:
        reason = "InsufficientPermissions" if error_code(exc) in _DENIED else "CloudAPIError"
        failures = [PreflightFailure(reason, f"AWS API call failed: {_explain(exc)}")]
    secrets = creds.secrets()
    return [PreflightFailure(f.reason, redact(f.message, secrets)) for f in failures]


def _preflight(
    request: ClusterRequest, creds: AwsCredentials, secret: str
) -> list[PreflightFailure]:
    api_region = _api_region(request.region)
    try:
        sess = session(creds, api_region)
        call(_client(sess, "sts").get_caller_identity)
    except (ClientError, NoCredentialsError) as exc:
        if is_transient(exc):
            raise
        return [
            PreflightFailure(
                "InvalidCredentials",
                f"AWS rejected the credentials in Secret {secret!r}: {_explain(exc)}",
            )
        ]
    failure = _check_region(sess, api_region, request.region)
    if failure:
        return [failure]
    ec2 = _client(sess, "ec2", request.region)
    failures = _check_instance_types(ec2, request)
    if request.flavor == defaults.MANAGED_FLAVOR:
        eks = _client(sess, "eks", request.region)
        failures += _check_eks_version(eks, request)
    return failures


def _check_region(
    sess: botocore.session.Session, api_region: str, region: str
) -> PreflightFailure | None:
    ec2 = _client(sess, "ec2", api_region)
    regions = call(ec2.describe_regions, AllRegions=True)["Regions"]
    opt_in = {r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") for r in regions}
    if region not in opt_in:
        # Only the regions of its area (us-nowhere-1: us-east-1, ...): the whole list is cut
        # alphabetically long before the one meant.
        prefix = region.split("-")[0]
        area = [r for r in sorted(opt_in) if r.split("-")[0] == prefix]
        listed = (
            f"regions in {prefix}-*: {_some(area)}" if area else f"regions: {_some(sorted(opt_in))}"
        )
        return PreflightFailure("RegionNotFound", f"AWS region {region!r} does not exist; {listed}")
    if opt_in[region] == "not-opted-in":
        return PreflightFailure(
            "RegionNotEnabled",
            f"AWS region {region} is not enabled for this account (it is opt-in)",
        )
    return None


def _check_instance_types(ec2, request: ClusterRequest) -> list[PreflightFailure]:
    wanted = machine_types(request)
    if not wanted:
        return []
    pages = call_list(
        ec2.get_paginator("describe_instance_type_offerings").paginate,
        LocationType="region",
    )
    offered = sorted({o["InstanceType"] for page in pages for o in page["InstanceTypeOfferings"]})
    failures = []
    for itype, users in wanted.items():
        if itype in offered:
            continue
        family = itype.split(".")[0] + "."
        similar = [t for t in offered if t.startswith(family)] or offered
        failures.append(
            PreflightFailure(
                "MachineTypeNotOffered",
                (
                    f"instance type {itype} ({', '.join(users)}) is not offered in {request.region}; "
                    f"offered: {_some(similar)}"
                ),
            )
        )
    return failures


def eks_versions(eks) -> list[str] | None:
    """Kubernetes versions EKS offers, newest first; None where the API is missing (old botocore,
    moto)."""
    if not hasattr(eks, "describe_cluster_versions"):
        return None
    try:
        pages = call_list(eks.get_paginator("describe_cluster_versions").paginate)
    except ClientError as exc:
        if http_status(exc) == 404 or error_code(exc) in (
            "UnknownOperationException",
            "InvalidAction",
        ):
            return None
        raise
    versions = {
        v["clusterVersion"]
        for page in pages
        for v in page["clusterVersions"]
        if v.get("versionStatus") != "UNSUPPORTED"
    }
    return sorted(versions, key=_version_key, reverse=True)


def _check_eks_version(eks, request: ClusterRequest) -> list[PreflightFailure]:
    offered = eks_versions(eks)
    if offered is None:
        log.info("EKS version listing unavailable; not checking the version of %s", request.name)
        return []
    minor = _minor(request.kubernetes_version)
    if minor in offered:
        return []
    return [
        PreflightFailure(
            "KubernetesVersionUnsupported",
            (
                f"EKS in {request.region} does not offer Kubernetes {minor} "
                f"(requested {request.kubernetes_version}); offered: {_some(offered)}"
            ),
        )
    ]


# --- cloud health ----------------------------------------------------------------------------

_EKS_STATE = {
    "CREATING": "Provisioning",
    "PENDING": "Provisioning",
    "ACTIVE": "Healthy",
    "UPDATING": "Healthy",
    "DELETING": "Deleting",
    "FAILED": "Degraded",
}
_NODEGROUP_STATE = {
    "CREATING": "Provisioning",
    "ACTIVE": "Healthy",
    "UPDATING": "Healthy",
    "DELETING": "Healthy",
    "CREATE_FAILED": "Degraded",
    "DELETE_FAILED": "Degraded",
    "DEGRADED": "Degraded",
}
_BAD_INSTANCE_STATES = {"shutting-down", "stopping", "stopped"}


def cloud_health(request: ClusterRequest, credentials: Credentials | None) -> CloudHealth:
    try:
        creds = parse_credentials(credentials)
    except ProviderError as exc:
        return CloudHealth("Unknown", str(exc))
    if not request.region:
        return CloudHealth("Unknown", f"AWS cluster {request.name} has no region")
    try:
        with secrets_hidden(creds.secrets()):
            sess = session(creds, request.region)
            if request.flavor == defaults.MANAGED_FLAVOR:
                health = _eks_health(sess, request)
            else:
                health = _instances_health(sess, request)
    except (ClientError, BotoCoreError) as exc:
        health = CloudHealth("Unknown", f"AWS API call failed: {_explain(exc)}")
    secrets = creds.secrets()
    return CloudHealth(health.state, base.shorten(redact(health.message, secrets)), health.details)


def _issues(where: str, health: dict | None) -> list[str]:
    return [
        f"{where}: {i.get('code')}: {i.get('message')}" for i in (health or {}).get("issues", [])
    ]


def _eks_health(sess: botocore.session.Session, request: ClusterRequest) -> CloudHealth:
    eks = _client(sess, "eks")
    name = defaults.eks_cluster_name(request)
    try:
        cluster = call(eks.describe_cluster, name=name)["cluster"]
    except eks.exceptions.ResourceNotFoundException:
        return CloudHealth("NotFound", f"EKS cluster {name} does not exist in {request.region}")
    status = cluster["status"]
    details = {"eks.status": status, "eks.version": cluster.get("version", "")}
    if status == "DELETING":
        return CloudHealth("Deleting", f"EKS cluster {name} is being deleted", details)
    issues = _issues("cluster", cluster.get("health"))
    states = [_EKS_STATE.get(status, "Unknown"), "Degraded" if issues else "Healthy"]
    pages = call_list(eks.get_paginator("list_nodegroups").paginate, clusterName=name)
    for group in (g for page in pages for g in page["nodegroups"]):
        nodegroup = call(eks.describe_nodegroup, clusterName=name, nodegroupName=group)["nodegroup"]
        details[f"nodegroup.{group}"] = nodegroup["status"]
        group_issues = _issues(f"nodegroup {group}", nodegroup.get("health"))
        states += [
            _NODEGROUP_STATE.get(nodegroup["status"], "Unknown"),
            "Degraded" if group_issues else "Healthy",
        ]
        issues += group_issues
    message = "; ".join(issues) or f"EKS cluster {name} is {status}"
    return CloudHealth(base.worst_state(states), message, details)


def _impaired(ec2, instance_ids: list[str]) -> list[str]:
    impaired = []
    for start in range(0, len(instance_ids), 100):
        pages = call_list(
            ec2.get_paginator("describe_instance_status").paginate,
            InstanceIds=instance_ids[start : start + 100],
        )
        impaired += [
            s["InstanceId"]
            for page in pages
            for s in page["InstanceStatuses"]
            if "impaired"
            in (s.get("InstanceStatus", {}).get("Status"), s.get("SystemStatus", {}).get("Status"))
        ]
    return impaired


def _instances_health(sess: botocore.session.Session, request: ClusterRequest) -> CloudHealth:
    ec2 = _client(sess, "ec2")
    tag = defaults.owned_tag(request.name)
    filters = [
        {"Name": f"tag:{tag}", "Values": ["owned"]},
        {"Name": "instance-state-name", "Values": ["pending", "running", *_BAD_INSTANCE_STATES]},
    ]
    pages = call_list(ec2.get_paginator("describe_instances").paginate, Filters=filters)
    instances = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
    if not instances:
        return CloudHealth("NotFound", f"no EC2 instances tagged {tag}=owned in {request.region}")
    states = Counter(i["State"]["Name"] for i in instances)
    details = {f"instances.{state}": str(n) for state, n in sorted(states.items())}
    impaired = _impaired(
        ec2, [i["InstanceId"] for i in instances if i["State"]["Name"] == "running"]
    )
    if impaired:
        details["instances.impaired"] = str(len(impaired))
    bad = sorted(i["InstanceId"] for i in instances if i["State"]["Name"] in _BAD_INSTANCE_STATES)
    if bad or impaired:
        return CloudHealth(
            "Degraded",
            (
                f"{len(bad)} instance(s) stopped or stopping: {_some(bad, 5)}; "
                f"{len(impaired)} failing status checks: {_some(sorted(impaired), 5)}"
            ),
            details,
        )
    if states["pending"]:
        return CloudHealth(
            "Provisioning", f"{states['pending']} of {len(instances)} instances pending", details
        )
    return CloudHealth("Healthy", f"{len(instances)} instances running", details)


# --- credential objects ----------------------------------------------------------------------


def identity_ref(request: ClusterRequest, credentials: Credentials) -> dict:
    """What AWSCluster / AWSManagedControlPlane `spec.identityRef` must be: {kind, name}."""
    kind = (
        "AWSClusterRoleIdentity"
        if parse_credentials(credentials).role_arn
        else "AWSClusterStaticIdentity"
    )
    return {"kind": kind, "name": defaults.identity_name(request)}


def _labels(request: ClusterRequest) -> dict:
    return {
        "app.kubernetes.io/managed-by": "drover",
        "drover.dev/cluster": request.name,
        "drover.dev/cluster-namespace": request.namespace,
    }


def credential_objects(request: ClusterRequest, credentials: Credentials) -> list[dict]:
    """CAPA identities for the cluster, all cluster-scoped except the key Secret:

    - access keys: Secret `<identity>` in `capa-system` (AccessKeyID, SecretAccessKey,
      SessionToken) and an `AWSClusterStaticIdentity` `<identity>` whose `secretRef` names it;
    - a role: an `AWSClusterRoleIdentity` `<identity>` (roleARN, externalID) whose
      `sourceIdentityRef` is the static identity, renamed `<identity>-source`, when keys are given
      too (without keys CAPA assumes the role from its own controller identity).

    `<identity>` is `defaults.identity_name(request)`; every identity allows only the cluster's
    namespace. The template must set `spec.identityRef: {kind, name}` from `identity_ref()`.
    """
    creds = parse_credentials(credentials)
    name = defaults.identity_name(request)
    allowed = {"list": [request.namespace]}
    objects: list[dict] = []
    static_name = f"{name}-source"[:253] if creds.role_arn else name
    if creds.access_key_id:
        data = {"AccessKeyID": creds.access_key_id, "SecretAccessKey": creds.secret_access_key}
        if creds.session_token:
            data["SessionToken"] = creds.session_token
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {
                    "name": static_name,
                    "namespace": defaults.CAPA_NAMESPACE,
                    "labels": _labels(request),
                },
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
        )
        objects.append(
            {
                "apiVersion": _IDENTITY_API,
                "kind": "AWSClusterStaticIdentity",
                "metadata": {"name": static_name, "labels": _labels(request)},
                "spec": {"secretRef": static_name, "allowedNamespaces": allowed},
            }
        )
    if creds.role_arn:
        spec = {
            "roleARN": creds.role_arn,
            "sessionName": f"drover-{request.name}"[:64],
            "allowedNamespaces": allowed,
        }
        if creds.external_id:
            spec["externalID"] = creds.external_id
        if creds.access_key_id:
            spec["sourceIdentityRef"] = {"kind": "AWSClusterStaticIdentity", "name": static_name}
        objects.append(
            {
                "apiVersion": _IDENTITY_API,
                "kind": "AWSClusterRoleIdentity",
                "metadata": {"name": name, "labels": _labels(request)},
                "spec": spec,
            }
        )
    return objects
