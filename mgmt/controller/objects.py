"""Apply rendered objects to the management cluster only when they differ from what is there."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import providers
from mgmt.api.models import CLUSTER_NAME_LABEL, FLEET_LABEL, FLEET_NAMESPACE_LABEL
from mgmt.controller import cache
from mgmt.kube import FIELD_MANAGER, Kube, KubeError, object_ref

ORPHANED_ANNOTATION = "fleet.drover.dev/orphaned-from"


def contains(live: Any, desired: Any) -> bool:
    """True when every field of `desired` has the same value in `live` (lists compared whole)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in desired.items()
                                              if v is not None)
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(
            contains(a, b) for a, b in zip(live, desired))
    return live == desired


def fleet_manager(namespace: str, fleet: str) -> str:
    """The field manager of everything one Fleet applies: its own, so that two Fleets (or a Fleet
    and a person) wanting different values of one field is a conflict, not a silent overwrite."""
    return f"{FIELD_MANAGER}/{namespace}/{fleet}"


_CONFLICT_WITH = re.compile(r'conflict with "([^"]*)"')


async def apply_if_changed(kube: Kube, obj: dict, manager: str | None = None) -> tuple[dict, bool]:
    """Server-side apply `obj` unless the live object already holds it; returns (live, written).
    The live object is read from the watch-backed cache (`mgmt.controller.cache`): an unchanged
    object costs no request. What is returned must not be modified.

    With `manager` (a Fleet's), the apply does not force: a field another manager set to another
    value is a conflict (a KubeError naming the manager and the field), left as it is. The one
    manager taken over is `drover`, under which every Fleet applied before managers were per Fleet.
    """
    objects = cache.of(kube)
    live = await objects.get(obj)
    if live is not None and contains(live, {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}):
        return live, False
    if manager is None:
        live = await kube.apply(obj)
    else:
        try:
            live = await kube.apply(obj, manager=manager, force=False)
        except KubeError as error:
            if error.status != 409 or set(_CONFLICT_WITH.findall(error.message)) != {FIELD_MANAGER}:
                raise
            live = await kube.apply(obj, manager=manager, force=True)
    objects.observe(live)
    return live, True


_KIND_LINE = re.compile(r"^apiVersion:\s*(\S+)\s*\nkind:\s*(\S+)", re.MULTILINE)


def template_kinds(provider: str, flavor: str | None) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every object a provider's template (and its credentials) make."""
    impl = providers.get(provider)
    text = impl.template(providers.resolve_flavor(provider, flavor))
    kinds = {(a.strip('"'), k.strip('"')) for a, k in _KIND_LINE.findall(text)}
    kinds |= set(impl.credential_kinds)
    kinds.add(("v1", "Secret"))
    return sorted(kinds)


async def owned_objects(kube: Kube, namespace: str, fleet: str, cluster: str,
                        kinds: Iterable[tuple[str, str]]) -> list[dict]:
    """Every object of `kinds` labelled as this fleet's cluster, in any namespace (credentials
    live in the CAPI provider's namespace) or none."""
    labels = {FLEET_LABEL: fleet, FLEET_NAMESPACE_LABEL: namespace, CLUSTER_NAME_LABEL: cluster}
    found = []
    for api_version, kind in kinds:
        try:
            found += await kube.list(api_version, kind, None, labels)
        except KubeError as error:
            if not error.not_found:
                raise  # else: a provider whose CRDs are not installed here
    return found


async def orphan(kube: Kube, obj: dict, fleet: str) -> None:
    """Let go of an object: drop the fleet label and say where it came from."""
    meta = obj["metadata"]
    await kube.patch(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), {
        "metadata": {"labels": {FLEET_LABEL: None, FLEET_NAMESPACE_LABEL: None},
                     "annotations": {ORPHANED_ANNOTATION: fleet}}})


def describe(objects: Iterable[dict]) -> str:
    return ", ".join(object_ref(o) for o in objects)
