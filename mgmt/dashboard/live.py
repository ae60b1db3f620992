"""Live pages: watches on the apiserver (as the user) whose events are pushed to the browser as
Server-Sent Events. An event only says "changed"; the page then fetches itself again, at most
once every THROTTLE seconds however many members change, so a busy Fleet of 1,000 members costs
the browser one re-render a few seconds apart."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from mgmt.kube import Kube

log = logging.getLogger(__name__)

THROTTLE = 2.0        # seconds between two "change" events sent to one page
KEEPALIVE = 15.0      # seconds between comments that keep an idle connection open
WATCH_SECONDS = 240   # the apiserver ends each watch after this; it is started again
RETRY = 2.0           # seconds before a failed watch is started again


@dataclass(frozen=True)
class Watched:
    """One collection to watch: a resource path and its selectors."""

    path: str
    labels: str | None = None
    fields: str | None = None

    def query(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("labelSelector", self.labels), ("fieldSelector", self.fields)) if v]


async def _resource_version(kube: Kube, watched: Watched) -> str:
    page = await kube.request("GET", watched.path, query=[*watched.query(), ("limit", 1)])
    return page["metadata"]["resourceVersion"]


async def watch(kube: Kube, watched: Watched) -> AsyncIterator[dict]:
    """Events of the collection from now on, forever (restarted when the apiserver ends it)."""
    version = None
    while True:
        try:
            if version is None:
                version = await _resource_version(kube, watched)
            query = [*watched.query(), ("watch", "1"), ("resourceVersion", version),
                     ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(WATCH_SECONDS))]
            response = await kube.api.call_api(
                watched.path, "GET", query_params=query, header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                _request_timeout=WATCH_SECONDS + 30)
            try:
                async for line in response.content:
                    event = json.loads(line)
                    if event.get("type") == "ERROR":  # e.g. 410 Gone: the version is too old
                        version = None
                        break
                    version = event["object"]["metadata"].get("resourceVersion") or version
                    if event.get("type") != "BOOKMARK":
                        yield event
            finally:
                response.release()
        except Exception as error:  # noqa: BLE001 - any failure (refused, dropped, garbled): start again
            log.info("watch of %s ended: %s", watched.path, type(error).__name__)
            version = None
            await asyncio.sleep(RETRY)


async def changes(kube: Kube, watched: list[Watched]) -> AsyncIterator[str]:
    """SSE lines: a `change` event (throttled) whenever any watched collection changes, and
    keep-alive comments; runs until the caller stops iterating."""
    changed = asyncio.Event()

    async def follow(one: Watched) -> None:
        async for _ in watch(kube, one):
            changed.set()

    tasks = [asyncio.create_task(follow(one)) for one in watched]
    try:
        yield "retry: 3000\n\n"
        while True:
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            changed.clear()
            yield "event: change\ndata: {}\n\n"
            await asyncio.sleep(THROTTLE)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
