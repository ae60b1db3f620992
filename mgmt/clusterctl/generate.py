"""`clusterctl generate cluster`, step for step (cmd/clusterctl/client/config.go).

The template comes from exactly one source: a built-in provider's (`--infrastructure`,
`--flavor`) or `--from`. The flags become the variables CLUSTER_NAME, NAMESPACE,
KUBERNETES_VERSION, CONTROL_PLANE_MACHINE_COUNT and WORKER_MACHINE_COUNT with clusterctl's
validation and defaults; every other variable comes from the environment or the config file.
The result is re-serialised as clusterctl does (sorted keys, comments gone) with every
namespaced object moved into the target namespace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import providers
from mgmt import kubeyaml
from mgmt.templating import MissingVariablesError, TemplateError, list_variables, render
from providers.base import ProviderError

from . import sources
from .config import Variables

# Kinds that are not namespaced (clusterctl's IsResourceNamespaced).
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "PodSecurityPolicy", "CertificateSigningRequest",
    "ClusterRoleBinding", "ClusterRole", "VolumeAttachment", "StorageClass", "CSIDriver", "CSINode",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "CustomResourceDefinition",
    "PriorityClass", "RuntimeClass",
})

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SEMVER = re.compile(r"^\s*v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\s*$")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
              "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
              "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                  "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                  "'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


class GenerateError(Exception):
    """clusterctl would refuse this; `missing_input` when a value or file is absent."""

    def __init__(self, message: str, missing_input: bool = False):
        super().__init__(message)
        self.missing_input = missing_input


@dataclass
class Options:
    """clusterctl's GetClusterTemplateOptions; None counts mean "flag not given"."""

    cluster_name: str
    target_namespace: str = ""  # the flag; empty: the kubeconfig's current namespace
    infrastructure: str | None = None
    flavor: str | None = None
    url: str | None = None
    kubernetes_version: str = ""
    control_plane_machine_count: int | None = None
    worker_machine_count: int | None = None


# -- validation (k8s.io/apimachinery's messages) ------------------------------------------

def dns1123_label_errors(value: str) -> list[str]:
    errors = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _LABEL.match(value):
        errors.append("must not contain dots" if _SUBDOMAIN.match(value) else _LABEL_MSG)
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    errors = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not _SUBDOMAIN.match(value):
        errors.append(_SUBDOMAIN_MSG)
    return errors


def parse_provider_name(provider: str) -> tuple[str, str]:
    """clusterctl's `name[:version]` syntax."""
    parts = provider.lower().split(":")
    form = f'invalid provider name "{provider}". Provider name should be in the form name[:version]'
    if len(parts) > 2:
        raise GenerateError(form)
    if not parts[0]:
        raise GenerateError(f"{form} and name cannot be empty")
    if errors := dns1123_label_errors(parts[0]):
        raise GenerateError(f"{form} and the name should be valid: {'; '.join(errors)}")
    if len(parts) > 1 and not parts[1]:
        raise GenerateError(f"{form} and version cannot be empty")
    return parts[0], parts[1] if len(parts) > 1 else ""


# -- the template -------------------------------------------------------------------------

def read_template(options: Options) -> str:
    """The raw template text from the one source the options name."""
    if options.url and (options.infrastructure or options.flavor):
        raise GenerateError("invalid cluster template source: only one template can be used at time")
    if options.url:
        try:
            return sources.read(options.url)
        except sources.SourceError as error:
            raise GenerateError(f"invalid GetFromURL operation: {error}", error.missing) from None
    if not options.infrastructure:
        raise GenerateError("failed to identify the default infrastructure provider. Please specify "
                            f"an infrastructure provider ({', '.join(providers.NAMES)})", True)
    name, _version = parse_provider_name(options.infrastructure)  # one built-in template per provider
    if name not in providers.NAMES:
        raise GenerateError(f"failed to get configuration for the InfrastructureProvider with name "
                            f"{name}. Drover's providers are: {', '.join(providers.NAMES)}")
    try:
        return providers.get(name).template(providers.resolve_flavor(name, options.flavor))
    except ProviderError as error:
        raise GenerateError(str(error)) from None


