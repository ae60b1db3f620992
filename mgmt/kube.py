"""The one layer through which Drover talks to any Kubernetes API server.

A thin async wrapper over kubernetes_asyncio's ApiClient that speaks plain dicts:
discovery (kind -> resource), get/list/create/delete, merge patches and
server-side apply under Drover's field manager. Management and workload
clusters use the same class; errors come back as `KubeError` carrying the
server's own message.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from mgmt import memfiles  # noqa: F401  (kubeconfig key material kept in memory, not in temp files)

FIELD_MANAGER = "drover"
RETRIES_ON_429 = 5
USER_AGENT = "drover/0.1"
UNKNOWN_KIND_RECHECK = 5.0  # seconds before discovery is asked again about a kind it did not have
WATCH_SECONDS = 300  # how long the server keeps one watch open before it ends the stream


class KubeError(Exception):
    """An error answered by the API server (or the connection to it)."""

    retry_after: int | None = None

    def __init__(self, status: int, reason: str, message: str):
        self.status, self.reason, self.message = status, reason, message
        super().__init__(f"{reason or status}: {message}" if message else f"{status} {reason}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @classmethod
    def from_api_exception(cls, error: ApiException) -> KubeError:
        message, reason = "", error.reason or ""
        try:
            body = json.loads(error.body or "{}")
            message, reason = body.get("message", ""), body.get("reason", reason)
        except (TypeError, ValueError):
            message = str(error.body or "")[:500]
        return cls(error.status or 0, reason, message)


class Unreachable(KubeError):
    """The API server did not answer (refused, timed out, TLS failure)."""

    def __init__(self, message: str):
        super().__init__(0, "Unreachable", message)


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, name: str | None = None, namespace: str | None = None,
             subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


def _selector(labels: Mapping[str, str] | str | None) -> str | None:
    if labels is None or isinstance(labels, str):
        return labels
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class RateLimiter:
    """A token bucket, as client-go's: `qps` requests a second on average, `burst` at once."""

    def __init__(self, qps: float, burst: int):
        if qps <= 0 or burst < 1:
            raise ValueError("a rate limit needs qps > 0 and burst >= 1")
        self.qps, self.burst = qps, burst
        self._tokens, self._updated = float(burst), time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:  # waiters go in turn
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.qps) - 1
            self._updated = now
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self.qps)


