"""The member work queue (client-go's rules): a key waits once, is worked on by one worker at a
time, comes back when `work` says, and a failing key backs off alone."""

from __future__ import annotations

import asyncio

from mgmt.controller import workqueue
from mgmt.controller.workqueue import WorkQueue


def run_queue(work, workers, feed, seconds):
    async def main():
        queue = WorkQueue("test", work, workers)
        task = asyncio.create_task(queue.run())
        feed(queue)
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return queue
    return asyncio.run(main())


def test_a_key_added_many_times_waits_once():
    runs = []

    async def work(key):
        runs.append(key)

    def feed(queue):
        for _ in range(5):
            queue.add("a")
        queue.add("b", 0.05)
        queue.add("b")  # brought forward
    run_queue(work, 2, feed, 1.0)
    assert sorted(runs) == ["a", "b"]


def test_a_key_is_worked_on_by_one_worker_at_a_time_and_again_when_added_meanwhile():
    active, most, runs = set(), [0], []

    async def work(key):
        assert key not in active
        active.add(key)
        most[0] = max(most[0], len(active))
        runs.append(key)
        await asyncio.sleep(0.05)
        active.discard(key)

    async def feed_later(queue):
        queue.add("a")
        await asyncio.sleep(0.01)
        queue.add("a")  # while it runs: once more after
        queue.add("a")

    def feed(queue):
        asyncio.get_running_loop().create_task(feed_later(queue))
    run_queue(work, 4, feed, 1.0)
    assert runs == ["a", "a"]


def test_work_says_when_it_is_due_again():
    runs = []

    async def work(key):
        runs.append(key)
        return 0.05 if len(runs) < 3 else None
    run_queue(work, 1, lambda q: q.add("a"), 1.5)
    assert runs == ["a", "a", "a"]


def test_a_failing_key_backs_off_alone(monkeypatch):
    backoffs = []

    def recorded_backoff(failures, cap=None):
        backoffs.append(failures)
        return 0.05
    monkeypatch.setattr(workqueue, "backoff", recorded_backoff)
    runs = {"bad": 0, "good": 0}

    async def work(key):
        runs[key] += 1
        if key == "bad":
            raise RuntimeError("one key's bug")
        return 0.01

    queue = run_queue(work, 1, lambda q: (q.add("bad"), q.add("good")), 1.0)
    assert runs["good"] >= 2, "the other key goes on"
    assert backoffs == list(range(1, runs["bad"] + 1)), "failures are counted per key, in a row"
    assert queue.failures == {"bad": runs["bad"]}


def test_a_forgotten_key_does_not_come_back():
    runs = []

    async def work(key):
        runs.append(key)

    def feed(queue):
        queue.add("a", 0.05)
        queue.forget("a")
    run_queue(work, 1, feed, 0.5)
    assert runs == []
