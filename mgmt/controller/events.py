"""Kubernetes Events about Fleets and FleetMembers (messages carry no credentials: callers pass
only reasons and messages that Drover composed or that providers made secret-free).

An Event that repeats one already posted (same object, type, reason and message) is not posted
again: the existing one gets its `count` raised and its `lastTimestamp` moved, as Kubernetes' own
event recorder does, so a flapping member costs one object, not one per flap."""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict

from mgmt.kube import Kube, KubeError

log = logging.getLogger("drover.events")
COMPONENT = "drover-controller"
REMEMBERED = 4096  # Events whose repeats are counted (the least recently posted are forgotten)

_posted: OrderedDict[tuple, tuple[str, int]] = OrderedDict()  # key -> (Event name, count)


async def post_event(kube: Kube, ref: dict, type_: str, reason: str, message: str) -> None:
    message = message[:1024]
    key = (ref["namespace"], ref.get("uid") or ref["name"], ref["kind"], type_, reason, message)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        if key in _posted and await _count_again(kube, ref["namespace"], key, now):
            return
        name = f"{ref['name']}.{uuid.uuid4().hex[:12]}"
        await kube.create({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ref["namespace"]},
            "involvedObject": ref, "type": type_, "reason": reason, "message": message,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        })
        _remember(key, name, 1)
    except KubeError as error:
        log.warning("could not post event %s on %s: %s", reason, ref["name"], error)
    log.info("%s %s/%s: %s", reason, ref["namespace"], ref["name"], message)


async def _count_again(kube: Kube, namespace: str, key: tuple, now: str) -> bool:
    """Raise the count of the Event posted for `key`; False when it is gone (Events expire)."""
    name, count = _posted[key]
    try:
        await kube.patch("v1", "Event", name, namespace, {"count": count + 1, "lastTimestamp": now})
    except KubeError as error:
        if not error.not_found:
            raise
        del _posted[key]
        return False
    _remember(key, name, count + 1)
    return True


def _remember(key: tuple, name: str, count: int) -> None:
    _posted[key] = (name, count)
    _posted.move_to_end(key)
    while len(_posted) > REMEMBERED:
        _posted.popitem(last=False)
