"""Probing one workload cluster, and many at once with a bound.

Every part of a probe (API /readyz, version, Nodes, the CAPI Cluster, the cloud's view) runs with
its own timeout and catches its own failures, so a slow or broken part marks only that part, and a
broken cluster only its own member. Messages name hosts and objects, never credentials.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from mgmt import metrics
from mgmt.health.aggregate import short
from mgmt.kube import Kube, KubeError
from mgmt.workload import NoKubeconfig, WorkloadClients
from providers.base import CloudHealth

CAPI_VERSION = "cluster.x-k8s.io/v1beta2"
CloudHook = Callable[[], Awaitable[CloudHealth | None]]
ReadCluster = Callable[[str, str], Awaitable[dict | None]]


def _why(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    if isinstance(error, (KubeError, NoKubeconfig)):
        return short(str(error))
    return short(f"{type(error).__name__}: {error}")


async def _timed(part: str, coroutine: Awaitable, timeout: float):
    """Run one part with its timeout, recording how long it took."""
    started = time.monotonic()
    try:
        return await asyncio.wait_for(coroutine, timeout)
    except BaseException:
        metrics.PROBE_FAILURES.labels(part).inc()
        raise
    finally:
        metrics.PROBE_SECONDS.labels(part).observe(time.monotonic() - started)


async def _api(kube: Kube, timeout: float) -> dict:
    started = time.monotonic()
    try:
        await _timed("readyz", kube.request("GET", "/readyz", timeout=timeout), timeout)
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable", with its reason
        return {"reachable": False, "message": _why(error)}
    return {"reachable": True, "latencyMs": round((time.monotonic() - started) * 1000)}


async def _version(kube: Kube, timeout: float) -> str | None:
    try:
        answer = await _timed("version", kube.request("GET", "/version", timeout=timeout), timeout)
    except Exception:  # noqa: BLE001 - the API part already says why
        return None
    return answer.get("gitVersion") if isinstance(answer, dict) else None


def _node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


async def _nodes(kube: Kube, timeout: float) -> dict:
    try:
        nodes = await _timed("nodes", kube.list("v1", "Node"), timeout)
    except Exception as error:  # noqa: BLE001
        return {"ready": 0, "total": 0, "message": _why(error)}
    return {"ready": sum(1 for n in nodes if _node_ready(n)), "total": len(nodes)}


def capi_summary(cluster: dict | None) -> dict:
    """The compact view of a CAPI v1beta2 Cluster kept in a member's status."""
    if cluster is None:
        return {"message": "no Cluster API Cluster yet"}
    status = cluster.get("status") or {}
    init = status.get("initialization") or {}
    out = {
        "phase": status.get("phase"),
        "controlPlaneReady": init.get("controlPlaneInitialized"),
        "infrastructureReady": init.get("infrastructureProvisioned"),
        "version": ((cluster.get("spec") or {}).get("topology") or {}).get("version")
        or (status.get("controlPlane") or {}).get("version"),
        "conditions": [{k: short(c.get(k), 120) if k == "message" else c.get(k, "")
                        for k in ("type", "status", "reason", "message") if c.get(k)}
                       for c in status.get("conditions") or []],
    }
    return {k: v for k, v in out.items() if v is not None}


async def _capi(read: ReadCluster, namespace: str, name: str, timeout: float) -> dict:
    try:
        cluster = await _timed("capi", read(namespace, name), timeout)
    except Exception as error:  # noqa: BLE001
        return {"phase": "Unknown", "message": f"cannot read Cluster {namespace}/{name}: {_why(error)}"}
    return capi_summary(cluster)


async def _cloud(hook: CloudHook, timeout: float) -> dict | None:
    try:
        health = await _timed("cloud", hook(), timeout)
    except Exception as error:  # noqa: BLE001
        return {"state": "Unknown", "message": f"cloud health check failed: {_why(error)}"}
    if health is None:
        return None
    return {"state": health.state, "message": short(health.message),
            "details": {str(k): short(str(v), 100) for k, v in dict(health.details).items()}}


async def _workload(clients: WorkloadClients, member: dict, timeout: float) -> dict:
    namespace, cluster = member["metadata"]["namespace"], member["spec"]["cluster"]
    try:
        kube = await _timed("client", clients.get(namespace, cluster), timeout)
    except Exception as error:  # noqa: BLE001
        return {"api": {"reachable": False, "message": _why(error)}, "nodes": {"ready": 0, "total": 0}}
    api, version, nodes = await asyncio.gather(_api(kube, timeout), _version(kube, timeout),
                                               _nodes(kube, timeout))
    if not api.get("reachable") or "message" in nodes:  # (/readyz answers without credentials)
        clients.suspect(namespace, cluster)  # its kubeconfig may have been replaced meanwhile
    out = {"api": api, "nodes": nodes}
    if version:
        out["kubernetesVersion"] = version
    return out


async def probe_member(mgmt: Kube, clients: WorkloadClients, member: dict,
                       cloud: CloudHook | None = None, timeout: float = 10.0,
                       read_cluster: ReadCluster | None = None) -> dict:
    """The probe part of a FleetMember's status (wire dict): api, kubernetesVersion, nodes, capi, cloud.
    `read_cluster(namespace, name)` reads the CAPI Cluster (a GET unless given)."""
    namespace, cluster = member["metadata"]["namespace"], member["spec"]["cluster"]
    read = read_cluster or (lambda ns, name: mgmt.get(CAPI_VERSION, "Cluster", name, ns))
    parts = [_workload(clients, member, timeout), _capi(read, namespace, cluster, timeout)]
    if cloud is not None:
        parts.append(_cloud(cloud, timeout))
    workload, capi, *rest = await asyncio.gather(*parts)
    result = {**workload, "capi": capi}
    if rest and rest[0] is not None:
        result["cloud"] = rest[0]
    return result


async def probe_all(members: Iterable[dict], probe: Callable[[dict], Awaitable[dict]], concurrency: int = 20,
                    key: Callable[[dict], str] = lambda m: m["metadata"]["name"]) -> dict[str, dict]:
    """Probe every member with at most `concurrency` probes in flight; one failure marks only its member."""
    gate = asyncio.Semaphore(concurrency)

    async def one(member: dict) -> tuple[str, dict]:
        async with gate:
            try:
                return key(member), await probe(member)
            except Exception as error:  # noqa: BLE001 - a broken probe must not stop the others
                return key(member), {"api": {"reachable": False, "message": f"probe failed: {_why(error)}"}}

    return dict(await asyncio.gather(*(one(m) for m in members)))
