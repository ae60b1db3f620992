"""clusterctl's config file and variables client.

clusterctl reads one config file: `--config PATH|URL`, else the first of
`$XDG_CONFIG_HOME/cluster-api/clusterctl.yaml` and `~/.cluster-api/clusterctl.yaml` (viper
searches the folders in order and reads only the first file it finds; files are not merged).
A variable's value is, in order: one clusterctl itself set from a flag, the environment
variable of the same name, the file's top-level key (viper keys ignore case).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
import yaml.cyaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from mgmt import kubeyaml

from . import output, sources

CONFIG_NAME = "clusterctl"
# The formats viper reads that Drover reads too, in viper's search order (SupportedExts).
EXTENSIONS = ("json", "toml", "yaml", "yml")
_READ_ERROR = "failed to initialize the configuration reader"


class ConfigError(Exception):
    """The config file (or the kubeconfig) cannot be read or parsed; `missing` when it is not there."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


class _ParseError(Exception):
    """The file is not a map of keys to values."""


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
    """The config file's values as viper's GetString gives them ({} without a file); `location`
    is --config. The format is the file's extension (YAML for an http(s) URL, as clusterctl saves
    what it downloads as a .yaml file)."""
    if location:
        if "://" not in location and not Path(location).exists():
            raise ConfigError(f"{_READ_ERROR}: failed to check if clusterctl config file exists: "
                              f"stat {location}: no such file or directory", missing=True)
        text = sources.read(location)
        ext = "yaml" if location.startswith(("http://", "https://")) else Path(location).suffix.lstrip(".")
    else:
        path = find_config_file()
        if path is None:
            return {}
        text, ext = path.read_text(), path.suffix.lstrip(".")
    if ext not in EXTENSIONS:
        raise ConfigError(f'{_READ_ERROR}: Unsupported Config Type "{ext}"')
    try:
        values = _PARSERS[ext](text)
    except (ValueError, _ParseError, yaml.YAMLError) as error:
        raise ConfigError(f"{_READ_ERROR}: While parsing config: {_parse_error(ext, error)}") from None
    return {key: as_string(value) for key, value in values.items() if value is not None}


def _parse_error(ext: str, error: Exception) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark:
        return f"yaml: line {error.problem_mark.line + 1}: {error.problem}"
    return f"{'yaml' if ext in ('yaml', 'yml') else ext}: {error}"


def as_string(value: Any) -> str:
    """viper's GetString (spf13/cast.ToString) of a decoded value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return output.go_format_float(value, "f")
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return _toml_time(value)
    return ""  # lists and maps do not cast to a string


# -- the formats -------------------------------------------------------------------------------

def _json(text: str) -> dict:
    data = json.loads(text or "{}")
    if not isinstance(data, dict):
        raise _ParseError(f"json: cannot unmarshal {type(data).__name__} into Go value of type map[string]interface {{}}")
    # encoding/json decodes every number as a float64
    return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in data.items()}


def _toml(text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(str(error)) from None


def _toml_time(value) -> str:
    """go-toml v2: a local date, time or date-time prints as TOML; one with an offset is a time.Time."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        text = value.isoformat().replace("+00:00", "Z")
        return output.go_timestamp(text) or text
    text = value.isoformat()
    return text.rstrip("0") if "." in text else text  # Go prints the fraction as written: 43.1, not 43.100000


