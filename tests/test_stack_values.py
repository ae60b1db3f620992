"""Per-cluster templating of values and manifests."""

import pytest

from mgmt.stack.values import ValuesError, cluster_context, render_values

CONTEXT = cluster_context("prod-eu", "aws", "eu-west-1", {"tier": "gold", "team/name": "core"})


def test_cluster_fields_are_rendered_at_any_depth():
    values = {"name": "{{ cluster.name }}", "nested": [{"where": "{{ cluster.provider }}/{{ cluster.region }}"}],
              "tier": "{{ cluster.labels.tier }}", "team": "{{ cluster.labels['team/name'] }}", "n": 3}
    assert render_values(values, CONTEXT) == {
        "name": "prod-eu", "nested": [{"where": "aws/eu-west-1"}], "tier": "gold", "team": "core", "n": 3}


def test_text_that_is_not_about_the_cluster_is_left_alone():
    values = {"alert": "{{ $labels.instance }} is down", "helm": "{{ .Values.x }}", "other": "{{ foo }}",
              "{{ cluster.name }}": "keys are not templated"}
    assert render_values(values, CONTEXT) == values


def test_an_undefined_label_is_an_error_naming_the_template():
    with pytest.raises(ValuesError, match=r"cluster.labels.missing.*has no attribute 'missing'"):
        render_values({"x": "{{ cluster.labels.missing }}"}, CONTEXT)


def test_the_sandbox_refuses_unsafe_access():
    with pytest.raises(ValuesError):
        render_values({"x": "{{ cluster.__class__.__mro__ }}"}, CONTEXT)


def test_region_is_empty_when_unset():
    assert render_values("r={{ cluster.region }}", cluster_context("c", "local", None, {})) == "r="
