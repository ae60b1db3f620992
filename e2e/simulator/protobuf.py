"""Reading the protobuf bodies that `kubectl create namespace|configmap|secret|serviceaccount`
(typed client-go) sends, for those four kinds only; anything else is refused (415) by name.

The Kubernetes envelope is the magic `k8s\\0` and a runtime.Unknown (typeMeta = 1, raw = 2); raw
is the typed message. Field numbers are those of k8s.io/api's generated.proto.
"""

from __future__ import annotations

import base64

MAGIC = b"k8s\x00"

# field number -> (JSON name, how to read it); "map" is map<string,string>, "bmap" map<string,bytes>,
# "server" a field the server sets itself (the typed client sends it empty), skipped.
OBJECT_META = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
               4: ("selfLink", "server"), 5: ("uid", "server"), 6: ("resourceVersion", "str"),
               7: ("generation", "server"), 8: ("creationTimestamp", "server"),
               9: ("deletionTimestamp", "server"), 10: ("deletionGracePeriodSeconds", "server"),
               11: ("labels", "map"), 12: ("annotations", "map"), 14: ("finalizers", "strs"),
               17: ("managedFields", "server")}
NAMESPACE_SPEC = {1: ("finalizers", "strs")}
KINDS = {
    "Namespace": {1: ("metadata", OBJECT_META), 2: ("spec", NAMESPACE_SPEC), 3: ("status", "server")},
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", "bmap"), 3: ("type", "str"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", OBJECT_META), 4: ("automountServiceAccountToken", "bool")},
}
UNKNOWN = {1: ("typeMeta", {1: ("apiVersion", "str"), 2: ("kind", "str")}), 2: ("raw", "bytes"),
           3: ("contentEncoding", "str"), 4: ("contentType", "str")}


class Unreadable(ValueError):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise Unreadable("truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of each field: varints as int, length-delimited as bytes."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise Unreadable(f"wire type {wire} of field {number}")
        yield number, wire, value


def _message(data: bytes, schema: dict, where: str) -> dict:
    out: dict = {}
    for number, _, value in _fields(data):
        if number not in schema:
            raise Unreadable(f"field {number} of {where}")
        name, how = schema[number]
        if how == "server" or (how == "str" and not value):
            continue  # empty strings stand for absent fields, as JSON's omitempty
        if isinstance(how, dict):
            out[name] = _message(value, how, f"{where}.{name}")
        elif how == "str":
            out[name] = value.decode()
        elif how == "bytes":
            out[name] = value
        elif how == "bool":
            out[name] = bool(value)
        elif how == "strs":
            out.setdefault(name, []).append(value.decode())
        else:  # a map entry: key = 1, value = 2
            entry = {n: v for n, _, v in _fields(value)}
            key, item = entry.get(1, b"").decode(), entry.get(2, b"")
            out.setdefault(name, {})[key] = base64.b64encode(item).decode() if how == "bmap" else item.decode()
    return out


def decode(body: bytes) -> dict:
    """The object in a protobuf request body, as the JSON it stands for; Unreadable otherwise."""
    if not body.startswith(MAGIC):
        raise Unreadable("no k8s protobuf envelope")
    unknown = _message(body[len(MAGIC):], UNKNOWN, "runtime.Unknown")
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in KINDS or type_meta.get("apiVersion") != "v1":
        raise Unreadable(f"kind {type_meta.get('apiVersion')}/{kind}")
    return {"apiVersion": "v1", "kind": kind, **_message(unknown.get("raw", b""), KINDS[kind], kind)}
