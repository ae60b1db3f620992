"""A component's source turned into the objects it stands for, for one cluster.

Inline manifests, ConfigMap/Secret keys in the Fleet's namespace (read once per sync through
`MgmtSources`; a key may hold gzip), or a helm chart. A ConfigMap or Secret is a source only when
it opts in with the label `fleet.drover.dev/stack-source: "true"`, and never when it is one of
Cluster API's cluster Secrets (kubeconfig, CA, etcd, service account keys) or a service account
token: a Fleet author must not be able to push the namespace's credentials into a cluster. Strings using `{{ cluster.* }}` are rendered per cluster in
manifests and in helm values alike.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mgmt import kubeyaml
from mgmt.api.models import API_VERSION, CLUSTER_NAME_LABEL, ChartRef, Component, SourceRef
from mgmt.kube import Kube, KubeError

from .capabilities import Capabilities
from .helm import Helm, PackedChart
from .objects import SourceError, parse_documents, shared
from .values import ValuesError, render_values, uses_cluster

STACK_SOURCE_LABEL = "fleet.drover.dev/stack-source"
#: Secret types that are never a stack source, whatever their labels say.
PROTECTED_SECRET_TYPES = ("cluster.x-k8s.io/secret", "kubernetes.io/service-account-token")
GZIP_MAGIC = b"\x1f\x8b"
MAX_MANIFEST_BYTES = 16 << 20  # what one key may unzip to: 3x the largest real bundle, bounded for a
                               # controller that a Fleet author must not be able to exhaust


class MgmtSources:
    """ConfigMaps and Secrets of one Fleet's namespace, each fetched at most once (one sync)."""

    def __init__(self, mgmt: Kube, namespace: str):
        self.mgmt, self.namespace = mgmt, namespace
        self._objects: dict[tuple[str, str], asyncio.Task] = {}
        self._charts: dict[str, asyncio.Task] = {}
        self._credentials: asyncio.Task | None = None

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
        refuse_unless_source(obj, f"{kind} {self.namespace}/{name}")
        if kind == "Secret" and name in await self._credentials_refs():
            raise SourceError(f"Secret {self.namespace}/{name} is a cluster's credentialsRef and never a stack source")
        return obj

    async def _credentials_refs(self) -> set[str]:
        """The Secrets any Fleet of the namespace names as a cluster's credentials."""
        if self._credentials is None:
            self._credentials = asyncio.ensure_future(self.mgmt.list(API_VERSION, "Fleet", self.namespace))
        try:
            fleets = await asyncio.shield(self._credentials)
        except KubeError as error:
            raise SourceError(f"the Fleets of {self.namespace} (to tell credentials Secrets) could not be "
                              f"read: {error.message or error}") from None
        return {((cluster.get("credentialsRef") or {}).get("name"))
                for fleet in fleets for cluster in (fleet.get("spec") or {}).get("clusters") or []
                + [s.get("template") or {} for s in (fleet.get("spec") or {}).get("clusterSets") or []]} - {None}

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

    async def chart(self, ref: ChartRef) -> PackedChart:
        """The packed chart `ref` names, joined from its keys and objects once per sync."""
        key = ref.model_dump_json()
        if key not in self._charts:
            self._charts[key] = asyncio.ensure_future(self._join_chart(ref))
        return await asyncio.shield(self._charts[key])

    async def _join_chart(self, ref: ChartRef) -> PackedChart:
        parts, names = [], [ref.name, *ref.continued_in]
        for name in names:
            entries = await self.contents(SourceRef(kind=ref.kind, name=name, key=ref.key))
            if not entries or not any(data for _, data in entries):
                raise SourceError(f"chartFrom: {ref.kind} {self.namespace}/{name} holds no data")
            parts += [data for _, data in entries]
        origin = f"chartFrom {ref.kind} {self.namespace}/{names[0]}"
        if len(names) > 1:
            origin += f" (+ {', '.join(names[1:])})"
        return PackedChart(b"".join(parts), origin)

    def close(self) -> None:
        for task in [*self._objects.values(), *self._charts.values(), *filter(None, [self._credentials])]:
            task.cancel()


