"""`clusterctl generate cluster`, step for step (cmd/clusterctl/client/config.go).

The template comes from exactly one source: a built-in provider's (`--infrastructure`,
`--flavor`) or `--from`. The flags become the variables CLUSTER_NAME, NAMESPACE,
KUBERNETES_VERSION, CONTROL_PLANE_MACHINE_COUNT and WORKER_MACHINE_COUNT with clusterctl's
validation and defaults; every other variable comes from the environment or the config file.
The objects move into the target namespace as clusterctl's fixTargetNamespace moves them, and
are written as clusterctl writes them (`output`). e2e/test_clusterctl_diff.py holds all of it to
the real clusterctl.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import providers
from mgmt import kubeyaml
from mgmt.templating import MissingVariablesError, TemplateError, list_variables, render
from providers.base import ProviderError

from . import output, sources
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
# k8s.io/apimachinery's version.ParseSemantic: three components, none zero-prefixed (pre-release
# components that are numbers neither); Go's `\s` is ASCII whitespace only.
_SEMVER = re.compile(r"[\t\n\f\r ]*v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                     r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?[\t\n\f\r ]*")
_GO_INT = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64): no spaces, no underscores
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

def check_sources(options: Options) -> None:
    """clusterctl's first check, before it looks for a namespace."""
    if options.url and (options.infrastructure or options.flavor):
        raise GenerateError("invalid cluster template source: only one template can be used at time")


def parse_count_flag(flag: str, value: str | None) -> int | None:
    """A machine count flag as pflag's Int64 reads it: strconv.ParseInt(value, 0, 64)."""
    if value is None:
        return None
    number = go_parse_int(value)
    if number is None or not -(1 << 63) <= number < (1 << 63):
        reason = "invalid syntax" if number is None else "value out of range"
        raise GenerateError(f"invalid argument {go_quote(value)} for {go_quote('--' + flag)} flag: "
                            f"strconv.ParseInt: parsing {go_quote(value)}: {reason}")
    return number


_GO_INT_LITERAL = re.compile(r"[+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO](_?[0-7])+|0(_?[0-7])*|[1-9](_?[0-9])*)")


def go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) without the range check: Go's integer literals, `_` included."""
    if not _GO_INT_LITERAL.fullmatch(text):
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-").replace("_", "").lower()
    if digits[:2] in ("0x", "0b", "0o"):
        return sign * int(digits[2:], {"x": 16, "b": 2, "o": 8}[digits[1]])
    return sign * int(digits, 8 if len(digits) > 1 and digits[0] == "0" else 10)


def read_template(options: Options) -> str:
    """The raw template text from the one source the options name."""
    check_sources(options)
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
        raise GenerateError(f"failed to get configuration for the InfrastructureProvider with name {name}. "
                            f"Drover's providers are: {', '.join(providers.NAMES)}")
    provider = providers.get(name)
    flavor = providers.resolve_flavor(name, options.flavor)
    if flavor not in provider.flavors:
        file = f"cluster-template-{options.flavor}.yaml"
        raise GenerateError(f'failed to read "{file}" from provider\'s repository "infrastructure-{name}": '
                            f"Drover's {name} flavors are: {', '.join(provider.flavors)}")
    try:
        return provider.template(flavor)
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
        if not _is_semantic_version(options.kubernetes_version):
            raise GenerateError("invalid KubernetesVersion. Please use a semantic version number")
        variables.set("KUBERNETES_VERSION", options.kubernetes_version)
    control_plane = _count(options.control_plane_machine_count, variables, "CONTROL_PLANE_MACHINE_COUNT", 1)
    if control_plane < 1:
        raise GenerateError("invalid ControlPlaneMachineCount. Please use a number greater than or equal to 1")
    variables.set("CONTROL_PLANE_MACHINE_COUNT", str(control_plane))
    workers = _count(options.worker_machine_count, variables, "WORKER_MACHINE_COUNT", 0)
    if workers < 0:
        raise GenerateError("invalid WorkerMachineCount. Please use a number greater than or equal to 0")
    variables.set("WORKER_MACHINE_COUNT", str(workers))


