"""One virtual cluster: its objects, resource versions, watch events and knobs.

Objects are kept as compact JSON (`Stored`: the bytes plus the name, namespace and labels that
selectors need), not as dicts: a Deployment takes ~1.4 KB instead of ~9 KB of dicts, a 256 KiB
CRD stays 256 KiB, and reads, lists and watch events are answered without encoding anything.
Writes decode, change and encode again. All calls are synchronous: the one asyncio loop runs
them to the end, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field

from . import fields
from .resources import BUILTIN, CRD, Resource, crd_problem, from_crd

BUILTIN_BY_PATH = {(r.group, r.version, r.plural): r for r in BUILTIN}
# Groups whose kinds carry no metadata.generation (core, RBAC, ...); the others count spec changes.
NO_GENERATION = {"", "rbac.authorization.k8s.io", "coordination.k8s.io", "storage.k8s.io", "scheduling.k8s.io"}
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
WORKLOAD_KINDS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
                  ("apps", "ReplicaSet"), ("batch", "Job")}


class ApiError(Exception):
    """An answer with a `Status` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.group_resource} "{name}" not found', _details(res, name))


def _details(res: Resource, name: str) -> dict:
    details = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    return details


# -- selectors --------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(=|==|!=)\s*([\w./-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def parse_labels(text: str | None) -> list:
    """A label selector as (key, op, values) terms; ApiError 400 when it does not parse."""
    terms = []
    for part in re.split(r",(?![^(]*\))", text or ""):
        if not part.strip():
            continue
        match = _SET_RE.match(part)
        if not match:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part.strip()!r}")
        bang, key, op, value, set_op, values = match.groups()
        if bang and (op or set_op):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part.strip()!r}")
        if set_op:
            terms.append((key, set_op, {v.strip() for v in values.split(",") if v.strip()}))
        elif op:
            terms.append((key, "!=" if op == "!=" else "=", {value}))
        else:
            terms.append((key, "!" if bang else "exists", set()))
    return terms


def labels_match(terms: list, labels: dict) -> bool:
    for key, op, values in terms:
        present, value = key in labels, labels.get(key)
        ok = {"=": present and value in values, "in": present and value in values,
              "!=": not present or value not in values, "notin": not present or value not in values,
              "exists": present, "!": not present}[op]
        if not ok:
            return False
    return True


def parse_fields(text: str | None) -> list[tuple[tuple[str, ...], bool, str]]:
    """A field selector as (path, negated, value) terms. Any dotted path is taken (the API server
    allows a few per kind: metadata.name, spec.nodeName, status.phase, ...); a missing field is ""."""
    out = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        negate = "!=" in part
        key, _, value = part.replace("!=", "=").replace("==", "=").partition("=")
        if not key.strip() or not _:
            raise ApiError(400, "BadRequest", f"invalid selector: {part.strip()!r}")
        out.append((tuple(key.strip().split(".")), negate, value.strip()))
    return out


def _field(obj: dict, path: tuple[str, ...]) -> str:
    value = fields.lookup(obj, path, "")
    return str(value).lower() if isinstance(value, bool) else str(value)


