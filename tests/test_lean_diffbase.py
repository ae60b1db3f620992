"""kopf's diff-base of a Fleet is built without deep-copying its status and managedFields, and is
the same essence kopf's own storage builds (so a Fleet handled before keeps its diff-base)."""

import copy

import kopf
import pytest

from mgmt.controller.handlers import LeanDiffBase


class NotCopied:
    def __deepcopy__(self, memo):
        raise AssertionError("deep-copied")


def fleet(**extra) -> dict:
    return {"apiVersion": "fleet.drover.dev/v1alpha1", "kind": "Fleet",
            "metadata": {"name": "blue", "namespace": "team", "generation": 3, "labels": {"team": "blue"},
                         "annotations": {"note": "kept", "kopf.zalando.org/last-handled-configuration": "{}"},
                         **extra.get("metadata", {})},
            "spec": {"clusters": [{"name": f"c{i}", "provider": "local"} for i in range(3)]},
            **{k: v for k, v in extra.items() if k != "metadata"}}


def test_same_essence_as_kopfs_own():
    body = fleet(status={"ready": 2}, metadata={"managedFields": [{"manager": "kubectl"}]})
    assert LeanDiffBase().build(body=kopf.Body(body)) == kopf.AnnotationsDiffBaseStorage().build(
        body=kopf.Body(copy.deepcopy(body)))


def test_status_and_managed_fields_are_not_copied():
    body = fleet(status={"big": NotCopied()}, metadata={"managedFields": [NotCopied()]})
    with pytest.raises(AssertionError, match="deep-copied"):
        kopf.AnnotationsDiffBaseStorage().build(body=kopf.Body(body))
    essence = LeanDiffBase().build(body=kopf.Body(body))
    assert essence["spec"] == body["spec"] and essence["spec"] is not body["spec"]
    assert essence["metadata"] == {"labels": {"team": "blue"}, "annotations": {"note": "kept"}}
