"""What a user could pick instead of Drover's stack, measured on the same member clusters:
CAPI's own ClusterResourceSet (the real controller in the CAPI manager), and a bare async
server-side-apply loop with kubernetes_asyncio. Also: emptying virtual clusters between runs, so
that every contender installs onto clean clusters."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import new_client_from_config_dict

from e2e.bench_stack import BenchStack, crs_configmaps
from e2e.simulator.resources import BUILTIN
from mgmt import kubeyaml
from mgmt.api.models import FLEET_LABEL
from mgmt.kube import Kube, Unreachable
from mgmt.workload import kubeconfig_secret_name

CRS_API = "addons.cluster.x-k8s.io/v1beta2"
BARE_MANAGER = "bench-bare-loop"
RESOURCES = {(r.group_version, r.kind): r for r in BUILTIN}


# -- virtual clusters -------------------------------------------------------------------------

async def wipe(simulator_url: str, names: list[str], nodes: int) -> None:
    """Remove and add again each virtual cluster: same address, nothing but its Nodes."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        gate = asyncio.Semaphore(32)

        async def remove(name: str) -> None:
            async with gate, session.delete(f"{simulator_url}/admin/clusters/{name}") as answer:
                if answer.status not in (200, 404):
                    raise RuntimeError(f"simulator: DELETE {name}: HTTP {answer.status}")

        await asyncio.gather(*(remove(n) for n in names))
        async with session.post(f"{simulator_url}/admin/clusters", json={"names": names, "nodes": nodes}) as answer:
            if answer.status != 201:
                raise RuntimeError(f"simulator: adding {len(names)} clusters: HTTP {answer.status}")


async def member_kubeconfigs(kube: Kube, namespace: str, clusters: list[str]) -> dict[str, dict]:
    """Each cluster's kubeconfig from its `<cluster>-kubeconfig` Secret (what Drover and CAPI use)."""
    gate = asyncio.Semaphore(16)

    async def one(cluster: str) -> tuple[str, dict]:
        async with gate:
            secret = await kube.get("v1", "Secret", kubeconfig_secret_name(cluster), namespace)
        if not secret:
            raise RuntimeError(f"Secret {namespace}/{kubeconfig_secret_name(cluster)} missing")
        return cluster, kubeyaml.load(base64.b64decode(secret["data"]["value"]))

    return dict(await asyncio.gather(*(one(c) for c in clusters)))


# -- ClusterResourceSet ---------------------------------------------------------------------------

def crs_object(stack: BenchStack, namespace: str, fleet: str, name: str) -> dict:
    return {"apiVersion": CRS_API, "kind": "ClusterResourceSet", "metadata": {"name": name, "namespace": namespace},
            "spec": {"strategy": "ApplyOnce", "clusterSelector": {"matchLabels": {FLEET_LABEL: fleet}},
                     "resources": [{"kind": "ConfigMap", "name": cm["metadata"]["name"]}
                                   for cm in crs_configmaps(stack, namespace)]}}


def applied_bindings(bindings: list[dict], crs: str, resources: int) -> int:
    """Bindings in which every resource of `crs` is reported applied."""
    done = 0
    for binding in bindings:
        for entry in (binding.get("spec") or {}).get("bindings") or []:
            if entry.get("clusterResourceSetName") != crs:
                continue
            listed = entry.get("resources") or []
            if len(listed) == resources and all(r.get("applied") for r in listed):
                done += 1
    return done


async def run_crs(kube: Kube, stack: BenchStack, namespace: str, fleet: str, clusters: int, deadline: float,
                  progress: Callable[[str, int], None], name: str = "bench") -> dict:
    """Create the ConfigMaps and the ClusterResourceSet; seconds until every binding says applied
    (or how far it got by `deadline`)."""
    for configmap in crs_configmaps(stack, namespace):
        await kube.apply(configmap)
    started = time.monotonic()
    await kube.apply(crs_object(stack, namespace, fleet, name))
    count = len(stack.components)
    done = 0
    while time.monotonic() < deadline:
        try:
            bindings = await kube.list(CRS_API, "ClusterResourceSetBinding", namespace)
        except Unreachable:  # a busy management API: poll on (the deadline bounds a broken one)
            continue
        done = applied_bindings(bindings, name, count)
        progress("crs", done)
        if done >= clusters:
            return {"seconds": time.monotonic() - started, "clusters": done}
        await asyncio.sleep(1)
    return {"seconds": None, "clusters": done, "after": time.monotonic() - started}


async def remove_crs(kube: Kube, stack: BenchStack, namespace: str, name: str = "bench") -> None:
    await kube.delete(CRS_API, "ClusterResourceSet", name, namespace)
    for configmap in crs_configmaps(stack, namespace):
        await kube.delete("v1", "ConfigMap", configmap["metadata"]["name"], namespace)


# -- the bare apply loop ----------------------------------------------------------------------

def path_of(obj: dict) -> str:
    resource = RESOURCES[(obj["apiVersion"], obj["kind"])]
    base = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    namespace = obj["metadata"].get("namespace")
    if resource.namespaced:
        base += f"/namespaces/{namespace}"
    return f"{base}/{resource.plural}/{obj['metadata']['name']}"


async def bare_apply(kubeconfigs: dict[str, dict], objects: list[dict], concurrency: int) -> dict:
    """Server-side apply of `objects`, in order, to every cluster, `concurrency` clusters at once,
    with kubernetes_asyncio's ApiClient; seconds, and failures by cluster."""
    paths = [(path_of(obj), obj) for obj in objects]
    gate = asyncio.Semaphore(concurrency)
    failures: dict[str, str] = {}

    async def one(cluster: str, config: dict) -> None:
        async with gate:
            client = await new_client_from_config_dict(config)
            try:
                for path, obj in paths:
                    await client.call_api(
                        path, "PATCH", query_params=[("fieldManager", BARE_MANAGER), ("force", "true")],
                        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                        body=obj, auth_settings=["BearerToken"], response_types_map={200: "object", 201: "object"},
                        _return_http_data_only=True, _request_timeout=60)
            except (ApiException, aiohttp.ClientError, TimeoutError) as error:
                failures[cluster] = f"{type(error).__name__}: {str(error)[:200]}"
            finally:
                await client.close()

    started = time.monotonic()
    await asyncio.gather(*(one(c, k) for c, k in kubeconfigs.items()))
    return {"seconds": time.monotonic() - started, "failures": failures}