class _PlainTags(yaml.resolver.BaseResolver):
    """Plain scalars keep their text for go-yaml v3's resolution below."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            return "drover:plain" if implicit[0] else "tag:yaml.org,2002:str"
        return super().resolve(kind, value, implicit)


# libyaml, which go-yaml was ported from (a tab before a comment or a value is a separator there).
if getattr(yaml, "__with_libyaml__", False):
    class _Loader(yaml.cyaml.CParser, _PlainTags):
        def __init__(self, text: str):
            yaml.cyaml.CParser.__init__(self, text)
            _PlainTags.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                  _PlainTags):
        def __init__(self, text: str):
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _PlainTags.__init__(self)


def _yaml(text: str) -> dict:
    """The top-level map of the first document as go-yaml v3 decodes it into map[string]interface{}
    (what viper does): duplicate keys refused, `<<` merges maps without overriding keys."""
    loader = _Loader(text)
    try:
        node = loader.get_node() if loader.check_node() else None
    finally:
        loader.dispose()
    if node is None:
        return {}
    if not isinstance(node, MappingNode):
        kind = "!!seq" if isinstance(node, SequenceNode) else f"!!str `{node.value}`"
        raise _ParseError(f"yaml: unmarshal errors:\n  line {node.start_mark.line + 1}: cannot unmarshal "
                          f"{kind} into map[string]interface {{}}")
    values: dict[str, Any] = {}
    seen: dict[str, int] = {}
    merges = []
    for key_node, value_node in node.value:
        if key_node.tag == "drover:plain" and key_node.value == "<<":
            merges.append(value_node)
            continue
        key = str(key_node.value)
        if key in seen:
            raise _ParseError(f'yaml: unmarshal errors:\n  line {key_node.start_mark.line + 1}: mapping key '
                              f'"{key}" already defined at line {seen[key]}')
        seen[key] = key_node.start_mark.line + 1
        values[key] = _yaml_value(value_node) if isinstance(value_node, ScalarNode) else []
    for merge in merges:
        for mapping in merge.value if isinstance(merge, SequenceNode) else [merge]:
            for key_node, value_node in mapping.value if isinstance(mapping, MappingNode) else []:
                values.setdefault(str(key_node.value),
                                  _yaml_value(value_node) if isinstance(value_node, ScalarNode) else [])
    return values


_V3_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def _yaml_value(node: ScalarNode) -> Any:
    """go-yaml v3's resolve: YAML 1.2's booleans (`yes` is a string), 1.1's numbers, timestamps."""
    text, tag = node.value, node.tag
    if tag == "tag:yaml.org,2002:binary":
        try:
            return base64.b64decode(text).decode(errors="replace")
        except (binascii.Error, ValueError):
            raise ValueError("yaml: !!binary value contains invalid base64 data") from None
    if tag not in ("drover:plain", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                   "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"):
        return text
    if text in _V3_BOOLS:
        return _V3_BOOLS[text]
    if text[:1].isdigit() and (timestamp := output.go_timestamp(text)) is not None:
        return timestamp
    value = kubeyaml.resolve_plain(text)
    return text if isinstance(value, bool) else value


_PARSERS = {"json": _json, "toml": _toml, "yaml": _yaml, "yml": _yaml}


class Variables:
    """clusterctl's variables client: flag-set values, then the environment, then the file."""

    def __init__(self, file_values: Mapping[str, str] | None = None,
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
        return self._file.get(key)

    def values_for(self, names) -> dict[str, str]:
        """The values of those of `names` that have one."""
        return {name: value for name in names if (value := self.get(name)) is not None}


# -- the kubeconfig's namespace ------------------------------------------------------------------

_NO_CONFIG = ("no configuration has been provided, try setting KUBERNETES_MASTER environment variable")
_NO_IN_CLUSTER = ("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                  "KUBERNETES_SERVICE_PORT must be defined")


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's current (or named) context, "default" when it names none,
    as clusterctl finds it (client-go's loading rules: --kubeconfig, else every file of $KUBECONFIG
    with the first one's current context and the first definition of each context winning, else
    ~/.kube/config). A kubeconfig that cannot be loaded, or that has no such context, is an error."""
    current, contexts, clusters = "", {}, {}
    for path in _kubeconfig_paths(kubeconfig):
        data = _read_kubeconfig(path)
        current = current or str(data.get("current-context") or "")
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict):
                contexts.setdefault(entry.get("name"), entry.get("context") or {})
        for entry in data.get("clusters") or []:
            if isinstance(entry, dict):
                clusters.setdefault(entry.get("name"), entry.get("cluster") or {})
    name = context or current
    if context and context not in contexts:
        problem = f'context "{context}" does not exist'
    elif not name:
        problem = _NO_CONFIG
    elif name not in contexts:
        problem = f"context was not found for specified context: {name}, cluster has no server defined"
    else:
        return (contexts[name] or {}).get("namespace") or "default"
    raise ConfigError("clusterctl requires either a valid kubeconfig or in cluster config to connect to the "
                      f"management cluster: [{problem}, {_NO_IN_CLUSTER}]")


def _kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        if not Path(explicit).exists():
            raise ConfigError(f"failed to load Kubeconfig: stat {explicit}: no such file or directory")
        return [Path(explicit)]
    env = os.environ.get("KUBECONFIG")
    paths = [Path(p) for p in env.split(os.pathsep) if p] if env else [Path.home() / ".kube" / "config"]
    return [p for p in paths if p.exists()]


def _read_kubeconfig(path: Path) -> dict:
    try:
        data = kubeyaml.load(path.read_bytes())
    except kubeyaml.KubeYAMLError as error:
        raise ConfigError(f'failed to load Kubeconfig: error loading config file "{path}": yaml: {error}') from None
    except OSError as error:
        raise ConfigError(f'failed to load Kubeconfig: error loading config file "{path}": {error.strerror}') from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f'failed to load Kubeconfig: error loading config file "{path}": not a kubeconfig')
    return data or {}
