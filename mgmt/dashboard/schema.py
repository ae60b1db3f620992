"""What an operator's custom resources take: the parameters of a CRD's `spec`, read from the
OpenAPI schema of each version (names, types, descriptions, defaults, required)."""

from __future__ import annotations

import json

MAX_DEPTH = 3          # spec.a.b.c: deeper fields are summarised by their parent
MAX_PARAMETERS = 200   # per version; a 1.4 MB CRD (alertmanagerconfigs) has thousands
DESCRIPTION = 300      # characters of a description shown


def _type(schema: dict) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return "int or string"
    kind = schema.get("type") or ("object" if "properties" in schema else "any")
    if kind == "array":
        return f"[]{_type(schema.get('items') or {})}"
    if kind == "object" and "additionalProperties" in schema and "properties" not in schema:
        extra = schema["additionalProperties"]
        return f"map[string]{_type(extra) if isinstance(extra, dict) else 'any'}"
    return kind


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= DESCRIPTION else text[:DESCRIPTION - 1] + "…"


def parameters(schema: dict | None) -> list[dict]:
    """The fields under `spec` as rows: path, type, required, default, enum, description."""
    spec = ((schema or {}).get("properties") or {}).get("spec") or {}
    rows: list[dict] = []

    def walk(node: dict, path: str, depth: int) -> None:
        required = set(node.get("required") or [])
        for name, child in sorted((node.get("properties") or {}).items()):
            if len(rows) >= MAX_PARAMETERS:
                return
            here = f"{path}.{name}" if path else name
            row = {"path": here, "type": _type(child), "required": name in required,
                   "description": _short(child.get("description"))}
            if "default" in child:
                row["default"] = json.dumps(child["default"])
            if child.get("enum"):
                row["enum"] = ", ".join(json.dumps(v) for v in child["enum"][:10])
            rows.append(row)
            inner = child.get("items") if child.get("type") == "array" else child
            if depth < MAX_DEPTH and isinstance(inner, dict) and inner.get("properties"):
                walk(inner, here + ("[]" if inner is not child else ""), depth + 1)

    walk(spec, "", 1)
    return rows


def crd_summary(crd: dict) -> dict:
    """A CRD as the member page's operator catalogue shows it."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = []
    for version in spec.get("versions") or []:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        params = parameters(schema)
        versions.append({"name": version.get("name"), "served": version.get("served", False),
                         "storage": version.get("storage", False), "parameters": params,
                         "truncated": len(params) >= MAX_PARAMETERS})
    return {"name": crd["metadata"]["name"], "group": spec.get("group"), "kind": names.get("kind"),
            "scope": spec.get("scope"), "versions": versions}
