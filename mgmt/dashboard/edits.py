"""The dashboard's actions, each one server-side apply of the Fleet under FIELD_MANAGER.

Server-side apply removes what a manager stops declaring, so every apply restates all the
dashboard declared before (read back from the Fleet's managedFields) with one change. An entry
another manager (kubectl, a GitOps tool) also declares cannot be removed by the dashboard's apply:
that is said before anything is sent. The apiserver validates what is sent; its answer is shown.
"""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field

import yaml

from mgmt.api.models import API_VERSION
from providers import NAMES as PROVIDERS

FIELD_MANAGER = "drover-dashboard"
CATALOGUE = "drover-catalogue"  # the ConfigMap of ready-made components the administrator curates
CATALOGUE_NAMESPACE = "drover-system"  # where it is looked for when the Fleet's namespace has none
ACTIONS = ("add-component", "remove-component", "add-cluster", "remove-cluster", "scale", "pause", "resume")


class ActionError(Exception):
    """An action that cannot be made into an apply (said before anything is sent)."""


@dataclass
class Owned:
    """What one manager declares in a Fleet: list entries by name, and the rollout's pause."""

    components: list[str] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    paused: bool = False


def _key_names(fields: dict) -> list[str]:
    """The `name`s of a map-list's entries in managedFields' `k:{"name":"x"}` keys."""
    names = []
    for key in fields:
        if key.startswith("k:"):
            try:
                names.append(json.loads(key[2:])["name"])
            except (ValueError, KeyError, TypeError):
                continue
    return names


def _managed(fleet: dict, manager: str | None = None, operation: str | None = None) -> list[tuple[str, dict]]:
    return [(m.get("manager", ""), m.get("fieldsV1") or {}) for m in fleet["metadata"].get("managedFields") or []
            if (manager is None or m.get("manager") == manager)
            and (operation is None or m.get("operation") == operation) and not m.get("subresource")]


def owned(fleet: dict, manager: str = FIELD_MANAGER) -> Owned:
    out = Owned()
    for _, fields in _managed(fleet, manager, "Apply"):
        spec = fields.get("f:spec") or {}
        out.components += _key_names((spec.get("f:stack") or {}).get("f:components") or {})
        out.clusters += _key_names(spec.get("f:clusters") or {})
        out.paused = out.paused or "f:paused" in (spec.get("f:rollout") or {})
    return out


def owners(fleet: dict, path: tuple[str, ...], name: str) -> list[str]:
    """The managers that declare the map-list entry `name` at `path` (e.g. spec, stack, components)."""
    key = "k:" + json.dumps({"name": name}, separators=(",", ":"))
    found = []
    for manager, fields in _managed(fleet):
        for part in path:
            fields = (fields or {}).get(f"f:{part}") or {}
        if key in fields:
            found.append(manager)
    return found


def _entries(spec: dict, path: tuple[str, ...]) -> list[dict]:
    for part in path:
        spec = spec.get(part) or {}
    return spec if isinstance(spec, list) else []


COMPONENTS, CLUSTERS = ("stack", "components"), ("clusters",)


def _body(fleet: dict, spec: dict) -> dict:
    meta = fleet["metadata"]
    return {"apiVersion": API_VERSION, "kind": "Fleet",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}, "spec": spec}


def declared(fleet: dict, mine: Owned) -> dict:
    """The spec the dashboard declares now: the current values of what it owns."""
    spec = fleet.get("spec") or {}
    out: dict = {}
    components = [c for c in _entries(spec, COMPONENTS) if c.get("name") in mine.components]
    clusters = [c for c in _entries(spec, CLUSTERS) if c.get("name") in mine.clusters]
    if components:
        out["stack"] = {"components": copy.deepcopy(components)}
    if clusters:
        out["clusters"] = copy.deepcopy(clusters)
    if mine.paused:
        out["rollout"] = {"paused": bool((spec.get("rollout") or {}).get("paused"))}
    return out


@dataclass
class Plan:
    """One action ready to send: the apply body, and the Fleet's spec before and after."""

    title: str
    body: dict
    before: dict
    after: dict

    def diff(self) -> str:
        return spec_diff(self.before, self.after)


