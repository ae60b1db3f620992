"""Clients for workload clusters, built from their `<cluster>-kubeconfig` Secrets.

One `Kube` per cluster, cached while the Secret stays the same (a rotated kubeconfig gets a new
client) and closed when the cluster goes. The Secret is read again at most every `recheck`
seconds, so probes and stack syncs do not each cost a read of the management cluster. The
kubeconfig is only ever held in memory.
"""

from __future__ import annotations

import asyncio
import base64
import time

from mgmt import kubeyaml
from mgmt.kube import Kube, KubeError


class NoKubeconfig(Exception):
    """The cluster has no usable kubeconfig Secret (yet)."""


def kubeconfig_secret_name(cluster: str) -> str:
    return f"{cluster}-kubeconfig"


class WorkloadClients:
    def __init__(self, mgmt: Kube, timeout: float = 10.0, recheck: float = 30.0):
        self.mgmt = mgmt
        self.timeout = timeout
        self.recheck = recheck
        self._clients: dict[tuple[str, str], tuple[str, Kube]] = {}
        self._checked: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()

    async def get(self, namespace: str, cluster: str) -> Kube:
        """The client of one cluster; raises NoKubeconfig when its Secret is missing or invalid."""
        key = (namespace, cluster)
        cached = self._clients.get(key)
        if cached and time.monotonic() - self._checked.get(key, 0) < self.recheck:
            return cached[1]
        secret = await self.mgmt.get("v1", "Secret", kubeconfig_secret_name(cluster), namespace)
        if not secret or "value" not in (secret.get("data") or {}):
            raise NoKubeconfig(f"Secret {namespace}/{kubeconfig_secret_name(cluster)} has no kubeconfig yet")
        version = secret["metadata"]["resourceVersion"]
        self._checked[key] = time.monotonic()
        async with self._lock:
            cached = self._clients.get(key)
            if cached and cached[0] == version:
                return cached[1]
            if cached:
                await cached[1].close()
            try:
                config = kubeyaml.load(base64.b64decode(secret["data"]["value"]))
                client = await Kube.from_kubeconfig_dict(config, timeout=self.timeout)
            except (ValueError, TypeError, KeyError) as error:
                # The error text names the Secret only: its content is a credential.
                raise NoKubeconfig(f"Secret {namespace}/{kubeconfig_secret_name(cluster)} does not hold "
                                   f"a usable kubeconfig ({type(error).__name__})") from None
            self._clients[key] = (version, client)
            return client

    async def forget(self, namespace: str, cluster: str) -> None:
        async with self._lock:
            cached = self._clients.pop((namespace, cluster), None)
            self._checked.pop((namespace, cluster), None)
        if cached:
            await cached[1].close()

    async def close(self) -> None:
        async with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for _, client in clients:
            await client.close()


__all__ = ["KubeError", "NoKubeconfig", "WorkloadClients", "kubeconfig_secret_name"]
