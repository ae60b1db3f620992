"""When a probe's changing figures are worth a FleetMember status write."""

import pytest

from mgmt.controller.status import _latency_moved


def api(latency):
    return {"api": {"reachable": True, "latencyMs": latency}}


@pytest.mark.parametrize(("before", "after", "moved"), [
    (20, 20, False), (20, 150, False), (20, 599, False), (22, 990, False),  # jitter of a busy host
    (20, 1000, True), (300, 6000, True), (1500, 40, True), (None, 20, True), (20, None, True),
    (1200, 700, False), (1200, 450, True), (6000, 3000, False), (6000, 2400, True),  # down: below half a bound
])
def test_only_a_change_of_latency_level_is_written(before, after, moved):
    old = api(before) if before is not None else {"api": {"reachable": False}}
    new = api(after) if after is not None else {"api": {"reachable": False}}
    assert _latency_moved(old, new) is moved
