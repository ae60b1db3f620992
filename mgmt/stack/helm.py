"""Helm charts rendered by the real helm binary (`helm template`), cached by their inputs.

Every chart is rendered for the cluster it goes to: `--kube-version` and `--api-versions` carry
that member's capabilities (see `capabilities`), so `kubeVersion` constraints and
`.Capabilities` branches see the member, not helm's built-in v1.20. Members with the same
capabilities share one render.

Every run gets a private HELM_CACHE_HOME/HELM_CONFIG_HOME/HELM_DATA_HOME in a temporary
directory, so nothing leaks between runs or into the user's helm setup. A chart pinned to a
version (or packed in ConfigMaps/Secrets) renders the same way forever, so its output is kept; an
unpinned one (latest in a repository, a path on disk) is rendered again after `ttl` seconds.

A Fleet author chooses the chart, so what reaches helm is bounded (`HelmPolicy`): the CRD
patterns keep `chart`, `repository`, `version` and `path` from looking like flags, positionals
come after `--`, repositories may be limited to an allow-list, `path` charts must lie under a
directory the administrator allows, and only helm's error line (credentials in URLs masked)
reaches status.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from mgmt.api.models import HelmSource
from mgmt.executables import MissingExecutable
from mgmt.executables import helm as helm_binary

from .capabilities import Capabilities
from .objects import SourceError

HELM_DEFAULTS = Capabilities()  # no flags: helm's own (Kubernetes v1.20, its built-in APIs)
MAX_ERROR = 500  # characters of helm's error line kept for status


@dataclass(frozen=True)
class HelmPolicy:
    """What the administrator lets Fleet authors render (`drover controller --helm-repository`,
    `--helm-chart-dir`). No repositories: any repository; no chart directories: no `path` charts."""
    repositories: tuple[str, ...] = ()
    chart_dirs: tuple[str, ...] = ()

    def check(self, source: HelmSource) -> None:
        """SourceError unless `source` is within this policy."""
        remote = source.repository or (source.chart if source.chart.startswith("oci://") else None)
        if remote and self.repositories and not any(_under_url(remote, allowed) for allowed in self.repositories):
            raise SourceError(f"helm.repository {remote} is not in the controller's repository allow-list "
                              f"(--helm-repository)")
        if source.path is not None and not self._allowed_path(source.path):
            raise SourceError(f"helm.path {source.path} is not under a chart directory the administrator "
                              f"allows (--helm-chart-dir)")

    def _allowed_path(self, path: str) -> bool:
        real = os.path.realpath(path)  # a symlink out of an allowed directory does not count
        for directory in self.chart_dirs:
            root = os.path.realpath(directory)
            if os.path.commonpath([real, root]) == root:
                return True
        return False


def _under_url(url: str, allowed: str) -> bool:
    allowed = allowed.rstrip("/")
    return url.rstrip("/") == allowed or url.startswith(allowed + "/")


@dataclass(frozen=True)
class PackedChart:
    """A .tgz read from the management cluster (maybe joined from several keys and objects)."""
    data: bytes = field(repr=False)
    origin: str     # where it came from, for messages
    digest: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest())


class Helm:
    """`helm template`, at most `concurrency` at once. Each render is kept (LRU, up to `cache_bytes`
    of output): a chart pinned by digest or version for good, one that may move for `ttl` seconds.
    Members that ask for the same render at once share one helm run."""

    def __init__(self, concurrency: int = 2, timeout: float = 120.0, ttl: float = 300.0,
                 cache_bytes: int = 128 << 20, policy: HelmPolicy | None = None):
        self.policy = policy or HelmPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self.timeout, self.ttl, self.cache_bytes = timeout, ttl, cache_bytes
        self._cache: OrderedDict[str, tuple[float | None, str]] = OrderedDict()
        self._cached_bytes = 0
        self._rendering: dict[str, asyncio.Future[str]] = {}

    async def template(self, release: str, namespace: str, source: HelmSource, values: dict,
                       packed_chart: PackedChart | None = None,
                       capabilities: Capabilities = HELM_DEFAULTS) -> str:
        """The chart's manifests (hooks included, tests not) as YAML text; SourceError with
        helm's message when it fails."""
        self.policy.check(source)
        key, pinned = _cache_key(release, namespace, source, values, packed_chart, capabilities)
        cached = self._cached(key)
        if cached is not None:
            return cached
        rendering = self._rendering.get(key)
        if rendering is None:
            rendering = asyncio.ensure_future(
                self._render(key, pinned, release, namespace, source, values, packed_chart, capabilities))
            self._rendering[key] = rendering
            rendering.add_done_callback(lambda done: self._finished(key, done))
        # shielded: one waiting member cancelled must not cancel the render the others wait for
        return await asyncio.shield(rendering)

    def _cached(self, key: str) -> str | None:
        cached = self._cache.get(key)
        if cached and (cached[0] is None or cached[0] > time.monotonic()):
            self._cache.move_to_end(key)
            return cached[1]
        return None

    def _finished(self, key: str, done: asyncio.Future) -> None:
        self._rendering.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here: every waiter may have gone

    async def _render(self, key: str, pinned: bool, release: str, namespace: str, source: HelmSource,
                      values: dict, packed_chart: PackedChart | None, capabilities: Capabilities) -> str:
        if packed_chart is not None:
            await asyncio.to_thread(check_archive, packed_chart)
        async with self._slots:
            text = await self._run(release, namespace, source, values, packed_chart, capabilities)
        self._keep(key, None if pinned else time.monotonic() + self.ttl, text)
        return text

    def _keep(self, key: str, expires: float | None, text: str) -> None:
        old = self._cache.pop(key, None)
        if old:
            self._cached_bytes -= len(old[1])
        self._cache[key] = (expires, text)
        self._cached_bytes += len(text)
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, (_, evicted) = self._cache.popitem(last=False)
            self._cached_bytes -= len(evicted)

    async def _run(self, release: str, namespace: str, source: HelmSource, values: dict,
                   packed_chart: PackedChart | None, capabilities: Capabilities) -> str:
        try:
            executable = helm_binary()
        except MissingExecutable as error:
            raise SourceError(f"helm template {_describe(source, packed_chart)}: {error}") from None
        with tempfile.TemporaryDirectory(prefix="drover-helm-") as tmp:
            home = Path(tmp)
            # JSON is YAML that helm's go-yaml reads without guessing: a value "y" or "0o17"
            # stays a string (PyYAML would write them bare, and helm read true and 15).
            values_file = home / "values.json"
            values_file.write_text(json.dumps(values))
            flags, chart = _chart_args(source, home, packed_chart)
            argv = [executable, "template", *flags, f"--namespace={namespace}", "--include-crds",
                    "--skip-tests", f"--values={values_file}", *capability_args(capabilities),
                    "--", release, chart]
            env = {**os.environ, "HOME": tmp, "HELM_CACHE_HOME": f"{tmp}/cache",
                   "HELM_CONFIG_HOME": f"{tmp}/config", "HELM_DATA_HOME": f"{tmp}/data"}
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=tmp, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise SourceError(f"helm template {_describe(source, packed_chart)} timed out after "
                                  f"{self.timeout:.0f}s") from None
        if proc.returncode != 0:
            message = error_line(err.decode(errors="replace")) or f"exit code {proc.returncode}"
            raise SourceError(f"helm template {_describe(source, packed_chart)}: {message}")
        return out.decode()


