"""Simulated local clusters, for tests and benches only: no processes, the cluster is a virtual
cluster of a running simulator (`e2e/simulator`, started by the test or bench; the provider gets
its address with `--simulator-url`). The provider adds and removes virtual clusters through the
simulator's admin endpoint and points the `<cluster>-kubeconfig` Secret at them."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=15)


class SimulatorError(Exception):
    """The simulator refused a request or could not be reached."""


class Simulator:
    """The admin side of one simulator (`/admin/clusters`) and the address of its virtual clusters."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    @staticmethod
    def cluster_name(namespace: str, cluster: str) -> str:
        """One virtual cluster per namespace/name (a namespace holds no dots, so the split is clear)."""
        return f"{namespace}.{cluster}"

    def server(self, name: str) -> str:
        return f"{self.url}/clusters/{name}"

    def endpoint(self) -> dict:
        """`spec.controlPlaneEndpoint`: where the simulator listens (the path is in the kubeconfig)."""
        parts = urlsplit(self.url)
        return {"host": parts.hostname, "port": parts.port or (443 if parts.scheme == "https" else 80)}

    def kubeconfig(self, name: str) -> dict:
        """A kubeconfig of the virtual cluster (the simulator asks for no credentials)."""
        return {"apiVersion": "v1", "kind": "Config", "current-context": name,
                "clusters": [{"name": name, "cluster": {"server": self.server(name)}}],
                "users": [{"name": name, "user": {}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}]}

    async def add(self, name: str, nodes: int) -> None:
        """Add the virtual cluster with `nodes` Ready Nodes (a no-op if it exists)."""
        await self._call("POST", "/admin/clusters", {"names": [name], "nodes": nodes}, (201,))

    async def exists(self, name: str) -> bool:
        return await self._call("GET", f"/admin/clusters/{name}", None, (200, 404)) == 200

    async def remove(self, name: str) -> bool:
        """Remove the virtual cluster; False if there was none."""
        return await self._call("DELETE", f"/admin/clusters/{name}", None, (200, 404)) == 200

    async def _call(self, method: str, path: str, body: dict | None, expected: tuple[int, ...]) -> int:
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session, \
                    session.request(method, self.url + path, json=body) as answer:
                if answer.status not in expected:
                    raise SimulatorError(f"simulator {method} {path}: HTTP {answer.status}: "
                                         f"{(await answer.text())[:300]}")
                return answer.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SimulatorError(f"simulator at {self.url} unreachable: {error or type(error).__name__}") from None
