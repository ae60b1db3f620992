"""The files Drover ships besides its code: its CRDs and the manifests `drover init` applies.

In an installed wheel they are under `mgmt/_data/` (setup.py copies them there); in a source
tree (or an editable install) they are `crds/` and `manifests/` at the repository's root.
"""

from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "_data"
SOURCE_TREE = Path(__file__).resolve().parent.parent


def installed() -> bool:
    """True in an installed wheel, False in a source checkout (development)."""
    return PACKAGED.is_dir()


def root() -> Path:
    return PACKAGED if installed() else SOURCE_TREE


def path(*parts: str) -> Path:
    """e.g. path("crds"), path("manifests", "install", "rbac.yaml")."""
    return root().joinpath(*parts)
