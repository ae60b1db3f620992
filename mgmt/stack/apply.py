"""Putting one component's objects into a workload cluster with server-side apply.

CRDs first (and waited for until Established, so objects of their kinds can follow), then
namespaces, then the rest. Namespaces the objects live in are created when missing; Drover
does not list those in the inventory, so it never deletes a namespace it was not told to manage.
Server-side apply keeps no last-applied annotation, so objects above 256 KiB (big CRDs) apply.
"""

from __future__ import annotations

import asyncio
import time

from mgmt.kube import Kube, KubeError, Unreachable

from .objects import CRD_API, CRD_KIND, Ref, is_crd, is_namespace


class ApplyError(Exception):
    """An object was refused; the message is the server's, prefixed by the object."""


async def apply_objects(client: Kube, objects: list[dict], crd_timeout: float = 30.0,
                        namespaces_seen: set[str] | None = None) -> dict[Ref, dict]:
    """Apply `objects` (already prepared) in a safe order; the live objects by ref.
    `namespaces_seen`: namespaces known to exist (from earlier calls of one sync), added to."""
    crds = [o for o in objects if is_crd(o)]
    namespaces = [o for o in objects if is_namespace(o)]
    rest = [o for o in objects if not is_crd(o) and not is_namespace(o)]
    live = {}
    for obj in crds:
        live[Ref.of(obj)] = await apply_one(client, obj)
    if crds:
        await wait_established(client, [o["metadata"]["name"] for o in crds], crd_timeout)
    for obj in namespaces:
        live[Ref.of(obj)] = await apply_one(client, obj)
    declared = {o["metadata"]["name"] for o in namespaces}
    seen = set() if namespaces_seen is None else namespaces_seen
    await ensure_namespaces(client, {o["metadata"]["namespace"] for o in rest
                                     if o["metadata"].get("namespace")} - declared - seen)
    seen |= {o["metadata"]["namespace"] for o in rest if o["metadata"].get("namespace")} | declared
    for obj in rest:
        live[Ref.of(obj)] = await apply_one(client, obj)
    return live


async def apply_one(client: Kube, obj: dict, dry_run: bool = False) -> dict:
    try:
        return await client.apply(obj, force=True, dry_run=dry_run)
    except Unreachable:
        raise
    except KubeError as error:
        raise ApplyError(f"{Ref.of(obj)}: {error.message or error}") from None


async def ensure_namespaces(client: Kube, names: set[str]) -> None:
    for name in sorted(names):
        if await client.get("v1", "Namespace", name) is not None:
            continue
        try:
            await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        except Unreachable:
            raise
        except KubeError as error:
            if error.status != 409:
                raise ApplyError(f"Namespace/{name}: {error.message or error}") from None


async def wait_established(client: Kube, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending:
        crd = await client.get(CRD_API, CRD_KIND, pending[0])
        if crd is not None and condition_true(crd, "Established"):
            pending.pop(0)
            continue
        if crd is not None and condition_status(crd, "NamesAccepted") == "False":
            raise ApplyError(f"{CRD_KIND}/{pending[0]}: {condition_message(crd, 'NamesAccepted')}")
        if time.monotonic() > deadline:
            raise ApplyError(f"{CRD_KIND}/{pending[0]}: not Established after {timeout:.0f}s")
        await asyncio.sleep(0.2)


def find_condition(obj: dict, kind: str) -> dict | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def condition_status(obj: dict, kind: str) -> str | None:
    condition = find_condition(obj, kind)
    return condition.get("status") if condition else None


def condition_true(obj: dict, kind: str) -> bool:
    return condition_status(obj, kind) == "True"


def condition_message(obj: dict, kind: str) -> str:
    condition = find_condition(obj, kind) or {}
    return condition.get("message") or condition.get("reason") or f"{kind} is not True"
