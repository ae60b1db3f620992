"""Clients for workload clusters, built from their `<cluster>-kubeconfig` Secrets.

One `Kube` per cluster, cached while the Secret stays the same (a rotated kubeconfig gets a new
client) and closed when the cluster goes. The Secret is read again at most every `recheck`
seconds, so probes and stack syncs do not each cost a read of the management cluster.

Whoever can write the Secret in a Fleet's namespace decides what the controller connects to, so
the kubeconfig is reduced to its current context's server, CA data, client certificate/key data
and token (`reduce`); settings that would run a command, read a file of the controller's, go
through a proxy or skip TLS verification are refused, naming the setting. The key is only ever
held in memory: the TLS context is built here (the client library would write it to a
temporary file), the client certificate read through an anonymous in-memory file.

TLS contexts are shared: one per (CA, client certificate and key), for as long as a client uses
it. Building one from the system's CA store took most of the controller's CPU at 1,000 clusters
(the library's own client builds one per client, which is why `client` does not let it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ssl
import time
import weakref
from dataclasses import dataclass, field

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client import rest
from yarl import URL

from mgmt import kubeyaml
from mgmt.kube import Kube, KubeError
from mgmt.memfiles import memory_file

#: kubeconfig settings refused, with why (a user's, then a cluster's).
REFUSED_USER = {
    "exec": "runs a command",
    "auth-provider": "runs a plugin",
    "tokenFile": "reads a file of the controller's",
    "client-certificate": "reads a file of the controller's",
    "client-key": "reads a file of the controller's",
    "username": "uses basic authentication",
    "password": "uses basic authentication",
    "as": "impersonates",
    "as-groups": "impersonates",
    "as-uid": "impersonates",
}
REFUSED_CLUSTER = {
    "proxy-url": "goes through a proxy",
    "insecure-skip-tls-verify": "skips TLS verification",
    "certificate-authority": "reads a file of the controller's",
}


class NoKubeconfig(Exception):
    """The cluster has no usable kubeconfig Secret (yet)."""


class BadKubeconfig(ValueError):
    """The kubeconfig is malformed; the message names what, never a value."""


class UnsafeKubeconfig(NoKubeconfig):
    """The kubeconfig asks for something the controller does not do for a workload cluster."""


@dataclass(frozen=True)
class Access:
    """What Drover uses of a kubeconfig. Its repr never shows the credentials."""
    server: str
    ca: bytes | None = field(default=None, repr=False)
    certificate: bytes | None = field(default=None, repr=False)
    key: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


def reduce(config: dict) -> Access:
    """The current context's server and inline credentials; UnsafeKubeconfig naming the setting
    for anything else that would change what the controller does; BadKubeconfig when malformed."""
    if not isinstance(config, dict):
        raise BadKubeconfig("not a mapping")
    context = _named(config, "contexts", "context", config.get("current-context") or None)
    cluster = _named(config, "clusters", "cluster", context.get("cluster"))
    user = _named(config, "users", "user", context.get("user"), optional=True)
    for settings, refused in ((user, REFUSED_USER), (cluster, REFUSED_CLUSTER)):
        for name, why in refused.items():
            if settings.get(name) not in (None, False, "", [], {}):
                raise UnsafeKubeconfig(f"the kubeconfig sets {name} (it {why}; only server, "
                                       "certificate-authority-data, client-certificate-data, "
                                       "client-key-data and token are used)")
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")) or "@" in server:
        raise BadKubeconfig("the server is not an http(s) URL without user information")
    certificate, key = _data(user, "client-certificate-data"), _data(user, "client-key-data")
    if (certificate is None) != (key is None):
        raise BadKubeconfig("a client certificate needs its key, and a key its certificate")
    token = user.get("token")
    if token is not None and (not isinstance(token, str) or not token.isprintable()):
        raise BadKubeconfig("the token is not a printable string")
    return Access(server.rstrip("/"), _data(cluster, "certificate-authority-data"), certificate, key, token or None)


def _named(config: dict, section: str, key: str, name, optional: bool = False) -> dict:
    items = config.get(section) or []
    if not isinstance(items, list):
        raise BadKubeconfig(f"{section} is not a list")
    if name is None and len(items) == 1:
        name = items[0].get("name") if isinstance(items[0], dict) else None
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(key) or {}
            if not isinstance(value, dict):
                raise BadKubeconfig(f"{section} {name}: not a mapping")
            return value
    if optional:
        return {}
    raise BadKubeconfig(f"no {key} for the current context")


def _data(settings: dict, name: str) -> bytes | None:
    value = settings.get(name)
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadKubeconfig(f"{name} is not base64") from None


_contexts: weakref.WeakValueDictionary[bytes, ssl.SSLContext] = weakref.WeakValueDictionary()


def ssl_context(access: Access) -> ssl.SSLContext:
    """The TLS context of `access`, shared by every client with the same CA and client
    certificate (the key is a digest: no credential is kept here)."""
    digest = hashlib.sha256()
    for part in (access.ca, access.certificate, access.key):
        digest.update(b"-" if part is None else len(part).to_bytes(8, "big") + part)
    key = digest.digest()
    context = _contexts.get(key)
    if context is None:
        context = _contexts[key] = _new_ssl_context(access)
    return context


def _new_ssl_context(access: Access) -> ssl.SSLContext:
    """Verify the server against the kubeconfig's CA (or the system's), present the client
    certificate: all from memory."""
    try:
        context = ssl.create_default_context(cadata=access.ca.decode("ascii") if access.ca else None)
    except (ssl.SSLError, UnicodeDecodeError):
        raise BadKubeconfig("certificate-authority-data holds no PEM certificate") from None
    if access.certificate is not None:
        with memory_file(access.certificate + b"\n" + access.key) as path:
            try:
                context.load_cert_chain(path)
            except ssl.SSLError:
                raise BadKubeconfig("client-certificate-data and client-key-data are not a PEM "
                                 "certificate and its key") from None
    return context


async def client(access: Access, timeout: float) -> Kube:
    """A Kube for `access` on a session with the shared TLS context (the library would build its
    own from the system's CA store, and write the key to a temporary file)."""
    context = ssl_context(access)
    configuration = k8s.Configuration(host=access.server)
    if access.token:
        configuration.api_key = {"BearerToken": access.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    configuration.proxy, configuration.proxy_headers = _env_proxy(access.server)
    session = aiohttp.ClientSession(  # the library's own session, less trust_env (see _env_proxy)
        connector=aiohttp.TCPConnector(limit=configuration.connection_pool_maxsize, ssl=context),
        read_bufsize=2**21)
    return Kube(_ApiClient(configuration, _RestClient(configuration, session)), timeout)


def _env_proxy(server: str) -> tuple[str | None, dict[str, str] | None]:
    """The proxy $HTTPS_PROXY/$NO_PROXY name for `server` (and its credentials), found once per
    client: aiohttp's trust_env looks it up on every request, reading ~/.netrc each time, which
    was a tenth of the controller's CPU while a stack rolled out to 1,000 clusters."""
    try:
        proxy, auth = get_env_proxy_for_url(URL(server))
    except LookupError:
        return None, None
    return str(proxy), ({"Proxy-Authorization": auth.encode()} if auth else None)


class _RestClient(rest.RESTClientObject):
    """The library's REST client on a given session; its own __init__ would build a TLS context
    (and load the system's CA store) only to be thrown away."""

    def __init__(self, configuration: k8s.Configuration, session: aiohttp.ClientSession):
        self.server_hostname = configuration.tls_server_name
        self.proxy, self.proxy_headers = configuration.proxy, configuration.proxy_headers
        self.pool_manager = session


class _ApiClient(k8s.ApiClient):
    """The library's ApiClient with a given REST client (its own __init__ makes one)."""

    def __init__(self, configuration: k8s.Configuration, rest_client: rest.RESTClientObject):
        self.configuration = configuration
        self.pool_threads = 1
        self.rest_client = rest_client
        self.default_headers = {}
        self.cookie = None
        self.client_side_validation = configuration.client_side_validation


def kubeconfig_secret_name(cluster: str) -> str:
    return f"{cluster}-kubeconfig"


class WorkloadClients:
    """One client per member cluster, made from its `<cluster>-kubeconfig` Secret. The Secret is
    read again every `recheck` seconds, and at once after the cluster stopped answering (`suspect`):
    a kubeconfig that works is rarely replaced, one that stopped working may have been."""

    def __init__(self, mgmt: Kube, timeout: float = 10.0, recheck: float = 300.0):
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
            where = f"Secret {namespace}/{kubeconfig_secret_name(cluster)}"
            try:
                access = reduce(kubeyaml.load(base64.b64decode(secret["data"]["value"])))
                kube = await client(access, self.timeout)
            except UnsafeKubeconfig as error:
                raise UnsafeKubeconfig(f"{where}: {error}") from None
            except (ValueError, TypeError, KeyError, kubeyaml.KubeYAMLError) as error:
                # The messages above name settings, never values: the content is a credential.
                raise NoKubeconfig(f"{where} does not hold a usable kubeconfig ({_reason(error)})") from None
            self._clients[key] = (version, kube)
            return kube

    def suspect(self, namespace: str, cluster: str) -> None:
        """The cluster did not answer: read its Secret again on the next `get`."""
        self._checked.pop((namespace, cluster), None)

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


def _reason(error: Exception) -> str:
    return str(error) if isinstance(error, BadKubeconfig) else type(error).__name__


__all__ = ["Access", "KubeError", "NoKubeconfig", "UnsafeKubeconfig", "WorkloadClients",
           "kubeconfig_secret_name", "reduce"]
