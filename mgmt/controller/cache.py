"""Reads of the management cluster served from watches, not a GET per object per resync.

One informer per kind, started by the first read of that kind: a LIST, then a WATCH from its
resourceVersion (resumed where it ended, listed again when that version is too old). It watches
every namespace (one stream per kind however many Fleets' namespaces there are: a stream per kind
and namespace would hold one of the client's 100 connections each); where the controller may not
list a kind across namespaces (RoleBindings per namespace), one informer per kind and namespace.
It keeps only the objects that carry Drover's fleet label (the ones Drover applies; an object
without the label differs from what Drover would apply either way), without their managedFields,
and never Secrets (credentials are not kept in memory for longer than a read).

A read the informer cannot answer (not listed yet, its watch broken, the kind forbidden or not
served) is a GET, as before: the cache saves requests, it never answers with what it does not know.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping

from mgmt.api.models import FLEET_LABEL
from mgmt.kube import Kube, KubeError

log = logging.getLogger("drover.cache")

SYNC_WAIT = 10.0     # seconds a first read waits for its informer's LIST before it GETs instead
RETRY_MAX = 30.0     # cap of the backoff between failed LISTs/WATCHes of one informer
UNCACHED_KINDS = {("v1", "Secret")}


def cached(obj: Mapping) -> bool:
    """Whether the cache can answer for `obj` (a desired object): labelled, and not a Secret."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return FLEET_LABEL in labels and (obj.get("apiVersion"), obj.get("kind")) not in UNCACHED_KINDS


class Informer:
    """The objects of one kind with the fleet label (in one namespace, or all), kept current by a
    watch, by (namespace, name)."""

    def __init__(self, kube: Kube, api_version: str, kind: str, namespace: str | None):
        self.kube, self.api_version, self.kind, self.namespace = kube, api_version, kind, namespace
        self.objects: dict[tuple[str | None, str], dict] = {}
        self.forbidden = False  # the LIST was refused (403): this informer answers nothing
        self.version = ""
        self._current = asyncio.Event()  # set while the objects are those of a live watch
        self._tried = asyncio.Event()    # set once the first LIST answered, or failed
        self._task = asyncio.create_task(self._run(), name=f"informer {kind} {namespace or '*'}")

    async def current(self, wait: float) -> bool:
        """True when the objects are current (waiting up to `wait` seconds for the first LIST)."""
        if not self._tried.is_set():
            try:
                await asyncio.wait_for(self._tried.wait(), wait)
            except TimeoutError:
                pass
        return self._current.is_set()

    def observe(self, obj: dict) -> None:
        """What a write of ours answered, unless the watch already brought a newer version (another
        writer's, while our answer was on its way)."""
        held = self.objects.get(key(obj))
        if held is None or not _newer(held, obj):
            self._store(obj)

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _run(self) -> None:
        try:
            await self._keep_current()
        except Exception:  # a bug: said once, then every read of this kind is a GET
            log.exception("informer %s %s stopped", self.kind, self.namespace or "*")
        finally:  # an informer that stopped (closed, or a bug) never answers again
            self._current.clear()
            self._tried.set()

    async def _keep_current(self) -> None:
        failures = 0
        while not self._closed():
            try:
                if not self.version:
                    await self._list()
                await self._watch()  # ends when the server ends the stream: watched again from there
                failures = 0
            except (KubeError, ValueError, KeyError, TypeError) as error:
                self._current.clear()
                self.forbidden = self.forbidden or (isinstance(error, KubeError) and error.status == 403)
                self._tried.set()
                self.version = ""
                if self._closed():
                    return
                if isinstance(error, KubeError) and error.status == 410:
                    continue  # too old a version to watch from: listed again at once
                failures += 1
                delay = min(RETRY_MAX, 2.0 ** failures)
                log.debug("informer %s %s: %s; again in %.0f s", self.kind, self.namespace or "*", error, delay)
                await asyncio.sleep(delay)

    def _closed(self) -> bool:
        return self.kube.api.rest_client.pool_manager.closed

    async def _list(self) -> None:
        items, version = await self.kube.list_page(self.api_version, self.kind, self.namespace, FLEET_LABEL)
        self.objects = {}
        for item in items:
            self._store(item)
        self.version = version
        self._current.set()
        self._tried.set()

    async def _watch(self) -> None:
        async for kind, obj in self.kube.watch(self.api_version, self.kind, self.namespace, FLEET_LABEL,
                                               self.version):
            if kind == "ERROR":
                raise KubeError(obj.get("code") or 0, obj.get("reason", ""), obj.get("message", ""))
            self.version = (obj.get("metadata") or {}).get("resourceVersion") or self.version
            if kind == "DELETED":
                self.objects.pop(key(obj), None)
            elif kind in ("ADDED", "MODIFIED"):
                self._store(obj)
            self._current.set()

    def _store(self, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        if FLEET_LABEL not in (meta.get("labels") or {}):
            self.objects.pop(key(obj), None)
            return
        # managedFields are often half the object, and nothing compares them.
        meta = {field: value for field, value in meta.items() if field != "managedFields"}
        self.objects[key(obj)] = {"apiVersion": self.api_version, "kind": self.kind, **obj, "metadata": meta}


def _newer(held: Mapping, answered: Mapping) -> bool:
    """Whether the held copy is a later version than the answer (resourceVersions are etcd
    revisions here; one that is not a number is never called newer)."""
    try:
        return int(held["metadata"]["resourceVersion"]) > int(answered["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return False


def key(obj: Mapping) -> tuple[str | None, str]:
    meta = obj["metadata"]
    return meta.get("namespace"), meta["name"]


class ObjectCache:
    """The informers of one management client, started on first use."""

    def __init__(self, kube: Kube):
        self.kube = kube
        self._informers: dict[tuple[str, str, str | None], Informer] = {}

    def informer(self, api_version: str, kind: str, namespace: str | None) -> Informer:
        """The informer of every namespace; of `namespace` alone where that one was forbidden."""
        wide = self._informer((api_version, kind, None))
        return self._informer((api_version, kind, namespace)) if wide.forbidden and namespace else wide

    def _informer(self, scope: tuple[str, str, str | None]) -> Informer:
        if scope not in self._informers:
            self._informers[scope] = Informer(self.kube, *scope)
        return self._informers[scope]

    async def get(self, obj: Mapping) -> dict | None:
        """The live object of desired `obj` (read-only: it is the cache's own copy)."""
        meta = obj["metadata"]
        if cached(obj):
            informer = self.informer(obj["apiVersion"], obj["kind"], meta.get("namespace"))
            if await informer.current(SYNC_WAIT):
                return informer.objects.get(key(obj))
        return await self.kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    def observe(self, obj: dict) -> None:
        """Record the answer of a write, so the next read does not find the object as it was."""
        if cached(obj) and (obj["apiVersion"], obj["kind"], None) in self._informers:
            self.informer(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace")).observe(obj)

    async def close(self) -> None:
        informers, self._informers = list(self._informers.values()), {}
        for informer in informers:
            await informer.close()


_caches: weakref.WeakKeyDictionary[Kube, ObjectCache] = weakref.WeakKeyDictionary()


def of(kube: Kube) -> ObjectCache:
    """The cache of a management client (one per client; its informers end when the client closes)."""
    if kube not in _caches:
        _caches[kube] = ObjectCache(kube)
    return _caches[kube]


async def close(kube: Kube) -> None:
    cache = _caches.pop(kube, None)
    if cache is not None:
        await cache.close()
