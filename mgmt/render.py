"""From one declared cluster of a Fleet to the Cluster API objects that build it.

A provider's clusterctl template holds two kinds of documents: those of the cluster (Cluster,
infrastructure cluster, control plane) and those of one worker pool (MachineDeployment and its
templates, recognisable by `${WORKER_POOL_NAME...}`). The cluster documents are rendered once;
the pool documents once per declared pool, with that pool's variables.
"""

from __future__ import annotations

from collections.abc import Mapping

import providers
from mgmt import kubeyaml, templating
from mgmt.api.models import CLUSTER_NAME_LABEL, FLEET_LABEL, FLEET_NAMESPACE_LABEL, ClusterSpec
from providers.base import ClusterRequest, Credentials, WorkerPool

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


def _render_docs(docs: list[str], values: Mapping[str, str]) -> list[dict]:
    text = templating.render("\n---\n".join(docs), values)
    try:
        return kubeyaml.load_all(text)
    except kubeyaml.KubeYAMLError as error:
        raise templating.TemplateError(f"the rendered template is not valid YAML: {error}") from None


def render_cluster(request: ClusterRequest, credentials: Credentials | None = None) -> list[dict]:
    """Every object of one cluster, labelled for the Fleet. Raises MissingVariablesError."""
    provider = providers.get(request.provider)
    template = provider.template(request.flavor)
    values = provider.variables(request)
    if credentials is not None:
        values.update(provider.credential_variables(request, credentials))
        values.update(request.variables)
    cluster_docs, pool_docs = split_documents(template)
    objects = _render_docs(cluster_docs, values)
    for pool in request.workers:
        objects += _render_docs(pool_docs, {**values, **provider.pool_variables(request, pool)})
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
