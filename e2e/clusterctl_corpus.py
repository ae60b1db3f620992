"""Hand-made cases for the differential test against the real clusterctl (e2e/test_clusterctl_diff.py).

Each Case is one `generate cluster` command line run by both tools in a directory of its own
(HOME and XDG_CONFIG_HOME inside it, so neither reads the user's files), with a template,
a config file and a kubeconfig written there first. Templates and configs are edge cases a
user moving scripts from clusterctl may meet; every one is compared, none holds an expected
output: clusterctl's behaviour is the expectation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: A kubeconfig whose current context names a namespace; a second context names none. The
#: server is never contacted: clusterctl reads the namespace without connecting.
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: not-a-secret}
contexts:
- name: team
  context: {cluster: c, user: u, namespace: team-kc}
- name: plain
  context: {cluster: c, user: u}
current-context: team
"""


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...] = ()  # after `generate cluster CLUSTER`; then `-n NAMESPACE` unless it is None
    template: str | None = None  # written to template.yaml; `--from template.yaml` is added
    files: dict[str, str] = field(default_factory=dict)  # more files, relative to the case directory
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    namespace: str | None = "ns"
    error_parts: int | None = None  # compare only the first N ": "-separated parts of the error
    error_sentences: int | None = None  # compare only its first N sentences (Drover names its own providers)
    text: bool = True  # compare the output text, not only the objects it holds
    exit_code: int | None = None  # drover's deliberate exit code (see DELIBERATE in the test)
    deliberate: str | None = None  # a key of DELIBERATE: the case shows an intended difference
    clusterctl_args: tuple[str, ...] | None = None  # for deliberate cases: what clusterctl runs instead
    cluster: str | None = "c1"  # the cluster name argument
    ignore: tuple[str, ...] = ()  # for deliberate cases: top-level fields of clusterctl's objects not compared


def _cm(data: str, name: str = "cm", extra: str = "") -> str:
    """A ConfigMap template whose `data:` block is `data` (already indented by two)."""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra}data:\n{data}"


# -- --list-variables ----------------------------------------------------------------------------

LIST_VARIABLES = [
    Case("list/quoting", ("--list-variables",), _cm(
        '  a: "${A:=[\\"192.168.0.0/16\\"]}"\n'
        "  b: '${B:=a\\b\\\\c}'\n"
        "  c: ${C:=it's}\n"
        "  d: '${D:=ünïcødé ☃}'\n"
        '  e: "${E:=tab\there}"\n'
        "  f: ${F:=\"already quoted\"}\n"
        "  g: ${G:=${CLUSTER_NAME}-x}\n"
        "  h: ${H:=}\n"
        "  i: ${I}\n"
        "  j: '${J:=\u00a0nbsp\u200bzw}'\n")),
    Case("list/defaults-of-functions", ("--list-variables",), _cm(
        "  a: ${A: -1}\n  b: ${B:1:2}\n  c: ${C^^}\n  d: ${D/x/y}\n  e: ${#E}\n  f: ${F:-dash}\n"
        "  g: ${G=eq}\n  h: ${ LEGACY }\n  i: $${ESCAPED}\n")),
    Case("list/flag-variables", ("--list-variables", "--kubernetes-version", "v1.33.4",
                                 "--worker-machine-count", "4"),
         _cm("  a: ${NAMESPACE}\n  b: ${CLUSTER_NAME:=x}\n  c: ${CONTROL_PLANE_MACHINE_COUNT}\n"
             "  d: ${WORKER_MACHINE_COUNT}\n  e: ${KUBERNETES_VERSION:=v1.0.0}\n")),
    Case("list/flag-variables-from-env", ("--list-variables",),
         _cm("  c: ${CONTROL_PLANE_MACHINE_COUNT}\n  d: ${WORKER_MACHINE_COUNT}\n  e: ${KUBERNETES_VERSION}\n"),
         env={"CONTROL_PLANE_MACHINE_COUNT": "3", "WORKER_MACHINE_COUNT": "x", "KUBERNETES_VERSION": "v1.2.3"}),
    Case("list/namespace-from-kubeconfig", ("--list-variables", "--kubeconfig", "kubeconfig"),
         _cm("  a: ${NAMESPACE}\n"), namespace=None),
    Case("list/invalid-namespace", ("--list-variables", "-n", "Not_Valid"), _cm("  a: ${A}\n"), namespace=None),
    Case("list/invalid-version", ("--list-variables", "--kubernetes-version", "1.2"), _cm("  a: ${A}\n")),
    Case("list/unparseable-template", ("--list-variables",), _cm("  a: ${A\n")),
    Case("list/yaml-not-parsed", ("--list-variables",), "not: [yaml\n${A}\n"),
    Case("list/only-required", ("--list-variables",), _cm("  a: ${A}\n  b: ${B}\n")),
    Case("list/none", ("--list-variables",), _cm("  a: b\n")),
]