def _name_first(value):
    """Keys as a reader expects them: `name` first, the rest sorted (the apiserver sorts them)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (k != "name", k))
        return {k: _name_first(value[k]) for k in keys}
    if isinstance(value, list):
        return [_name_first(v) for v in value]
    return value


def spec_diff(before: dict, after: dict) -> str:
    def lines(spec: dict) -> list[str]:
        return yaml.safe_dump({"spec": _name_first(spec)}, sort_keys=False, width=100).splitlines(keepends=True)
    return "".join(difflib.unified_diff(lines(before), lines(after), "Fleet (now)", "Fleet (after)", n=3))


def _put(spec: dict, path: tuple[str, ...], entries: list[dict]) -> None:
    for part in path[:-1]:
        spec = spec.setdefault(part, {})
    spec[path[-1]] = entries


def _add(fleet: dict, path: tuple[str, ...], entry: dict, what: str) -> tuple[dict, dict]:
    """(declared spec, spec after) with `entry` added to the map-list at `path`."""
    spec, mine = fleet.get("spec") or {}, owned(fleet)
    name = entry.get("name")
    if any(e.get("name") == name for e in _entries(spec, path)):
        raise ActionError(f"{what} {name!r} is already in Fleet {fleet['metadata']['name']!r}")
    body = declared(fleet, mine)
    _put(body, path, _entries(body, path) + [entry])
    after = copy.deepcopy(spec)
    _put(after, path, _entries(after, path) + [copy.deepcopy(entry)])
    return body, after


def _remove(fleet: dict, path: tuple[str, ...], name: str, what: str) -> tuple[dict, dict]:
    spec, mine = fleet.get("spec") or {}, owned(fleet)
    if not any(e.get("name") == name for e in _entries(spec, path)):
        raise ActionError(f"{what} {name!r} is not in Fleet {fleet['metadata']['name']!r}")
    others = [m for m in owners(fleet, ("spec", *path), name) if m != FIELD_MANAGER]
    if others:
        raise ActionError(f"{what} {name!r} is declared by field manager {', '.join(others)}: the dashboard's "
                          "server-side apply cannot remove it; remove it where it is declared")
    body = declared(fleet, mine)
    kept = [e for e in _entries(body, path) if e.get("name") != name]
    if kept:
        _put(body, path, kept)
    else:  # declaring nothing there at all, rather than an empty list the dashboard would own
        body.pop(path[0], None)
    after = copy.deepcopy(spec)
    _put(after, path, [e for e in _entries(after, path) if e.get("name") != name])
    return body, after


def credential_refs(fleets: list[dict]) -> set[tuple[str, str]]:
    """(provider, Secret name) of every credentialsRef the Fleets' clusters and clusterSets name."""
    refs = set()
    for fleet in fleets:
        spec = fleet.get("spec") or {}
        templates = list(spec.get("clusters") or []) + [s.get("template") or {} for s in spec.get("clusterSets") or []]
        for cluster in templates:
            name = (cluster.get("credentialsRef") or {}).get("name")
            if name and cluster.get("provider") in PROVIDERS:
                refs.add((cluster["provider"], name))
    return refs


def cluster_entry(form) -> dict:
    """A cluster of the add-cluster form, whose `target` is `local` or `provider:credentials-secret`
    (the apiserver checks names, versions and regions)."""
    provider, _, credentials = (form.get("target") or "").partition(":")
    if provider not in PROVIDERS:
        raise ActionError(f"unknown provider {provider!r}")
    entry = {"name": (form.get("name") or "").strip(), "provider": provider,
             "kubernetesVersion": (form.get("kubernetesVersion") or "").strip()}
    for key in ("flavor", "region"):
        if (form.get(key) or "").strip():
            entry[key] = form[key].strip()
    if credentials.strip():
        entry["credentialsRef"] = {"name": credentials.strip()}
    entry["workers"] = [{"name": "md-0", "replicas": _int(form.get("replicas") or "1", "replicas")}]
    return entry


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ActionError(f"{what} must be a whole number, not {text!r}") from None


