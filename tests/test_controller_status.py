"""When a probe's changing figures are worth a FleetMember status write."""

import pytest

from mgmt.controller.status import _latency_moved


def api(latency):
    return {"api": {"reachable": True, "latencyMs": latency}}


@pytest.mark.parametrize(("before", "after", "moved"), [
    (20, 20, False), (20, 150, False), (20, 480, False),  # jitter of a busy host
    (20, 600, True), (300, 1000, True), (1500, 40, True), (None, 20, True), (20, None, True),
])
def test_only_a_large_latency_shift_is_written(before, after, moved):
    old = api(before) if before is not None else {"api": {"reachable": False}}
    new = api(after) if after is not None else {"api": {"reachable": False}}
    assert _latency_moved(old, new) is moved
