"""dependsOn ordering: stable topological order, clear errors for cycles and unknown names."""

from mgmt.stack.order import apply_order


def test_dependencies_come_first_else_the_earliest_declared_goes_next():
    order, errors = apply_order({"app": ["db", "certs"], "certs": [], "db": ["certs"], "extra": []})
    assert errors == {}
    assert order == ["certs", "db", "app", "extra"]


def test_a_cycle_names_its_members_and_blocks_its_dependents_only():
    order, errors = apply_order({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": []})
    assert order == ["e"]
    assert errors["a"] == errors["b"] == errors["c"] == "dependsOn cycle: a -> b -> c -> a"
    assert errors["d"] == "depends on a, which cannot be applied"


def test_self_dependency_and_unknown_names():
    order, errors = apply_order({"a": ["a"], "b": ["nope", "a"], "c": []})
    assert order == ["c"]
    assert errors["a"] == "dependsOn cycle: a -> a"
    assert errors["b"] == "dependsOn names unknown component(s): nope"