def _count(flag: int | None, variables: Variables, name: str, default: int) -> int:
    if flag is not None:
        return flag
    value = variables.get(name)
    if value is None:
        return default
    if not _GO_INT.fullmatch(value) or not -(1 << 63) <= int(value) < (1 << 63):
        raise GenerateError(f"invalid value for {name} set")
    return int(value)


def _is_semantic_version(text: str) -> bool:
    match = _SEMVER.fullmatch(text)
    if not match:
        return False
    numbers = (match.group(4) or "").split(".")
    return not any(n.isdigit() and n.isascii() and len(n) > 1 and n.startswith("0") for n in numbers)


def generate(text: str, variables: Variables, target_namespace: str) -> str:
    """The rendered template, as the YAML `clusterctl generate cluster` prints."""
    try:
        rendered = render(text, variables.values_for(list_variables(text)))
    except MissingVariablesError as error:
        raise GenerateError(str(error), missing_input=True) from None
    except TemplateError as error:
        raise GenerateError(str(error)) from None
    try:
        objects = kubeyaml.load_all(rendered)
    except kubeyaml.KubeYAMLError as error:
        raise GenerateError(f"failed to parse yaml: {error}") from None
    for obj in objects:
        if not isinstance(obj, dict):
            raise GenerateError("failed to parse yaml: a document is not an object")
        _fix_namespace(obj, target_namespace)
    return output.dump_all(objects)


def _fix_namespace(obj: dict, namespace: str) -> None:
    """clusterctl's fixTargetNamespace (client/repository/components.go): namespaced objects, a
    Namespace's name, namespaced RBAC subjects, webhook and conversion services, cert-manager's
    inject-ca-from annotation and a Certificate's DNS names move into the target namespace.
    Like unstructured.Unstructured, it leaves a `metadata` that is not a map alone."""
    metadata = obj.setdefault("metadata", {})
    original = metadata.get("namespace") if isinstance(metadata, dict) else None
    if isinstance(metadata, dict):
        if obj.get("kind") == "Namespace":
            metadata["name"] = namespace
        if obj.get("kind") not in CLUSTER_SCOPED:
            metadata["namespace"] = namespace
    kind, version = obj.get("kind"), str(obj.get("apiVersion", "")).rpartition("/")[2]
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        _as_typed_binding(obj)
        for subject in obj.get("subjects", []):
            if subject.get("namespace"):
                subject["namespace"] = namespace
    elif kind in _WEBHOOK_KINDS:
        _fix_webhooks(obj, kind, version, namespace)
    elif kind == "Certificate":
        _fix_certificate(obj, original if isinstance(original, str) else "", namespace)


def _fix_certificate(obj: dict, original: str, namespace: str) -> None:
    """A cert-manager Certificate's DNS names name services in the original namespace."""
    dns_names = _map(obj.get("spec")).get("dnsNames")
    if dns_names is None:
        return
    if not isinstance(dns_names, list) or not all(isinstance(n, str) for n in dns_names):
        name = _map(obj.get("metadata")).get("name", "")
        raise GenerateError(f"failed to set the TargetNamespace in the template: failed to get .spec.dnsNames "
                            f"from Certificate {namespace}/{name}: .spec.dnsNames accessor error: "
                            "a list of strings is expected")
    obj["spec"]["dnsNames"] = [n.replace(f".{original}.", f".{namespace}.", 1) for n in dns_names]


