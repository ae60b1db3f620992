"""Rendered objects: parsing, revisions, labels and namespaces, subset drift test."""

import pytest

from mgmt.stack.drift import is_subset
from mgmt.stack.objects import (
    COMPONENT_LABEL,
    Ref,
    SourceError,
    crd_scopes,
    parse_documents,
    prepare,
    revision,
)

MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
---
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: sa}}
- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: cr, namespace: x}}
"""


def test_documents_are_parsed_lists_flattened_and_checked():
    objects = parse_documents(MANIFESTS, "test")
    assert [Ref.of(o).name for o in objects] == ["a", "sa", "cr"]
    with pytest.raises(SourceError, match="document 1 has no kind, metadata.name"):
        parse_documents("apiVersion: v1\nmetadata: {}\n", "t")
    with pytest.raises(SourceError, match="invalid YAML"):
        parse_documents("a: [", "t")


def test_revision_changes_with_content_and_namespace_only():
    objects = parse_documents(MANIFESTS, "test")
    assert revision(objects, "ns") == revision(parse_documents(MANIFESTS, "test"), "ns")
    assert revision(objects, "ns") != revision(objects, "other")
    assert revision(objects, "ns") != revision(objects[:2], "ns")
    assert len(revision(objects, "ns")) == 12


def test_prepare_labels_and_places_objects():
    objects = parse_documents(MANIFESTS, "test")
    namespaced = {("v1", "ConfigMap"): True, ("v1", "ServiceAccount"): True}
    out = prepare(objects, "fleet-a", "comp", "apps", lambda a, k: namespaced.get((a, k), False))
    assert [o["metadata"].get("namespace") for o in out] == ["apps", "apps", None]
    assert all(o["metadata"]["labels"][COMPONENT_LABEL] == "comp" for o in out)
    assert "labels" not in objects[0]["metadata"]  # the (shared) parsed objects stay untouched


def test_crd_scopes():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "w"},
           "spec": {"group": "ex.com", "scope": "Cluster", "names": {"kind": "W"},
                    "versions": [{"name": "v1"}, {"name": "v2"}]}}
    assert crd_scopes([crd]) == {("ex.com/v1", "W"): False, ("ex.com/v2", "W"): False}


def test_subset_comparison():
    live = {"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "x", "tty": False}]}},
            "status": {}}
    assert is_subset({"spec": {"template": {"containers": [{"name": "a"}]}}}, live)
    assert not is_subset({"spec": {"replicas": 3}}, live)
    assert not is_subset({"spec": {"template": {"containers": [{"name": "a"}, {"name": "b"}]}}}, live)
    assert not is_subset({"spec": {"missing": 1}}, live)
    assert not is_subset({"spec": {"template": {"containers": [{"tty": 0}]}}}, live)


def test_keys_may_hold_gzip_within_a_bound():
    import gzip

    from mgmt.stack.sources import MAX_MANIFEST_BYTES, manifest_text
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    assert manifest_text(gzip.compress(text.encode()), "ConfigMap c key a.gz") == text
    assert manifest_text("a: é".encode("utf-16"), "Secret s key k") == "a: é"  # with its BOM
    cases = {gzip.compress(b" " * (MAX_MANIFEST_BYTES + 1)): "more than 16 MiB",
             gzip.compress(text.encode())[:-6]: "truncated", b"\x1f\x8bnot gzip": "not a valid gzip",
             b"a: \xff": "not UTF-8"}
    for data, problem in cases.items():
        with pytest.raises(SourceError, match=f"ConfigMap c key k: .*{problem}"):
            manifest_text(data, "ConfigMap c key k")
