"""The real Kubernetes binaries and CRDs, built from upstream Go modules.

`e2e/tools/go.mod` pins every binary's module (kwok, whose Kubernetes libraries
differ, and vcsim, govmomi's vSphere simulator, have modules of their own in
`e2e/tools/kwok` and `e2e/tools/vcsim`), and `e2e/tools/crds.txt` names
the modules whose CRDs Drover installs. Each binary is built once per
module version and Go version into the cache (`$DROVER_CACHE`, default
`~/.cache/drover`), so later runs only link `bin/` to what is there.

    cache/builds/<name>@<version>-<go version>/<name>   one build
    cache/bin/<name>                                   -> the build in use
    cache/crds/<contract>/<source>/*.yaml              CRDs as upstream ships them
    cache/versions.json                                what bin/ and crds/ hold
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS_MODULE = Path(os.environ.get("DROVER_TOOLS_MODULE", REPO / "e2e" / "tools"))

# Errors from the module proxy or the network that are worth another try.
_TRANSIENT = re.compile(
    r"(50[234] |429 |timeout|timed out|connection reset|unexpected EOF|TLS handshake|"
    r"temporary failure|i/o timeout|connection refused)",
    re.IGNORECASE,
)


def cache_dir() -> Path:
    if os.environ.get("DROVER_CACHE"):
        return Path(os.environ["DROVER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "drover"


def bin_dir() -> Path:
    return Path(os.environ.get("DROVER_BIN_DIR") or cache_dir() / "bin")


def crd_dir() -> Path:
    return cache_dir() / "crds"


def binary(name: str) -> str:
    """The path of a built binary, or a clear error saying how to build it."""
    path = bin_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make tools` (or `drover tools build`) first")
    return str(path)


@dataclass(frozen=True)
class Tool:
    name: str
    package: str
    module: str
    module_dir: str = "."

    def ldflags(self, version: str) -> list[str]:
        if self.module == "k8s.io/kubernetes":
            major, minor = version.lstrip("v").split(".")[:2]
            prefix = "k8s.io/component-base/version"
            return [f"{prefix}.gitVersion={version}", f"{prefix}.gitMajor={major}",
                    f"{prefix}.gitMinor={minor}", f"{prefix}.gitTreeState=clean"]
        if self.module == "sigs.k8s.io/cluster-api":
            return [f"sigs.k8s.io/cluster-api/version.gitVersion={version}"]
        if self.module == "helm.sh/helm/v3":
            return [f"helm.sh/helm/v3/internal/version.version={version}"]
        if self.module == "sigs.k8s.io/kwok":
            return [f"sigs.k8s.io/kwok/pkg/consts.Version={version.lstrip('v')}"]
        return []


TOOLS = (
    Tool("etcd", "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3"),
    Tool("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes"),
    Tool("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager", "k8s.io/kubernetes"),
    Tool("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes"),
    Tool("kubectl", "k8s.io/kubernetes/cmd/kubectl", "k8s.io/kubernetes"),
    Tool("capi-manager", "sigs.k8s.io/cluster-api", "sigs.k8s.io/cluster-api"),
    Tool("clusterctl", "sigs.k8s.io/cluster-api/cmd/clusterctl", "sigs.k8s.io/cluster-api"),
    Tool("helm", "helm.sh/helm/v3/cmd/helm", "helm.sh/helm/v3"),
    Tool("kwok", "sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok", "kwok"),
    Tool("vcsim", "drover.dev/e2e/tools/vcsim", "github.com/vmware/govmomi", "vcsim"),
)


def pinned_versions(module_dir: Path) -> dict[str, str]:
    """module -> version from a go.mod's require lines (replacements are not versions of ours)."""
    versions: dict[str, str] = {}
    in_require = False
    for line in (module_dir / "go.mod").read_text().splitlines():
        line = line.split("//")[0].strip()
        if line.startswith("require ("):
            in_require = True
            continue
        if in_require and line == ")":
            in_require = False
            continue
        words = line.removeprefix("require ").split() if (in_require or line.startswith("require ")) else []
        if len(words) == 2:
            versions[words[0]] = words[1]
    return versions


def go_version() -> str:
    out = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # sum.golang.org is not reachable here; go.sum (committed) pins every hash the
    # builds use, and CRD-only downloads are of the exact versions named in crds.txt.
    env["GOSUMDB"] = "off"
    env.setdefault("GOFLAGS", "-buildvcs=false")
    return env


