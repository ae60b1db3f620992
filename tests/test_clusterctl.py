"""`drover generate cluster`, `get`, `init --dry-run` and `completion`, run through click.

Every test runs in an isolated home: HOME, XDG_CONFIG_HOME and KUBECONFIG point into tmp_path,
so clusterctl's config file and the current namespace come only from what the test writes.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import providers
from mgmt.cli import main
from mgmt.templating import list_variables

MISSING = ("value for variables [{}] is not set. Please set the value using os environment "
           "variables or the clusterctl config file")
FLAG_VARIABLES = ("CLUSTER_NAME", "NAMESPACE", "KUBERNETES_VERSION", "CONTROL_PLANE_MACHINE_COUNT",
                  "WORKER_MACHINE_COUNT")
CASES = [(name, flavor) for name in providers.NAMES for flavor in providers.get(name).flavors]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home; variables any template uses are removed from the environment."""
    names = {v for p, f in CASES for v in list_variables(providers.get(p).template(f))}
    for name in names | {"VAR", "OTHER", "KUBECONFIG"}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    # ~/.kube/config: a current context naming no namespace, so the namespace is "default".
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    (tmp_path / "home" / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: c}\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n")
    return tmp_path


def drover(*args, env=None, input=None):
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def write_config(path, values: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values))


def xdg_config(home):
    return home / "xdg" / "cluster-api" / "clusterctl.yaml"


def legacy_config(home):
    return home / "home" / ".cluster-api" / "clusterctl.yaml"


def objects(output: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(output) if doc]


# -- every built-in template -------------------------------------------------------------------

@pytest.mark.parametrize("provider,flavor", CASES)
def test_list_variables_of_every_template(home, provider, flavor):
    text = providers.get(provider).template(flavor)
    expected = list_variables(text)
    result = drover("generate", "cluster", "c1", "-i", provider, "--flavor", flavor, "--list-variables",
                    "-n", "team-a")
    assert result.exit_code == 0, result.output
    listed = _parse_report(result.output)
    assert set(listed) == set(expected)
    for name, default in expected.items():
        if name in FLAG_VARIABLES:
            continue
        shown = None if default is None else (default if default.startswith('"') else f'"{default}"')
        assert listed[name] == shown, name
    assert listed["CLUSTER_NAME"] == "c1"
    assert listed["NAMESPACE"] == "team-a"
    assert listed.get("WORKER_MACHINE_COUNT", "0") == "0"
    assert listed.get("CONTROL_PLANE_MACHINE_COUNT", "1") == "1"


def _parse_report(output: str) -> dict[str, str | None]:
    """{name: shown default or None (required)} from clusterctl's --list-variables text."""
    listed, section = {}, None
    for line in output.splitlines():
        if line.endswith("Variables:"):
            section = line
        elif line.startswith("  - "):
            name, _, rest = line[4:].partition(" ")
            listed[name] = None if section == "Required Variables:" else rest.strip()[len("(defaults to "):-1]
    return listed


@pytest.mark.parametrize("provider,flavor", CASES)
def test_render_every_template_with_all_variables(home, provider, flavor):
    text = providers.get(provider).template(flavor)
    required = [n for n, d in list_variables(text).items() if d is None and n not in FLAG_VARIABLES]
    # Half of the values from the config file, half from the environment.
    write_config(xdg_config(home), {n: f"file-{n.lower()}" for n in required[::2]})
    env = {n: f"env-{n.lower()}" for n in required[1::2]}
    result = drover("generate", "cluster", "prod-eu", "-i", provider, "--flavor", flavor,
                    "-n", "team-a", "--kubernetes-version", "v1.35.8",
                    "--control-plane-machine-count", "3", "--worker-machine-count", "2", env=env)
    assert result.exit_code == 0, result.output
    assert not [n for n in list_variables(text) if f"${{{n}" in result.output]  # `$${X}` stays `${X}`
    docs = objects(result.output)
    clusters = [d for d in docs if d["kind"] == "Cluster"]
    assert len(clusters) == 1 and clusters[0]["metadata"]["name"] == "prod-eu"
    assert all(d["metadata"]["namespace"] == "team-a" for d in docs)
    for name in required:
        value = f"file-{name.lower()}" if name in required[::2] else f"env-{name.lower()}"
        assert value in result.output, name
    replicas = [d["spec"].get("replicas") for d in docs if d["kind"] in ("MachineDeployment", "MachinePool")]
    if (provider, flavor) == ("local", "simulated"):  # no machines: the virtual cluster's Nodes stand in
        replicas = [d["spec"]["simulated"]["nodes"] for d in docs if d["kind"] == "LocalCluster"]
    assert replicas and all(r == 2 for r in replicas)


