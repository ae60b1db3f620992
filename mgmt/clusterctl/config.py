"""clusterctl's config file and variables client.

clusterctl reads one config file: `--config PATH|URL`, else the first of
`$XDG_CONFIG_HOME/cluster-api/clusterctl.yaml` and `~/.cluster-api/clusterctl.yaml` (viper
searches the folders in order and reads only the first file it finds; files are not merged).
A variable's value is, in order: one clusterctl itself set from a flag, the environment
variable of the same name, the file's top-level key (viper keys ignore case).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from . import sources

CONFIG_NAME = "clusterctl"
# viper accepts more formats; YAML (and JSON, which YAML parses) is what clusterctl documents.
EXTENSIONS = ("yaml", "yml", "json")


class ConfigError(Exception):
    """The config file cannot be read or parsed."""


def config_dirs() -> list[Path]:
    """The folders clusterctl looks in, in order."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path(xdg) / "cluster-api", Path.home() / ".cluster-api"]


def find_config_file() -> Path | None:
    for folder in config_dirs():
        for ext in EXTENSIONS:
            path = folder / f"{CONFIG_NAME}.{ext}"
            if path.is_file():
                return path
    return None


def load_config(location: str | None = None) -> dict[str, Any]:
    """The config file's content ({} when there is none); `location` is --config."""
    if location:
        text = sources.read(location)
        origin = location
    else:
        path = find_config_file()
        if path is None:
            return {}
        text, origin = path.read_text(), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"failed to read the clusterctl config file {origin}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"the clusterctl config file {origin} is not a map of keys to values")
    return data


def _as_string(value: Any) -> str:
    """What viper's GetString makes of a YAML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return ""  # lists and maps do not cast to a string


class Variables:
    """clusterctl's variables client: flag-set values, then the environment, then the file."""

    def __init__(self, file_values: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None):
        self._file = {str(k).lower(): v for k, v in (file_values or {}).items()}
        self._environ = os.environ if environ is None else environ
        self._set: dict[str, str] = {}

    def set(self, name: str, value: str) -> None:
        self._set[name.lower()] = value

    def get(self, name: str) -> str | None:
        key = name.lower()
        if key in self._set:
            return self._set[key]
        env_name = name.upper().replace("-", "_")
        if env_name in self._environ:
            return self._environ[env_name]
        if self._file.get(key) is not None:
            return _as_string(self._file[key])
        return None

    def values_for(self, names) -> dict[str, str]:
        """The values of those of `names` that have one."""
        return {name: value for name in names if (value := self.get(name)) is not None}


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's current context, "default" when it names none."""
    contexts: dict[str, dict] = {}
    current = ""
    for path in _kubeconfig_paths(kubeconfig):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        current = current or data.get("current-context") or ""
        for entry in data.get("contexts") or []:
            contexts.setdefault(entry.get("name"), entry.get("context") or {})
    return contexts.get(context or current, {}).get("namespace") or "default"


def _kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]
