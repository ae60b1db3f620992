"""`drover generate cluster` against the real clusterctl (built from the pinned CAPI module).

Every case (the project's own templates for every provider and flavor, discovered from
providers/*/templates, and the hand-made corpus in e2e/clusterctl_corpus.py) runs through both
tools, each in a directory of its own with HOME and XDG_CONFIG_HOME inside it and no network.
Compared: the exit status (0 or not), the error text, the `--list-variables` text, the generated
objects as data (both read with mgmt.kubeyaml) and as text. clusterctl's behaviour is the
expectation; where Drover differs on purpose the case names an entry of DELIBERATE (the README's
"Differences from clusterctl" says the same).

clusterctl runs in threads, all at once, before the first comparison; Drover runs in one worker
process (click's test runner, with the environment and working directory of each case) because a
Python start per case would cost more than the whole comparison.
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import providers
from devtools import toolchain
from e2e import clusterctl_corpus as corpus
from mgmt import kubeyaml
from mgmt.templating import list_variables

ROOT = Path(__file__).resolve().parents[1]
REPO_VERSION = "v9.9.9"  # the version of the local provider repositories clusterctl reads templates from

#: Where Drover differs from clusterctl on purpose (README.md, "Differences from clusterctl").
DELIBERATE = {
    "missing-input-exit-3": "a variable without value, a missing template file or no template source exits 3 "
                            "(clusterctl: 1); the message is clusterctl's",
    "usage-exit-2": "bad usage (no cluster name, an unknown flag) exits 2 with click's usage message "
                    "(clusterctl: 1 with cobra's)",
    "typed-round-trip": "clusterctl edits a CustomResourceDefinition as a Go object, converted and back, which "
                        "adds an empty `status`; Drover moves the same namespaces and adds nothing",
    "config-url-anywhere": "--config URL works without a $XDG_CONFIG_HOME/cluster-api folder (clusterctl "
                           "downloads the file there and fails when the folder is missing)",
    "c1-controls": "a C1 control character (U+0080 to U+009F) in a string is written escaped (clusterctl fails: "
                   "\"control characters are not allowed\")",
    "nel-kept": "a NEL (U+0085) in a string stays a NEL (clusterctl's JSON-to-YAML round trip folds it into "
                "a space)",
    "no-panic": "`${V:1:-2}` (a negative substring length) is an error naming it (clusterctl: a Go panic)",
    "managed-flavor": "--flavor managed names the provider's managed-Kubernetes flavor (eks, gke, aks), as a Fleet's "
                      "flavor does",
    "http-from": "--from reads any http(s) URL (clusterctl: GitHub URLs only, through the GitHub API)",
    "offline-provider": "-i PROVIDER needs no version, no management cluster and no network: Drover ships each "
                        "provider's templates (clusterctl: a version, or the management cluster's inventory, "
                        "and the provider's repository)",
}


# -- the cases -------------------------------------------------------------------------------------

def _template_files() -> list[Path]:
    return sorted(ROOT.glob("providers/*/templates/cluster-template*.yaml"))


def _provider_cases() -> list[corpus.Case]:
    """Per template file: --list-variables, and every variable set (half config file, half environment)."""
    cases = []
    for path in _template_files():
        provider = path.parent.parent.name
        flavor = path.stem.removeprefix("cluster-template").removeprefix("-")
        required = [n for n, d in list_variables(path.read_text()).items() if d is None and n not in (
            "CLUSTER_NAME", "NAMESPACE", "KUBERNETES_VERSION")]
        config = _repository_config(provider) + "".join(f"{n}: file-{n.lower()}\n" for n in required[::2])
        source = ("-i", f"{provider}:{REPO_VERSION}", *(("--flavor", flavor) if flavor else ()),
                  "--config", "clusterctl.yaml")
        files = {"clusterctl.yaml": config, **_repository(provider, path)}
        name = f"provider/{provider}/{flavor or 'default'}"
        cases.append(corpus.Case(f"{name}/list-variables", (*source, "--list-variables"), files=files))
        cases.append(corpus.Case(
            name, (*source, "--kubernetes-version", "v1.33.4", "--control-plane-machine-count", "3",
                   "--worker-machine-count", "2"),
            files=files, cluster="prod-eu", env={n: f"env-{n.lower()}" for n in required[1::2]}))
    # Drover needs no version: clusterctl would ask a management cluster's inventory for one.
    path = next(p for p in _template_files() if p.name == "cluster-template.yaml")
    provider = path.parent.parent.name
    repository = {"clusterctl.yaml": _repository_config(provider), **_repository(provider, path)}
    cases.append(corpus.Case("provider/uppercase", ("-i", f"{provider.upper()}:{REPO_VERSION}", "--config",
                                                     "clusterctl.yaml", "--list-variables"), files=repository))
    cases.append(corpus.Case("provider/no-such-flavor", ("-i", f"{provider}:{REPO_VERSION}", "--flavor", "nope",
                                                         "--config", "clusterctl.yaml"), files=repository,
                             error_parts=1))
    for managed, flavor in providers.MANAGED_ALIASES.items():  # Drover's own name for each managed flavor
        template = ROOT / "providers" / managed / "templates" / f"cluster-template-{flavor}.yaml"
        cases.append(corpus.Case(
            f"provider/{managed}/managed-alias", ("-i", f"{managed}:{REPO_VERSION}", "--flavor", "managed", "--config",
                                                  "clusterctl.yaml", "--list-variables"),
            files={"clusterctl.yaml": _repository_config(managed), **_repository(managed, template)},
            deliberate="managed-flavor", clusterctl_args=("-i", f"{managed}:{REPO_VERSION}", "--flavor", flavor,
                                                          "--config", "clusterctl.yaml", "--list-variables")))
    cases.append(corpus.Case("provider/no-such-provider", ("-i", "nope:v1.0.0"), error_sentences=1))
    cases.append(corpus.Case(
        "provider/no-version", ("-i", provider, "--config", "clusterctl.yaml", "--list-variables"),
        files={"clusterctl.yaml": _repository_config(provider), **_repository(provider, path)},
        deliberate="offline-provider",
        clusterctl_args=("-i", f"{provider}:{REPO_VERSION}", "--config", "clusterctl.yaml", "--list-variables")))
    return cases


def _repository(provider: str, template: Path) -> dict[str, str]:
    """A local clusterctl provider repository holding the template (clusterctl's file:// provider URLs)."""
    base = f"repository/infrastructure-{provider}/{REPO_VERSION}"
    return {f"{base}/infrastructure-components.yaml": "", f"{base}/{template.name}": template.read_text()}


def _repository_config(provider: str) -> str:
    return (f"providers:\n- name: {provider}\n  type: InfrastructureProvider\n  url: file://{{dir}}/repository/"
            f"infrastructure-{provider}/{REPO_VERSION}/infrastructure-components.yaml\n")


HTTP_CASE = corpus.Case("http/from-url", ("--from", "{url}/t.yaml"), files={"t.yaml": corpus._cm("  a: b\n")},
                        deliberate="http-from", clusterctl_args=("--from", "t.yaml"))

# clusterctl downloads a config file from any http(s) URL (into its config folder), as Drover reads it.
HTTP_CONFIG_CASES = [
    corpus.Case("http/config-url", ("--config", "{url}/clusterctl.yaml"), corpus._cm("  a: ${A}\n"),
                files={"xdg/cluster-api/.keep": ""}),
    # clusterctl saves the download into $XDG_CONFIG_HOME/cluster-api and fails when that is missing.
    corpus.Case("http/config-url-no-config-folder", ("--config", "{url}/clusterctl.yaml"), corpus._cm("  a: ${A}\n"),
                exit_code=0, deliberate="config-url-anywhere"),
]
SERVED = {"t.yaml": corpus._cm("  a: b\n"), "clusterctl.yaml": "A: from the web\n"}

CASES = _provider_cases() + corpus.CASES + [HTTP_CASE, *HTTP_CONFIG_CASES]


# -- running both tools ------------------------------------------------------------------------------

@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    written: str | None = None  # the --write-to file's permissions and content

    @property
    def error(self) -> str:
        """The error line(s): what follows "Error: " on stderr."""
        text = self.stderr.strip()
        at = text.rfind("Error: ")
        return text[at + len("Error: "):].strip() if at >= 0 else text


def _prepare(case: corpus.Case, directory: Path, url: str) -> list[str]:
    """Write the case's files into `directory`; the command line after the program name."""
    (directory / "home").mkdir(parents=True)
    (directory / "xdg").mkdir()
    (directory / "kubeconfig").write_text(corpus.KUBECONFIG)
    if case.template is not None:
        (directory / "template.yaml").write_text(case.template)
    for name, text in case.files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text.replace("{dir}", str(directory)))
    return _command(case, case.args, directory, url)