# -- the namespace when there is no -n -----------------------------------------------------------

_NS = _cm("  ns: ${NAMESPACE}\n", extra="")
NAMESPACE = [
    Case("ns/current-context", ("--kubeconfig", "kubeconfig"), _NS, namespace=None),
    Case("ns/KUBECONFIG", (), _NS, env={"KUBECONFIG": "kubeconfig"}, namespace=None),
    Case("ns/KUBECONFIG-list", (), _NS, namespace=None,
         env={"KUBECONFIG": "missing.yaml:other.yaml:kubeconfig"},
         files={"other.yaml": KUBECONFIG.replace("current-context: team", "current-context: plain")}),
    Case("ns/home-kube-config", (), _NS, namespace=None, files={"home/.kube/config": KUBECONFIG}),
    Case("ns/context-without-namespace", ("--kubeconfig", "kubeconfig", "--kubeconfig-context", "plain"),
         _NS, namespace=None),
    Case("ns/context-missing", ("--kubeconfig", "kubeconfig", "--kubeconfig-context", "nope"), _NS,
         namespace=None),
    Case("ns/current-context-missing", ("--kubeconfig", "gone.yaml"), _NS, namespace=None,
         files={"gone.yaml": KUBECONFIG.replace("current-context: team", "current-context: gone")}),
    Case("ns/no-current-context", ("--kubeconfig", "none.yaml"), _NS, namespace=None,
         files={"none.yaml": KUBECONFIG.replace("current-context: team", "")}),
    Case("ns/kubeconfig-missing", ("--kubeconfig", "nothere.yaml"), _NS, namespace=None),
    Case("ns/no-kubeconfig-at-all", (), _NS, namespace=None),
    Case("ns/kubeconfig-unparseable", ("--kubeconfig", "bad.yaml"), _NS, namespace=None,
         files={"bad.yaml": "apiVersion: v1\nkind: Config\ncontexts: [\n"}, error_parts=4),
    Case("ns/kubeconfig-tabs", ("--kubeconfig", "tabs.yaml"), _NS, namespace=None,
         files={"tabs.yaml": KUBECONFIG.replace("current-context: team", "current-context: team\t# tab")}),
    Case("ns/flag-wins", ("--kubeconfig", "kubeconfig", "-n", "flagged"), _NS, namespace=None),
    Case("ns/invalid", ("-n", "Bad_NS"), _NS, namespace=None),
]

# -- the config file -----------------------------------------------------------------------------

