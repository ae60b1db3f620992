"""The HTTP side: one aiohttp server, every virtual cluster under `/clusters/<name>/`, the knobs
under `/admin/`.

Answers are JSON only (no aggregated discovery: clients fall back to the plain discovery
documents when the answer is not the aggregated kind). `kubectl get` gets the server-side Table
it asks for.

The knobs, at run time (or the same on `Simulator.cluster(name)` in-process):
    POST  /admin/clusters         {"names": [...], "nodes": N}   add virtual clusters
    PATCH /admin/clusters/<name>  {"latency": seconds, "fault": "close"|"unavailable"|"error"|null,
                                   "faultRate": 0..1}            answers the knobs and counters
    GET   /admin/clusters/<name>, DELETE /admin/clusters/<name>, GET /admin/stats
A fault strikes a request with probability faultRate: "close" drops the connection unanswered,
"unavailable" answers 503, "error" 500; latency is added before every request.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource as rusage
from datetime import UTC, datetime
from urllib.parse import unquote

import yaml
from aiohttp import web

from . import protobuf
from .store import ApiError, Selector, Stored, VirtualCluster, encode, parse_fields, parse_labels

FAULTS = ("close", "unavailable", "error")  # drop the connection, 503, 500
WATCH_LIMIT = 1800.0  # seconds a watch lasts at most without timeoutSeconds


def _json(body: dict | Stored, status: int = 200) -> web.Response:
    raw = body.raw if isinstance(body, Stored) else encode(body)
    return web.Response(body=raw, status=status, content_type="application/json")


def _error(error: ApiError) -> web.Response:
    return _json(error.status(), error.code)


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


class Simulator:
    """`await start()`, `add(name)`, knobs on `cluster(name)`, `await stop()`. Listens on 127.0.0.1."""

    def __init__(self, port: int = 0, nodes: int = 3, version: str = "v1.35.8", event_log: int = 64):
        self.port, self.nodes, self.version, self.event_log = port, nodes, version, event_log
        self.clusters: dict[str, VirtualCluster] = {}
        self._runner: web.AppRunner | None = None
        self._streams: set[web.StreamResponse] = set()

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/clusters/{cluster}", self._handle)  # client-go's AbsPath("/")
        app.router.add_route("*", "/clusters/{cluster}/{path:.*}", self._handle)
        app.router.add_route("*", "/admin/{path:.*}", self._admin)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        for cluster in self.clusters.values():
            cluster.stop_watchers()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, name: str, nodes: int | None = None) -> VirtualCluster:
        if name not in self.clusters:
            self.clusters[name] = VirtualCluster(name, self.nodes if nodes is None else nodes, self.version,
                                                 self.event_log)
        return self.clusters[name]

    def cluster(self, name: str) -> VirtualCluster:
        return self.clusters[name]

    def remove(self, name: str) -> None:
        cluster = self.clusters.pop(name, None)
        if cluster:
            cluster.stop_watchers()

    def server(self, name: str) -> str:
        return f"{self.url}/clusters/{name}"

    def kubeconfig(self, name: str) -> dict:
        return kubeconfig(self.server(name), name)

    # -- the Kubernetes API ------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        cluster = self.clusters.get(request.match_info["cluster"])
        if cluster is None:
            return _error(ApiError(404, "NotFound", "the server could not find the requested resource"))
        cluster.requests += 1
        if cluster.latency > 0:
            await asyncio.sleep(cluster.latency)
        if cluster.fault and random.random() < cluster.fault_rate:
            return self._fault(request, cluster.fault)
        try:
            path = request.match_info.get("path", "")
            return await self._route(cluster, request, [unquote(p) for p in path.strip("/").split("/") if p])
        except ApiError as error:
            return _error(error)

    @staticmethod
    def _fault(request: web.Request, fault: str) -> web.StreamResponse:
        if fault == "close":
            request.transport.abort()
            return web.Response(status=503)  # never sent: the connection is gone
        if fault == "unavailable":
            return _error(ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the "
                                                              "request (simulated fault)"))
        return _error(ApiError(500, "InternalError", "an error on the server (\"simulated fault\") has "
                                                     "prevented the request from succeeding"))

    async def _route(self, cluster: VirtualCluster, request: web.Request, parts: list[str]):
        if not parts:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/livez", "/readyz", "/version"]})
        if parts[0] in ("readyz", "livez", "healthz"):
            return web.Response(text="ok")
        if parts == ["version"]:
            return _json(version_info(cluster.version))
        if parts[0] == "openapi" and parts[1:2] == ["v3"]:
            return _json(openapi_v3(cluster, request.match_info["cluster"], parts[2:]))
        if parts[0] == "api" and len(parts) <= 2 or parts[0] == "apis" and len(parts) <= 3:
            return self._discovery(cluster, parts)
        if parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        res = cluster.resource(group, version, rest[0])
        if res is None or len(rest) > 3 or (namespace and not res.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and (subresource != "status" or not res.status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return await self._verb(cluster, request, res, namespace, name, subresource)

    async def _verb(self, cluster, request, res, namespace, name, subresource):
        query, method = request.query, request.method
        dry_run = query.get("dryRun") == "All"
        manager = query.get("fieldManager") or _agent_manager(request)
        if method == "GET" and not name:
            selector = Selector(namespace or None, parse_labels(query.get("labelSelector")),
                                parse_fields(query.get("fieldSelector")))
            if _true(query.get("watch")):
                return await self._watch(cluster, request, res, selector)
            return self._list(cluster, request, res, selector)
        if method == "GET":
            return self._one(request, cluster.get(res, namespace, name))
        if method == "POST" and not name:
            return _json(cluster.create(res, namespace, await _body(request), manager, dry_run), 201)
        if method == "PUT" and name:
            return _json(cluster.replace(res, namespace, name, await _body(request), manager,
                                         subresource, dry_run))
        if method == "PATCH" and name:
            return await self._patch(cluster, request, res, namespace, name, subresource, manager, dry_run)
        if method == "DELETE" and name and not subresource:
            obj = cluster.delete(res, namespace, name, dry_run).obj()
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                          "details": {"name": name, "group": res.group, "kind": res.plural,
                                      "uid": obj["metadata"]["uid"]}})
        if method == "DELETE" and not name:
            selector = Selector(namespace or None, parse_labels(query.get("labelSelector")),
                                parse_fields(query.get("fieldSelector")))
            gone = [cluster.delete(res, o.namespace, o.name, dry_run) for o in cluster.list(res, selector)]
            return _list_response(res, gone, cluster.rv, "")
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested "
                                                f"resource ({method})")

    async def _patch(self, cluster, request, res, namespace, name, subresource, manager, dry_run):
        kind = (request.content_type or "").lower()
        body = await _body(request, yaml_ok=kind == "application/apply-patch+yaml")
        if kind == "application/apply-patch+yaml":
            if not request.query.get("fieldManager"):
                raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                                               "value: is required for apply patch",
                               {"group": "meta.k8s.io", "kind": "PatchOptions",
                                "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required "
                                            "for apply patch", "field": "fieldManager"}]})
            obj, created = cluster.apply(res, namespace, name, body, manager, _true(request.query.get("force")),
                                         subresource, dry_run)
            return _json(obj, 201 if created else 200)
        if kind in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            # Strategic merge is taken as JSON merge: lists are replaced, not merged by key.
            return _json(cluster.merge_patch(res, namespace, name, body, manager, subresource, dry_run))
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                    f"accepted media types include: application/merge-patch+json, "
                                                    f"application/strategic-merge-patch+json, "
                                                    f"application/apply-patch+yaml ({kind})")

    def _list(self, cluster, request, res, selector):
        items = cluster.list(res, selector)
        limit = int(request.query.get("limit") or 0)
        start = int(request.query.get("continue") or 0)
        page = items[start:start + limit] if limit else items[start:]
        more = str(start + limit) if limit and start + limit < len(items) else ""
        if _wants_table(request):
            return _json(table_of(res.kind, [o.obj() for o in page], str(cluster.rv),
                                  request.query.get("includeObject")))
        return _list_response(res, page, cluster.rv, more)

    def _one(self, request, stored: Stored):
        if _wants_table(request):
            obj = stored.obj()
            return _json(table_of(obj["kind"], [obj], obj["metadata"]["resourceVersion"],
                                  request.query.get("includeObject")))
        return _json(stored)

    async def _watch(self, cluster, request, res, selector):
        # A streaming list (client-go's WatchListClient): every object, then a bookmark marking the end.
        initial = _true(request.query.get("sendInitialEvents"))
        try:
            watcher = cluster.watch(res, selector, None if initial else request.query.get("resourceVersion"))
        except ApiError as error:
            if error.code != 410:
                raise
            return await self._gone(request, error)
        if initial:
            watcher.queue.put_nowait(("BOOKMARK", {
                "kind": res.kind, "apiVersion": res.group_version,
                "metadata": {"resourceVersion": str(cluster.rv),
                             "annotations": {"k8s.io/initial-events-end": "true"}}}))
        limit = float(request.query.get("timeoutSeconds") or WATCH_LIMIT)
        wants_table = _wants_table(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self._streams.add(response)
        deadline = asyncio.get_running_loop().time() + limit
        try:
            while True:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), left)
                except TimeoutError:
                    break
                if event is None:
                    break
                kind, obj = event
                if wants_table and isinstance(obj, Stored):
                    obj = obj.obj()
                    obj = table_of(obj["kind"], [obj], obj["metadata"]["resourceVersion"],
                                   request.query.get("includeObject"))
                raw = obj.raw if isinstance(obj, Stored) else encode(obj)
                await response.write(b'{"type":"%s","object":%s}\n' % (kind.encode(), raw))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            cluster.watchers.discard(watcher)
            self._streams.discard(response)
        return response

    @staticmethod
    async def _gone(request, error: ApiError) -> web.StreamResponse:
        """A watch from too old a version: 200, then one ERROR event carrying the 410 (as the API server)."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(json.dumps({"type": "ERROR", "object": error.status()}).encode() + b"\n")
        await response.write_eof()
        return response

    @staticmethod
    def _discovery(cluster: VirtualCluster, parts: list[str]) -> web.Response:
        served = cluster.served()
        groups: dict[str, list[str]] = {}
        for r in served:
            if r.group and r.version not in groups.setdefault(r.group, []):
                groups[r.group].append(r.version)
        if parts == ["api"]:
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if parts == ["apis"]:
            return _json({"kind": "APIGroupList", "apiVersion": "v1",
                          "groups": [_group(g, v) for g, v in groups.items()]})
        if parts[0] == "apis" and len(parts) == 2:
            if parts[1] not in groups:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return _json({"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1], groups[parts[1]])})
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        resources = [d for r in served if (r.group, r.version) == (group, version) for d in r.discovery()]
        if not resources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return _json({"kind": "APIResourceList", "apiVersion": "v1",
                      "groupVersion": f"{group}/{version}" if group else version, "resources": resources})

    # -- the knobs ---------------------------------------------------------

    async def _admin(self, request: web.Request) -> web.Response:
        """The knobs (see the module docstring)."""
        parts = [p for p in request.match_info["path"].split("/") if p]
        try:
            body = await request.json() if request.can_read_body else {}
            if parts == ["stats"] and request.method == "GET":
                return _json(self.stats())
            if parts == ["clusters"] and request.method == "POST":
                for name in body.get("names") or []:
                    self.add(name, body.get("nodes"))
                return _json({"clusters": len(self.clusters)}, 201)
            if len(parts) == 2 and parts[0] == "clusters" and parts[1] in self.clusters:
                if request.method == "PATCH":
                    set_knobs(self.clusters[parts[1]], body)
                elif request.method == "DELETE":
                    self.remove(parts[1])
                    return _json({})
                return _json(knobs(self.clusters[parts[1]]))
        except (ValueError, TypeError) as error:
            return _json({"error": str(error)}, 400)
        return _json({"error": f"no admin endpoint {request.method} /admin/{'/'.join(parts)}"}, 404)

    def stats(self) -> dict:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * rusage.getpagesize()
        return {"clusters": len(self.clusters), "rssBytes": rss,
                "requests": sum(c.requests for c in self.clusters.values()),
                "objects": sum(len(items) for c in self.clusters.values() for items in c.objects.values()),
                "watches": len(self._streams)}


# -- helpers ----------------------------------------------------------------------------


def knobs(cluster: VirtualCluster) -> dict:
    return {"name": cluster.name, "latency": cluster.latency, "fault": cluster.fault,
            "faultRate": cluster.fault_rate, "requests": cluster.requests,
            "objects": sum(len(items) for items in cluster.objects.values()), "resourceVersion": cluster.rv}


def set_knobs(cluster: VirtualCluster, body: dict) -> None:
    if "latency" in body:
        latency = float(body["latency"] or 0)
        if latency < 0:
            raise ValueError("latency: must be 0 or more seconds")
        cluster.latency = latency
    if "fault" in body:
        if body["fault"] not in (None, *FAULTS):
            raise ValueError(f"fault: {body['fault']!r} is not one of {', '.join(FAULTS)} or null")
        cluster.fault = body["fault"]
    if "faultRate" in body:
        rate = float(body["faultRate"])
        if not 0 <= rate <= 1:
            raise ValueError("faultRate: must be between 0 and 1")
        cluster.fault_rate = rate


def kubeconfig(server: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": server}}],
            "users": [{"name": name, "user": {}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}]}


def age(stamp: str) -> str:
    """How kubectl shows an age: 42s, 5m, 3h, 2d."""
    try:
        created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = max(0, int((datetime.now(UTC) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def openapi_v3(cluster: VirtualCluster, name: str, gv: list[str]) -> dict:
    """Just enough OpenAPI v3 for kubectl to see that each kind takes `fieldValidation` (so it leaves
    validation to the server instead of downloading schemas); there are no schemas."""
    served = cluster.served()
    if not gv:
        paths = {("api/v1" if not r.group else f"apis/{r.group_version}") for r in served}
        return {"paths": {p: {"serverRelativeURL": f"/clusters/{name}/openapi/v3/{p}"} for p in sorted(paths)}}
    group, version = ("", "v1") if gv[0] == "api" else (gv[1], gv[2]) if len(gv) == 3 else (None, None)
    paths = {}
    for r in served:
        if (r.group, r.version) != (group, version):
            continue
        base = "/api/v1" if not r.group else f"/apis/{r.group_version}"
        scope = "/namespaces/{namespace}" if r.namespaced else ""
        patch = {"x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                 "parameters": [{"name": q, "in": "query", "schema": {"type": "string"}}
                                for q in ("dryRun", "fieldManager", "fieldValidation", "force")],
                 "responses": {}}
        paths[f"{base}{scope}/{r.plural}/{{name}}"] = {"patch": patch}
    if not paths:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (simulated)", "version": cluster.version},
            "paths": paths, "components": {"schemas": {}}}


def version_info(version: str) -> dict:
    major, minor = version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "gitVersion": version, "gitCommit": "simulated",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25",
            "compiler": "gc", "platform": "linux/amd64"}


def _group(name: str, versions: list[str]) -> dict:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def _agent_manager(request: web.Request) -> str:
    """The field manager when none is named: the User-Agent up to its first '/' (as the API server)."""
    return (request.headers.get("User-Agent") or "unknown").split("/")[0][:128]


async def _body(request: web.Request, yaml_ok: bool = False):
    raw = await request.read()
    if "protobuf" in (request.content_type or ""):
        try:
            return protobuf.decode(raw)
        except protobuf.Unreadable as error:
            raise ApiError(415, "UnsupportedMediaType", f"the simulator reads protobuf bodies of Namespaces, "
                                                        f"ConfigMaps, Secrets and ServiceAccounts only (not {error}): "
                                                        "send application/json") from None
    try:
        return json.loads(raw)
    except ValueError:
        if yaml_ok:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as error:
                raise ApiError(400, "BadRequest", f"error decoding YAML: {error}") from None
        raise ApiError(400, "BadRequest", "the body of the request is not valid JSON") from None


def _list_response(res, items: list[Stored], rv: int, more: str) -> web.Response:
    meta = {"resourceVersion": str(rv), **({"continue": more} if more else {})}
    head = encode({"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": meta})
    body = head[:-1] + b',"items":[' + b",".join(o.raw for o in items) + b"]}"
    return web.Response(body=body, content_type="application/json")


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def table_of(kind: str, items: list[dict], rv: str, include: str | None) -> dict:
    """A meta.k8s.io/v1 Table: the columns the API server prints for Nodes, else Name and Age."""
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    if kind == "Node":
        columns += [{"name": n, "type": "string", "format": "", "description": n, "priority": 0}
                    for n in ("Status", "Roles")]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    if kind == "Node":
        columns.append({"name": "Version", "type": "string", "format": "", "description": "Version",
                        "priority": 0})
    rows = []
    for obj in items:
        meta = obj["metadata"]
        cells = [meta["name"]]
        if kind == "Node":
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (obj.get("status") or {}).get("conditions") or [])
            roles = sorted(k.split("/", 1)[1] for k in meta.get("labels") or {}
                           if k.startswith("node-role.kubernetes.io/"))
            cells += ["Ready" if ready else "NotReady", ",".join(roles) or "<none>"]
        cells.append(age(meta.get("creationTimestamp", "")))
        if kind == "Node":
            cells.append(((obj.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""))
        row = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": columns, "rows": rows}