def _command(case: corpus.Case, args, directory: Path, url: str) -> list[str]:
    command = ["generate", "cluster", *([case.cluster] if case.cluster is not None else [])]
    command += [a.replace("{dir}", str(directory)).replace("{url}", url) for a in args]
    if case.template is not None:
        command += ["--from", "template.yaml"]
    if case.namespace is not None:
        command += ["-n", case.namespace]
    return command


def _environment(case: corpus.Case, directory: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(directory / "home"), "XDG_CONFIG_HOME": str(directory / "xdg"),
            "CLUSTERCTL_DISABLE_VERSIONCHECK": "true", **case.env}


def _clusterctl(command: list[str], directory: Path, env: dict[str, str], stdin: str | None) -> Run:
    done = subprocess.run([toolchain.binary("clusterctl"), *command], check=False, cwd=directory, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)
    return Run(done.returncode, _relative(done.stdout, directory), _relative(done.stderr, directory),
               _written(command, directory))


#: Drover's side: one Python process running the CLI in-process case after case, each with the
#: case's environment and working directory (which a process-wide change would otherwise share
#: with every other test of the session).
_WORKER = """
import json, os, sys, traceback
from click.testing import CliRunner
from mgmt.cli import main
for line in sys.stdin:
    job = json.loads(line)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    result = CliRunner().invoke(main, job["command"], input=job["stdin"])
    crash = None
    if result.exception and not isinstance(result.exception, SystemExit):
        crash = "".join(traceback.format_exception(result.exception))
    print(json.dumps({"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
                      "crash": crash}), flush=True)
"""


