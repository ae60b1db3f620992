"""Rendered objects: parsing, identity (`Ref`), labels, default namespace, revision."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from mgmt import kubeyaml
from mgmt.api.models import FLEET_LABEL

COMPONENT_LABEL = "fleet.drover.dev/component"
CRD_API = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"


class SourceError(Exception):
    """A component's source cannot be turned into objects."""


class Ref(NamedTuple):
    api_version: str
    kind: str
    namespace: str   # "" for cluster-scoped objects
    name: str

    @classmethod
    def of(cls, obj: dict) -> Ref:
        meta = obj["metadata"]
        return cls(obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


def is_crd(obj_or_ref) -> bool:
    kind = obj_or_ref.kind if isinstance(obj_or_ref, Ref) else obj_or_ref.get("kind")
    api = obj_or_ref.api_version if isinstance(obj_or_ref, Ref) else obj_or_ref.get("apiVersion")
    return kind == CRD_KIND and api == CRD_API


def is_namespace(obj_or_ref) -> bool:
    kind = obj_or_ref.kind if isinstance(obj_or_ref, Ref) else obj_or_ref.get("kind")
    return kind == "Namespace"


def parse_documents(text: str, origin: str) -> list[dict]:
    """Objects of a multi-document YAML or JSON text, read as kubectl reads it (empty documents
    skipped, `List`s flattened). Parsed once per distinct text: the result is shared, so callers
    copy before changing it."""
    return _parse(text, origin)


@lru_cache(maxsize=64)
def _parse(text: str, origin: str) -> list[dict]:
    try:
        docs = kubeyaml.load_all(text)
    except kubeyaml.KubeYAMLError as error:
        raise SourceError(f"{origin}: invalid YAML: {error}") from None
    objects = []
    for doc in docs:
        if doc is None:
            continue
        items = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc]
        for item in items or []:
            objects.append(_checked(item, origin, len(objects) + 1))
    return objects


def _checked(obj, origin: str, index: int) -> dict:
    if not isinstance(obj, dict):
        raise SourceError(f"{origin}: document {index} is not an object")
    missing = [f for f in ("apiVersion", "kind") if not obj.get(f)]
    if not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
        missing.append("metadata.name")
    if missing:
        raise SourceError(f"{origin}: document {index} has no {', '.join(missing)}")
    return obj


class SharedRenders:
    """What is worked out from one rendered list of objects, once for every member that got that
    same list (a component that does not depend on the cluster renders to one shared list: a
    325 KiB CRD is then hashed and prepared once per sync, not once per member). Keyed by the
    list's identity; the list is kept alive here, so its id is not reused while it is a key."""

    def __init__(self, size: int = 256):
        self.size = size
        self._held: OrderedDict[tuple, tuple[list[dict], Any]] = OrderedDict()

    def get(self, objects: list[dict], extra: Hashable, compute: Callable[[], Any]) -> Any:
        key = (id(objects), extra)
        held = self._held.get(key)
        if held is not None and held[0] is objects:
            self._held.move_to_end(key)
            return held[1]
        value = compute()
        self._held[key] = (objects, value)
        if len(self._held) > self.size:
            self._held.popitem(last=False)
        return value


_SHARED = SharedRenders()
shared = _SHARED.get


def revision(objects: list[dict], namespace: str | None) -> str:
    """Short hash of what a component renders to (its identity for rollouts)."""
    def digest() -> str:
        text = json.dumps({"namespace": namespace, "objects": list(objects)}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]
    return shared(objects, ("revision", namespace), digest)


def prepare(objects: list[dict], fleet: str, component: str, namespace: str | None,
            namespaced: Callable[[str, str], bool]) -> list[dict]:
    """`objects` as Drover applies them: labelled, namespaced objects without a namespace put in
    the component's namespace, cluster-scoped ones without one. Shared by the members that
    rendered the same list into clusters with the same scopes: read-only."""
    scopes = tuple(sorted({(o["apiVersion"], o["kind"], namespaced(o["apiVersion"], o["kind"])) for o in objects}))
    return shared(objects, ("prepared", fleet, component, namespace, scopes),
                       lambda: _prepare(objects, fleet, component, namespace, namespaced))


def _prepare(objects: Iterable[dict], fleet: str, component: str, namespace: str | None,
             namespaced: Callable[[str, str], bool]) -> list[dict]:
    out = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta["labels"] = {**(meta.get("labels") or {}), FLEET_LABEL: fleet, COMPONENT_LABEL: component}
        if namespaced(obj["apiVersion"], obj["kind"]):
            if not meta.get("namespace"):
                if not namespace:
                    raise SourceError(f"{Ref.of(obj)} is namespaced but has no namespace and the "
                                      f"component sets none")
                meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        out.append(obj)
    return out


def crd_scopes(objects: Iterable[dict]) -> dict[tuple[str, str], bool]:
    """(apiVersion, kind) -> namespaced, for the kinds the given CRDs define."""
    scopes = {}
    for obj in objects:
        if is_crd(obj):
            spec = obj.get("spec", {})
            kind = spec.get("names", {}).get("kind")
            for version in spec.get("versions", []):
                scopes[(f"{spec.get('group')}/{version.get('name')}", kind)] = spec.get("scope") == "Namespaced"
    return scopes
