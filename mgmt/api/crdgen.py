"""Generate CustomResourceDefinitions from pydantic models (which kinds: `mgmt.api.generate`).

pydantic's JSON schema is turned into a structural OpenAPI v3 schema: `$ref`s
inlined, `Optional[X]` collapsed to X, titles dropped, free-form values marked
`x-kubernetes-preserve-unknown-fields`, `int | str` as `x-kubernetes-int-or-string`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

_KEEP = {"type", "properties", "items", "required", "enum", "pattern", "minimum", "maximum", "maxProperties",
         "minLength", "maxLength", "minItems", "maxItems", "description", "default", "format",
         "additionalProperties", "x-kubernetes-validations", "x-kubernetes-list-type",
         "x-kubernetes-list-map-keys", "x-kubernetes-int-or-string",
         "x-kubernetes-preserve-unknown-fields", "nullable"}


def structural(schema: dict, defs: dict) -> dict:
    """One pydantic JSON schema node -> a structural OpenAPI node."""
    schema = copy.deepcopy(schema)
    if "$ref" in schema:
        target = structural(defs[schema.pop("$ref").split("/")[-1]], defs)
        return {**target, **{k: v for k, v in structural(schema, defs).items() if k != "type"}} if schema else target
    if "anyOf" in schema:
        options = [o for o in schema.pop("anyOf") if o.get("type") != "null"]
        types = {o.get("type") for o in options}
        if types == {"integer", "string"}:
            base = {"x-kubernetes-int-or-string": True}
        elif len(options) == 1:
            base = structural(options[0], defs)
        else:
            base = {"x-kubernetes-preserve-unknown-fields": True}
        rest = structural(schema, defs) if schema else {}
        rest.pop("type", None)
        return {**base, **rest}
    if schema.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    out = {k: v for k, v in schema.items() if k in _KEEP}
    if out.get("default") is not None and isinstance(out["default"], (dict, list)):
        out.pop("default")
    if out.get("default") is None:
        out.pop("default", None)
    if "properties" in out:
        out["type"] = "object"
        out["properties"] = {k: structural(v, defs) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = structural(out["items"], defs)
    if "additionalProperties" in out:
        extra = out["additionalProperties"]
        if extra is True or extra == {}:
            out.pop("additionalProperties")
            out["x-kubernetes-preserve-unknown-fields"] = True
        elif extra is False:
            out.pop("additionalProperties")
        else:
            out["additionalProperties"] = structural(extra, defs)
    if not out.get("type") and not out.get("x-kubernetes-int-or-string") and "properties" not in out:
        out.setdefault("x-kubernetes-preserve-unknown-fields", True)
        out["type"] = "object"
    return out


def schema_of(model: type[BaseModel]) -> dict:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


@dataclass
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    spec: type[BaseModel] | None
    status: type[BaseModel] | None
    scope: str = "Namespaced"
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    root_rules: list[dict] = field(default_factory=list)
    spec_required: bool = True
    #: The longest name an object of this kind may have (the API allows nothing else on metadata).
    max_name_length: int | None = None

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"


def _metadata(kind: Kind) -> dict:
    if kind.max_name_length is None:
        return {"type": "object"}
    return {"type": "object", "properties": {"name": {"type": "string", "maxLength": kind.max_name_length}}}


def crd(kind: Kind) -> dict:
    properties: dict[str, Any] = {}
    if kind.spec:
        properties["spec"] = schema_of(kind.spec)
    if kind.status:
        properties["status"] = schema_of(kind.status)
    root: dict[str, Any] = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": _metadata(kind),
        **properties}}
    if kind.spec and kind.spec_required:
        root["required"] = ["spec"]
    if kind.root_rules:
        root["x-kubernetes-validations"] = kind.root_rules
    version = {"name": kind.version, "served": True, "storage": True, "schema": {"openAPIV3Schema": root}}
    if kind.status:
        version["subresources"] = {"status": {}}
    if kind.columns:
        version["additionalPrinterColumns"] = kind.columns
    names = {"kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
             "singular": kind.kind.lower()}
    if kind.short_names:
        names["shortNames"] = kind.short_names
    if kind.categories:
        names["categories"] = kind.categories
    meta: dict[str, Any] = {"name": kind.name}
    if kind.labels:
        meta["labels"] = kind.labels
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": meta,
            "spec": {"group": kind.group, "scope": kind.scope, "names": names, "versions": [version]}}