def test_local_template_needs_only_the_flags(home):
    result = drover("generate", "cluster", "c1", "--infrastructure", "local",
                    "--kubernetes-version", "v1.35.8", "--worker-machine-count", "2")
    assert result.exit_code == 0, result.output
    docs = {d["kind"]: d for d in objects(result.output)}
    assert set(docs) == {"Cluster", "LocalCluster", "LocalControlPlane", "MachineDeployment",
                         "LocalMachineTemplate"}
    assert docs["MachineDeployment"]["spec"]["replicas"] == 2
    assert docs["LocalControlPlane"]["spec"] == {"replicas": 1, "version": "v1.35.8"}
    assert all(d["metadata"]["namespace"] == "default" for d in docs.values())


def test_list_variables_output_is_clusterctls(home, tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text("kind: Cluster\nmetadata:\n  name: ${CLUSTER_NAME}\n  namespace: ${NAMESPACE}\n"
                        "spec:\n  a: ${ZONE}\n  b: ${SIZE:=small}\n  c: ${QUOTED:=\"x\"}\n"
                        "  d: ${WORKER_MACHINE_COUNT}\n  e: ${KUBERNETES_VERSION}\n")
    result = drover("generate", "cluster", "c1", "--from", str(template), "--list-variables",
                    env={"WORKER_MACHINE_COUNT": "4"})
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Required Variables:\n"
        "  - KUBERNETES_VERSION\n"
        "  - ZONE\n"
        "\n"
        "Optional Variables:\n"
        "  - CLUSTER_NAME          (defaults to c1)\n"
        "  - NAMESPACE             (defaults to current Namespace in the KubeConfig file)\n"
        '  - QUOTED                (defaults to "x")\n'
        '  - SIZE                  (defaults to "small")\n'
        "  - WORKER_MACHINE_COUNT  (defaults to 4)\n"
        "\n"
    )


# -- variable edge cases -----------------------------------------------------------------------

UNSET = object()
EDGE_CASES = [
    # (expression, value of VAR in the environment, expected result or the error)
    ("${VAR:=default}", UNSET, "default"),
    ("${VAR:=default}", "", "default"),
    ("${VAR:=default}", "set", "set"),
    ("${VAR=default}", UNSET, "default"),
    ("${VAR=default}", "", "default"),  # drone/envsubst: every default form also covers empty
    ("${VAR=default}", "set", "set"),
    ("${VAR:-default}", UNSET, "default"),
    ("${VAR:-default}", "", "default"),
    ("${VAR:-default}", "set", "set"),
    # drone/envsubst does not know the `-` form: clusterctl refuses the template.
    ("${VAR-default}", "set", SystemExit("missing closing brace")),
    ("${VAR}", "", ""),  # set but empty is a value, not a missing variable
    ("${VAR}", "set", "set"),
    ("${VAR}", UNSET, SystemExit(MISSING.format("VAR"))),
    ("${VAR:=}", UNSET, SystemExit(MISSING.format("VAR"))),  # an empty default is no default
    ("${ VAR }", "set", "set"),  # clusterctl's legacy spaces
    ("$VAR", "set", "$VAR"),  # only ${...} is a variable
    ("$${VAR}", "set", "${VAR}"),  # $$ escapes
    ("${VAR:=${OTHER:=nested}}", UNSET, "nested"),
    ("${VAR/e/E}", "set", "sEt"),
]


def _template(expression: str) -> str:
    return ("apiVersion: cluster.x-k8s.io/v1beta2\nkind: Cluster\nmetadata:\n  name: ${CLUSTER_NAME}\n"
            f"  annotations:\n    value: '{expression}'\n")


@pytest.mark.parametrize("expression,value,expected", EDGE_CASES)
def test_variable_edge_cases(home, tmp_path, expression, value, expected):
    template = tmp_path / "t.yaml"
    template.write_text(_template(expression))
    env = {} if value is UNSET else {"VAR": value}
    result = drover("generate", "cluster", "c1", "--from", str(template), env=env)
    if isinstance(expected, SystemExit):
        assert result.output.strip() == f"Error: {expected}"
        assert result.exit_code == (3 if "is not set" in str(expected) else 1)
    else:
        assert result.exit_code == 0, result.output
        assert objects(result.output)[0]["metadata"]["annotations"]["value"] == expected


