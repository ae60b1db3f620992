"""Declared clusters: preflight, render and apply each one's Cluster API objects."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import providers
from mgmt import templating
from mgmt.api.models import ClusterSpec
from mgmt.controller import cache
from mgmt.controller import credentials as creds
from mgmt.controller.objects import apply_if_changed, fleet_manager
from mgmt.kube import Kube, KubeError, object_ref
from mgmt.render import WORKER_KINDS, apply_order, cluster_request, is_cluster, render_cluster
from providers.base import ClusterRequest, PreflightFailure, ProviderError

log = logging.getLogger("drover.clusters")

CONFLICT_HINT = (" (another field manager set it: Drover leaves it as it is until it is set back there, "
                 "or the Fleet declares the same value)")


class RenderedClusters:
    """Each cluster's rendered objects, by its request, kept as compact JSON up to `max_bytes` (least
    recently used go first): a resync of a steady fleet renders nothing, and a hit is a fresh copy
    the caller may change. A cluster rendered with cloud credentials is not kept: its objects hold
    them, and credentials stay in memory no longer than a read."""

    def __init__(self, max_bytes: int = 64 << 20):
        self.max_bytes = max_bytes
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def objects(self, request: ClusterRequest, credentials) -> list[dict]:
        if credentials is not None:
            return render_cluster(request, credentials)
        key = creds.spec_key(request, "")
        text = self._texts.get(key)
        if text is None:
            text = json.dumps(render_cluster(request, credentials), separators=(",", ":"))
            self._texts[key] = text
            self._bytes += len(text)
            while self._bytes > self.max_bytes and len(self._texts) > 1:
                self._bytes -= len(self._texts.popitem(last=False)[1])
        else:
            self._texts.move_to_end(key)
        return json.loads(text)


RENDERED = RenderedClusters()


@dataclass
class Outcome:
    """What happened to one declared cluster in one reconcile."""

    request: ClusterRequest
    failure: PreflightFailure | None = None   # reason/message when the cluster got no (new) objects
    preflight: str = "NotNeeded"              # NotNeeded | Passed | Failed
    written: list[str] = field(default_factory=list)
    upgrading_workers: bool = False           # worker versions held until the control plane is done


async def reconcile(kube: Kube, preflight: creds.Preflight, spec: ClusterSpec, namespace: str,
                    fleet: str) -> Outcome:
    request = cluster_request(spec, namespace, fleet)
    outcome = Outcome(request)
    provider = providers.get(request.provider)
    credentials = None
    if provider.needs_credentials:
        try:
            credentials, version = await creds.read(kube, namespace, spec.credentials_ref.name)
        except creds.CredentialsMissing as error:
            outcome.failure, outcome.preflight = PreflightFailure("CredentialsNotFound", str(error)), "Failed"
            return outcome
        failures = [] if spec.skip_preflight else await preflight.check(request, credentials, version)
        if failures:
            outcome.preflight = "Failed"
            outcome.failure = PreflightFailure(failures[0].reason, "; ".join(f.message for f in failures))
            return outcome
        outcome.preflight = "Skipped" if spec.skip_preflight else "Passed"
    try:
        objects = RENDERED.objects(request, credentials)
    except (templating.TemplateError, ProviderError) as error:
        outcome.failure = PreflightFailure("TemplateError", str(error))
        return outcome
    outcome.upgrading_workers = await _hold_worker_versions(kube, objects)
    manager = fleet_manager(namespace, fleet)
    for obj in [*await _missing_namespaces(kube, objects, namespace), *apply_order(objects)]:
        try:
            written = await _write(kube, obj, manager)
        except KubeError as error:
            outcome.failure = PreflightFailure("ApplyFailed", f"{object_ref(obj)}: {error.message or error}"
                                               + (CONFLICT_HINT if error.status == 409 else ""))
            return outcome
        if written:
            outcome.written.append(object_ref(obj))
    if outcome.written:
        log.info("cluster %s/%s: applied %s", namespace, spec.name, ", ".join(outcome.written))
    return outcome


async def _write(kube: Kube, obj: dict, manager: str) -> bool:
    """Apply `obj`; True when written. A missing Namespace is created instead: applying one needs
    patch on namespaces, which would let the controller relabel any namespace (pod security...)."""
    if obj["kind"] != "Namespace":
        return (await apply_if_changed(kube, obj, manager))[1]
    try:
        await kube.create(obj)
    except KubeError as error:
        if error.status != 409:  # made meanwhile
            raise
        return False
    return True


async def _missing_namespaces(kube: Kube, objects: list[dict], own: str) -> list[dict]:
    """Namespaces other than the Fleet's that objects go to (a CAPI provider's, for its
    credentials) and that do not exist yet."""
    wanted = {o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace", own) != own}
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in sorted(wanted)
            if await kube.get("v1", "Namespace", name) is None]


async def _hold_worker_versions(kube: Kube, objects: list[dict]) -> bool:
    """Control plane first, then workers: while the control plane has not reached the desired
    version, worker pools keep the version they run. True when some pool is being held."""
    cluster = next((o for o in objects if is_cluster(o)), None)
    ref = (cluster or {}).get("spec", {}).get("controlPlaneRef")
    if not ref:
        return False
    control_plane = next((o for o in objects if o["kind"] == ref["kind"]
                          and o["metadata"]["name"] == ref["name"]), None)
    if control_plane is None:
        return False
    live_cp = await cache.of(kube).get(control_plane)
    desired = control_plane.get("spec", {}).get("version")
    if live_cp is None or not desired or (live_cp.get("status") or {}).get("version") == desired:
        return False
    held = False
    for obj in objects:
        if obj["kind"] not in WORKER_KINDS:
            continue
        live = await cache.of(kube).get(obj)
        running = (live or {}).get("spec", {}).get("template", {}).get("spec", {}).get("version")
        if running and running != desired:
            obj["spec"]["template"]["spec"]["version"] = running
            held = True
    return held
