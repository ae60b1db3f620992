"""DigitalOcean through python-digitalocean: token, preflight, cloud-side health and the Secret
CAPDO reads.

python-digitalocean turns HTTP errors into exceptions that keep only the message, and sets no
timeout. Every object here gets a requests session that raises `requests.HTTPError` (status kept,
so providers.retry can tell throttling from a bad token) and applies a timeout.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter

import digitalocean
import requests
from requests.adapters import HTTPAdapter

from providers import base
from providers.base import (
    CloudHealth,
    ClusterRequest,
    Credentials,
    PreflightFailure,
    ProviderError,
)
from providers.digitalocean import defaults
from providers.retry import (
    call,
    describe_error,
    hide_secrets_in_logs,
    http_status,
    is_transient,
    redact,
    secrets_hidden,
)

#: Keys that may hold the API token (CAPDO's own Secret uses `credentials`).
TOKEN_KEYS = ("DIGITALOCEAN_ACCESS_TOKEN", "token", "access-token", "credentials")
#: The base64 form clusterctl users keep for CAPDO.
B64_KEY = "DO_B64ENCODED_CREDENTIALS"
TIMEOUT = 20.0

# python-digitalocean masks the token in the request lines it logs; this covers its other messages.
hide_secrets_in_logs("digitalocean")


class _TimeoutAdapter(HTTPAdapter):
    def send(self, request, **kwargs):
        kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT
        return super().send(request, **kwargs)


def _raise_for_status(response: requests.Response, *args, **kwargs) -> None:
    response.raise_for_status()


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("https://", _TimeoutAdapter())
    session.mount("http://", _TimeoutAdapter())
    session.hooks["response"].append(_raise_for_status)
    return session


def _api(cls, token: str, **attributes):
    """A python-digitalocean object using our session (BaseAPI sets keyword arguments as attributes)."""
    return cls(token=token, _session=_session(), **attributes)


def parse_token(credentials: Credentials | None) -> str:
    """The API token from the Secret; errors name keys, never values."""
    if credentials is None:
        raise ProviderError("DigitalOcean clusters need a credentialsRef Secret")
    token = next(
        (credentials.get(k).strip() for k in TOKEN_KEYS if (credentials.get(k) or "").strip()), None
    )
    if token is None and credentials.get(B64_KEY):
        try:
            token = base64.b64decode(credentials[B64_KEY], validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            raise ProviderError(
                f"key {B64_KEY} of Secret {credentials.secret_name!r} is not base64"
            ) from None
    if not token:
        raise ProviderError(
            f"Secret {credentials.secret_name!r} has no DIGITALOCEAN_ACCESS_TOKEN (or token); "
            f"it has keys: {', '.join(sorted(credentials.keys())) or 'none'}"
        )
    return token


def _some(items, limit: int = 12) -> str:
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more or "none"


def _explain(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    try:
        message = response.json().get("message") if response is not None else None
    except ValueError:
        message = None
    return f"{describe_error(exc)}: {message}" if message else describe_error(exc)


def machine_types(request: ClusterRequest) -> dict[str, list[str]]:
    """Droplet size -> what asks for it."""
    return base.machine_types(request, defaults.MACHINE_TYPE)


# --- preflight -------------------------------------------------------------------------------


def preflight(request: ClusterRequest, credentials: Credentials | None) -> list[PreflightFailure]:
    try:
        token = parse_token(credentials)
    except ProviderError as exc:
        return [PreflightFailure("InvalidCredentials", str(exc))]
    if not request.region:
        return [
            PreflightFailure("RegionNotSet", f"DigitalOcean cluster {request.name} has no region")
        ]
    try:
        with secrets_hidden([token]):
            failures = _preflight(request, token, credentials.secret_name)
    except (requests.RequestException, digitalocean.Error) as exc:
        reason = "InsufficientPermissions" if http_status(exc) == 403 else "CloudAPIError"
        failures = [PreflightFailure(reason, f"DigitalOcean API call failed: {_explain(exc)}")]
    return [PreflightFailure(f.reason, redact(f.message, [token])) for f in failures]


def _preflight(request: ClusterRequest, token: str, secret: str) -> list[PreflightFailure]:
    account = _api(digitalocean.Account, token)
    try:
        call(account.load)
    except requests.HTTPError as exc:
        if is_transient(exc):
            raise
        return [
            PreflightFailure(
                "InvalidCredentials",
                f"DigitalOcean rejected the token in Secret {secret!r}: {_explain(exc)}",
            )
        ]
    if account.status == "locked":
        return [
            PreflightFailure(
                "AccountLocked", f"the DigitalOcean account is locked: {account.status_message}"
            )
        ]
    manager = _api(digitalocean.Manager, token)
    regions = {r.slug: r for r in call(manager.get_all_regions)}
    available = sorted(slug for slug, r in regions.items() if r.available)
    if request.region not in regions:
        return [
            PreflightFailure(
                "RegionNotFound",
                f"DigitalOcean region {request.region!r} does not exist; regions: {_some(available)}",
            )
        ]
    if not regions[request.region].available:
        return [
            PreflightFailure(
                "RegionNotAvailable",
                (
                    f"DigitalOcean region {request.region} does not take new droplets; available: {_some(available)}"
                ),
            )
        ]
    return _check_sizes(manager, request) + _check_images(token, request)


def _check_sizes(manager: digitalocean.Manager, request: ClusterRequest) -> list[PreflightFailure]:
    sizes = {s.slug: s for s in call(manager.get_all_sizes)}
    here = sorted(
        slug
        for slug, s in sizes.items()
        if request.region in (s.regions or []) and getattr(s, "available", True)
    )
    failures = []
    for size, users in machine_types(request).items():
        if size in here:
            continue
        similar = [s for s in here if s.split("-")[0] == size.split("-")[0]] or here
        where = f"droplet size {size} ({', '.join(users)})"
        if size in sizes:
            message = f"{where} is not offered in {request.region}; offered: {_some(similar)}"
        else:
            message = f"{where} does not exist; sizes in {request.region}: {_some(similar)}"
        failures.append(PreflightFailure("MachineTypeNotOffered", message))
    return failures


def _check_images(token: str, request: ClusterRequest) -> list[PreflightFailure]:
    failures = []
    images: dict[str, str] = {}  # image -> the first variable naming it
    for variable in defaults.IMAGE_VARIABLES:
        if request.variables.get(variable):
            images.setdefault(request.variables[variable], variable)
    for ref, variable in images.items():
        by_id = ref.isdigit()
        image = _api(digitalocean.Image, token, **({"id": int(ref)} if by_id else {"slug": ref}))
        try:
            call(image.load, use_slug=not by_id)
        except requests.HTTPError as exc:
            if http_status(exc) != 404:
                raise
            failures.append(
                PreflightFailure("ImageNotFound", f"image {ref} ({variable}) does not exist")
            )
            continue
        if request.region not in (image.regions or []):
            failures.append(
                PreflightFailure(
                    "ImageNotFound",
                    (
                        f"image {ref} ({variable}) is not available in {request.region}; "
                        f"it is in: {_some(sorted(image.regions or []))}"
                    ),
                )
            )
    return failures


# --- cloud health ----------------------------------------------------------------------------


def cloud_health(request: ClusterRequest, credentials: Credentials | None) -> CloudHealth:
    try:
        token = parse_token(credentials)
    except ProviderError as exc:
        return CloudHealth("Unknown", str(exc))
    try:
        with secrets_hidden([token]):
            health = _health(request, token)
    except (requests.RequestException, digitalocean.Error) as exc:
        health = CloudHealth("Unknown", f"DigitalOcean API call failed: {_explain(exc)}")
    return CloudHealth(health.state, redact(health.message, [token]), health.details)


def _health(request: ClusterRequest, token: str) -> CloudHealth:
    manager = _api(digitalocean.Manager, token)
    tag, lb_name = defaults.cluster_tag(request.name), defaults.load_balancer_name(request.name)
    droplets = call(manager.get_all_droplets, tag_name=tag)
    balancer = next((lb for lb in call(manager.get_all_load_balancers) if lb.name == lb_name), None)
    if not droplets and balancer is None:
        return CloudHealth("NotFound", f"no droplets tagged {tag} and no load balancer {lb_name}")
    statuses = Counter(d.status for d in droplets)
    details = {f"droplets.{status}": str(n) for status, n in sorted(statuses.items())}
    details["loadBalancer"] = balancer.status if balancer else "missing"
    problems = sorted(
        f"droplet {d.name} is {d.status}" for d in droplets if d.status in ("off", "archive")
    )
    if balancer is None:
        problems.append(f"load balancer {lb_name} does not exist")
    elif balancer.status == "errored":
        problems.append(f"load balancer {lb_name} is errored")
    if problems:
        return CloudHealth("Degraded", "; ".join(problems), details)
    if statuses["new"] or balancer.status == "new" or not droplets:
        return CloudHealth(
            "Provisioning",
            f"{statuses['active']} of {len(droplets)} droplets active, "
            f"load balancer {balancer.status}",
            details,
        )
    return CloudHealth("Healthy", f"{len(droplets)} droplets active, load balancer active", details)


# --- credential objects ----------------------------------------------------------------------


def credential_objects(request: ClusterRequest, credentials: Credentials) -> list[dict]:
    """CAPDO has no per-cluster credentials: its manager reads DIGITALOCEAN_ACCESS_TOKEN from the
    Secret `capdo-manager-bootstrap-credentials` (key `credentials`) in `capdo-system` when it
    starts. This returns that Secret with the token, so all DigitalOcean clusters of a management
    cluster share one account, and a changed token needs a CAPDO restart. Templates reference
    nothing."""
    token = parse_token(credentials)
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": defaults.CAPDO_SECRET,
                "namespace": defaults.CAPDO_NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "drover"},
            },
            "data": {"credentials": base64.b64encode(token.encode()).decode()},
        }
    ]
