"""Manifests that Drover's reader must read exactly as kubectl does: each case is one stream and
whether kubectl takes it (`ACCEPT`) or refuses it (`REFUSE`). The cases are the YAML features and
quirks found in real operator bundles and charts, and the edges where YAML 1.1 (PyYAML) and
go-yaml v2 (kubectl) part ways. `e2e/test_kubeyaml_oracle.py` puts every case through both."""

from __future__ import annotations

ACCEPT, REFUSE = "accept", "refuse"


def _cm(name: str, body: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{body}"


def _obj(name: str, spec: str) -> str:
    return f"apiVersion: example.drover.dev/v1\nkind: Quirk\nmetadata:\n  name: {name}\nspec:\n{spec}"


CASES: dict[str, tuple[str, str]] = {
    # what broke the prometheus-operator CRDs: matcher types as bare enum items
    "plain-equals-enum": (ACCEPT, _obj("enum", "  matchType:\n    enum:\n    - '!='\n    - =\n    - =~\n    - '!~'\n")),
    "equals-and-merge-as-values": (ACCEPT, _cm("values", "data:\n  a: =\n  b: <<\n  c: ==\n  d: =x\n")),
    "yaml11-booleans": (ACCEPT, _obj("bools", "  a: yes\n  b: No\n  c: on\n  d: OFF\n  e: y\n  f: N\n"
                                              "  g: True\n  h: 'yes'\n  i: \"on\"\n")),
    "numbers": (ACCEPT, _obj("numbers", "  octal: 0777\n  octal-o: 0o17\n  hex: 0x1F\n  hex-underscore: 0x_1F\n"
                                        "  underscores: 1_000\n  exp: 1e3\n  dot: .5\n  trailing-dot: 1.\n"
                                        "  leading-zero: 08\n  leading-zero-float: 09.5\n  plus: +12\n"
                                        "  minus-zero: -0\n  binary: 0b101\n  neg-binary: -0b101\n"
                                        "  not-binary: 0b2\n  small: 1.5e-7\n  float: 1.0\n  huge: 1e21\n"
                                        "  big: 1e20\n  int64-max: 9223372036854775807\n"
                                        "  past-int64: 9223372036854775808\n  uint64-max: 18446744073709551615\n"
                                        "  past-uint64: 18446744073709551616\n  hex-float: 0x1p-2\n"
                                        "  version: 1.10\n  quoted: '0777'\n")),
    "dates-and-times": (ACCEPT, _obj("times", "  date: 2001-12-14\n  datetime: 2001-12-14t21:59:43.10-05:00\n"
                                             "  spaced: 2001-12-14 21:59:43.10 -5\n  sexagesimal: 12:30:00\n"
                                             "  clock: 12:30\n  bad-date: 2001-13-45\n")),
    "nulls": (ACCEPT, _obj("nulls", "  tilde: ~\n  word: null\n  upper: NULL\n  empty:\n  quoted: 'null'\n")),
    "non-string-keys": (ACCEPT, _cm("keys", "data:\n  1: int\n  true: bool\n  1.5: float\n  y: yes-key\n"
                                            "  3.14159265358979: pi\n  1e6: million\n  0x10: hex\n  -0.0: negzero\n"
                                            "  .inf: infinity\n  2001-12-14: date\n")),
    "anchors-aliases-merge": (ACCEPT, _obj("merge", "  defaults: &defaults\n    image: nginx\n    replicas: 1\n"
                                                    "  first:\n    <<: *defaults\n    replicas: 3\n"
                                                    "  second:\n    replicas: 3\n    <<: *defaults\n"
                                                    "  both:\n    <<: [*defaults, {image: busybox, port: 80}]\n"
                                                    "  scalar: &s shared\n  again: *s\n  list: [*s, *s]\n")),
    "duplicate-keys": (ACCEPT, _cm("dups", "data:\n  a: first\n  a: second\n")),
    "block-scalars": (ACCEPT, _cm("blocks", "data:\n  literal: |\n    line one\n    --- not a separator\n"
                                            "    ...\n  folded: >-\n    folded\n    text\n\n    para\n"
                                            "  keep: |+\n    kept\n\n  strip: |-\n    stripped\n"
                                            "  indented: |2\n      two more\n  script: |\n    #!/bin/sh\n"
                                            "    echo \"yes: no\"\n")),
    "separators-and-comments": (ACCEPT, "---\n# Source: chart/templates/a.yaml\n" + _cm("one", "data: {}\n")
                                + "--- # Source: chart/templates/b.yaml\n" + _cm("two", "data: {}\n")
                                + "---   \n---\n# only a comment\n---\n\n"),
    "document-end-marker": (ACCEPT, _cm("ended", "data: {a: b}\n") + "...\n"),
    "content-after-document-end": (ACCEPT, _cm("first", "data: {}\n") + "...\n" + _cm("ignored", "data: {}\n")),
    "byte-order-mark": (ACCEPT, "\ufeff" + _cm("bom", "data: {a: b}\n")),
    "crlf-line-endings": (ACCEPT, (_cm("crlf", "data:\n  a: b\n") + "---\n" + _cm("crlf2", "data: {}\n"))
                          .replace("\n", "\r\n")),
    "tabs-where-allowed": (ACCEPT, _cm("tabs", "data:\n  a:\t1\n  b: x\t# comment\n  c: \"tab\\there\"\n"
                                               "  d: |\n    text\n    \tafter a tab\n  e: 'in\tquotes'\n")),
    "tab-opening-block-scalar": (REFUSE, _cm("tabblock", "data:\n  d: |\n    \tindented with a tab\n")),
    "very-long-line": (ACCEPT, _cm("long", "data:\n  blob: " + "x" * (2 << 20) + "\n")),
    "long-flow-list": (ACCEPT, _obj("flow", "  items: [" + ", ".join(str(i) for i in range(20000)) + "]\n")),
    "unicode": (ACCEPT, _cm("unicode", "data:\n  greek: καλημέρα\n  emoji: \"\\U0001F600\"\n  cjk: 日本語\n"
                                       "  escaped: \"caf\\u00e9\"\n")),
    "explicit-tags": (ACCEPT, _cm("tags", "data:\n  a: !!str 12\n  b: !!str true\n  c: !custom text\n"
                                          "  d: !!binary aGVsbG8=\n") + "binaryData:\n  e: !!binary |\n    aGVsbG8=\n"),
    "tagged-numbers": (ACCEPT, _obj("tagged", "  a: !!int \"12\"\n  b: !!float \"1\"\n  c: !!bool \"yes\"\n")),
    "nested-sequences": (ACCEPT, _obj("nested", "  matrix:\n  - - 1\n    - 2\n  - - - deep\n  - []\n  - {}\n")),
    "list-kind": (ACCEPT, ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
                          "  metadata: {name: in-list-1}\n- apiVersion: v1\n  kind: ConfigMap\n"
                          "  metadata: {name: in-list-2}\n  data: {k: v}\n")),
    "json-stream": (ACCEPT, ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j1"}, '
                            '"data": {"n": "1"}}\n{"apiVersion": "v1", "kind": "ConfigMap", '
                            '"metadata": {"name": "j2"}, "data": {"x": "y"}}')),
    "json-in-yaml-document": (ACCEPT, "---\n" + '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": '
                                                '{"name": "j3"}, "data": {"big": "1e3"}}\n'),
    "json-then-yaml": (ACCEPT, '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "jy1"}}\n---\n'
                               + _cm("jy2", "data: {a: y}\n")),
    "yaml-flow-documents": (ACCEPT, ("{apiVersion: v1, kind: ConfigMap, metadata: {name: f1}, data: {x: y}}\n---\n"
                                    "{apiVersion: v1, kind: ConfigMap, metadata: {name: f2}}\n")),
    "json-number-out-of-range": (REFUSE, ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r"}, '
                                         '"data": {"a": 1e400}}')),
    "json-stream-then-garbage": (REFUSE, ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "g1"}}\n'
                                         '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "g2"}}\n'
                                         'kind: Oops\n')),
    "flow-mappings": (ACCEPT, ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow, labels: {app: x, "
                              "tier: 'y'}}\ndata: {a: 1, b: [c, d]}\n")),
    "quoting-styles": (ACCEPT, _cm("quotes", "data:\n  single: 'it''s'\n  double: \"say \\\"hi\\\"\"\n"
                                             "  multiline: \"one\n    two\"\n  plain: multi\n    word\n")),
    "directive-without-start": (REFUSE, "%YAML 1.1\n" + _cm("directive", "data: {}\n")),
    # kubectl refuses these; so must Drover
    "tab-indentation": (REFUSE, _cm("tabindent", "data:\n\ta: 1\n")),
    "content-on-separator": (REFUSE, _cm("sep", "data: {}\n") + "--- {a: 1}\n"),
    "infinity-value": (REFUSE, _cm("inf", "data:\n  a: .inf\n")),
    "nan-value": (REFUSE, _obj("nan", "  a: .NaN\n")),
    "null-key": (REFUSE, _cm("nullkey", "data:\n  ~: x\n")),
    "collection-key": (REFUSE, _cm("listkey", "data:\n  [1]: x\n")),
    "recursive-anchor": (REFUSE, _obj("recursive", "  a: &x [*x]\n")),
    "undefined-alias": (REFUSE, _obj("alias", "  a: *nope\n")),
    "bad-tagged-int": (REFUSE, _obj("badtag", "  a: !!int x\n")),
    "unclosed-flow": (REFUSE, _cm("unclosed", "data: {a: [1, 2}\n")),
    "bad-indentation": (REFUSE, _cm("indent", "data:\n  a: b\n   c: d\n")),
    "yaml-flow-at-stream-start": (ACCEPT, "{apiVersion: v1, kind: ConfigMap, metadata: {name: flowstart}}\n"),
    "json-nan-read-as-yaml": (ACCEPT, '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": NaN}'),
    "merge-of-scalar": (REFUSE, _obj("mergescalar", "  a:\n    <<: 1\n")),
    "directive-alone": (REFUSE, "%YAML 1.1\n---\n" + _cm("directive2", "data: {}\n")),
    "billion-laughs": (REFUSE, _obj("laughs", "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                                    + "".join(f"  {b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
                                              for a, b in zip("abcdefgh", "bcdefghi")))),
}
