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


# -- across the fleet: members out of reach -------------------------------------------------

def _engine_plan(max_unavailable_value, targets: dict[str, dict], unreachable: dict[str, list[dict]]):
    """The engine's plan for one component `c` rolling from revision r1 to r2."""
    from mgmt.api.models import Component, Rollout
    from mgmt.stack.engine import MemberTarget, StackEngine
    from mgmt.stack.member import Desired

    component = Component(name="c", manifests="x")
    members = [MemberTarget(name, "ns", "local", None, {}) for name in targets]
    engine = StackEngine.__new__(StackEngine)
    engine._unreachable = set()
    return engine._plan(Rollout(maxUnavailable=max_unavailable_value), [component], members,
                        {name: ("ns", "f", name) for name in targets},
                        {name: {"c": Desired(component, "default", [], "r2")} for name in targets},
                        {name: {"c": status} for name, status in targets.items()}, unreachable)


READY_R1 = {"name": "c", "revision": "r1", "ready": True}


def test_a_member_out_of_reach_holds_budget_for_what_it_has():
    """A revision that breaks members' API access must not free its own budget."""
    targets = {"a": READY_R1, "b": READY_R1, "c": READY_R1}
    broken = {"x": [{"name": "c", "revision": "r2", "ready": True}]}  # took r2, then stopped answering
    assert {m: d["c"] for m, d in _engine_plan(1, targets, broken).items()} == {
        "a": HOLD_BUDGET, "b": HOLD_BUDGET, "c": HOLD_BUDGET}
    assert {m: d["c"] for m, d in _engine_plan(2, targets, broken).items()} == {
        "a": APPLY, "b": HOLD_BUDGET, "c": HOLD_BUDGET}
    # A percentage counts every member, not only the reachable ones.
    assert [d["c"] for d in _engine_plan("50%", targets, broken).values()].count(APPLY) == 1


def test_a_member_lost_during_its_update_is_recorded_as_moving():
    from mgmt.api.models import Component
    from mgmt.stack.engine import StackEngine
    from mgmt.stack.member import Desired, MemberPlan

    component = Component(name="c", manifests="x")
    plan = MemberPlan(fleet="f", components=[component], order=["c"], order_errors={},
                      desired={"c": Desired(component, "default", [], "r2")}, decisions={"c": APPLY},
                      previous={"c": READY_R1}, failures={}, confirmed={})
    assert StackEngine._started(plan, [READY_R1]) == [
        {"name": "c", "revision": "r2", "ready": False, "applied": False, "phase": "Progressing"}]
    plan.decisions["c"] = HOLD_BUDGET
    assert StackEngine._started(plan, [READY_R1]) == [READY_R1]
