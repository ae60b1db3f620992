"""Infrastructure providers, one package each; `get(name)` returns the provider."""

from __future__ import annotations

import importlib
from functools import cache

from .base import Provider

NAMES = ("aws", "gcp", "azure", "digitalocean", "packet", "vsphere", "local")
CLOUDS = tuple(n for n in NAMES if n != "local")
#: A generic flavor name that means "the provider's managed Kubernetes service".
MANAGED_ALIASES = {"aws": "eks", "gcp": "gke", "azure": "aks"}


@cache
def get(name: str) -> Provider:
    if name not in NAMES:
        raise KeyError(f"unknown provider {name!r} (known: {', '.join(NAMES)})")
    return importlib.import_module(f"providers.{name}").PROVIDER


def resolve_flavor(provider: str, flavor: str | None) -> str:
    """The template flavor a Fleet's `flavor` means (None: the provider's default)."""
    impl = get(provider)
    if not flavor:
        return impl.default_flavor
    if flavor == "managed" and provider in MANAGED_ALIASES:
        return MANAGED_ALIASES[provider]
    return flavor


def accepted_flavors(provider: str) -> list[str]:
    """Every flavor value a Fleet may give for this provider."""
    flavors = list(get(provider).flavors)
    if provider in MANAGED_ALIASES:
        flavors.append("managed")
    return flavors