_TYPED_KEYS = ("V_YES: yes\nV_ON: on\nV_NO: No\nV_TRUE: true\nV_TRUEC: True\nV_FLOAT: 1.0\nV_FLOAT2: 1.50\n"
               "V_EXP: 1e3\nV_BIG: 12345678901234567890\nV_HUGE: 123456789012345678901234\nV_BIGF: 1e21\n"
               "V_SMALLF: 0.000001\nV_SEX: 12:30:00\nV_TIME: 12:30\nV_DATE: 2001-12-14\n"
               "V_DATETIME: 2001-12-14t21:59:43.10-05:00\nV_DATETIME_Z: 2001-12-14T21:59:43Z\n"
               "V_SPACED: 2001-12-14 21:59:43.5\nV_SHORTDATE: 2001-2-4\nV_OCT: 0o17\nV_OCT2: 017\n"
               "V_HEX: 0x1F\nV_BINARY: 0b101\nV_UND: 1_000\nV_NULL: ~\nV_EMPTY: ''\nV_LIST: [a, b]\n"
               "V_MAP: {a: 1}\nV_INF: .inf\nV_NINF: -.inf\nV_NAN: .nan\nV_NEG: -5\nV_PLUS: +5\n"
               "V_STR: \"quoted\"\nV_TAGGED: !!str 1.0\nV_BIN: !!binary aGVsbG8=\nV_MIXED: MiXeD\n"
               "mixed_lower: low\nV_MULTI: |\n  two\n  lines\nV_HALF: .5\nV_DOT: .\n")


def _typed_template() -> str:
    keys = [line.split(":")[0] for line in _TYPED_KEYS.splitlines() if line and not line.startswith(" ")]
    return _cm("".join(f"  {k.lower()}: '<${{{k.upper()}:=unset}}>'\n" for k in keys))


def _config_case(name: str, config_name: str, config: str, template: str | None = None, **kw) -> Case:
    return Case(name, ("--config", config_name), template or _cm("  a: ${A}\n  b: ${B:=dflt}\n"),
                files={config_name: config}, **kw)


