"""The manifest reader's own rules; `e2e/test_kubeyaml_oracle.py` checks it against kubectl."""

from __future__ import annotations

import pytest

from mgmt import kubeyaml
from mgmt.kubeyaml import KubeYAMLError, load, load_all


@pytest.mark.parametrize(("plain", "value"), [
    ("=", "="), ("<<", "<<"), ("y", True), ("Off", False), ("~", None), ("", None),
    ("0777", 511), ("0o17", 15), ("0x_1F", 31), ("1_000", 1000), ("-0b101", -5), ("0b2", "0b2"),
    ("08", 8.0), ("1e3", 1000.0), (".5", 0.5), ("1.", 1.0), ("12:30:00", "12:30:00"),
    ("2001-12-14", "2001-12-14"), ("0x1p-2", "0x1p-2"), ("+12", 12), ("18446744073709551615", (1 << 64) - 1),
    ("+9223372036854775808", 9223372036854775808.0), ("0x10000000000000000", "0x10000000000000000"),
])
def test_plain_scalars_resolve_as_go_yaml_v2(plain, value):
    assert kubeyaml.resolve_plain(plain) == value
    assert type(kubeyaml.resolve_plain(plain)) is type(value)


def test_numbers_end_up_as_json_carries_them():
    data = load("a: 1.0\nb: 1e20\nc: 9223372036854775808\nd: 1.5\ne: 1e3")
    assert data == {"a": 1, "b": 1e20, "c": 9223372036854775808.0, "d": 1.5, "e": 1000}
    assert [type(data[k]) for k in "abcde"] == [int, float, float, float, int]


@pytest.mark.parametrize(("key", "text"), [
    ("1", "1"), ("true", "y"), ("1.5", "1.5"), ("3.1415927", "3.14159265358979"), ("1e+06", "1e6"),
    ("1.234567e+06", "1234567.0"), ("1e-05", "0.00001"), ("-0", "-0.0"), (".inf", ".inf"), ("16", "0x10"),
    ("0.0001", "0.0001"), ("100000", "1e5"),
])
def test_keys_become_strings_as_sigs_yaml_makes_them(key, text):
    assert load(f"{text}: v") == {key: "v"}


def test_merge_keys_apply_in_document_order():
    assert load("a: {x: 1, <<: {x: 2}}")["a"] == {"x": 2}
    assert load("a: {<<: {x: 2}, x: 1}")["a"] == {"x": 1}
    assert load("a: {<<: [{x: 1}, {x: 2, z: 3}]}")["a"] == {"x": 1, "z": 3}


def test_errors_name_the_document_and_the_line_of_the_stream():
    text = "a: 1\n---\nb: 2\n---\n# comment\nc:\n\td: 1\n"
    with pytest.raises(KubeYAMLError) as error:
        load_all(text)
    assert (error.value.document, error.value.line) == (3, 7)
    assert str(error.value).startswith("document 3, line 7: ")


def test_aliases_are_expanded_but_not_exploded():
    assert load("a: &x {k: v}\nb: *x\nc: [*x, *x]") == {"a": {"k": "v"}, "b": {"k": "v"},
                                                        "c": [{"k": "v"}, {"k": "v"}]}
    laughs = "a: &a [" + ",".join(["lol"] * 9) + "]\n" + "".join(
        f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(KubeYAMLError, match="excessive aliasing"):
        load(laughs)


def test_a_large_anchor_used_a_few_times_is_fine():
    big = "base: &base {" + ", ".join(f"k{i}: {i}" for i in range(20000)) + "}\n"
    data = load(big + "one: *base\ntwo: *base\n")
    assert data["two"]["k19999"] == 19999


def test_nesting_is_bounded():
    with pytest.raises(KubeYAMLError, match="nested deeper"):
        load("a: " + "[" * 300 + "]" * 300)


def test_bytes_are_decoded_as_kubectl_reads_files():
    assert load("\ufeffa: é".encode()) == {"a": "é"}
    assert load("a: b".encode("utf-16")) == {"a": "b"}
    with pytest.raises(KubeYAMLError, match="not UTF-8"):
        load(b"a: \xff")


def test_json_streams_and_their_fallback_to_yaml():
    assert load_all('{"a": 1.0}\n{"b": [1, 2]}') == [{"a": 1}, {"b": [1, 2]}]
    assert load_all('{"a": 1}\n{"b": NaN}') == [{"a": 1}, {"b": "NaN"}]  # one JSON object, then YAML
    assert load_all('{a: y}\n---\nb: 2') == [{"a": True}, {"b": 2}]
    with pytest.raises(KubeYAMLError, match="document 3, line 3: invalid JSON"):
        load_all('{"a": 1}\n{"b": 2}\n{"c": NaN}')
    with pytest.raises(KubeYAMLError, match="document 1, line 1: json: unsupported value"):
        load_all('{"a": 1e400}')


def test_separator_lines_may_carry_only_comments():
    assert load_all("a: 1\n--- # next\nb: 2\n---\n") == [{"a": 1}, {"b": 2}]
    with pytest.raises(KubeYAMLError, match="line 2: invalid document separator"):
        load_all("a: 1\n--- b: 2\n")


def test_written_strings_are_quoted_where_kubectl_would_read_something_else():
    tricky = ["y", "0o17", "1e3", "08", "=", "12:30", "1_000", "on", "x", "plain words"]
    text = kubeyaml.dump({"v": tricky})
    assert load(text) == {"v": tricky}
    assert "- x\n" in text and "- plain words\n" in text


def test_errors_name_the_place_never_the_value():
    """A source may be a Secret: what lands in status must not quote its content."""
    for text in ("password: !!int hunter2", "password: !!binary hunter2!"):
        with pytest.raises(KubeYAMLError) as error:
            load(text)
        assert "hunter2" not in str(error.value) and "line 1" in str(error.value)