def test_every_missing_variable_is_named(home, tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text("kind: Cluster\nmetadata:\n  name: ${CLUSTER_NAME}\nspec:\n"
                        "  a: ${ZONE}\n  b: ${REGION}\n  c: ${KUBERNETES_VERSION}\n  d: ${SIZE:=s}\n")
    result = drover("generate", "cluster", "c1", "--from", str(template))
    assert result.exit_code == 3
    assert result.output.strip() == "Error: " + MISSING.format("KUBERNETES_VERSION, REGION, ZONE")


def _resolve(home, tmp_path, expression="${VAR}", *args, env=None):
    template = tmp_path / "t.yaml"
    template.write_text(_template(expression))
    result = drover("generate", "cluster", "c1", "--from", str(template), *args, env=env or {})
    assert result.exit_code == 0, result.output
    return objects(result.output)[0]["metadata"]["annotations"]["value"]


def test_environment_wins_over_config_file(home, tmp_path):
    write_config(xdg_config(home), {"VAR": "from-file"})
    assert _resolve(home, tmp_path) == "from-file"
    assert _resolve(home, tmp_path, env={"VAR": "from-env"}) == "from-env"
    assert _resolve(home, tmp_path, env={"VAR": ""}) == ""  # an empty environment value still wins


def test_config_file_values(home, tmp_path):
    write_config(xdg_config(home), {"var": "lower-case key", "OTHER": 3, "providers": [{"name": "x"}]})
    assert _resolve(home, tmp_path) == "lower-case key"  # viper's keys ignore case
    assert _resolve(home, tmp_path, "${OTHER}") == "3"


def test_xdg_config_file_wins_over_legacy_one(home, tmp_path):
    write_config(legacy_config(home), {"VAR": "legacy"})
    assert _resolve(home, tmp_path) == "legacy"
    write_config(xdg_config(home), {"OTHER": "x"})
    # Only the first file found is read: VAR is no longer set at all.
    result = drover("generate", "cluster", "c1", "--from", str(tmp_path / "t.yaml"))
    assert result.exit_code == 3 and MISSING.format("VAR") in result.output
    write_config(xdg_config(home), {"VAR": "xdg"})
    assert _resolve(home, tmp_path) == "xdg"


def test_xdg_config_home_defaults_to_dot_config(home, tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    write_config(home / "home" / ".config" / "cluster-api" / "clusterctl.yaml", {"VAR": "dot-config"})
    write_config(legacy_config(home), {"VAR": "legacy"})
    assert _resolve(home, tmp_path) == "dot-config"


def test_config_flag_names_the_file(home, tmp_path):
    write_config(xdg_config(home), {"VAR": "xdg"})
    other = tmp_path / "other.yaml"
    write_config(other, {"VAR": "explicit"})
    assert _resolve(home, tmp_path, "${VAR}", "--config", str(other)) == "explicit"
    result = drover("generate", "cluster", "c1", "-i", "local", "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 3 and "failed to check if clusterctl config file exists" in result.output


FLAG_CASES = [
    # (variable, flag arguments, environment, config file, expected value)
    ("KUBERNETES_VERSION", ["--kubernetes-version", "v1.35.8"], {"KUBERNETES_VERSION": "v1.1.1"},
     {"KUBERNETES_VERSION": "v1.2.2"}, "v1.35.8"),
    ("KUBERNETES_VERSION", [], {"KUBERNETES_VERSION": "v1.1.1"}, {"KUBERNETES_VERSION": "v1.2.2"}, "v1.1.1"),
    ("KUBERNETES_VERSION", [], {}, {"KUBERNETES_VERSION": "v1.2.2"}, "v1.2.2"),
    ("WORKER_MACHINE_COUNT", ["--worker-machine-count", "2"], {"WORKER_MACHINE_COUNT": "5"},
     {"WORKER_MACHINE_COUNT": 7}, "2"),
    ("WORKER_MACHINE_COUNT", [], {"WORKER_MACHINE_COUNT": "5"}, {"WORKER_MACHINE_COUNT": 7}, "5"),
    ("WORKER_MACHINE_COUNT", [], {}, {"WORKER_MACHINE_COUNT": 7}, "7"),
    ("WORKER_MACHINE_COUNT", [], {}, {}, "0"),
    ("CONTROL_PLANE_MACHINE_COUNT", ["--control-plane-machine-count", "3"],
     {"CONTROL_PLANE_MACHINE_COUNT": "5"}, {}, "3"),
    ("CONTROL_PLANE_MACHINE_COUNT", [], {}, {}, "1"),
    ("CLUSTER_NAME", [], {"CLUSTER_NAME": "from-env"}, {"CLUSTER_NAME": "from-file"}, "c1"),
    ("NAMESPACE", [], {"NAMESPACE": "from-env"}, {}, "default"),
    ("NAMESPACE", ["-n", "team-a"], {"NAMESPACE": "from-env"}, {"NAMESPACE": "from-file"}, "team-a"),
]


@pytest.mark.parametrize("variable,args,env,file,expected", FLAG_CASES)
def test_flags_win_over_environment_and_file(home, tmp_path, variable, args, env, file, expected):
    write_config(xdg_config(home), file)
    assert _resolve(home, tmp_path, f"${{{variable}}}", *args, env=env) == expected


def test_namespace_from_the_kubeconfig(home, tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "current-context": "work",
        "contexts": [{"name": "work", "context": {"cluster": "x", "namespace": "team-b"}},
                     {"name": "other", "context": {"cluster": "x"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert _resolve(home, tmp_path, "${NAMESPACE}") == "team-b"
    assert _resolve(home, tmp_path, "${NAMESPACE}", "--kubeconfig-context", "other") == "default"


@pytest.mark.parametrize("args,message", [
    (["BAD_NAME", "-i", "local"], "invalid cluster name: a lowercase RFC 1123 subdomain must consist of"),
    (["c1", "-i", "local", "-n", "a.b"], "invalid target-namespace: must not contain dots"),
    (["c1", "-i", "local", "--kubernetes-version", "1.35"],
     "invalid KubernetesVersion. Please use a semantic version number"),
    (["c1", "-i", "local", "--control-plane-machine-count", "0"],
     "invalid ControlPlaneMachineCount. Please use a number greater than or equal to 1"),
    (["c1", "-i", "local", "--worker-machine-count", "-1"],
     "invalid WorkerMachineCount. Please use a number greater than or equal to 0"),
    (["c1", "-i", "aws:"], ('invalid provider name "aws:". Provider name should be in the form '
                            "name[:version] and version cannot be empty")),
    (["c1", "-i", "nope"], "failed to get configuration for the InfrastructureProvider with name nope"),
    (["c1", "-i", "aws", "--flavor", "nope"], 'failed to read "cluster-template-nope.yaml" from provider\'s repository "infrastructure-aws"'),
    (["c1", "-i", "local", "--from", "x.yaml"],
     "invalid cluster template source: only one template can be used at time"),
])
def test_refusals(home, args, message):
    result = drover("generate", "cluster", *args)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}")


def test_bad_count_in_environment(home):
    result = drover("generate", "cluster", "c1", "-i", "local", env={"WORKER_MACHINE_COUNT": "two"})
    assert result.exit_code == 1 and "invalid value for WORKER_MACHINE_COUNT set" in result.output


def test_no_template_source_is_missing_input(home):
    result = drover("generate", "cluster", "c1")
    assert result.exit_code == 3
    assert "failed to identify the default infrastructure provider" in result.output


def test_provider_version_and_managed_alias(home):
    versioned = drover("generate", "cluster", "c1", "-i", "aws:v2.8.1", "--flavor", "managed",
                       "--list-variables")
    plain = drover("generate", "cluster", "c1", "-i", "aws", "--flavor", "eks", "--list-variables")
    assert versioned.exit_code == 0 and versioned.output == plain.output


# -- template sources and output ------------------------------------------------------------------

@pytest.fixture
def http_server(tmp_path):
    """A plain HTTP server on 127.0.0.1 serving tmp_path/www, stopped afterwards."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_from_url(home, http_server, monkeypatch):
    root, base = http_server
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    (root / "cluster-template.yaml").write_text(providers.get("local").template("default"))
    url = f"{base}/cluster-template.yaml"
    result = drover("generate", "cluster", "c2", "--from", url, "--kubernetes-version", "v1.35.8")
    assert result.exit_code == 0, result.output
    from_provider = drover("generate", "cluster", "c2", "-i", "local", "--kubernetes-version", "v1.35.8")
    assert result.output == from_provider.output
    listed = drover("generate", "cluster", "c2", "--from", url, "--list-variables")
    assert "Required Variables:\n  - KUBERNETES_VERSION\n" in listed.output
    missing = drover("generate", "cluster", "c2", "--from", f"{base}/nope.yaml")
    assert missing.exit_code == 3 and "HTTP 404" in missing.output


def test_from_file_stdin_and_write_to(home, tmp_path):
    template = tmp_path / "cluster-template.yaml"
    template.write_text(_template("${VAR:=x}"))
    from_file = drover("generate", "cluster", "c1", "--from", str(template))
    from_stdin = drover("generate", "cluster", "c1", "--from", "-", input=template.read_text())
    assert from_file.exit_code == 0 and from_file.output == from_stdin.output
    out = tmp_path / "out.yaml"
    written = drover("generate", "cluster", "c1", "--from", str(template), "--write-to", str(out))
    assert written.exit_code == 0 and written.output == ""
    assert out.read_text() == from_file.output
    missing = drover("generate", "cluster", "c1", "--from", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 3
    assert missing.output.strip() == f'Error: invalid GetFromURL operation: failed to read file "{tmp_path / "nope.yaml"}"'


def test_objects_move_into_the_target_namespace(home, tmp_path):
    template = tmp_path / "t.yaml"
    template.write_text("kind: Namespace\nmetadata:\n  name: elsewhere\n---\n"
                        "kind: ClusterRole\nmetadata:\n  name: r\n---\n"
                        "kind: Cluster\nmetadata:\n  name: ${CLUSTER_NAME}\n  namespace: elsewhere\n")
    result = drover("generate", "cluster", "c1", "--from", str(template), "-n", "team-a")
    assert result.exit_code == 0, result.output
    ns, role, cluster = objects(result.output)
    assert ns["metadata"] == {"name": "team-a"}
    assert role["metadata"] == {"name": "r"}
    assert cluster["metadata"] == {"name": "c1", "namespace": "team-a"}


# -- init --dry-run, completion and help -------------------------------------------------------------

def test_init_dry_run_manifests(home):
    result = drover("init", "--dry-run", "--namespace", "drover-test", "--image", "example.com/drover:dev")
    assert result.exit_code == 0, result.output
    docs = objects(result.output)
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace" and docs[0]["metadata"]["name"] == "drover-test"
    crd_names = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert {"fleets.fleet.drover.dev", "fleetmembers.fleet.drover.dev"} <= crd_names
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"} <= set(kinds)
    assert "${" not in result.output
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "example.com/drover:dev"
    assert container["command"][:2] == ["drover", "controller"]
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == "drover-test"
    for doc in docs:
        if doc["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == "drover-test", doc["kind"]
    default = objects(drover("init", "--dry-run").output)
    image = next(d for d in default if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("ghcr.io/drover/drover:v")
    assert drover("init", "--dry-run", "--namespace", "Bad_NS").exit_code == 2


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell):
    result = drover("completion", shell)
    assert result.exit_code == 0
    assert "_DROVER_COMPLETE" in result.output and f"{shell}_complete" in result.output


def test_completion_completes_commands():
    env = {"_DROVER_COMPLETE": "bash_complete", "COMP_WORDS": "drover generate cluster c1 --infra",
           "COMP_CWORD": "4"}
    result = CliRunner().invoke(main, [], env=env, prog_name="drover")
    assert "plain,--infrastructure" in result.output.splitlines()
    env.update(COMP_WORDS="drover ge", COMP_CWORD="1")
    completed = CliRunner().invoke(main, [], env=env, prog_name="drover").output.splitlines()
    assert {"plain,generate", "plain,get"} <= set(completed)


def test_bash_completion_script_completes_in_bash():
    """Source the script in a real bash and ask it, as bash does on <TAB>."""
    script = drover("completion", "bash").output
    drover_bin = Path(sys.executable).parent / "drover"
    probe = (f"{script}\nCOMP_WORDS=(drover generate cluster c1 --infrastructure a); COMP_CWORD=5\n"
             f"_drover_completion {drover_bin}; echo \"${{COMPREPLY[@]}}\"\n")
    result = subprocess.run(["bash", "-c", probe], check=False, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["aws", "azure"], result.stderr


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


OURS = (("generate", "cluster"), ("get", "kubeconfig"), ("init",), ("completion",))


def test_every_command_has_help():
    for path, command in _commands(main):
        assert command.help and command.help.strip(), path
        result = drover(*path, "--help")
        assert result.exit_code == 0, path
        if path in OURS:
            assert "Examples:" in result.output, path
            for param in command.params:
                if param.param_type_name == "option" and param.name != "help":
                    assert param.help, (path, param.name)
