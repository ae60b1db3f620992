"""kopf's namespace observer takes in the namespaces of its watcher's own listing, so a namespace
created between kopf's first listing and its watch is watched (kopf alone drops it)."""

from __future__ import annotations

import asyncio

import pytest
from kopf._cogs.structs import references
from kopf._core.reactor import observation

from mgmt.controller import kopf_namespaces

PATTERNS = ["fleet-*"]  # as `drover controller --namespace` passes them


def listed(name: str) -> dict:
    return {"type": None, "object": {"metadata": {"name": name}}}


def observe(process, *events) -> set:
    insights = references.Insights()

    async def run():
        for event in events:
            await process(raw_event=event, namespaces=PATTERNS, insights=insights)
    asyncio.run(run())
    return insights.namespaces


def test_kopf_alone_drops_a_namespace_of_the_second_listing():
    assert observe(kopf_namespaces._kopf_process, listed("fleet-new")) == set()


def test_the_second_listing_is_taken_in():
    assert observe(kopf_namespaces.process_namespace_event, listed("fleet-new"), listed("other")) == {"fleet-new"}


def test_watch_events_still_go_through_kopf():
    added = {"type": "ADDED", "object": {"metadata": {"name": "fleet-a"}}}
    deleted = {"type": "DELETED", "object": {"metadata": {"name": "fleet-a"}}}
    assert observe(kopf_namespaces.process_namespace_event, added) == {"fleet-a"}
    assert observe(kopf_namespaces.process_namespace_event, added, deleted) == set()


@pytest.fixture
def restored():
    yield
    observation.process_discovered_namespace_event = kopf_namespaces._kopf_process


def test_install_replaces_what_the_observer_calls(restored):
    kopf_namespaces.install()
    assert observation.process_discovered_namespace_event is kopf_namespaces.process_namespace_event
