"""Which members may move to a component's new revision in this sync (`spec.rollout`).

Kubernetes' rolling-update rule, with clusters for pods: a member "has the component
unavailable" when it runs some revision of it that is not ready. A ready member may be moved to
the new revision only while fewer than `maxUnavailable` members are unavailable; moving a member
that is unavailable anyway costs nothing, and neither does installing the component on a member
that never had it (a cluster joining the fleet gets the stack whatever the rollout does).
`paused` stops every change of revision; first installs still happen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

APPLY, HOLD_PAUSED, HOLD_BUDGET = "apply", "paused", "budget"


@dataclass(frozen=True)
class MemberState:
    """One component on one member."""
    desired: str | None     # revision rendered for this member now (None: could not render)
    current: str | None     # revision applied there (None: never applied)
    ready: bool


def max_unavailable(value: int | str, members: int) -> int:
    """A count, or a percentage of the members rounded down; never less than 1."""
    if isinstance(value, str):
        text = value.strip()
        count = math.floor(members * int(text[:-1]) / 100) if text.endswith("%") else int(text)
    else:
        count = int(value)
    return max(1, count)


def plan(states: Mapping[str, MemberState], limit: int, paused: bool) -> dict[str, str]:
    """Decision per member (APPLY, HOLD_PAUSED or HOLD_BUDGET), in the mapping's order:
    earlier members are moved first."""
    unavailable = sum(1 for s in states.values() if s.current is not None and not s.ready)
    decisions = {}
    for member, state in states.items():
        changing = state.desired is not None and state.current is not None and state.desired != state.current
        if not changing:
            decisions[member] = APPLY
        elif paused:
            decisions[member] = HOLD_PAUSED
        elif not state.ready:
            decisions[member] = APPLY
        elif unavailable < limit:
            decisions[member] = APPLY
            unavailable += 1
        else:
            decisions[member] = HOLD_BUDGET
    return decisions
