"""From one declared cluster of a Fleet to the Cluster API objects that build it.

A provider's clusterctl template holds two kinds of documents: those of the cluster (Cluster,
infrastructure cluster, control plane) and those of one worker pool (MachineDeployment and its
templates, recognisable by `${WORKER_POOL_NAME...}`). The cluster documents are rendered once;
the pool documents once per declared pool, with that pool's variables.

Variables are text a Fleet author chooses, so they are substituted as data only: every value a
template uses must match `VARIABLE_VALUE` (no quotes, line breaks or YAML indicators; the CRD
says the same for `variables`), the reserved ones cannot be set, and every rendered object must be
in the Fleet's namespace and of a kind the template itself declares. Anything else fails the
cluster with a TemplateError naming the variable or object, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import providers
from mgmt import kubeyaml, templating
from mgmt.api.models import (
    CLUSTER_NAME_LABEL,
    FLEET_LABEL,
    FLEET_NAMESPACE_LABEL,
    VARIABLE_VALUE,
    ClusterSpec,
)
from providers.base import (
    RESERVED_VARIABLES,
    ClusterRequest,
    Credentials,
    WorkerPool,
    user_variables,
)

POOL_MARKER = "WORKER_POOL_NAME"
CLUSTER_API = "cluster.x-k8s.io/v1beta2"
#: Kinds that are deleted first when a cluster goes, so that machines drain before the Cluster.
WORKER_KINDS = ("MachineDeployment", "MachinePool")


def cluster_request(spec: ClusterSpec, namespace: str, fleet: str | None = None) -> ClusterRequest:
    return ClusterRequest(
        name=spec.name, namespace=namespace, provider=spec.provider,
        flavor=providers.resolve_flavor(spec.provider, spec.flavor),
        kubernetes_version=spec.kubernetes_version, region=spec.region,
        control_plane_replicas=spec.control_plane.replicas,
        control_plane_machine_type=spec.control_plane.machine_type,
        workers=tuple(WorkerPool(p.name, p.replicas, p.machine_type) for p in spec.workers),
        labels=dict(spec.labels), variables=dict(spec.variables), fleet=fleet,
    )


def split_documents(template: str) -> tuple[list[str], list[str]]:
    """The template's documents as (cluster documents, worker-pool documents), still unrendered."""
    cluster_docs, pool_docs = [], []
    for doc in template.split("\n---"):
        body = "\n".join(line for line in doc.splitlines() if not line.lstrip().startswith("#"))
        if not body.strip():
            continue
        (pool_docs if POOL_MARKER in doc else cluster_docs).append(doc)
    return cluster_docs, pool_docs


_VALUE = re.compile(VARIABLE_VALUE)
_KIND_LINE = re.compile(r"^apiVersion:\s*(\S+)\s*\nkind:\s*(\S+)", re.MULTILINE)


def declared_kinds(template: str) -> set[tuple[str, str]]:
    """(apiVersion, kind) of the documents of a template, read before any substitution."""
    return {(a.strip("\"'"), k.strip("\"'")) for a, k in _KIND_LINE.findall(template)}


def check_values(text: str, values: Mapping[str, str]) -> None:
    """TemplateError naming the first variable `text` uses whose value is not plain data."""
    for name in templating.list_variables(text):
        value = values.get(name)
        if value is not None and (len(value) > 1024 or not _VALUE.match(value)):
            raise templating.TemplateError(
                f"variable {name} is not plain text: at most 1024 characters of ASCII letters, digits, "
                "_./+=@~()*- and single spaces or colons between them")


def check_objects(objects: list[dict], request: ClusterRequest, kinds: set[tuple[str, str]]) -> None:
    """TemplateError unless every object is in the request's namespace and of a declared kind."""
    for obj in objects:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        what = f"{obj.get('kind')} {meta.get('name')}"
        if (obj.get("apiVersion"), obj.get("kind")) not in kinds:
            raise templating.TemplateError(f"the rendered template holds {what} ({obj.get('apiVersion')}), "
                                           "a kind the provider's template does not declare")
        if meta.get("namespace") != request.namespace:
            raise templating.TemplateError(f"the rendered template puts {what} in namespace "
                                           f"{meta.get('namespace')!r}, not the Fleet's ({request.namespace})")


def _render_docs(docs: list[str], values: Mapping[str, str]) -> list[dict]:
    text = "\n---\n".join(docs)
    check_values(text, values)
    text = templating.render(text, values)
    try:
        return kubeyaml.load_all(text)
    except kubeyaml.KubeYAMLError as error:
        raise templating.TemplateError(f"the rendered template is not valid YAML: {error}") from None


def render_cluster(request: ClusterRequest, credentials: Credentials | None = None) -> list[dict]:
    """Every object of one cluster, labelled for the Fleet. Raises MissingVariablesError."""
    reserved = sorted(set(request.variables) & set(RESERVED_VARIABLES))
    if reserved:
        raise templating.TemplateError(f"variables may not set {', '.join(reserved)}: Drover derives them")
    provider = providers.get(request.provider)
    template = provider.template(request.flavor)
    values = provider.variables(request)
    if credentials is not None:
        values.update(provider.credential_variables(request, credentials))
        values.update(user_variables(request))
    cluster_docs, pool_docs = split_documents(template)
    objects = _render_docs(cluster_docs, values)
    for pool in request.workers:
        objects += _render_docs(pool_docs, {**values, **provider.pool_variables(request, pool)})
    check_objects(objects, request, declared_kinds(template))
    if credentials is not None:
        objects += provider.credential_objects(request, credentials)
    return [label(obj, request) for obj in objects]


def label(obj: dict, request: ClusterRequest) -> dict:
    meta = obj.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    if obj.get("kind") == "Cluster" and obj.get("apiVersion") == CLUSTER_API:
        labels.update(request.labels)
    labels[CLUSTER_NAME_LABEL] = request.name
    if request.fleet:
        labels[FLEET_LABEL] = request.fleet
        labels[FLEET_NAMESPACE_LABEL] = request.namespace
    return obj


def is_cluster(obj: Mapping) -> bool:
    return obj.get("kind") == "Cluster" and obj.get("apiVersion") == CLUSTER_API


def apply_order(objects: list[dict]) -> list[dict]:
    """Secrets and identities first (what others reference), then the rest, the Cluster last:
    CAPI only acts once the Cluster exists, and by then everything it refers to does too."""
    def rank(obj: dict) -> int:
        if obj.get("kind") == "Secret" or "Identity" in obj.get("kind", ""):
            return 0
        return 2 if is_cluster(obj) else 1
    return sorted(objects, key=rank)
