"""A work queue of keys, as client-go's `workqueue` for asyncio.

- a key waits in the queue at most once: adding it again only brings its time forward;
- a key is worked on by one worker at a time: one added while it is worked on runs once more after;
- `work(key)` returns the seconds until the key wants to run again (None: only when added again);
- a `work` that raises is logged and its key comes back after an exponential backoff with jitter,
  counted per key, so one key failing neither stops the workers nor holds back the other keys.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("drover.workqueue")

BACKOFF_BASE, BACKOFF_MAX = 2.0, 300.0


def backoff(failures: int, cap: float = BACKOFF_MAX) -> float:
    """Seconds to wait after `failures` failures in a row: exponential, capped, with jitter (so
    that a thousand members failing together do not come back together)."""
    return min(cap, BACKOFF_BASE * 2 ** (max(failures, 1) - 1)) * random.uniform(0.5, 1.0)


class WorkQueue:
    def __init__(self, name: str, work: Callable[[Hashable], Awaitable[float | None]], workers: int):
        self.name, self._work, self._workers = name, work, workers
        self.failures: dict[Hashable, int] = {}   # key -> `work` raised this many times in a row
        self._due: dict[Hashable, float] = {}      # key -> monotonic time it is due (waiting keys)
        self._timeline: list[tuple[float, int, Hashable]] = []  # heap; stale entries skipped
        self._order = itertools.count()
        self._ready: asyncio.Queue = asyncio.Queue()
        self._queued: set[Hashable] = set()        # in `_ready`
        self._active: set[Hashable] = set()        # being worked on
        self._again: set[Hashable] = set()         # added while active
        self._wake = asyncio.Event()

    def add(self, key: Hashable, delay: float = 0.0) -> None:
        """Work on `key` in `delay` seconds, or sooner if it was due sooner."""
        if key in self._queued:
            return
        due = time.monotonic() + max(0.0, delay)
        if self._due.get(key, float("inf")) <= due:
            return
        self._due[key] = due
        heapq.heappush(self._timeline, (due, next(self._order), key))
        self._wake.set()

    def forget(self, key: Hashable) -> None:
        """Drop `key`'s waiting time and failure count (one already handed to a worker still runs)."""
        self._due.pop(key, None)
        self._again.discard(key)
        self.failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._due) + len(self._queued)

    async def run(self) -> None:
        """Hand due keys to the workers until cancelled."""
        workers = [asyncio.create_task(self._worker(), name=f"{self.name} worker") for _ in range(self._workers)]
        try:
            await self._schedule()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _schedule(self) -> None:
        while True:
            now = time.monotonic()
            while self._timeline and self._timeline[0][0] <= now:
                due, _, key = heapq.heappop(self._timeline)
                if self._due.get(key) != due:
                    continue  # brought forward, or forgotten
                del self._due[key]
                if key in self._active:
                    self._again.add(key)
                elif key not in self._queued:
                    self._queued.add(key)
                    self._ready.put_nowait(key)
            self._wake.clear()
            wait = self._timeline[0][0] - now if self._timeline else None
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

    async def _worker(self) -> None:
        while True:
            key = await self._ready.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                delay = await self._work(key)
                self.failures.pop(key, None)
            except Exception:  # one key's bug must not stop the workers
                self.failures[key] = self.failures.get(key, 0) + 1
                delay = backoff(self.failures[key])
                log.exception("%s: %s failed (%d in a row); again in %.0fs", self.name, key,
                              self.failures[key], delay)
            finally:
                self._active.discard(key)
            if key in self._again:
                self._again.discard(key)
                self.add(key)
            elif delay is not None:
                self.add(key, delay)