def encode(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Stored:
    """One object as stored and served."""
    raw: bytes
    namespace: str
    name: str
    labels: dict

    @classmethod
    def of(cls, obj: dict) -> Stored:
        meta = obj["metadata"]
        return cls(encode(obj), meta.get("namespace", ""), meta["name"], meta.get("labels") or {})

    def obj(self) -> dict:
        return json.loads(self.raw)


@dataclass
class Selector:
    namespace: str | None = None
    labels: list = field(default_factory=list)
    fields: list = field(default_factory=list)

    def matches(self, stored: Stored) -> bool:
        if self.namespace and stored.namespace != self.namespace:
            return False
        if self.fields:
            obj = stored.obj()
            if any((_field(obj, path) == value) == negate for path, negate, value in self.fields):
                return False
        return labels_match(self.labels, stored.labels)


@dataclass(eq=False)
class Watcher:
    key: tuple[str, str]
    selector: Selector
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def offer(self, kind: str, obj: Stored, previous: Stored | None) -> None:
        now, before = self.selector.matches(obj), previous is not None and self.selector.matches(previous)
        if kind == "MODIFIED" and now and not before:
            kind = "ADDED"
        elif kind == "MODIFIED" and before and not now:
            kind, now = "DELETED", True
        if now:
            self.queue.put_nowait((kind, obj))


# -- the cluster ------------------------------------------------------------------


class VirtualCluster:
    def __init__(self, name: str, nodes: int = 3, version: str = "v1.35.8", event_log: int = 64):
        self.name, self.version = name, version
        self.custom: dict[tuple[str, str, str], Resource] = {}  # served by CRDs
        self.objects: dict[tuple[str, str], dict[tuple[str, str], Stored]] = {}
        self.rv = 0
        self.events: deque = deque(maxlen=event_log)
        self.watchers: set[Watcher] = set()
        # knobs (see server.py): seconds added to each request; a fault and how often it strikes
        self.latency = 0.0
        self.fault: str | None = None
        self.fault_rate = 1.0
        self.requests = 0
        for ns in SYSTEM_NAMESPACES:
            self._seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(nodes):
            self._seed(node(name, i, version))

    # -- resources ----------------------------------------------------------

    def resource(self, group: str, version: str, plural: str) -> Resource | None:
        key = (group, version, plural)
        return BUILTIN_BY_PATH.get(key) or self.custom.get(key)

    def served(self) -> list[Resource]:
        return [*BUILTIN, *self.custom.values()]

    def _store(self, res: Resource) -> dict[tuple[str, str], Stored]:
        return self.objects.setdefault((res.group, res.plural), {})

    # -- reads --------------------------------------------------------------

    def get(self, res: Resource, namespace: str, name: str) -> Stored:
        obj = self.objects.get((res.group, res.plural), {}).get((namespace if res.namespaced else "", name))
        if obj is None:
            raise not_found(res, name)
        return obj

    def list(self, res: Resource, selector: Selector) -> list[Stored]:
        items = self.objects.get((res.group, res.plural), {})
        return [items[k] for k in sorted(items) if selector.matches(items[k])]

    def watch(self, res: Resource, selector: Selector, since: str | None) -> Watcher:
        """A watcher with what it missed since `since` queued (all current objects as ADDED when
        `since` is empty or "0"); ApiError 410 when the log no longer reaches back that far."""
        watcher = Watcher((res.group, res.plural), selector)
        if not since or since == "0":
            for obj in self.list(res, selector):
                watcher.queue.put_nowait(("ADDED", obj))
        else:
            try:
                start = int(since)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version: {since!r}") from None
            oldest = self.events[0][0] if self.events else self.rv + 1
            if start < oldest - 1 and len(self.events) == self.events.maxlen:
                raise ApiError(410, "Expired", f"too old resource version: {start} ({oldest - 1})")
            for rv, kind, key, obj, previous in self.events:
                if rv > start and key == watcher.key:
                    watcher.offer(kind, obj, previous)
        self.watchers.add(watcher)
        return watcher

    # -- writes -------------------------------------------------------------

    def create(self, res: Resource, namespace: str, body: dict, manager: str, dry_run: bool = False) -> Stored:
        meta = body.get("metadata") or {}
        name = meta.get("name") or (meta.get("generateName", "") + uuid.uuid4().hex[:5]
                                    if meta.get("generateName") else "")
        if not name:
            raise ApiError(422, "Invalid", f'{res.kind} "" is invalid: metadata.name: Required value: '
                                           'name or generateName is required',
                           {"kind": res.kind, "causes": [{"reason": "FieldValueRequired",
                                                          "field": "metadata.name"}]})
        self._check_identity(res, body, namespace, name)
        if (namespace if res.namespaced else "", name) in self._store(res):
            raise ApiError(409, "AlreadyExists", f'{res.group_resource} "{name}" already exists',
                           _details(res, name))
        new = self._prepare(res, None, body, namespace, name, subresource="")
        new = fields.update(None, new, manager)
        return self._commit(res, None, None, new, dry_run)

    def replace(self, res: Resource, namespace: str, name: str, body: dict, manager: str,
                subresource: str = "", dry_run: bool = False) -> Stored:
        self._check_identity(res, body, namespace, name)
        stored = self.get(res, namespace, name)
        old = stored.obj()
        self._check_rv(res, old, body)
        new = self._prepare(res, old, body, namespace, name, subresource)
        return self._commit(res, stored, old, fields.update(old, new, manager, subresource), dry_run)

    def merge_patch(self, res: Resource, namespace: str, name: str, patch: dict, manager: str,
                    subresource: str = "", dry_run: bool = False) -> Stored:
        stored = self.get(res, namespace, name)
        old = stored.obj()
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        self._check_rv(res, old, patch)
        patched = json_merge(stored.obj(), patch)
        self._check_identity(res, patched, namespace, name)
        new = self._prepare(res, old, patched, namespace, name, subresource)
        return self._commit(res, stored, old, fields.update(old, new, manager, subresource), dry_run)

    def apply(self, res: Resource, namespace: str, name: str, body: dict, manager: str, force: bool,
              subresource: str = "", dry_run: bool = False) -> tuple[Stored, bool]:
        """Server-side apply; (the object, whether it was created)."""
        if not isinstance(body, dict) or not body.get("apiVersion") or not body.get("kind"):
            raise ApiError(400, "BadRequest", "apiVersion and kind must be set in an apply patch")
        if (body.get("metadata") or {}).get("managedFields") is not None:
            raise ApiError(400, "BadRequest", "metadata.managedFields must be nil")
        self._check_identity(res, body, namespace, name)
        store = self._store(res)
        stored = store.get((namespace if res.namespaced else "", name))
        old = stored.obj() if stored else None
        if old is None and subresource:
            raise not_found(res, name)
        if old is not None:
            self._check_rv(res, old, body)
        applied = _limit(res, copy.deepcopy(body), subresource)
        try:
            merged = fields.apply(stored.obj() if stored else None, applied, manager, force, subresource)
        except fields.ApplyConflict as conflict:
            raise ApiError(409, "Conflict", str(conflict),
                           {"causes": fields.conflict_causes(conflict.conflicts)}) from None
        new = self._prepare(res, old, merged, namespace, name, subresource)
        return self._commit(res, stored, old, new, dry_run), old is None

    def delete(self, res: Resource, namespace: str, name: str, dry_run: bool = False) -> Stored:
        old = self.get(res, namespace, name)
        if not dry_run:
            self._remove(res, old)
        return old

    # -- write helpers ------------------------------------------------------

    def _check_identity(self, res: Resource, body: dict, namespace: str, name: str) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be an object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != res.kind or api_version and api_version != res.group_version:
            raise ApiError(400, "BadRequest", f"the API version in the data ({api_version}) and kind "
                                              f"({kind}) do not match the URL ({res.group_version}, {res.kind})")
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise ApiError(400, "BadRequest",
                           f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                                              "the namespace sent on the request")
        if res.namespaced and ("", namespace) not in self.objects.get(("", "namespaces"), {}):
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           {"name": namespace, "kind": "namespaces"})

    def _check_rv(self, res: Resource, old: dict, body: dict) -> None:
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} '
                                            f'"{old["metadata"]["name"]}": the object has been modified; '
                                            'please apply your changes to the latest version and try again',
                           _details(res, old["metadata"]["name"]))

    def _prepare(self, res: Resource, old: dict | None, body: dict, namespace: str, name: str,
                 subresource: str) -> dict:
        """The object to store: server-owned metadata, status kept apart from spec, defaults."""
        new = copy.deepcopy(body) if old is None else body
        if old is not None and subresource == "status":
            new = {**old, "status": new.get("status"), "metadata": {**old["metadata"],
                                                                    **_managed_only(new)}}
        elif res.status:
            new["status"] = copy.deepcopy(old.get("status")) if old is not None else None
        new = {k: v for k, v in new.items() if v is not None}
        new["apiVersion"], new["kind"] = res.group_version, res.kind
        meta = new.setdefault("metadata", {})
        meta["name"] = name
        if res.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        previous = (old or {}).get("metadata", {})
        meta["uid"] = previous.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = previous.get("creationTimestamp") or fields.now()
        if res.group not in NO_GENERATION:
            spec_changed = old is None or _spec(old) != _spec(new)
            meta["generation"] = previous.get("generation", 0) + 1 if spec_changed else previous.get("generation", 1)
        if res.kind == "Secret" and res.group == "":
            new.setdefault("type", "Opaque")
            if "stringData" in new:
                data = dict(new.get("data") or {})
                data.update({k: base64.b64encode(str(v).encode()).decode()
                             for k, v in new.pop("stringData").items()})
                new["data"] = data
        if res.kind == "Namespace" and res.group == "":
            new["spec"] = new.get("spec") or {"finalizers": ["kubernetes"]}
            new["status"] = new.get("status") or {"phase": "Active"}
        if (res.group, res.kind) in WORKLOAD_KINDS and subresource != "status":
            new["status"] = workload_status(new, self._count(("", "nodes")))
        if res == CRD:
            problem = crd_problem(new)
            if problem:
                raise ApiError(422, "Invalid", f'CustomResourceDefinition.apiextensions.k8s.io "{name}" '
                                               f"is invalid: {problem}", {"name": name, "group": res.group,
                                                                          "kind": res.kind})
            new["status"] = crd_status(new, (old or {}).get("status"))
        return new

    def _commit(self, res: Resource, stored: Stored | None, old: dict | None, new: dict,
                dry_run: bool) -> Stored:
        if stored is not None and _without_bookkeeping(old) == _without_bookkeeping(new):
            return stored  # a no-op write: no new resource version, no event (as the API server does)
        if dry_run:
            return Stored.of(new)
        self.rv += 1
        new["metadata"]["resourceVersion"] = str(self.rv)
        result = Stored.of(new)
        self._store(res)[(result.namespace, result.name)] = result
        if res == CRD:
            self._serve_crd(old, new)
        self._emit("ADDED" if old is None else "MODIFIED", (res.group, res.plural), result, stored)
        return result

    def _remove(self, res: Resource, stored: Stored) -> None:
        self._store(res).pop((stored.namespace, stored.name), None)
        self.rv += 1
        obj = stored.obj()
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit("DELETED", (res.group, res.plural), Stored.of(obj), None)
        if res.kind == "Namespace" and res.group == "":
            for (group, plural), items in list(self.objects.items()):
                owner = self._by_plural(group, plural)
                if owner is None or not owner.namespaced:
                    continue
                for item in [o for (ns, _), o in items.items() if ns == stored.name]:
                    self._remove(owner, item)
        if res == CRD:
            self._serve_crd(obj, None)

    def _by_plural(self, group: str, plural: str) -> Resource | None:
        return next((r for r in self.served() if r.group == group and r.plural == plural), None)

    def _serve_crd(self, old: dict | None, new: dict | None) -> None:
        before = {(r.group, r.version, r.plural): r for r in from_crd(old or {})}
        after = {(r.group, r.version, r.plural): r for r in from_crd(new or {})}
        for key in before.keys() - after.keys():
            del self.custom[key]
        self.custom.update(after)
        if new is None:
            for (group, _, plural), res in before.items():
                for item in list(self.objects.get((group, plural), {}).values()):
                    self._remove(res, item)
                self.objects.pop((group, plural), None)

    def _emit(self, kind: str, key: tuple[str, str], obj: Stored, previous: Stored | None) -> None:
        self.events.append((self.rv, kind, key, obj, previous))
        for watcher in self.watchers:
            if watcher.key == key:
                watcher.offer(kind, obj, previous)

    def _count(self, key: tuple[str, str]) -> int:
        return len(self.objects.get(key, {}))

    def _seed(self, obj: dict) -> None:
        res = next(r for r in BUILTIN if r.kind == obj["kind"] and r.group_version == obj["apiVersion"])
        new = self._prepare(res, None, obj, "", obj["metadata"]["name"], "")
        if obj.get("status"):
            new["status"] = obj["status"]
        self._commit(res, None, None, fields.update(None, new, "simulator"), False)

    def stop_watchers(self) -> None:
        for watcher in self.watchers:
            watcher.queue.put_nowait(None)


