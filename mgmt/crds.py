"""Installing CustomResourceDefinitions: Drover's own (crds/ in the repository) and
the upstream Cluster API and provider CRDs (`drover up` reads them from the Go module cache
`make tools` fills: `devtools.localplane`).

Upstream base CRDs carry no contract label and expect a conversion webhook that
a bare management cluster does not run, so before installing them we serve only
the storage version (no conversion is then ever needed) and add the contract
label `cluster.x-k8s.io/<contract>: <version>` through which Cluster API finds
which version of a kind speaks which contract: v1beta2 for Cluster API's own kinds
and Drover's local provider, v1beta1 for the cloud providers, which still
implement the v1beta1 contract (`status.ready` rather than `status.initialization`).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterable
from pathlib import Path

from . import bundled, kubeyaml
from .kube import Kube

CRD_API = "apiextensions.k8s.io/v1"
DROVER_CRDS = bundled.path("crds")


def load(paths: Iterable[Path]) -> list[dict]:
    crds = []
    for path in paths:
        for doc in kubeyaml.load_all(path.read_bytes()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                crds.append(doc)
    return crds


def drover_crd_files() -> list[Path]:
    return sorted(DROVER_CRDS.glob("*.yaml"))


def prepare_upstream(crd: dict, contract: str) -> dict:
    """Serve only the storage version, drop conversion, add the contract label."""
    crd = copy.deepcopy(crd)
    spec = crd["spec"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    spec["versions"] = [v for v in spec["versions"] if v["name"] == storage]
    spec["versions"][0]["served"] = True
    spec.pop("conversion", None)
    crd["metadata"].setdefault("labels", {})[f"cluster.x-k8s.io/{contract}"] = storage
    crd["metadata"].pop("creationTimestamp", None)
    return crd


async def install(kube: Kube, crds: list[dict], only_missing: bool = False,
                  timeout: float = 60) -> list[str]:
    """Apply CRDs (server-side) and wait until each is Established; returns the names applied."""
    applied = []
    for crd in crds:
        name = crd["metadata"]["name"]
        if only_missing and await kube.get(CRD_API, "CustomResourceDefinition", name):
            continue
        await kube.apply(crd)
        applied.append(name)
    await wait_established(kube, applied, timeout)
    kube.forget_discovery()
    return applied


async def wait_established(kube: Kube, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            crd = await kube.get(CRD_API, "CustomResourceDefinition", name)
            conditions = (crd or {}).get("status", {}).get("conditions", [])
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not established after {timeout:.0f}s: {', '.join(sorted(pending))}")
        if pending:
            await asyncio.sleep(0.2)


def dump(crds: list[dict]) -> str:
    return kubeyaml.dump_all(crds, sort_keys=False)
