"""Rollout planning across a fleet: maxUnavailable (count or percent) and paused."""

import pytest

from mgmt.stack.rollout import APPLY, HOLD_BUDGET, HOLD_PAUSED, MemberState, max_unavailable, plan


@pytest.mark.parametrize("value,members,expected", [
    (1, 3, 1), (2, 3, 2), ("2", 5, 2), ("50%", 5, 2), ("10%", 3, 1), ("100%", 4, 4), ("34%", 3, 1), (0, 3, 1),
])
def test_max_unavailable(value, members, expected):
    assert max_unavailable(value, members) == expected


def changed(ready=True):
    return MemberState(desired="new", current="old", ready=ready)


def test_one_ready_member_at_a_time():
    states = {"a": changed(), "b": changed(), "c": changed()}
    assert plan(states, 1, paused=False) == {"a": APPLY, "b": HOLD_BUDGET, "c": HOLD_BUDGET}


def test_an_updating_member_uses_the_budget():
    states = {"a": MemberState("new", "new", ready=False), "b": changed(), "c": changed()}
    assert plan(states, 1, paused=False) == {"a": APPLY, "b": HOLD_BUDGET, "c": HOLD_BUDGET}
    assert plan(states, 2, paused=False) == {"a": APPLY, "b": APPLY, "c": HOLD_BUDGET}
    states["a"] = MemberState("new", "new", ready=True)
    assert plan(states, 1, paused=False) == {"a": APPLY, "b": APPLY, "c": HOLD_BUDGET}


def test_unavailable_members_move_for_free_and_fresh_installs_always_happen():
    states = {"a": changed(ready=False), "b": MemberState("new", None, ready=False), "c": changed(), "d": changed()}
    # a is unavailable already (counts against the budget of 2, costs nothing to move); b never had it
    assert plan(states, 2, paused=False) == {"a": APPLY, "b": APPLY, "c": APPLY, "d": HOLD_BUDGET}


def test_paused_holds_changes_but_not_first_installs_or_unchanged_members():
    states = {"a": changed(), "b": MemberState("new", None, False), "c": MemberState("same", "same", True),
              "d": MemberState(None, "old", True)}
    assert plan(states, 3, paused=True) == {"a": HOLD_PAUSED, "b": APPLY, "c": APPLY, "d": APPLY}
