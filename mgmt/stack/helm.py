"""Helm charts rendered by the real helm binary (`helm template`), cached by their inputs.

Every run gets a private HELM_CACHE_HOME/HELM_CONFIG_HOME/HELM_DATA_HOME in a temporary
directory, so nothing leaks between runs or into the user's helm setup. A chart pinned to a
version (or packed in a ConfigMap) renders the same way forever, so its output is kept; an
unpinned one (latest in a repository, a path on disk) is rendered again after `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import yaml

from mgmt.api.models import HelmSource
from mgmt.toolchain import binary

from .objects import SourceError


class Helm:
    def __init__(self, concurrency: int = 2, timeout: float = 120.0, ttl: float = 300.0,
                 cache_size: int = 256):
        self._slots = asyncio.Semaphore(concurrency)
        self.timeout, self.ttl, self.cache_size = timeout, ttl, cache_size
        self._cache: OrderedDict[str, tuple[float | None, str]] = OrderedDict()

    async def template(self, release: str, namespace: str, source: HelmSource, values: dict,
                       packed_chart: bytes | None = None) -> str:
        """The chart's manifests as YAML text; SourceError with helm's message when it fails."""
        key, pinned = _cache_key(release, namespace, source, values, packed_chart)
        cached = self._cache.get(key)
        if cached and (cached[0] is None or cached[0] > time.monotonic()):
            self._cache.move_to_end(key)
            return cached[1]
        async with self._slots:
            text = await self._run(release, namespace, source, values, packed_chart)
        self._cache[key] = (None if pinned else time.monotonic() + self.ttl, text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return text

    async def _run(self, release: str, namespace: str, source: HelmSource, values: dict,
                   packed_chart: bytes | None) -> str:
        with tempfile.TemporaryDirectory(prefix="drover-helm-") as tmp:
            home = Path(tmp)
            values_file = home / "values.yaml"
            values_file.write_text(yaml.safe_dump(values))
            argv = [binary("helm"), "template", release, *_chart_args(source, home, packed_chart),
                    "--namespace", namespace, "--include-crds", "--skip-tests", "--values", str(values_file)]
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
                raise SourceError(f"helm template {_describe(source)} timed out after {self.timeout:.0f}s") from None
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()[-2000:] or f"exit code {proc.returncode}"
            raise SourceError(f"helm template {_describe(source)}: {message}")
        return out.decode()


def _chart_args(source: HelmSource, home: Path, packed_chart: bytes | None) -> list[str]:
    version = ["--version", source.version] if source.version else []
    if source.repository:
        return [source.chart, "--repo", source.repository, *version]
    if source.chart.startswith("oci://"):
        return [source.chart, *version]
    if source.path:
        return [source.path, *version]
    if packed_chart is None:
        raise SourceError("helm: chartFrom gave no chart")
    chart = home / "chart.tgz"
    chart.write_bytes(packed_chart)
    return [str(chart)]


def _describe(source: HelmSource) -> str:
    if source.repository:
        return f"{source.chart} from {source.repository}" + (f" {source.version}" if source.version else "")
    if source.path:
        return source.path
    if source.chart_from:
        return f"chart from {source.chart_from.kind} {source.chart_from.name}"
    return source.chart + (f" {source.version}" if source.version else "")


def _cache_key(release: str, namespace: str, source: HelmSource, values: dict,
               packed_chart: bytes | None) -> tuple[str, bool]:
    chart = hashlib.sha256(packed_chart).hexdigest() if packed_chart is not None else None
    pinned = chart is not None or (bool(source.version) and not source.path)
    text = json.dumps([release, namespace, source.wire(), values, chart], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), pinned