@pytest.fixture(scope="module")
def drover_worker():
    worker = subprocess.Popen([sys.executable, "-c", _WORKER], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    yield worker
    worker.stdin.close()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _drover(worker, command: list[str], directory: Path, env: dict[str, str], stdin: str | None) -> Run:
    job = {"command": command, "cwd": str(directory), "env": env, "stdin": stdin}
    worker.stdin.write(json.dumps(job) + "\n")
    worker.stdin.flush()
    result = json.loads(worker.stdout.readline())
    assert result["crash"] is None, result["crash"]
    return Run(result["code"], _relative(result["stdout"], directory), _relative(result["stderr"], directory),
               _written(command, directory))


def _written(command: list[str], directory: Path) -> str | None:
    if "--write-to" not in command:
        return None
    path = directory / command[command.index("--write-to") + 1]
    return f"mode {path.stat().st_mode & 0o777:o}\n{path.read_text()}" if path.is_file() else None


def _relative(text: str, directory: Path) -> str:
    return text.replace(str(directory), "<dir>")


@pytest.fixture(scope="module")
def http_url(tmp_path_factory):
    """A file server on 127.0.0.1 for the http(s) --from case; stopped with the module."""
    root = tmp_path_factory.mktemp("served")
    for name, text in SERVED.items():
        (root / name).write_text(text)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def clusterctl_runs(tmp_path_factory, http_url) -> dict[str, tuple[Run, Run | None]]:
    """clusterctl on every case, in parallel: {case: (compared run, run of the case's own args or None)}."""
    root = tmp_path_factory.mktemp("clusterctl")

    def run(index_case):
        index, case = index_case
        directory = root / str(index)
        command = _prepare(case, directory, http_url)
        env = _environment(case, directory)
        own = None
        if case.clusterctl_args is not None:
            own = _clusterctl(command, directory, env, case.stdin)
            command = _command(case, case.clusterctl_args, directory, http_url)
        return case.name, (_clusterctl(command, directory, env, case.stdin), own)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(run, enumerate(CASES)))


# -- comparing -----------------------------------------------------------------------------------

def test_case_names_are_unique_and_deliberate_keys_known():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        assert case.deliberate is None or case.deliberate in DELIBERATE, case.name
        assert case.exit_code in (None, 0, 2, 3) and (case.exit_code is None or case.deliberate), case.name
        assert case.clusterctl_args is None or case.deliberate, case.name
        assert not case.ignore or case.deliberate, case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_as_clusterctl(case, clusterctl_runs, drover_worker, tmp_path, http_url):
    theirs, own = clusterctl_runs[case.name]
    directory = tmp_path / "case"
    ours = _drover(drover_worker, _prepare(case, directory, http_url), directory, _environment(case, directory),
                   case.stdin)

    if own is not None:  # a deliberate difference: clusterctl cannot do what the case asks
        assert own.code != 0, f"clusterctl now does this too ({case.deliberate}): {own.stdout}"
    if case.exit_code == 0:  # a deliberate difference: Drover does what clusterctl fails to do
        assert theirs.code != 0, f"clusterctl now does this too ({case.deliberate})"
        assert ours.code == 0, ours.stderr
        return
    if theirs.code == 0:
        assert ours.code == 0, f"clusterctl succeeded, drover failed: {ours.stderr}\n{theirs.stdout[:2000]}"
    else:
        assert ours.code == (case.exit_code or 1), (
            f"clusterctl failed ({theirs.error}); drover exited {ours.code}: {ours.stderr or ours.stdout[:2000]}")
        _compare_errors(case, ours.error, theirs.error)
        return
    assert ours.written == theirs.written
    assert theirs.written is not None or "--write-to" not in case.args
    if "--list-variables" in case.args:
        assert ours.stdout == theirs.stdout
        return
    assert _objects(ours.stdout, case.ignore) == _objects(theirs.stdout, case.ignore)
    if case.text:
        assert ours.stdout == theirs.stdout


def _objects(text: str, ignore: tuple[str, ...]) -> list:
    return [{k: v for k, v in o.items() if k not in ignore} for o in kubeyaml.load_all(text)]


def _compare_errors(case: corpus.Case, ours: str, theirs: str) -> None:
    if case.error_parts == 0:  # a deliberate difference in wording (click's usage errors)
        assert ours
        return
    if case.error_parts is not None:
        ours, theirs = (": ".join(e.split(": ")[:case.error_parts]) for e in (ours, theirs))
    if case.error_sentences is not None:
        ours, theirs = (". ".join(e.split(". ")[:case.error_sentences]) for e in (ours, theirs))
    assert ours == theirs


def test_every_provider_and_flavor_is_compared():
    """The per-provider loop discovers templates: a provider added later is compared too."""
    compared = {c.name.split("/")[1] for c in CASES if c.name.startswith("provider/") and "/" in c.name[9:]}
    assert compared == {p.parent.parent.name for p in _template_files()}