CONFIG = [
    _config_case("config/typed-values", "c.yaml", _TYPED_KEYS, _typed_template()),
    _config_case("config/toml", "c.toml", 'A = "from toml"\nB = 12\n'),
    _config_case("config/toml-typed", "c.toml", "A = 1.0\nB = 2001-12-14\n"),
    _config_case("config/toml-times", "c.toml",
                 "A = 2001-12-14T21:59:43.1\nB = 21:59:43\nC = 2001-12-14T21:59:43Z\nD = 2001-12-14T21:59:43-05:00\n"
                 "E = 1979-05-27T00:32:00.999999-07:00\nF = 12345678901234\nG = 1e21\nH = [1]\nI = true\n",
                 _cm("".join(f"  {k.lower()}: '${{{k}}}'\n" for k in "ABCDEFGHI"))),
    _config_case("config/json", "c.json", '{"A": "from json", "B": 1.5}'),
    _config_case("config/yml", "c.yml", "A: from yml\n"),
    _config_case("config/duplicate-key", "c.yaml", "A: one\nA: two\n", error_parts=1),
    _config_case("config/not-a-map", "c.yaml", "- A\n- B\n", error_parts=1),
    _config_case("config/unparseable", "c.yaml", "A: [\n", error_parts=1),
    _config_case("config/tabs", "c.yaml", "A: tabbed\t# a comment\nB:\t[x,\ty]\t# tabs as separators\n"),
    _config_case("config/multi-document", "c.yaml", "A: first\n---\nA: second\nB: second\n"),
    _config_case("config/anchors-and-merge", "c.yaml", "base: &b {A: merged, B: merged-b}\n<<: *b\nB: own\n"),
    _config_case("config/merge-list", "c.yaml", "x: &x {A: from-x, B: from-x}\ny: &y {A: from-y}\n<<: [*y, *x]\n"),
    _config_case("config/anchor-value", "c.yaml", "X: &v shared\nA: *v\n"),
    _config_case("config/numeric-key", "c.yaml", "1: one\nA: a\n"),
    _config_case("config/json-nested", "c.json", '{"A": {"x": 1}, "B": null}', exit_code=3,
                 deliberate="missing-input-exit-3"),
    _config_case("config/no-extension", "myconfig", "A: a\n"),
    _config_case("config/uppercase-extension", "c.YAML", "A: a\n"),
    _config_case("config/ini", "c.ini", "A = a\n", error_parts=1),
    Case("config/stdin", ("--config", "-"), _cm("  a: ${A}\n"), stdin="A: a\n", exit_code=3,
         deliberate="missing-input-exit-3"),
    _config_case("config/empty", "c.yaml", "", exit_code=3, deliberate="missing-input-exit-3"),
    _config_case("config/lowercase-key", "c.yaml", "a: lower\nb: also\n"),
    _config_case("config/null-value", "c.yaml", "A:\nB: ~\n", exit_code=3, deliberate="missing-input-exit-3"),
    _config_case("config/list-value", "c.yaml", "A: [x]\n"),
    _config_case("config/env-wins", "c.yaml", "A: file\nB: file\n", env={"A": "env", "B": ""}),
    Case("config/missing", ("--config", "nothere.yaml"), _cm("  a: b\n"), exit_code=3,
         deliberate="missing-input-exit-3"),
    Case("config/xdg", (), _cm("  a: ${A}\n"), files={"xdg/cluster-api/clusterctl.yaml": "A: xdg\n",
                                                      "home/.cluster-api/clusterctl.yaml": "A: home\n"}),
    Case("config/home", (), _cm("  a: ${A}\n"), files={"home/.cluster-api/clusterctl.yaml": "A: home\n"}),
    Case("config/xdg-json-before-yaml", (), _cm("  a: ${A}\n"),
         files={"xdg/cluster-api/clusterctl.yaml": "A: yaml\n", "xdg/cluster-api/clusterctl.json": '{"A": "json"}'}),
    Case("config/xdg-toml", (), _cm("  a: ${A}\n"), files={"xdg/cluster-api/clusterctl.toml": 'A = "toml"\n'}),
    _config_case("config/unquoted-time", "c.yaml", "A: '12:30'\nB: '2001-12-14'\n",
                 _cm("  a: ${A}\n  b: ${B}\n")),
    _config_case("config/counts", "c.yaml", "CONTROL_PLANE_MACHINE_COUNT: 3\nWORKER_MACHINE_COUNT: 1.0\n",
                 _cm("  a: ${CONTROL_PLANE_MACHINE_COUNT}\n  b: ${WORKER_MACHINE_COUNT}\n")),
    _config_case("config/count-not-a-number", "c.yaml", "WORKER_MACHINE_COUNT: two\n",
                 _cm("  b: ${WORKER_MACHINE_COUNT}\n")),
]

# -- the flags -----------------------------------------------------------------------------------

_FLAGS = _cm("  v: ${KUBERNETES_VERSION:=none}\n  c: '${CONTROL_PLANE_MACHINE_COUNT}'\n"
             "  w: '${WORKER_MACHINE_COUNT}'\n  n: ${CLUSTER_NAME}\n")


def _flag_case(name: str, *args: str, **kw) -> Case:
    return Case(name, args, _FLAGS, **kw)