# -- object helpers ------------------------------------------------------------------


def json_merge(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = json_merge(target.get(key), value)
    return target


def _limit(res: Resource, body: dict, subresource: str) -> dict:
    """The part of an applied config an endpoint takes: status only on /status, none on the main
    resource when there is a status subresource."""
    if subresource == "status":
        meta = {k: v for k, v in (body.get("metadata") or {}).items() if k in ("name", "namespace")}
        return {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": meta,
                **({"status": body["status"]} if "status" in body else {})}
    if res.status:
        body.pop("status", None)
    return body


def _managed_only(obj: dict) -> dict:
    managed = (obj.get("metadata") or {}).get("managedFields")
    return {"managedFields": managed} if managed is not None else {}


def _spec(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_bookkeeping(obj: dict) -> dict:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("managedFields", "resourceVersion")}
    managed = [{k: v for k, v in e.items() if k != "time"} for e in obj["metadata"].get("managedFields") or []]
    return {**obj, "metadata": meta, "managed": managed}


def crd_status(crd: dict, previous: dict | None) -> dict:
    """Names accepted and Established at once; unchanged (timestamps too) while the names are."""
    names = dict((crd.get("spec") or {}).get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    if previous and previous.get("acceptedNames") == names:
        return previous
    stamp = fields.now()
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
         "message": "no conflicts found", "lastTransitionTime": stamp},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted", "lastTransitionTime": stamp},
    ]
    storage = [v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": storage}


def workload_status(obj: dict, nodes: int) -> dict:
    """What the controllers would report once every pod is up (the simulator runs no pods)."""
    generation = obj["metadata"].get("generation", 1)
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind == "Job":
        return {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    if kind == "DaemonSet":
        return {"observedGeneration": generation, "desiredNumberScheduled": nodes,
                "currentNumberScheduled": nodes, "numberReady": nodes, "numberAvailable": nodes,
                "updatedNumberScheduled": nodes}
    replicas = spec.get("replicas", 1)
    status = {"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
              "availableReplicas": replicas, "updatedReplicas": replicas}
    if kind == "StatefulSet":
        status["currentReplicas"] = replicas
    if kind == "Deployment":
        status["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": "ReplicaSet has successfully progressed."}]
    return status


def node(cluster: str, index: int, version: str) -> dict:
    name = f"{cluster}-node-{index}"
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    if index == 0:
        labels["node-role.kubernetes.io/control-plane"] = ""
    stamp = fields.now()
    resources = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status",
                                "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
                "addresses": [{"type": "InternalIP", "address": f"10.0.{index // 250}.{index % 250 + 1}"},
                              {"type": "Hostname", "address": name}],
                "capacity": resources, "allocatable": resources,
                "nodeInfo": {"kubeletVersion": version, "architecture": "amd64", "operatingSystem": "linux",
                             "containerRuntimeVersion": "simulated://0", "osImage": "simulated",
                             "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "systemUUID": "",
                             "bootID": ""}}}
