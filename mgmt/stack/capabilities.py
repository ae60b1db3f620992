"""What a member cluster can take, as helm's `.Capabilities` sees it: its Kubernetes version and
the API versions it serves (`group/version` and `group/version/Kind`, like `helm install` reads
them from discovery).

Read with three requests (/version and the aggregated discovery of /api and /apis) and kept per
member. They are read again when `ttl` has passed (things other tools install), when the
stack changed something on the member (a CRD it applied shows up in the next render), and when
the member's client changed (a new kubeconfig may be a new cluster).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field

from mgmt.kube import Kube, KubeError

# Aggregated discovery (GA in 1.30, beta since 1.26): every group, version and kind in one answer.
AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


@dataclass(frozen=True)
class Capabilities:
    """What a chart is rendered for; None/empty: helm's defaults (Kubernetes v1.20, built-in APIs)."""
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    digest: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        text = json.dumps([self.kube_version, sorted(self.api_versions)])
        object.__setattr__(self, "digest", hashlib.sha256(text.encode()).hexdigest())


async def discover(client: Kube, timeout: float | None = None) -> Capabilities:
    """The cluster's version and served API versions (KubeError when it cannot say)."""
    version, core, groups = await asyncio.gather(
        client.request("GET", "/version", timeout=timeout),
        client.request("GET", "/api", timeout=timeout, accept=AGGREGATED),
        client.request("GET", "/apis", timeout=timeout, accept=AGGREGATED))
    if not isinstance(version, dict) or not version.get("gitVersion"):
        raise KubeError(0, "BadVersion", f"/version answered {str(version)[:200]!r}")
    apis: set[str] = set()
    for listing in (core, groups):
        apis |= await _api_versions(client, listing, timeout)
    return Capabilities(version["gitVersion"], tuple(sorted(apis)))


async def _api_versions(client: Kube, listing, timeout: float | None) -> set[str]:
    if not isinstance(listing, dict):
        raise KubeError(0, "BadDiscovery", f"discovery answered {str(listing)[:200]!r}")
    if listing.get("kind") == "APIGroupDiscoveryList":
        return aggregated_versions(listing)
    # An API server without aggregated discovery: one request per group version.
    if listing.get("kind") == "APIVersions":
        group_versions = list(listing.get("versions") or [])
    else:
        group_versions = [v["groupVersion"] for g in listing.get("groups") or [] for v in g.get("versions") or []]
    out = set(group_versions)
    for gv in group_versions:
        path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
        try:
            resources = await client.request("GET", path, timeout=timeout)
        except KubeError as error:
            if error.status in (404, 503):  # an aggregated API that is down: its version stays listed
                continue
            raise
        out |= {f"{gv}/{r['kind']}" for r in resources.get("resources") or [] if r.get("kind")}
    return out


def aggregated_versions(listing: dict) -> set[str]:
    """`group/version` and `group/version/Kind` of an APIGroupDiscoveryList (subresources' kinds too,
    as helm lists them)."""
    out = set()
    for group in listing.get("items") or []:
        name = (group.get("metadata") or {}).get("name") or ""
        for version in group.get("versions") or []:
            gv = f"{name}/{version['version']}" if name else version["version"]
            out.add(gv)
            for resource in version.get("resources") or []:
                kinds = [resource.get("responseKind")] + [s.get("responseKind") for s in
                                                           resource.get("subresources") or []]
                out |= {f"{gv}/{k['kind']}" for k in kinds if k and k.get("kind")}
    return out


@dataclass
class _Known:
    capabilities: Capabilities
    client: Kube
    read_at: float
    stale: bool = False


class CapabilityCache:
    """Each member's capabilities, read at most once at a time and kept between syncs."""

    def __init__(self, ttl: float = 300.0, timeout: float = 5.0):
        self.ttl, self.timeout = ttl, timeout
        self._known: dict[tuple[str, str], _Known] = {}
        self._reading: dict[tuple[str, str], asyncio.Future] = {}

    async def get(self, key: tuple[str, str], client: Kube, reachable: bool = True) -> Capabilities:
        """`reachable=False` (the member did not answer last time): what is known is used as it is."""
        known = self._known.get(key)
        if known and known.client is client and (not reachable or self._fresh(known)):
            return known.capabilities
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(self._read(key, client))
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        try:
            return await asyncio.shield(reading)
        except KubeError:
            if known and known.client is client:
                return known.capabilities  # as last seen, until the member answers again
            raise

    def _fresh(self, known: _Known) -> bool:
        return not known.stale and time.monotonic() - known.read_at < self.ttl

    async def _read(self, key: tuple[str, str], client: Kube) -> Capabilities:
        capabilities = await discover(client, self.timeout)
        self._known[key] = _Known(capabilities, client, time.monotonic())
        return capabilities

    def changed(self, key: tuple[str, str]) -> None:
        """The member was changed (e.g. CRDs applied): read its capabilities again when next needed."""
        if key in self._known:
            self._known[key].stale = True

    def forget(self, key: tuple[str, str]) -> None:
        self._known.pop(key, None)