def apply_options(options: Options, variables: Variables, namespace: str) -> None:
    """clusterctl's templateOptionsToVariables: validate the flags and set their variables.

    `namespace` is the target namespace: the flag's, else the kubeconfig's current one."""
    if errors := dns1123_label_errors(namespace):
        raise GenerateError(f"invalid target-namespace: {'; '.join(errors)}")
    variables.set("NAMESPACE", namespace)
    if errors := dns1123_subdomain_errors(options.cluster_name):
        raise GenerateError(f"invalid cluster name: {'; '.join(errors)}")
    variables.set("CLUSTER_NAME", options.cluster_name)
    if options.kubernetes_version:
        if not _SEMVER.match(options.kubernetes_version):
            raise GenerateError("invalid KubernetesVersion. Please use a semantic version number")
        variables.set("KUBERNETES_VERSION", options.kubernetes_version)
    control_plane = _count(options.control_plane_machine_count, variables, "CONTROL_PLANE_MACHINE_COUNT", 1)
    if control_plane < 1:
        raise GenerateError("invalid ControlPlaneMachineCount. Please use a number greater or equal than 1")
    variables.set("CONTROL_PLANE_MACHINE_COUNT", str(control_plane))
    workers = _count(options.worker_machine_count, variables, "WORKER_MACHINE_COUNT", 0)
    if workers < 0:
        raise GenerateError("invalid WorkerMachineCount. Please use a number greater or equal than 0")
    variables.set("WORKER_MACHINE_COUNT", str(workers))


def _count(flag: int | None, variables: Variables, name: str, default: int) -> int:
    if flag is not None:
        return flag
    value = variables.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise GenerateError(f"invalid value for {name} set") from None


def generate(text: str, variables: Variables, target_namespace: str) -> str:
    """The rendered template, as the YAML `clusterctl generate cluster` prints."""
    try:
        rendered = render(text, variables.values_for(list_variables(text)))
    except MissingVariablesError as error:
        raise GenerateError(str(error), missing_input=True) from None
    except TemplateError as error:
        raise GenerateError(f"failed to process the template: {error}") from None
    try:
        objects = kubeyaml.load_all(rendered)
    except kubeyaml.KubeYAMLError as error:
        raise GenerateError(f"failed to parse yaml: {error}") from None
    for obj in objects:
        _fix_namespace(obj, target_namespace)
    return "---\n".join(kubeyaml.dump(obj, sort_keys=True, width=1 << 16) for obj in objects)


def _fix_namespace(obj: dict, namespace: str) -> None:
    if not isinstance(obj, dict):
        raise GenerateError("failed to parse yaml: a document is not an object")
    metadata = obj.setdefault("metadata", {})
    if obj.get("kind") == "Namespace":
        metadata["name"] = namespace
    if obj.get("kind") not in CLUSTER_SCOPED:
        metadata["namespace"] = namespace


# -- --list-variables ------------------------------------------------------------------------

def variables_report(text: str, options: Options, environ: Mapping[str, str] | None = None) -> str:
    """clusterctl's printVariablesOutput: required names, then optional ones with defaults aligned."""
    environ = os.environ if environ is None else environ
    try:
        found = list_variables(text)
    except TemplateError as error:
        raise GenerateError(f"failed to process the template: {error}") from None
    values = {name: _shown_default(name, default, options, environ) for name, default in found.items()}
    required = sorted(name for name, value in values.items() if value is None)
    optional = sorted(name for name, value in values.items() if value is not None)
    lines = []
    if required:
        lines += ["Required Variables:", *(f"  - {name}" for name in required)]
    if optional:
        lines += ["", "Optional Variables:"]
        width = max(len(f"  - {name}") for name in optional) + 2  # tabwriter padding 2
        lines += [f"{f'  - {name}':<{width}}(defaults to {values[name]})" for name in optional]
    return "\n".join(lines) + "\n\n"


def _shown_default(name: str, default: str | None, options: Options, environ) -> str | None:
    if default and not default.startswith('"'):
        default = f'"{default}"'
    if name == "CLUSTER_NAME":
        return options.cluster_name
    if name == "NAMESPACE":
        return options.target_namespace or "current Namespace in the KubeConfig file"
    if name == "CONTROL_PLANE_MACHINE_COUNT":
        return _shown_count(options.control_plane_machine_count, environ.get(name), "1")
    if name == "WORKER_MACHINE_COUNT":
        return _shown_count(options.worker_machine_count, environ.get(name), "0")
    if name == "KUBERNETES_VERSION":
        return options.kubernetes_version or environ.get(name, default)
    return default


def _shown_count(flag: int | None, env: str | None, default: str) -> str:
    if flag is not None:
        return str(flag)
    return env if env is not None else default