_OBJECT_META = frozenset((
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields"))


def _as_typed_binding(obj: dict) -> None:
    """clusterctl edits a binding as an rbac/v1 object (converted and back): fields the type does
    not know are dropped, and so are a subject's empty optional ones; roleRef's are all written."""
    if problem := _binding_type_problem(obj):
        raise GenerateError("failed to set the TargetNamespace in the template: unable to convert unstructured "
                            f"object to rbac.authorization.k8s.io/v1, Kind={obj['kind']}: {problem}")
    for key in [k for k in obj if k not in ("apiVersion", "kind", "metadata", "subjects", "roleRef")]:
        del obj[key]
    if isinstance(obj.get("metadata"), dict):
        for key in [k for k in obj["metadata"] if k not in _OBJECT_META]:
            del obj["metadata"][key]
    subjects = [{k: s[k] for k in ("kind", "apiGroup", "name", "namespace")
                 if k in s and (s[k] != "" or k in ("kind", "name"))} for s in _maps(obj.pop("subjects", None))]
    if subjects:
        obj["subjects"] = subjects
    role = _map(obj.get("roleRef"))
    obj["roleRef"] = {k: role.get(k, "") for k in ("apiGroup", "kind", "name")}


def _binding_type_problem(obj: dict) -> str | None:
    """What the conversion to rbac/v1 would refuse: a field of another type than the Go type's."""
    metadata, subjects, role = obj.get("metadata"), obj.get("subjects"), obj.get("roleRef")
    if metadata is not None and not isinstance(metadata, dict):
        return "metadata is not an object"
    for field in ("labels", "annotations"):
        value = _map(metadata).get(field)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            return f"metadata.{field} is not a map of strings"
    if subjects is not None and not (isinstance(subjects, list) and all(_string_fields(s) for s in subjects)):
        return "subjects is not a list of subjects"
    if role is not None and not _string_fields(role):
        return "roleRef is not a role reference"
    return None


def _string_fields(value) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k, ""), str)
                                           for k in ("kind", "apiGroup", "name", "namespace"))


_WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "CustomResourceDefinition")


def _fix_webhooks(obj: dict, kind: str, version: str, namespace: str) -> None:
    annotations = obj["metadata"].get("annotations") if isinstance(obj["metadata"], dict) else None
    if isinstance(annotations, dict) and "cert-manager.io/inject-ca-from" in annotations:
        parts = str(annotations["cert-manager.io/inject-ca-from"]).split("/")
        if len(parts) != 2:
            raise GenerateError(f"failed to set the TargetNamespace in the template: object {kind} "
                                f"{obj['metadata'].get('name', '')} does not have a correct value for "
                                "cert-manager.io/inject-ca-from")
        annotations["cert-manager.io/inject-ca-from"] = f"{namespace}/{parts[1]}"
    if version not in ("v1", "v1beta1"):
        raise GenerateError(f"failed to set the TargetNamespace in the template: failed to patch {version} {kind}")
    if kind == "CustomResourceDefinition":
        conversion = _map(_map(obj.get("spec")).get("conversion"))
        config = (_map(conversion.get("webhookClientConfig")) if version == "v1beta1"
                  else _map(_map(conversion.get("webhook")).get("clientConfig")))
        services = [config.get("service")]
    else:
        services = [_map(webhook.get("clientConfig")).get("service") for webhook in _maps(obj.get("webhooks"))]
    for service in services:
        if isinstance(service, dict):
            service["namespace"] = namespace


def _map(value) -> dict:
    return value if isinstance(value, dict) else {}


def _maps(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# -- --list-variables ------------------------------------------------------------------------

def variables_report(text: str, options: Options, environ: Mapping[str, str] | None = None) -> str:
    """clusterctl's printVariablesOutput: required names, then optional ones with defaults aligned."""
    environ = os.environ if environ is None else environ
    try:
        found = list_variables(text)
    except TemplateError as error:
        raise GenerateError(str(error)) from None
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
    return "".join(f"{line}\n" for line in lines) + "\n"


def _shown_default(name: str, default: str | None, options: Options, environ) -> str | None:
    if default and not default.startswith('"'):
        default = go_quote(default)
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


def go_quote(text: str) -> str:
    """Go's %q (strconv.Quote): printable characters as they are, the rest escaped."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char == " " or unicodedata.category(char)[0] in "LMNPS":
            out.append(char)
        elif ord(char) < 0x80 or 0xD800 <= ord(char) < 0xE000:
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else "\\ufffd")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _shown_count(flag: int | None, env: str | None, default: str) -> str:
    if flag is not None:
        return str(flag)
    return env if env is not None else default
