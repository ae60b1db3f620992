"""The API calls behind each page, all made with the user's own client: what RBAC refuses the
user is shown as refused (with the apiserver's message), never fetched some other way.

A workload cluster is reached only through its `<cluster>-kubeconfig` Secret read as the user,
so a user who may not read that Secret sees neither its Services nor its CRDs, and the Secret's
contents never leave the server (except as the download the user is allowed)."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field

import yaml

from mgmt import workload as clients
from mgmt.api.models import API_VERSION, FLEET_LABEL
from mgmt.controller.members import member_name
from mgmt.kube import Kube, KubeError
from mgmt.report import fleet as fleet_report
from mgmt.report.tree import describe_cluster, fetch_cluster
from mgmt.stack import inventory

from . import edits
from .members import row
from .schema import crd_summary

WORKLOAD_TIMEOUT = 8.0   # seconds for each request to a workload cluster
EVENTS_SHOWN = 20


@dataclass
class Refused:
    """A read the apiserver (or RBAC) refused: shown on the page as the apiserver said it."""

    what: str
    message: str


def _refusal(what: str, error: KubeError) -> Refused:
    return Refused(what, error.message or str(error))


# -- fleets ---------------------------------------------------------------------

async def fleets(kube: Kube, namespace: str) -> tuple[list[dict], str, Refused | None]:
    """Every Fleet the user may list: in all namespaces, else in the kubeconfig's namespace."""
    try:
        return await kube.list(API_VERSION, "Fleet"), "all namespaces", None
    except KubeError as error:
        if error.status != 403:
            raise
    try:
        return await kube.list(API_VERSION, "Fleet", namespace), f"namespace {namespace}", None
    except KubeError as error:
        if error.status != 403:
            raise
        return [], f"namespace {namespace}", _refusal("list Fleets", error)


def overview_item(fleet: dict) -> dict:
    """A Fleet as the overview shows it (its status, which the controller keeps)."""
    item = fleet_report.fleet_report(fleet, [])
    counts = item["counts"]
    item["percent"] = round(100 * counts["ready"] / counts["desired"]) if counts["desired"] else 0
    item["healthy"] = item["status"] == "Ready"
    item["paused"] = bool(((fleet.get("spec") or {}).get("rollout") or {}).get("paused"))
    return item


def overview(items: list[dict]) -> list[dict]:
    """Fleets with problems first, then by namespace and name."""
    return sorted((overview_item(f) for f in items),
                  key=lambda i: (i["healthy"], i["namespace"] or "", i["fleet"]))


async def fleet(kube: Kube, namespace: str, name: str) -> dict | None:
    return await kube.get(API_VERSION, "Fleet", name, namespace)


async def member_rows(kube: Kube, namespace: str, name: str) -> list[dict]:
    """Every member of the Fleet as a compact row (listed by label, 500 a request)."""
    members = await kube.list(API_VERSION, "FleetMember", namespace, {FLEET_LABEL: name})
    return [row(m) for m in members]


async def catalogue(kube: Kube, namespace: str) -> tuple[dict[str, dict], list[str], str | None]:
    """The catalogue ConfigMap of the Fleet's namespace, else of drover-system:
    (entries, problems, where it was found)."""
    notes = []
    for where in (namespace, edits.CATALOGUE_NAMESPACE):
        try:
            configmap = await kube.get("v1", "ConfigMap", edits.CATALOGUE, where)
        except KubeError as error:
            notes.append(f"ConfigMap {where}/{edits.CATALOGUE}: {error.message or error}")
            continue
        if configmap is not None:
            entries, problems = edits.parse_catalogue(configmap)
            return entries, notes + problems, f"{where}/{edits.CATALOGUE}"
    return {}, notes, None


async def cloud_targets(kube: Kube, namespace: str) -> list[tuple[str, str]]:
    """Where a new cluster can go: `local` (no credentials), and each cloud whose credentials
    Secret a Fleet of the namespace names and that exists. Only the Secret's metadata is read."""
    try:
        fleets = await kube.list(API_VERSION, "Fleet", namespace)
    except KubeError:
        fleets = []
    found = [("local", "")]
    for provider, name in sorted(edits.credential_refs(fleets)):
        try:
            await kube.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}",
                               accept="application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
        except KubeError:
            continue  # absent, or the user may not see it: not offered
        found.append((provider, name))
    return found


# -- one member -----------------------------------------------------------------

async def can_i(kube: Kube, verb: str, resource: str, namespace: str, name: str = "", group: str = "") -> bool:
    """A SelfSubjectAccessReview: may the user do this?"""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                              "namespace": namespace, "name": name}}}
    try:
        answer = await kube.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
    except KubeError:
        return False
    return bool((answer.get("status") or {}).get("allowed"))


def kubeconfig_secret(cluster: str) -> str:
    return f"{cluster}-kubeconfig"


async def kubeconfig_text(kube: Kube, namespace: str, cluster: str) -> str | None:
    """The workload cluster's kubeconfig, read as the user (KubeError 403 when RBAC says no)."""
    secret = await kube.get("v1", "Secret", kubeconfig_secret(cluster), namespace)
    value = ((secret or {}).get("data") or {}).get("value")
    return base64.b64decode(value).decode() if value else None