class Kube:
    """One API server. Create with `await Kube.from_kubeconfig(...)`; `await close()` when done.
    With a `limiter`, every request first waits for its turn (the management cluster's client)."""

    def __init__(self, api: k8s.ApiClient, timeout: float = 30.0, limiter: RateLimiter | None = None):
        self.api = api
        self.api.user_agent = USER_AGENT
        self.timeout = timeout
        self.limiter = limiter
        self._resources: dict[tuple[str, str], Resource] = {}
        self._discovered: set[str] = set()
        self._unknown: dict[tuple[str, str], float] = {}  # kind -> when discovery last lacked it
        self._discovery_lock = asyncio.Lock()
        self._watches: set[aiohttp.ClientResponse] = set()  # open watch streams, ended by close()

    @classmethod
    async def from_kubeconfig(cls, path: str | None = None, context: str | None = None,
                              timeout: float = 30.0) -> Kube:
        api = await k8s_config.new_client_from_config(config_file=path, context=context)
        return cls(api, timeout)

    @classmethod
    async def from_environment(cls, timeout: float = 30.0, limiter: RateLimiter | None = None) -> Kube:
        """$KUBECONFIG or ~/.kube/config when there is one, else the Pod's service account."""
        path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        if os.path.exists(path.split(os.pathsep)[0]):
            kube = await cls.from_kubeconfig(path, timeout=timeout)
        else:
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            kube = cls(k8s.ApiClient(configuration), timeout)
        kube.limiter = limiter
        return kube

    @classmethod
    async def from_kubeconfig_dict(cls, config: dict, timeout: float = 30.0) -> Kube:
        api = await k8s_config.new_client_from_config_dict(config)
        return cls(api, timeout)

    async def close(self) -> None:
        for response in list(self._watches):  # closing the session leaves a stream being read open
            response.close()
        await self.api.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def host(self) -> str:
        return self.api.configuration.host

    # -- raw requests -------------------------------------------------------

    async def request(self, method: str, path: str, body: Any = None,
                      query: Iterable[tuple[str, Any]] = (), content_type: str = "application/json",
                      timeout: float | None = None, accept: str = "application/json, */*") -> Any:
        """Send one request; JSON answers come back decoded, others as text.

        A 429 (the server's "retry after", e.g. while a new CRD's storage initializes) is
        retried a few times after the delay the server asks for."""
        query = list(query)
        for attempt in range(RETRIES_ON_429):
            try:
                return await self._request_once(method, path, body, query, content_type, timeout, accept)
            except KubeError as error:
                if error.status != 429 or attempt == RETRIES_ON_429 - 1:
                    raise
                await asyncio.sleep(min(error.retry_after or 1, 5))

    async def _request_once(self, method: str, path: str, body: Any, query: list, content_type: str,
                            timeout: float | None, accept: str) -> Any:
        headers = {"Accept": accept, "Content-Type": content_type}
        if self.limiter is not None:
            await self.limiter.wait()
        try:
            response = await self.api.call_api(
                path, method, query_params=list(query), header_params=headers, body=body,
                auth_settings=["BearerToken"], _preload_content=False,
                _return_http_data_only=True, _request_timeout=timeout or self.timeout,
            )
            raw = await response.read()
        except ApiException as error:
            raise KubeError.from_api_exception(error) from None
        except (TimeoutError, OSError) as error:
            raise Unreachable(f"{self.host}: {type(error).__name__}: {error}") from None
        except Exception as error:  # aiohttp's client errors do not share a base with OSError
            if type(error).__module__.startswith("aiohttp"):
                raise Unreachable(f"{self.host}: {type(error).__name__}: {error}") from None
            raise
        text = raw.decode()
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = text
        if response.status >= 400:
            raise _status_error(response.status, response.reason, text)
        return decoded

    # -- discovery ----------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        """The resource of a kind; a kind discovery has not seen is asked about again (a CRD may
        have been installed since), but not more often than every UNKNOWN_KIND_RECHECK seconds."""
        key = (api_version, kind)
        if key not in self._resources or api_version not in self._discovered:
            await self._discover(api_version, key)
        try:
            return self._resources[key]
        except KeyError:
            self._unknown.setdefault(key, time.monotonic())
            raise KubeError(404, "NotFound", f"the server has no resource for kind {kind} in {api_version}") from None

    async def _discover(self, api_version: str, key: tuple[str, str]) -> None:
        async with self._discovery_lock:  # callers that waited here find it done
            if api_version in self._discovered:
                if key in self._resources:
                    return
                asked = self._unknown.get(key)
                if asked is not None and time.monotonic() - asked < UNKNOWN_KIND_RECHECK:
                    return
            self._unknown.pop(key, None)
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = await self.request("GET", path)
            except KubeError as error:
                if error.not_found:  # no such group version (yet): asked again as for an unknown kind
                    self._discovered.add(api_version)
                    return
                raise
            for item in listing.get("resources", []):
                if "/" in item["name"]:
                    continue
                self._resources[(api_version, item["kind"])] = Resource(
                    api_version, item["kind"], item["name"], item["namespaced"])
            self._discovered.add(api_version)

    def forget_discovery(self) -> None:
        """Forget what discovery learnt (after CRDs were installed or removed)."""
        self._resources.clear()
        self._discovered.clear()
        self._unknown.clear()

    # -- objects ------------------------------------------------------------

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        res = await self.resource(api_version, kind)
        try:
            return await self.request("GET", res.path(name, namespace))
        except KubeError as error:
            if error.not_found:
                return None
            raise

    async def list(self, api_version: str, kind: str, namespace: str | None = None,
                   labels: Mapping[str, str] | str | None = None) -> list[dict]:
        return (await self.list_page(api_version, kind, namespace, labels))[0]

    async def list_page(self, api_version: str, kind: str, namespace: str | None = None,
                        labels: Mapping[str, str] | str | None = None) -> tuple[list[dict], str]:
        """Every object of a kind (all pages) and the list's resourceVersion, to watch from."""
        res = await self.resource(api_version, kind)
        query = [("labelSelector", _selector(labels))] if labels else []
        items, token = [], None
        while True:
            page = await self.request("GET", res.path(namespace=namespace),
                                      query=[*query, ("limit", 500)] + ([("continue", token)] if token else []))
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items, page.get("metadata", {}).get("resourceVersion", "")

    async def watch(self, api_version: str, kind: str, namespace: str | None = None,
                    labels: Mapping[str, str] | str | None = None, resource_version: str = "",
                    seconds: int = WATCH_SECONDS) -> AsyncIterator[tuple[str, dict]]:
        """The changes to a kind after `resource_version`, as (type, object): ADDED, MODIFIED,
        DELETED, BOOKMARK (only its resourceVersion) and ERROR (a Status: 410 when that version is
        too old to watch from). Ends when the server ends the stream (after about `seconds`)."""
        res = await self.resource(api_version, kind)
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", seconds)]
        if labels:
            query.append(("labelSelector", _selector(labels)))
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if self.limiter is not None:
            await self.limiter.wait()
        timeout = aiohttp.ClientTimeout(connect=self.timeout, sock_read=seconds + 30)
        try:
            response = await self.api.call_api(
                res.path(namespace=namespace), "GET", query_params=query,
                header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                _preload_content=False, _return_http_data_only=True, _request_timeout=timeout)
            self._watches.add(response)
            try:
                async with response:
                    if response.status >= 400:
                        raise _status_error(response.status, response.reason, (await response.read()).decode())
                    async for line in response.content:
                        if line.strip():
                            event = json.loads(line)
                            yield event.get("type", ""), event.get("object") or {}
            finally:
                self._watches.discard(response)
        except ApiException as error:
            raise KubeError.from_api_exception(error) from None
        except (TimeoutError, OSError, aiohttp.ClientError) as error:
            raise Unreachable(f"{self.host}: {type(error).__name__}: {error}") from None

    async def create(self, obj: dict) -> dict:
        res = await self.resource(obj["apiVersion"], obj["kind"])
        return await self.request("POST", res.path(namespace=obj["metadata"].get("namespace")), body=obj)

    async def replace(self, obj: dict) -> dict:
        """Write the whole object (an update); its resourceVersion makes it conditional."""
        res = await self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        return await self.request("PUT", res.path(meta["name"], meta.get("namespace")), body=obj)

    async def apply(self, obj: dict, manager: str = FIELD_MANAGER, force: bool = True,
                    dry_run: bool = False, subresource: str | None = None) -> dict:
        """Server-side apply `obj` (the fields this manager wants) and return the result."""
        res = await self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        query = [("fieldManager", manager), ("force", "true" if force else "false")]
        if dry_run:
            query.append(("dryRun", "All"))
        return await self.request(
            "PATCH", res.path(meta["name"], meta.get("namespace"), subresource),
            body=obj, query=query, content_type="application/apply-patch+yaml",
        )

    async def patch(self, api_version: str, kind: str, name: str, namespace: str | None,
                    patch: dict, subresource: str | None = None) -> dict:
        """A JSON merge patch."""
        res = await self.resource(api_version, kind)
        return await self.request("PATCH", res.path(name, namespace, subresource), body=patch,
                                  content_type="application/merge-patch+json")

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None,
                     propagation: str = "Background") -> bool:
        """Delete an object; False when it was already gone."""
        res = await self.resource(api_version, kind)
        try:
            await self.request("DELETE", res.path(name, namespace),
                               body={"propagationPolicy": propagation})
            return True
        except KubeError as error:
            if error.not_found:
                return False
            raise


def _status_error(code: int, reason: str | None, text: str) -> KubeError:
    """The KubeError of an answer >= 400, from its Status body when it has one."""
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    status = status if isinstance(status, dict) else {}
    error = KubeError(code, status.get("reason", reason or ""), status.get("message", text[:500] if not status else ""))
    error.retry_after = (status.get("details") or {}).get("retryAfterSeconds")
    return error


def object_ref(obj: Mapping) -> str:
    """`Kind/namespace/name` of an object, for messages."""
    meta = obj.get("metadata", {})
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')}/{ns}{meta.get('name')}"