def refuse_unless_source(obj: Mapping, where: str) -> None:
    """SourceError unless `obj` opted in as a stack source and holds no cluster credentials."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if obj.get("type") in PROTECTED_SECRET_TYPES or CLUSTER_NAME_LABEL in labels:
        raise SourceError(f"{where} holds a cluster's credentials (type {obj.get('type') or 'Opaque'}"
                          f"{', labelled ' + CLUSTER_NAME_LABEL if CLUSTER_NAME_LABEL in labels else ''}) "
                          "and is never a stack source")
    if labels.get(STACK_SOURCE_LABEL) != "true":
        raise SourceError(f"{where} is not a stack source: it needs the label {STACK_SOURCE_LABEL}=true")


CapabilitiesOf = Callable[[], Awaitable[Capabilities]]


async def render_component(component: Component, namespace: str, context: Mapping[str, Any],
                           sources: MgmtSources, helm: Helm, capabilities: CapabilitiesOf | None = None) -> list[dict]:
    """The objects `component` renders to for the cluster described by `context`; `capabilities`
    tells what that cluster serves (read only when a chart needs it)."""
    try:
        if component.helm is not None:
            return await _render_helm(component, namespace, context, sources, helm, capabilities)
        if component.manifests is not None:
            objects = parse_documents(component.manifests, "manifests")
        else:
            objects = []
            for ref in component.manifests_from or []:
                for key, data in await sources.contents(ref):
                    origin = f"{ref.kind} {ref.name} key {key}"
                    objects += parse_documents(manifest_text(data, origin), origin)
        # shared by every member when nothing in it is a template (read-only from here on)
        return render_values(objects, context) if shared(objects, "templated", lambda: uses_cluster(objects)) \
            else objects
    except ValuesError as error:
        raise SourceError(str(error)) from None


async def _render_helm(component: Component, namespace: str, context: Mapping[str, Any],
                       sources: MgmtSources, helm: Helm, capabilities: CapabilitiesOf | None) -> list[dict]:
    source = component.helm
    packed = await sources.chart(source.chart_from) if source.chart_from is not None else None
    values = render_values(source.values, context)
    member = Capabilities()
    if capabilities is not None and (source.kube_version is None or source.api_versions is None):
        member = await capabilities()
    rendered_for = Capabilities(source.kube_version or member.kube_version,
                                tuple(source.api_versions) if source.api_versions is not None else member.api_versions)
    text = await helm.template(component.name, namespace, source, values, packed, rendered_for)
    return parse_documents(text, f"helm chart {source.chart or source.path or 'chartFrom'}")


@functools.lru_cache(maxsize=8)  # every member of a sync reads the same bytes object
def manifest_text(data: bytes, origin: str) -> str:
    """The text of a ConfigMap/Secret key: YAML or JSON, or gzip of it (so that a bundle larger
    than an object may hold, such as a 1.4 MB CRD, fits in one key as binaryData)."""
    if data.startswith(GZIP_MAGIC):
        data = _gunzip(data, origin)
    try:
        return kubeyaml.decode(data)
    except kubeyaml.KubeYAMLError as error:
        raise SourceError(f"{origin}: {error}") from None


def _gunzip(data: bytes, origin: str) -> bytes:
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        text = stream.decompress(data, MAX_MANIFEST_BYTES)
    except zlib.error as error:
        raise SourceError(f"{origin}: not a valid gzip stream ({error})") from None
    if stream.unconsumed_tail:
        raise SourceError(f"{origin}: more than {MAX_MANIFEST_BYTES >> 20} MiB of manifests once unzipped")
    if not stream.eof:
        raise SourceError(f"{origin}: the gzip stream is truncated")
    return text