def _run_go(args: list[str], cwd: Path, attempts: int = 4) -> str:
    """Run a go command, retrying what looks like a passing proxy or network error."""
    for attempt in range(1, attempts + 1):
        proc = subprocess.run(["go", *args], cwd=cwd, env=_go_env(), capture_output=True, text=True,
                              check=False)
        if proc.returncode == 0:
            return proc.stdout
        if attempt == attempts or not _TRANSIENT.search(proc.stderr):
            raise RuntimeError(f"go {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
        delay = 5 * 2 ** (attempt - 1)
        print(f"  transient error, retrying in {delay}s: {proc.stderr.strip().splitlines()[-1]}", flush=True)
        time.sleep(delay)
    raise AssertionError("unreachable")


def local_sources_digest(tool: Tool) -> str:
    """For a tool whose main package is ours (vcsim's), a digest of its sources: editing them
    must make a new build, which the upstream version alone would not."""
    if not tool.package.startswith("drover.dev/"):
        return ""
    module_dir = TOOLS_MODULE / tool.module_dir
    digest = hashlib.sha256()
    for path in sorted([*module_dir.glob("*.go"), module_dir / "go.mod", module_dir / "go.sum"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"-{digest.hexdigest()[:12]}"


def build_tool(tool: Tool, gover: str) -> tuple[Path, str, bool]:
    """Build one binary unless the cache has it; returns (path, version, built)."""
    module_dir = TOOLS_MODULE / tool.module_dir
    version = pinned_versions(module_dir)[tool.module]
    build = f"{tool.name}@{version}-{gover}{local_sources_digest(tool)}"
    target = cache_dir() / "builds" / build / tool.name
    if target.exists():
        return target, version, False
    print(f"building {tool.name} {version} ({tool.package}) ...", flush=True)
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    ldflags = " ".join(["-s", "-w", *(f"-X {flag}" for flag in tool.ldflags(version))])
    _run_go(["build", "-ldflags", ldflags, "-o", str(partial), tool.package], module_dir)
    partial.rename(target)
    print(f"built {tool.name} {version} in {time.monotonic() - started:.0f}s", flush=True)
    return target, version, True


def _link(source: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(source)


def crd_sources() -> list[tuple[str, str, str, list[str]]]:
    """(name, contract, module@version, folders) for every line of crds.txt."""
    pinned = pinned_versions(TOOLS_MODULE)
    sources = []
    for line in (TOOLS_MODULE / "crds.txt").read_text().splitlines():
        words = line.split("#")[0].split()
        if not words:
            continue
        name, contract, module, folders = words[0], words[1], words[2], words[3:]
        if "@" not in module:
            module = f"{module}@{pinned[module]}"
        sources.append((name, contract, module, folders))
    return sources


def module_dir(module: str) -> Path:
    """The source of `module@version` in the Go module cache (downloaded once, read-only)."""
    with tempfile.TemporaryDirectory() as scratch:
        return Path(json.loads(_run_go(["mod", "download", "-json", module], Path(scratch)))["Dir"])


def fetch_crds() -> dict[str, str]:
    """Copy every source's CRD files into cache/crds/<contract>/<name>/; returns name -> module@version."""
    fetched = {}
    shutil.rmtree(crd_dir(), ignore_errors=True)
    for name, contract, module, folders in crd_sources():
        source = module_dir(module)
        target = crd_dir() / contract / name
        target.mkdir(parents=True)
        for folder in folders:
            for crd in sorted((source / folder).glob("*.yaml")):
                shutil.copyfile(crd, target / crd.name)
        fetched[name] = module
    return fetched


def build_all() -> dict:
    """Build (or find) every binary, link bin/, fetch the CRDs; return what is in use."""
    started = time.monotonic()
    gover = go_version()
    versions: dict[str, str] = {}
    rebuilt = []
    for tool in TOOLS:
        path, version, built = build_tool(tool, gover)
        _link(path, cache_dir() / "bin" / tool.name)
        versions[tool.name] = version
        if built:
            rebuilt.append(tool.name)
    crds = fetch_crds()
    summary = {"go": gover, "binaries": versions, "crds": crds}
    (cache_dir() / "versions.json").write_text(json.dumps(summary, indent=2) + "\n")
    verdict = f"built {', '.join(rebuilt)}" if rebuilt else "nothing to build"
    print(f"tools ready in {cache_dir()} ({verdict}; {time.monotonic() - started:.0f}s)", flush=True)
    return summary


if __name__ == "__main__":
    try:
        build_all()
    except RuntimeError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
