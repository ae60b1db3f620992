"""Kubernetes Events about Fleets and FleetMembers (messages carry no credentials: callers pass
only reasons and messages that Drover composed or that providers made secret-free)."""

from __future__ import annotations

import logging
import time
import uuid

from mgmt.kube import Kube, KubeError

log = logging.getLogger("drover.events")
COMPONENT = "drover-controller"


async def post_event(kube: Kube, ref: dict, type_: str, reason: str, message: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{ref['name']}.{uuid.uuid4().hex[:12]}", "namespace": ref["namespace"]},
        "involvedObject": ref, "type": type_, "reason": reason, "message": message[:1024],
        "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    }
    try:
        await kube.create(event)
    except KubeError as error:
        log.warning("could not post event %s on %s: %s", reason, ref["name"], error)
    log.info("%s %s/%s: %s", reason, ref["namespace"], ref["name"], message)
