"""Fleets split across shards of replicas: every Fleet in exactly one shard, spread evenly."""

from __future__ import annotations

import click
import pytest

from mgmt.controller import handlers
from mgmt.controller.main import shard
from mgmt.controller.shards import Shard, index_from_hostname, shard_of


def test_every_fleet_belongs_to_exactly_one_shard_and_they_spread():
    fleets = [(f"team-{n % 37}", f"fleet-{n}") for n in range(3000)]
    shards = [Shard(i, 3) for i in range(3)]
    owners = [[s.index for s in shards if s.owns(ns, name)] for ns, name in fleets]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o == [i]) for i in range(3)]
    assert min(sizes) > 900, sizes
    assert shard_of("a", "b", 3) == shard_of("a", "b", 3)
    assert shard_of("a-b", "c", 1000) != shard_of("a", "b-c", 1000)  # not a plain join of the two


def test_one_shard_owns_everything_and_keeps_the_lease_name():
    assert Shard().owns("any", "fleet") and Shard().lease_name("drover-controller") == "drover-controller"
    assert Shard(1, 4).lease_name("drover-controller") == "drover-controller-shard-1"


def test_index_from_flags_or_the_statefulset_ordinal(monkeypatch):
    assert index_from_hostname("drover-controller-2") == 2 and index_from_hostname("laptop") is None
    monkeypatch.setattr("socket.gethostname", lambda: "drover-controller-1")
    assert shard(3, None) == Shard(1, 3)
    assert shard(3, 0) == Shard(0, 3)
    assert shard(1, None) == Shard()
    with pytest.raises(click.BadParameter, match="shard index 3 is not in 0..2"):
        shard(3, 3)
    monkeypatch.setattr("socket.gethostname", lambda: "laptop")
    with pytest.raises(click.BadParameter, match="give --shard-index"):
        shard(2, None)


def test_handlers_filter_by_shard(monkeypatch):
    monkeypatch.setattr(handlers, "SHARD", Shard(0, 2))
    mine = next(n for n in range(100) if shard_of("team", f"f{n}", 2) == 0)
    theirs = next(n for n in range(100) if shard_of("team", f"f{n}", 2) == 1)
    assert handlers.in_shard(name=f"f{mine}", namespace="team")
    assert not handlers.in_shard(name=f"f{theirs}", namespace="team")


def test_each_shard_has_its_own_finalizer_and_drops_its_predecessors():
    assert Shard().finalizer == "fleet.drover.dev/finalizer"
    owner = Shard(2, 3)
    assert owner.finalizer == "fleet.drover.dev/finalizer-shard-2"
    left = ["fleet.drover.dev/finalizer", "fleet.drover.dev/finalizer-shard-0", "example.com/keep",
            "fleet.drover.dev/finalizer-shard-2"]
    assert owner.without_stale_finalizers(left) == ["example.com/keep", "fleet.drover.dev/finalizer-shard-2"]
    assert Shard().without_stale_finalizers(left) == ["fleet.drover.dev/finalizer", "example.com/keep"]
