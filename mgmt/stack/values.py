"""Per-cluster templating of helm values and manifests (jinja2, sandboxed, strict).

Only strings that use the `cluster` variable are templates: other `{{ ... }}` text (Helm
templates, Prometheus alert rules, Go templates) is left exactly as written. A template that
names something undefined (e.g. a label the cluster does not have) is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class ValuesError(Exception):
    """A template could not be rendered for a cluster."""


def cluster_context(name: str, provider: str, region: str | None, labels: Mapping[str, str]) -> dict:
    return {"cluster": {"name": name, "provider": provider, "region": region or "",
                        "labels": dict(labels)}}


def _uses_cluster(text: str) -> bool:
    if "{{" not in text and "{%" not in text:
        return False
    try:
        return "cluster" in meta.find_undeclared_variables(_ENV.parse(text))
    except TemplateError:
        return False  # not jinja at all (e.g. `{{ $labels.instance }}`): leave it alone


def render_string(text: str, context: Mapping[str, Any]) -> str:
    if not _uses_cluster(text):
        return text
    try:
        return _ENV.from_string(text).render(context)
    except TemplateError as error:
        raise ValuesError(f"template {text!r}: {error}") from None


def uses_cluster(value: Any) -> bool:
    """Whether a string anywhere in `value` is a template that uses `cluster`."""
    if isinstance(value, str):
        return _uses_cluster(value)
    if isinstance(value, Mapping):
        return any(uses_cluster(v) for v in value.values())
    if isinstance(value, list):
        return any(uses_cluster(v) for v in value)
    return False


def render_values(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every templated string (at any depth, keys excluded) rendered."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, Mapping):
        return {k: render_values(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_values(v, context) for v in value]
    return value
