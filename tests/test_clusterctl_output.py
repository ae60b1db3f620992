"""Go's and go-yaml's rules that `drover generate cluster` follows to print what clusterctl prints.

The real clusterctl is the oracle in e2e/test_clusterctl_diff.py; these pin the rules themselves
(from Go's strconv, time and go-yaml sources) so a regression shows without the binary.
"""

from __future__ import annotations

import functools

import pytest

from mgmt.clusterctl import config, generate, output


@pytest.mark.parametrize("text,quoted", [
    ('["192.168.0.0/16"]', '"[\\"192.168.0.0/16\\"]"'),
    ("a\\b", '"a\\\\b"'),
    ("tab\there", '"tab\\there"'),
    ("ünï ☃", '"ünï ☃"'),
    ("\u00a0\u200b\x01", '"\\u00a0\\u200b\\x01"'),
])
def test_go_quote(text, quoted):
    assert generate.go_quote(text) == quoted


@pytest.mark.parametrize("text,value", [
    ("10", 10), ("+2", 2), ("-3", -3), ("0x10", 16), ("0o17", 15), ("017", 15), ("0b101", 5), ("1_000", 1000),
    (" 2", None), ("2 ", None), ("1__0", None), ("_1", None), ("1_", None), ("08", None), ("", None),
])
def test_go_parse_int(text, value):
    assert generate.go_parse_int(text) == value


@pytest.mark.parametrize("version,valid", [
    ("v1.33.4", True), ("1.33.4", True), ("v1.33.4-rc.1+build.5", True), (" v1.33.4 ", True),
    ("v01.33.4", False), ("v1.033.4", False), ("v1.33.4-01", False), ("v1.33", False), ("v1.33.4.5", False),
])
def test_semantic_versions(version, valid):
    assert generate._is_semantic_version(version) is valid


@pytest.mark.parametrize("text,shown", [
    ("2001-12-14", "2001-12-14 00:00:00 +0000 UTC"),
    ("2001-2-4", "2001-02-04 00:00:00 +0000 UTC"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.1 -0500 -0500"),
    ("2001-12-14T21:59:43Z", "2001-12-14 21:59:43 +0000 UTC"),
    ("2001-12-14 21:59:43.5", "2001-12-14 21:59:43.5 +0000 UTC"),
    ("2001-02-30", None), ("12:30", None), ("2001-12-14T21:59:43", None), ("01-12-14", None),
])
def test_go_timestamps(text, shown):
    assert output.go_timestamp(text) == shown


@pytest.mark.parametrize("value,fmt,text", [
    (1.0, "f", "1"), (1.5, "f", "1.5"), (1e21, "f", "1000000000000000000000"), (1e-6, "f", "0.000001"),
    (1.5, "g", "1.5"), (1234567.5, "g", "1.2345675e+06"), (123456.5, "g", "123456.5"), (1e-7, "g", "1e-07"),
    (float("inf"), "f", "+Inf"), (float("nan"), "g", "NaN"),
])
def test_go_format_float(value, fmt, text):
    assert output.go_format_float(value, fmt) == text


def test_go_yaml_key_order():
    keys = ["a10", "a2", "A1", "_u", "1", "b", "é", "a02"]
    ordered = sorted(keys, key=functools.cmp_to_key(output._key_order))
    assert ordered == ["_u", "1", "A1", "a2", "a02", "a10", "b", "é"]  # digit runs compare as numbers


def test_dump_quotes_what_reads_back_as_another_type():
    text = output.dump_all([{"s": ["yes", "12:30", "2001-12-14", "0o17", "", "<<", "plain", "multi\nline"],
                             "n": [2**53, 2**62, 1.5]}])
    assert text == ('"n":\n- 9007199254740992\n- 4611686018427388000\n- 1.5\n'
                    's:\n- "yes"\n- "12:30"\n- "2001-12-14"\n- "0o17"\n- ""\n- <<\n- plain\n- |-\n  multi\n  line\n')


def test_config_values_are_typed_as_viper_reads_them(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("A: yes\nB: 1.0\nC: 12:30:00\nD: 2001-12-14\nE: 0x1F\nF: [x]\nG:\nH: !!binary aGk=\n")
    values = config.load_config(str(path))
    assert values == {"A": "yes", "B": "1", "C": "12:30:00", "D": "2001-12-14 00:00:00 +0000 UTC", "E": "31",
                      "F": "", "H": "hi"}


def test_config_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("A: 1\nA: 2\n")
    with pytest.raises(config.ConfigError, match='line 2: mapping key "A" already defined at line 1'):
        config.load_config(str(path))


def test_toml_config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('A = "x"\nB = 1.0\nC = 2\n')
    assert config.load_config(str(path)) == {"A": "x", "B": "1", "C": "2"}
