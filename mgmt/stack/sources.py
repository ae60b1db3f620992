"""A component's source turned into the objects it stands for, for one cluster.

Inline manifests, ConfigMap/Secret keys in the Fleet's namespace (read once per sync through
`MgmtSources`), or a helm chart. Strings using `{{ cluster.* }}` are rendered per cluster in
manifests and in helm values alike.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

from mgmt.api.models import Component, SourceRef
from mgmt.kube import Kube, KubeError

from .helm import Helm
from .objects import SourceError, parse_documents
from .values import ValuesError, render_values


class MgmtSources:
    """ConfigMaps and Secrets of one Fleet's namespace, each fetched at most once (one sync)."""

    def __init__(self, mgmt: Kube, namespace: str):
        self.mgmt, self.namespace = mgmt, namespace
        self._objects: dict[tuple[str, str], asyncio.Task] = {}

    async def get(self, kind: str, name: str) -> dict:
        key = (kind, name)
        if key not in self._objects:
            self._objects[key] = asyncio.ensure_future(self.mgmt.get("v1", kind, name, self.namespace))
        try:
            obj = await asyncio.shield(self._objects[key])
        except KubeError as error:
            raise SourceError(f"{kind} {self.namespace}/{name}: {error.message or error}") from None
        if obj is None:
            raise SourceError(f"{kind} {self.namespace}/{name} not found")
        return obj

    async def contents(self, ref: SourceRef) -> list[tuple[str, bytes]]:
        """(key, content) of the referenced key, or of every key in key order."""
        obj = await self.get(ref.kind, ref.name)
        entries = {k: v.encode() for k, v in (obj.get("data") or {}).items()} if ref.kind == "ConfigMap" else {}
        encoded = obj.get("binaryData") if ref.kind == "ConfigMap" else obj.get("data")
        for key, value in (encoded or {}).items():
            entries[key] = base64.b64decode(value)
        if ref.key is not None:
            if ref.key not in entries:
                raise SourceError(f"{ref.kind} {self.namespace}/{ref.name} has no key {ref.key!r}")
            return [(ref.key, entries[ref.key])]
        return sorted(entries.items())

    def close(self) -> None:
        for task in self._objects.values():
            task.cancel()


async def render_component(component: Component, namespace: str, context: Mapping[str, Any],
                           sources: MgmtSources, helm: Helm) -> list[dict]:
    """The objects `component` renders to for the cluster described by `context`."""
    try:
        if component.helm is not None:
            return await _render_helm(component, namespace, context, sources, helm)
        if component.manifests is not None:
            objects = parse_documents(component.manifests, "manifests")
        else:
            objects = []
            for ref in component.manifests_from or []:
                for key, data in await sources.contents(ref):
                    objects += parse_documents(_text(data, ref, key), f"{ref.kind} {ref.name} key {key}")
        return render_values(objects, context)
    except ValuesError as error:
        raise SourceError(str(error)) from None


async def _render_helm(component: Component, namespace: str, context: Mapping[str, Any],
                       sources: MgmtSources, helm: Helm) -> list[dict]:
    source = component.helm
    packed = None
    if source.chart_from is not None:
        entries = await sources.contents(source.chart_from)
        if len(entries) != 1:
            raise SourceError(f"chartFrom {source.chart_from.kind} {source.chart_from.name}: "
                              f"name the key holding the packed chart (found {len(entries)} keys)")
        packed = entries[0][1]
    values = render_values(source.values, context)
    text = await helm.template(component.name, namespace, source, values, packed)
    return parse_documents(text, f"helm chart {source.chart or source.path or 'chartFrom'}")


def _text(data: bytes, ref: SourceRef, key: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise SourceError(f"{ref.kind} {ref.name} key {key} is not UTF-8 text") from None