async def events(kube: Kube, namespace: str, names: list[str]) -> tuple[list[dict], Refused | None]:
    """The latest Events about these objects (the member and its Cluster), newest first."""
    found: list[dict] = []
    for name in names:
        try:
            page = await kube.request("GET", f"/api/v1/namespaces/{namespace}/events",
                                      query=[("fieldSelector", f"involvedObject.name={name}"), ("limit", 100)])
        except KubeError as error:
            return [], _refusal("list Events", error)
        found += page.get("items") or []
    found.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True)
    return [{"time": e.get("lastTimestamp") or e.get("eventTime") or "", "type": e.get("type"),
             "reason": e.get("reason"), "object": f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}",
             "message": e.get("message"), "count": e.get("count") or 1} for e in found[:EVENTS_SHOWN]], None


@dataclass
class Workload:
    """What the member page reads from the workload cluster itself."""

    services: list[dict] = field(default_factory=list)
    crds: list[dict] = field(default_factory=list)
    error: str | None = None


def _service(svc: dict) -> dict:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return {"namespace": svc["metadata"].get("namespace"), "name": svc["metadata"]["name"], "type": spec.get("type"),
            "clusterIP": spec.get("clusterIP"),
            "external": [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
            + list(spec.get("externalIPs") or []),
            "ports": [f"{p.get('port')}{'→' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
                      for p in spec.get("ports") or []]}


async def workload(config_text: str, fleet_name: str) -> Workload:
    """Services of type LoadBalancer/NodePort, and the CRDs the Fleet's stack installed (from
    the inventory Drover keeps in the cluster)."""
    out = Workload()
    try:  # as the controller connects: inline credentials only, the key kept in memory
        client = await clients.client(clients.reduce(yaml.safe_load(config_text)), WORKLOAD_TIMEOUT)
    except (yaml.YAMLError, clients.NoKubeconfig, clients.BadKubeconfig) as error:
        out.error = f"cannot use the cluster's kubeconfig: {error}"
        return out
    try:
        services = await client.request("GET", "/api/v1/services")
        out.services = [_service(s) for s in services.get("items") or []
                        if (s.get("spec") or {}).get("type") in ("LoadBalancer", "NodePort")]
        _, entries = await inventory.read(client, fleet_name, WORKLOAD_TIMEOUT)
        for component, entry in sorted(entries.items()):
            for ref in entry.objects:
                if ref.kind == "CustomResourceDefinition":
                    crd = await client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", ref.name)
                    if crd:
                        out.crds.append({**crd_summary(crd), "component": component})
    except KubeError as error:
        out.error = f"the workload cluster answered: {error}"
    finally:
        await client.close()
    return out


@dataclass
class MemberPage:
    member: dict | None
    row: dict | None
    tree: str | None
    endpoint: str | None
    events: list[dict]
    events_refused: Refused | None
    can_download: bool
    workload: Workload | None
    refusals: list[Refused] = field(default_factory=list)
    checks: dict[str, list[str]] = field(default_factory=dict)  # component -> its declared health checks


async def member_page(kube: Kube, namespace: str, fleet_name: str, cluster: str) -> MemberPage:
    name = member_name(fleet_name, cluster)
    refusals = []
    member = tree = endpoint = None
    try:
        member = await kube.get(API_VERSION, "FleetMember", name, namespace)
    except KubeError as error:
        refusals.append(_refusal(f"get FleetMember {name}", error))
    try:
        objects = await fetch_cluster(kube, namespace, cluster)
        if objects is not None:
            tree = describe_cluster(objects)
            ep = (objects.cluster.get("spec") or {}).get("controlPlaneEndpoint") or {}
            endpoint = f"https://{ep['host']}:{ep.get('port', 443)}" if ep.get("host") else None
    except KubeError as error:
        refusals.append(_refusal(f"read the Cluster API objects of {cluster}", error))
    (found_events, events_refused), can_download = await asyncio.gather(
        events(kube, namespace, [name, cluster]),
        can_i(kube, "get", "secrets", namespace, kubeconfig_secret(cluster)))
    work = None
    if can_download:
        try:
            text = await kubeconfig_text(kube, namespace, cluster)
        except KubeError as error:
            refusals.append(_refusal(f"get Secret {kubeconfig_secret(cluster)}", error))
            can_download, text = False, None
        work = await workload(text, fleet_name) if text else Workload(error="no kubeconfig Secret yet")
    return MemberPage(member, row(member) if member else None, tree, endpoint, found_events, events_refused,
                      can_download, work, refusals, await health_checks(kube, namespace, fleet_name))


async def health_checks(kube: Kube, namespace: str, fleet_name: str) -> dict[str, list[str]]:
    """Each component's declared health checks, from the Fleet's spec."""
    try:
        owner = await fleet(kube, namespace, fleet_name)
    except KubeError:
        return {}
    components = (((owner or {}).get("spec") or {}).get("stack") or {}).get("components") or []
    return {c["name"]: [f"{h.get('kind')}/{h.get('name')}" + (f" {h['condition']}" if h.get("condition") else "")
                        for h in c.get("healthChecks") or []] for c in components}