FLAGS = [
    _flag_case("flags/version-ok", "--kubernetes-version", "v1.33.4"),
    _flag_case("flags/version-no-v", "--kubernetes-version", "1.33.4"),
    _flag_case("flags/version-prerelease", "--kubernetes-version", "v1.33.4-rc.1+build.5"),
    _flag_case("flags/version-leading-zero", "--kubernetes-version", "v01.33.4"),
    _flag_case("flags/version-leading-zero-patch", "--kubernetes-version", "v1.33.04"),
    _flag_case("flags/version-prerelease-leading-zero", "--kubernetes-version", "v1.33.4-01"),
    _flag_case("flags/version-two-parts", "--kubernetes-version", "v1.33"),
    _flag_case("flags/version-spaces", "--kubernetes-version", " v1.33.4 "),
    _flag_case("flags/count-ok", "--control-plane-machine-count", "3", "--worker-machine-count", "0"),
    _flag_case("flags/count-zero-control-plane", "--control-plane-machine-count", "0"),
    _flag_case("flags/count-negative-workers", "--worker-machine-count", "-1"),
    _flag_case("flags/count-space", "--worker-machine-count", " 2"),
    _flag_case("flags/count-underscore", "--worker-machine-count", "1_0"),
    _flag_case("flags/count-hex", "--worker-machine-count", "0x10"),
    _flag_case("flags/count-plus", "--worker-machine-count", "+2"),
    _flag_case("flags/count-env-space", env={"WORKER_MACHINE_COUNT": " 2"}),
    _flag_case("flags/count-env-underscore", env={"CONTROL_PLANE_MACHINE_COUNT": "1_0"}),
    _flag_case("flags/count-env-plus", env={"WORKER_MACHINE_COUNT": "+2"}),
    _flag_case("flags/cluster-name-invalid", cluster="Bad_Name"),
    _flag_case("flags/cluster-name-dots", cluster="a.b.c"),
    _flag_case("flags/cluster-name-too-long", cluster="a" * 254),
    _flag_case("flags/from-and-infrastructure", "-i", "aws:v1.0.0"),
    _flag_case("flags/from-and-flavor", "--flavor", "eks"),
    _flag_case("flags/provider-empty-version", "-i", "aws:"),
    _flag_case("flags/provider-three-parts", "-i", "a:b:c"),
]

# -- templates: processing, parsing and the namespace fix ---------------------------------------

_BINDINGS = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
  namespace: elsewhere
  labels: {a: b}
  unknown: dropped
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
extra: dropped
subjects:
- {kind: ServiceAccount, name: sa, namespace: elsewhere}
- {kind: User, name: u, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: sa2, namespace: ""}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
roleRef: {kind: ClusterRole, name: r}
subjects:
- {kind: ServiceAccount, name: sa, namespace: elsewhere}
- {kind: Group, name: g, apiGroup: rbac.authorization.k8s.io}
"""

_CERTIFICATES = """\
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: serving
  namespace: capi-system
spec:
  dnsNames:
  - svc.capi-system.svc
  - svc.capi-system.svc.cluster.local
  - capi-system.capi-system.svc
  - other.name
  secretName: s
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: no-namespace
spec:
  dnsNames: [a..b, c.d]
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: no-dns-names, namespace: x}
spec: {secretName: s}
"""

_WEBHOOKS = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: vwc
  annotations: {cert-manager.io/inject-ca-from: capi-system/serving}
webhooks:
- name: v.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
    service: {name: svc, namespace: capi-system, path: /validate}
- name: url.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig: {url: "https://example.com/v"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: mwc}
webhooks:
- name: m.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
    service: {name: svc, namespace: capi-system}
"""

_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
  annotations: {cert-manager.io/inject-ca-from: capi-system/serving}
spec:
  group: example.com
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true}]
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig:
        service: {name: svc, namespace: capi-system, path: /convert}
"""

_TEXT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: text
  annotations:
    a10: x
    a2: y
    A1: z
    _u: w
    "1": one
    é: accent
data:
  yes: "yes"
  on: "on"
  num: "123"
  float: "1.5"
  exp: "1e3"
  octal: "0o17"
  leading-zero: "0123"
  date: "2001-12-14"
  sexagesimal: "12:30"
  sexagesimal-long: "190:20:30.15"
  merge: "<<"
  empty: ""
  space: " leading"
  trailing: "trailing "
  colon: "a: b"
  hash: "a #b"
  dash: "- x"
  star: "*x"
  bang: "!x"
  pct: "%x"
  at: "@x"
  backtick: "`x"
  quote: "'x'"
  dquote: '"x"'
  brace: "{x}"
  bracket: "[x]"
  tilde: "~"
  null-word: "null"
  unicode: "ünïcødé ☃ 日本"
  nbsp: "a\\u00a0b"
  tab: "a\\tb"
  control: "a\\u0001b"
  multi: "line one\\nline two\\n"
  multi-no-newline: "line one\\nline two"
  multi-trailing-space: "line one \\nline two"
  multi-leading-space: "  indented\\nline two\\n"
  multi-keep: "a\\n\\n\\n"
  long: "LONG"
  long-spaces: "SPACED"
  crlf: "a\\r\\nb"
  slash: "a\\\\b"
---
apiVersion: example.com/v1
kind: Numbers
metadata: {name: numbers}
spec:
  int: 1
  negative: -7
  big: 9223372036854775807
  bigger: 9223372036854775808
  float: 1.5
  float-int: 2.0
  large-float: 1234567.5
  small: 0.0000001
  exp: 1e21
  hex: 0x1F
  bool: true
  nil: null
  empty-map: {}
  empty-list: []
  nested: [[1, [2]], {a: [b]}]
"""