def capability_args(capabilities: Capabilities) -> list[str]:
    args = ["--kube-version", capabilities.kube_version] if capabilities.kube_version else []
    if capabilities.api_versions:
        args += ["--api-versions", ",".join(capabilities.api_versions)]
    return args


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"']*@")
_QUERY = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s\"'?]*)\?[^\s\"']*")


def error_line(stderr: str) -> str:
    """helm's error (its last `Error:` line, else its last line) with credentials in URLs
    (user:password@, ?token=...) masked, at most MAX_ERROR characters: helm's debug output and
    warnings may quote values and addresses that do not belong in status."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    line = (errors or lines or [""])[-1]
    line = _QUERY.sub(r"\1?…", _USERINFO.sub(r"\1***@", line))
    return line if len(line) <= MAX_ERROR else line[:MAX_ERROR - 1] + "…"


def check_archive(chart: PackedChart) -> None:
    """SourceError unless `chart` is a whole gzip-compressed tar archive (a part missing, a part
    out of order, or a truncated key shows here, before helm's terser message)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(chart.data), mode="r:gz") as archive:
            names = archive.getnames()  # reads to the end, so a truncated archive fails here
            if not any(name.endswith("Chart.yaml") for name in names):
                raise SourceError(f"{chart.origin}: the archive holds no Chart.yaml")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise SourceError(f"{chart.origin}: not a whole packed chart (.tgz) ({len(chart.data)} bytes: "
                          f"{error}); is a part missing or out of order?") from None


def _chart_args(source: HelmSource, home: Path, packed_chart: PackedChart | None) -> tuple[list[str], str]:
    """(flags, the chart positional). Values are glued to their flags (`--repo=URL`) so that none
    can be read as a flag of its own."""
    version = [f"--version={source.version}"] if source.version else []
    if source.repository:
        return [f"--repo={source.repository}", *version], source.chart
    if source.chart.startswith("oci://"):
        return version, source.chart
    if source.path:
        return version, source.path
    if packed_chart is None:
        raise SourceError("helm: chartFrom gave no chart")
    chart = home / "chart.tgz"
    chart.write_bytes(packed_chart.data)
    return [], str(chart)


def _describe(source: HelmSource, packed_chart: PackedChart | None) -> str:
    if source.repository:
        return f"{source.chart} from {source.repository}" + (f" {source.version}" if source.version else "")
    if source.path:
        return source.path
    if packed_chart is not None:
        return packed_chart.origin
    return source.chart + (f" {source.version}" if source.version else "")


def _cache_key(release: str, namespace: str, source: HelmSource, values: dict,
               packed_chart: PackedChart | None, capabilities: Capabilities) -> tuple[str, bool]:
    chart = packed_chart.digest if packed_chart is not None else None
    pinned = chart is not None or (bool(source.version) and not source.path)
    text = json.dumps([release, namespace, source.wire(), values, chart, capabilities.digest],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), pinned
