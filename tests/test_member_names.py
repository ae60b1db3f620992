"""FleetMember names: one per (Fleet, cluster), never shared by two Fleets, valid object names."""

import asyncio
import itertools
import re

from mgmt.api.models import API_VERSION, DNS_LABEL
from mgmt.controller.members import list_members, member_name

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_the_fleets_that_collided_get_different_names():
    assert member_name("a-b", "c") != member_name("a", "b-c")
    assert (member_name("a-b", "c"), member_name("a", "b-c")) == ("a-b.c", "a.b-c")


def test_names_are_distinct_over_every_split_and_valid():
    parts = ["a", "b", "a-b", "b-a", "a-b-a", "x.y", "x", "y-x"]
    clusters = [c for c in parts if re.match(DNS_LABEL, c)]  # a cluster name is a DNS label
    pairs = list(itertools.product(parts, clusters))
    names = [member_name(f, c) for f, c in pairs]
    assert len(set(names)) == len(pairs)
    longest = member_name("f" * 40, "c" * 40)
    assert all(DNS_SUBDOMAIN.match(n) for n in [*names, longest]) and len(longest) <= 253


class Kube:
    def __init__(self, members):
        self.members, self.deleted = members, []

    async def list(self, api_version, kind, namespace, labels):
        assert (api_version, kind, labels) == (API_VERSION, "FleetMember", {"fleet.drover.dev/fleet": "web"})
        return self.members

    async def delete(self, api_version, kind, name, namespace):
        self.deleted.append(name)


def member(name, cluster):
    return {"metadata": {"name": name}, "spec": {"fleet": "web", "cluster": cluster}}


def test_a_member_of_the_old_name_goes_once_its_replacement_exists():
    kube = Kube([member("web-a", "a"), member("web.a", "a"), member("web-b", "b")])
    listed = asyncio.run(list_members(kube, "ns", "web"))
    assert kube.deleted == ["web-a"]
    # web-b has no replacement yet (its cluster may be leaving the Fleet): it stays a member
    assert [m["metadata"]["name"] for m in listed] == ["web.a", "web-b"]
