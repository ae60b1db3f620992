"""Each Fleet applies under its own field manager, without force: a field another manager set to
another value is a conflict that fails only that member, naming the manager and the field; the
one manager taken over is `drover`, under which every Fleet applied before. (e2e/test_field_managers.py
has the real apiserver decide what conflicts.)"""

from __future__ import annotations

import asyncio

import pytest

from mgmt.controller.objects import apply_if_changed, fleet_manager
from mgmt.kube import KubeError

OBJ = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}


class Kube:
    def __init__(self, conflict_with: list[str]):
        self.conflict_with, self.applied = conflict_with, []

    async def get(self, *args):
        return None

    async def apply(self, obj, manager="drover", force=True):
        self.applied.append((manager, force))
        if self.conflict_with and not force:
            causes = "; ".join(f'conflict with "{m}" using v1: .data.a' for m in self.conflict_with)
            raise KubeError(409, "Conflict", f"Apply failed with {len(self.conflict_with)} conflict: {causes}")
        return obj


def test_a_fleet_applies_under_its_own_manager_without_force():
    kube = Kube([])
    assert asyncio.run(apply_if_changed(kube, OBJ, fleet_manager("ns", "f")))[1]
    assert kube.applied == [("drover/ns/f", False)]


@pytest.mark.parametrize("others", [["kubectl-edit"], ["drover/ns/other-fleet"], ["drover", "kubectl-patch"]])
def test_a_conflict_with_another_manager_is_raised_not_forced(others):
    kube = Kube(others)
    with pytest.raises(KubeError) as raised:
        asyncio.run(apply_if_changed(kube, OBJ, fleet_manager("ns", "f")))
    assert raised.value.status == 409 and others[-1] in raised.value.message
    assert kube.applied == [("drover/ns/f", False)]


def test_fields_of_the_single_manager_of_before_are_taken_over():
    kube = Kube(["drover"])
    assert asyncio.run(apply_if_changed(kube, OBJ, fleet_manager("ns", "f")))[1]
    assert kube.applied == [("drover/ns/f", False), ("drover/ns/f", True)]


def test_without_a_fleet_the_controller_applies_as_before():
    kube = Kube(["kubectl-edit"])
    assert asyncio.run(apply_if_changed(kube, OBJ))[1]
    assert kube.applied == [("drover", True)]
