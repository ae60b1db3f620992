"""A fix for kopf's namespace observer (kopf 1.45), which loses a namespace created while the
operator starts.

With namespace patterns (`drover controller --namespace 'fleet-*'`), kopf lists the namespaces,
then starts a watcher that lists them again and watches from that second listing. The events of
the second listing are dropped (`process_discovered_namespace_event` ignores initial-listing
events), so a namespace created between the two listings is in neither, and the watch starts after
its creation: its Fleets are never seen until the controller restarts. Found in CI: a Fleet in a
namespace made while the controller started was never reconciled. Taking the second listing in as
well closes the gap; it only ever adds namespaces that match the patterns.
"""

from __future__ import annotations

from kopf._core.reactor import observation

_kopf_process = observation.process_discovered_namespace_event


async def process_namespace_event(*, raw_event, namespaces, insights, **kwargs) -> None:
    if raw_event["type"] is None:  # a namespace of the watcher's own listing
        async with insights.revised:
            observation.revise_namespaces(raw_events=[raw_event], insights=insights, namespaces=namespaces)
            insights.revised.notify_all()
        return
    await _kopf_process(raw_event=raw_event, namespaces=namespaces, insights=insights, **kwargs)


def install() -> None:
    """Make kopf's namespace observer use `process_namespace_event` (before the operator starts)."""
    observation.process_discovered_namespace_event = process_namespace_event