def _scale(fleet: dict, cluster: str, pool: str, replicas: int) -> tuple[dict, dict]:
    spec = fleet.get("spec") or {}
    current = next((c for c in _entries(spec, CLUSTERS) if c.get("name") == cluster), None)
    if current is None:
        raise ActionError(f"cluster {cluster!r} is not among the Fleet's clusters (clusters of a clusterSet "
                          "are scaled in the set's template or overrides)")
    workers = copy.deepcopy(current.get("workers") or [])
    pools = [w for w in workers if w.get("name") == pool]
    if not pools:
        raise ActionError(f"cluster {cluster!r} has no worker pool {pool!r}")
    pools[0]["replicas"] = replicas
    body = declared(fleet, owned(fleet))
    mine = [c for c in _entries(body, CLUSTERS) if c.get("name") != cluster]
    _put(body, CLUSTERS, mine + [{**copy.deepcopy(current), "workers": workers}])
    after = copy.deepcopy(spec)
    _put(after, CLUSTERS, [({**c, "workers": workers} if c.get("name") == cluster else c)
                           for c in _entries(after, CLUSTERS)])
    return body, after


def _pause(fleet: dict, paused: bool) -> tuple[dict, dict]:
    body = declared(fleet, owned(fleet))
    body["rollout"] = {"paused": paused}
    after = copy.deepcopy(fleet.get("spec") or {})
    after.setdefault("rollout", {})["paused"] = paused
    return body, after


def plan(fleet: dict, action: str, form, catalogue: dict[str, dict]) -> Plan:
    """The apply that makes `action` (with the form's fields) on this Fleet."""
    name = (form.get("name") or "").strip()
    if action == "add-component":
        if name not in catalogue:
            raise ActionError(f"no entry {name!r} in the catalogue")
        body, after = _add(fleet, COMPONENTS, {"name": name, **copy.deepcopy(catalogue[name])}, "component")
        title = f"Add component {name}"
    elif action == "remove-component":
        body, after = _remove(fleet, COMPONENTS, name, "component")
        title = f"Remove component {name}"
    elif action == "add-cluster":
        entry = cluster_entry(form)
        body, after = _add(fleet, CLUSTERS, entry, "cluster")
        title = f"Add cluster {entry['name']} ({entry['provider']})"
    elif action == "remove-cluster":
        body, after = _remove(fleet, CLUSTERS, name, "cluster")
        title = f"Remove cluster {name}"
    elif action == "scale":
        replicas = _int(form.get("replicas") or "", "replicas")
        pool = form.get("pool") or "md-0"
        body, after = _scale(fleet, name, pool, replicas)
        title = f"Scale {name}/{pool} to {replicas}"
    elif action in ("pause", "resume"):
        body, after = _pause(fleet, action == "pause")
        title = "Pause the rollout" if action == "pause" else "Resume the rollout"
    else:
        raise ActionError(f"unknown action {action!r}")
    return Plan(title, _body(fleet, body), copy.deepcopy(fleet.get("spec") or {}), after)


def parse_catalogue(configmap: dict | None) -> tuple[dict[str, dict], list[str]]:
    """Entries (name -> component without its name) of a catalogue ConfigMap, and what was wrong."""
    entries, problems = {}, []
    for key, text in sorted(((configmap or {}).get("data") or {}).items()):
        try:
            entry = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problems.append(f"{key}: invalid YAML: {error}")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{key}: not a component (a mapping with manifests, manifestsFrom or helm)")
            continue
        entry.pop("name", None)
        entries[key] = entry
    return entries, problems


def describe_entry(entry: dict) -> str:
    """One line saying where an entry's manifests come from."""
    helm = entry.get("helm") or {}
    if helm:
        where = helm.get("repository") or helm.get("path") or "chartFrom"
        return f"helm chart {helm.get('chart') or ''} {helm.get('version') or ''} from {where}".replace("  ", " ")
    if entry.get("manifestsFrom"):
        return "manifests from " + ", ".join(f"{s.get('kind')} {s.get('name')}" for s in entry["manifestsFrom"])
    return "inline manifests"
