"""The inventory: encoding, and what is pruned in which order."""

from mgmt.stack.inventory import Entry, decode, encode, stale
from mgmt.stack.objects import Ref

CRD = Ref("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com")
NS = Ref("v1", "Namespace", "", "monitoring")
DEPLOY = Ref("apps/v1", "Deployment", "monitoring", "op")
CM = Ref("v1", "ConfigMap", "monitoring", "settings")


def test_round_trip_through_a_configmap():
    inventory = {"op": Entry("abc", "2026-01-01T00:00:00.000001Z", [DEPLOY, CM, DEPLOY])}
    data = encode(inventory)
    back = decode({"data": data})
    assert back["op"].revision == "abc" and back["op"].applied_at.endswith(".000001Z")
    assert back["op"].objects == sorted({CM, DEPLOY})  # sorted, duplicates dropped
    assert encode(back) == data


def test_a_mangled_entry_reads_as_never_applied():
    assert decode({"data": {"a": "not json", "b": Entry("r", None, [CM]).wire()}}).keys() == {"b"}
    assert decode(None) == {}


def test_removed_objects_are_pruned_crds_last():
    inventory = {"gone": Entry("r1", None, [CRD, NS, DEPLOY]), "kept": Entry("r2", None, [CM])}
    assert stale(inventory, keep={CM}) == [DEPLOY, NS, CRD]
    assert stale(inventory, keep={CM, DEPLOY, NS, CRD}) == []


def test_an_object_moved_to_another_component_is_not_pruned():
    inventory = {"a": Entry("r1", None, [CM]), "b": Entry("r2", None, [])}
    assert stale(inventory, keep={CM}) == []
