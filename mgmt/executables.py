"""Where the controller finds the programs it runs (helm).

Installed (from a wheel or the image): `$DROVER_HELM` when set, else `helm` on PATH. In a source
checkout (development) the pinned helm that `make tools` builds comes first, so tests and demos
use the version the repository pins; PATH is the fallback there. The build cache is never looked
at by an installed Drover: an image has none, and a user's cache may hold anything.
"""

from __future__ import annotations

import os
import shutil

from . import bundled


class MissingExecutable(FileNotFoundError):
    pass


def helm() -> str:
    configured = os.environ.get("DROVER_HELM")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise MissingExecutable(f"DROVER_HELM={configured} is not an executable file")
        return configured
    if not bundled.installed():
        # a source checkout only: the cache `make tools` fills
        from devtools.toolchain import bin_dir

        cached = bin_dir() / "helm"
        if cached.exists():
            return str(cached)
    found = shutil.which("helm")
    if found is None:
        raise MissingExecutable("helm is not on PATH: install helm 3, or set DROVER_HELM to its path")
    return found
