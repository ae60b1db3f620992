"""Field ownership for server-side apply, the way the API server's structured-merge-diff keeps it.

A field is a path of map keys. Lists are atomic (one field, replaced whole), as they are for a
CRD schema that sets no `x-kubernetes-list-type`; the simulator has no schemas, so the same
holds for built-in kinds (their merge keys, e.g. containers by name, are not modelled).
Ownership lives in the object itself, in `metadata.managedFields` (`FieldsV1`), so a virtual
cluster keeps nothing besides its objects.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

Path = tuple[str, ...]

# Never owned by anyone (the API server strips them before it computes field sets).
IDENTITY = {"apiVersion", "kind"}
SERVER_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
               "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}


class ApplyConflict(Exception):
    """Fields the applier would change are owned by other managers: [(manager entry, path)]."""

    def __init__(self, conflicts: list[tuple[dict, Path]]):
        self.conflicts = conflicts
        super().__init__(conflict_message(conflicts))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def leaves(obj: dict, prefix: Path = ()) -> dict[Path, object]:
    """Every owned field of an object (or of a part of it) with its value."""
    out = {}
    for key, value in obj.items():
        if not prefix and key in IDENTITY:
            continue
        if prefix == ("metadata",) and key in SERVER_META:
            continue
        path = (*prefix, key)
        if isinstance(value, dict) and (value or path == ("metadata",)):
            out.update(leaves(value, path))
        else:
            out[path] = value
    return out


def lookup(obj: dict, path: Path, default=None):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def remove(obj: dict, path: Path) -> None:
    """Drop one field, and the maps it leaves empty (below the top level)."""
    parents = [obj]
    for key in path[:-1]:
        obj = obj.get(key)
        if not isinstance(obj, dict):
            return
        parents.append(obj)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 1, -1):
        if parents[depth] == {}:
            parents[depth - 1].pop(path[depth - 1], None)


def merge(live: dict, applied: dict) -> dict:
    """`applied` over `live`: maps merge key by key; lists and scalars are replaced."""
    out = dict(live)
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# -- FieldsV1 -------------------------------------------------------------------


def encode(paths) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def decode(tree: dict, prefix: Path = ()) -> set[Path]:
    out = set()
    for key, sub in (tree or {}).items():
        if not key.startswith("f:"):
            continue  # "." and list keys (k:, v:, i:) written by a real server: lists are atomic here
        path = (*prefix, key[2:])
        inner = decode(sub, path)
        out |= inner or {path}
    return out


def entries(obj: dict) -> list[dict]:
    return list(obj.get("metadata", {}).get("managedFields") or [])


def owned(entry: dict) -> set[Path]:
    return decode(entry.get("fieldsV1") or {})


def _same(entry: dict, manager: str, operation: str, subresource: str) -> bool:
    return (entry.get("manager"), entry.get("operation"), entry.get("subresource", "")) == (
        manager, operation, subresource)


def _entry(manager: str, operation: str, api_version: str, subresource: str, paths) -> dict:
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now(),
             "fieldsType": "FieldsV1", "fieldsV1": encode(sorted(paths))}
    if subresource:
        entry["subresource"] = subresource
    return entry


def _covers(owned_paths: set[Path], path: Path) -> bool:
    """Does a set own `path`, or a field inside it, or a field it is inside of?"""
    return any(p[:len(path)] == path or path[:len(p)] == p for p in owned_paths)


# -- operations -----------------------------------------------------------------


def apply(live: dict | None, applied: dict, manager: str, force: bool, subresource: str = "") -> dict:
    """The object after `manager` applied `applied` (already limited to what the endpoint may
    change); raises ApplyConflict unless `force`. `live` is taken over (changed in place)."""
    base = live or {}
    fields = leaves(applied)
    previous = set()
    others = []
    for entry in entries(base):
        if _same(entry, manager, "Apply", subresource):
            previous = owned(entry)
        else:
            others.append((entry, owned(entry)))
    changed = {p for p, v in fields.items() if lookup(base, p, _MISSING) != v}
    conflicts = [(entry, p) for entry, paths in others for p in sorted(changed) if _covers(paths, p)]
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    result = merge(base, applied)
    kept = []
    for entry, paths in others:
        if force:
            paths = {p for p in paths if not any(_covers({c}, p) for c in changed)}
        if paths:
            kept.append({**entry, "fieldsV1": encode(sorted(paths))} if force else entry)
    still_owned = set().union(*(paths for _, paths in others)) if others else set()
    for path in previous - set(fields):
        if not _covers(still_owned, path) and not any(f[:len(path)] == path for f in fields):
            remove(result, path)
    api_version = applied.get("apiVersion") or base.get("apiVersion", "")
    kept.append(_entry(manager, "Apply", api_version, subresource, fields))
    result["metadata"] = {**result.get("metadata", {}), "managedFields": kept}
    return result


def update(old: dict | None, new: dict, manager: str, subresource: str = "") -> dict:
    """Record a non-apply write: `manager` owns the fields it changed, others lose them."""
    before = leaves(old or {})
    after = leaves(new)
    changed = {p for p in set(before) | set(after) if before.get(p, _MISSING) != after.get(p, _MISSING)}
    kept, mine = [], set()
    for entry in entries(old or {}):
        paths = owned(entry)
        if _same(entry, manager, "Update", subresource):
            mine = paths
            continue
        paths = {p for p in paths if not any(_covers({c}, p) for c in changed)}
        if paths:
            kept.append({**entry, "fieldsV1": encode(sorted(paths))})
    mine = {p for p in mine | (changed & set(after)) if p in after or _covers(set(after), p)}
    if mine:
        kept.append(_entry(manager, "Update", new.get("apiVersion", ""), subresource, mine))
    new["metadata"] = {**new.get("metadata", {}), "managedFields": kept}
    return new


def path_string(path: Path) -> str:
    return "".join(f".{key}" for key in path)


def _manager_text(entry: dict) -> str:
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":  # the server names managers without their time
        text += f" using {entry.get('apiVersion', '')}"
    return text


def conflict_message(conflicts: list[tuple[dict, Path]]) -> str:
    """Word for word as k8s.io/apimachinery's managedfields conflict error."""
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {_manager_text(entry)}: {path_string(path)}"
    by_manager: dict[str, list[Path]] = {}
    for entry, path in conflicts:
        by_manager.setdefault(_manager_text(entry), []).append(path)
    lines = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines += [f"- {path_string(p)}" for p in by_manager[manager]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def conflict_causes(conflicts: list[tuple[dict, Path]]) -> list[dict]:
    return [{"type": "FieldManagerConflict", "message": f"conflict with {_manager_text(entry)}",
             "field": path_string(path)} for entry, path in conflicts]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()