_TEXT_MORE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: more
data:
  long-single: "QUOTE"
  long-double: "DOUBLE"
  long-multi: "MULTI"
  line-separator: "a\\u2028b"
  bom: "a\\ufeffb"
  emoji: "😀 grin"
  only-spaces: "   "
  tab-lead: "\\tx"
  "": empty key
  "yes": key that reads as a bool
  "a: b": key with a colon
  KEYKEY: a key longer than 128 characters
  nested:
    list:
    - - deep
      - {a: 1}
    - ""
    - "multi\\nline in a list"
"""

_LONG = "x" * 200
_LONG_SPACES = " ".join(["word"] * 60)

TEMPLATES = [
    Case("tpl/bindings", (), _BINDINGS),
    Case("tpl/certificates", (), _CERTIFICATES),
    Case("tpl/webhooks", (), _WEBHOOKS),
    Case("tpl/crd-conversion-webhook", (), _CRD, deliberate="typed-round-trip", ignore=("status",), text=False),
    Case("tpl/webhook-unknown-version", (), _WEBHOOKS.replace("admissionregistration.k8s.io/v1\nkind: Mut",
                                                                "admissionregistration.k8s.io/v9\nkind: Mut")),
    Case("tpl/certificate-odd-dns-names", (), "apiVersion: cert-manager.io/v1\nkind: Certificate\n"
         "metadata: {name: c, namespace: x}\nspec: {dnsNames: [a.x.svc, 5]}\n", error_parts=3),
    Case("tpl/certificate-null-spec", (), "apiVersion: cert-manager.io/v1\nkind: Certificate\n"
         "metadata: {name: c, namespace: x}\nspec:\n"),
    Case("tpl/binding-subjects-not-a-list", (), "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
         "metadata: {name: rb}\nroleRef: {kind: Role, name: r}\nsubjects: {kind: User, name: u}\n", error_parts=1),
    Case("tpl/binding-label-not-a-string", (), "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
         "metadata: {name: rb, labels: {a: 1}}\nroleRef: {kind: Role, name: r}\n", error_parts=1),
    Case("tpl/binding-no-subjects", (), "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
         "metadata: {name: crb}\nroleRef: {kind: ClusterRole, name: r}\nsubjects: []\n"),
    Case("tpl/webhook-v1beta1", (), _WEBHOOKS.replace("admissionregistration.k8s.io/v1\n",
                                                     "admissionregistration.k8s.io/v1beta1\n")),
    Case("tpl/multiline-value", (), _cm("  a: ${A}\n  b: '${A}'\n"), env={"A": "one\n  two"}, error_parts=1),
    Case("tpl/namespace-object", (), "apiVersion: v1\nkind: Namespace\nmetadata: {name: whatever}\n"),
    Case("tpl/cluster-scoped-keeps-namespace", (),
         "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r, namespace: x}\n"
         "rules: []\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n}\n"),
    Case("tpl/empty-metadata", (), "apiVersion: v1\nkind: ConfigMap\nmetadata:\ndata: {a: b}\n"),
    Case("tpl/no-metadata", (), "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n"),
    Case("tpl/metadata-not-a-map", (), "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n", error_parts=1),
    Case("tpl/no-kind", (), "apiVersion: v1\nmetadata: {name: x}\n", error_parts=2),
    Case("tpl/not-an-object", (), "- a\n- b\n", error_parts=1),
    Case("tpl/scalar-document", (), "just text\n", error_parts=1),
    Case("tpl/tab-before-comment", (), "apiVersion: v1\t# the version\nkind: ConfigMap\nmetadata:\n"
                                       "  name: x\t# a name\ndata: {a: b}\t# data\n"),
    Case("tpl/tab-before-comment-more", (), _cm('  q: "x"\t# after a quoted value\n  f: [1, 2]\t# after a flow list\n'
                                                 "  b: |\t# after a block indicator\n    text\n"
                                                 "  s: 'y'\t\t# two tabs\n") + "list:\n- x\t# in a list\n"
                                                 "- {a: b}\t# after a flow map\n"),
    Case("tpl/tab-after-separator", (), _cm("  a: b\n") + "---\t# tab then comment\n" + _cm("  c: d\n", name="cm2")),
    Case("tpl/comments-and-empty-documents", (), "# only a comment\n---\n---\n" + _cm("  a: b\n") + "\n---\n"),
    Case("tpl/document-end-marker", (), _cm("  a: b\n") + "...\n"),
    Case("tpl/json", (), '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, '
                          '"data": {"a": "${A:=1}"}}\n'),
    Case("tpl/text-output", (), _TEXT.replace("LONG", _LONG).replace("SPACED", _LONG_SPACES)),
    Case("tpl/text-output-more", (), _TEXT_MORE.replace("QUOTE", "key: value " * 12)
         .replace("DOUBLE", "yes" + " word\\t" * 30).replace("MULTI", ("a long line " * 10 + "\\n") * 3)
         .replace("KEYKEY", "k" * 130)),
    Case("tpl/invalid-yaml-after-substitution", (), _cm("  a: ${A}\n"), env={"A": "[unclosed"},
         error_parts=1),
    Case("tpl/substituted-values", (), _cm(
        "  time: ${T}\n  date: ${D}\n  bool: ${B}\n  num: ${N}\n  float: ${F}\n  quoted: '${Q}'\n"),
         env={"T": "12:30", "D": "2001-12-14", "B": "yes", "N": "0o17", "F": "1.0", "Q": "it''s"}),
    Case("tpl/substr", (), _cm(
        "  neg: '${V: -2}'\n  neg-big: '${V: -20}'\n  pos: '${V:2}'\n  len: '${V:1:3}'\n"
        "  over: '${V:20}'\n  space-pos: '${V: 2}'\n  plus: '${V:+2}'\n  under: '${V:1_0}'\n"
        "  unicode: '${U:1:2}'\n  unicode-neg: '${U: -3}'\n  len-long: '${V:2:99}'\n"),
         env={"V": "abcdefgh", "U": "aé☃z"}),
    Case("tpl/substr-negative-length", (), _cm("  a: '${V:1:-2}'\n"), env={"V": "abcdefgh"}, error_parts=0,
         deliberate="no-panic"),
    Case("tpl/functions", (), _cm(
        "  upper: ${V^^}\n  first: ${V^}\n  lower: ${L,,}\n  len: '${#U}'\n  repl: ${V/b/X}\n"
        "  repl-all: ${R//a/-}\n  prefix: ${V#a*c}\n  prefix-long: ${R##*a}\n  suffix: ${R%a*}\n"
        "  suffix-long: ${R%%a*}\n  default-empty: ${E:-was-empty}\n  assign: ${E:=assigned}\n"
        "  dollar: $$HOME $${NOT} $NOTVAR\n  legacy: ${ V }\n"),
         env={"V": "abcdef", "L": "ABC", "U": "aé☃", "R": "banana", "E": ""}),
    Case("tpl/missing-variables", (), _cm("  a: ${ZZ}\n  b: ${AA}\n  c: ${MM:=}\n"), exit_code=3,
         deliberate="missing-input-exit-3"),
    Case("tpl/unclosed-variable", (), _cm("  a: ${A\n"), error_parts=1),
    Case("tpl/bad-substitution", (), _cm("  a: ${}\n"), error_parts=1),
    Case("tpl/separator-with-text", (), _cm("  a: b\n") + "--- text\n" + _cm("  c: d\n", name="cm2"),
         error_parts=1),
    Case("tpl/next-line", (), _cm('  nel: "a\\x85b"\n', name="nel"), deliberate="nel-kept", ignore=("data",),
         text=False),
    Case("tpl/c1-control", (), _cm('  c1: "a\\x80b"\n', name="c1"), exit_code=0, deliberate="c1-controls"),
    Case("tpl/crlf", (), _cm("  a: ${A:=x}\n  b: |\n    two\n    lines\n").replace("\n", "\r\n")),
    Case("tpl/bom", (), "\ufeff" + _cm("  a: b\n")),
    Case("tpl/anchors-and-merge", (), _cm("  a: &v shared\n  b: *v\n", extra="spec: &s {x: 1, y: 2}\n")
         + "other:\n  <<: *s\n  y: 3\n"),
    Case("tpl/duplicate-keys", (), _cm("  a: one\n  a: two\n")),
    Case("tpl/lowercase-variable", (), _cm("  a: ${lower}\n  b: ${Mixed_Case:=d}\n"),
         env={"LOWER": "from-env", "MIXED_CASE": "mixed"}),
    Case("tpl/nested-defaults", ("--list-variables",), _cm("  a: ${A:=${B:=${C}}}\n  b: ${D:-x${E}y}\n")),
    Case("tpl/write-to", ("--write-to", "out.yaml"), _cm("  a: ${CLUSTER_NAME}\n")),
    Case("tpl/write-to-missing-folder", ("--write-to", "nowhere/out.yaml"), _cm("  a: b\n")),
    Case("tpl/write-to-directory", ("--write-to", "home"), _cm("  a: b\n")),
    Case("tpl/variable-in-comment", ("--list-variables",), _cm("  a: b # uses ${IN_COMMENT}\n")
         + "# ${ALSO_IN_COMMENT:=x}\n"),
    Case("tpl/envsubst-edges", (), _cm(
        "  a: '${A:=x}}'\n  b: '${A/a/\\/}'\n  c: '${B:-${A}-${A}}'\n  d: '${A%%}'\n  e: '${A#}'\n"
        "  f: '${A,}'\n  g: '${#A}'\n"), env={"A": "abca"}),
    Case("tpl/from-stdin", ("--from", "-"), None, stdin=_cm("  a: ${CLUSTER_NAME}\n")),
    Case("tpl/from-missing-file", ("--from", "nothere.yaml"), None, exit_code=3,
         deliberate="missing-input-exit-3"),
    Case("tpl/from-directory", ("--from", "home"), None),
    Case("tpl/from-file-url", ("--from", "file://{dir}/t.yaml"), None, files={"t.yaml": _cm("  a: b\n")}),
]

#: Deliberate differences that need no template: clusterctl's own command lines differ.
USAGE = [
    Case("usage/no-cluster-name", (), _cm("  a: b\n"), cluster=None, exit_code=2, error_parts=0,
         deliberate="usage-exit-2"),
    Case("usage/unknown-flag", ("--no-such-flag",), _cm("  a: b\n"), exit_code=2, error_parts=0,
         deliberate="usage-exit-2"),
    Case("usage/no-source", (), None, exit_code=3, error_parts=0, deliberate="missing-input-exit-3"),
]

CASES: list[Case] = LIST_VARIABLES + NAMESPACE + CONFIG + FLAGS + TEMPLATES + USAGE
