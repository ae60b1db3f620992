"""The Fleet and FleetMember API (fleet.drover.dev/v1alpha1).

These pydantic models are the single source of the API: the controller parses
objects with them and `mgmt.api.crdgen` turns them into the CRDs in `crds/`
(OpenAPI schema, CEL rules, printer columns). Field names are camelCase on the
wire; rules that the schema alone cannot say live in `x-kubernetes-validations`
next to the field they concern, so a refusal names that field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from providers import NAMES as PROVIDERS
from providers import accepted_flavors
from providers.base import RESERVED_VARIABLES

GROUP = "fleet.drover.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

FLEET_LABEL = "fleet.drover.dev/fleet"
#: The Fleet's namespace, on objects that may live elsewhere (a CAPI provider's credentials).
FLEET_NAMESPACE_LABEL = "fleet.drover.dev/namespace"
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
CLUSTER_SET_LABEL = "fleet.drover.dev/cluster-set"  # on clusters a ClusterSet made
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
K8S_VERSION = r"^v[0-9]+\.[0-9]+\.[0-9]+$"
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
#: A template variable's value: text that stays one scalar wherever a template puts it (quoted or
#: not): ASCII letters, digits and `_./+=@~()*-`, single spaces and colons between them (a colon
#: before a space or at the end would start a mapping); no quotes, backslashes, line breaks, `#`,
#: `,[]{}`, `&!|>%` or a leading `-`.
_VALUE_CHAR = "[A-Za-z0-9_./+=@~()*-]"
VARIABLE_VALUE = rf"^([A-Za-z0-9_./+=()*]{_VALUE_CHAR}*(:+{_VALUE_CHAR}+| {_VALUE_CHAR}+)*)?$"
REGION = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MACHINE_TYPE = r"^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$"


def rule(expression: str, message: str, field_path: str | None = None, reason: str | None = None) -> dict:
    out = {"rule": expression, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    if reason:
        out["reason"] = reason
    return out


def cel(*rules: dict) -> dict:
    return {"x-kubernetes-validations": list(rules)}


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict:
        return self.model_dump(by_alias=True, exclude_none=True)


# ---------------------------------------------------------------------------
# Fleet spec

class WorkerPool(Model):
    name: str = Field(pattern=DNS_LABEL, max_length=20, description="Pool name, unique in the cluster.")
    replicas: int = Field(1, ge=0, le=1000)
    machine_type: str | None = Field(None, max_length=100, pattern=MACHINE_TYPE,
                                     description="Instance type / size for this pool.")


class ControlPlane(Model):
    model_config = ConfigDict(json_schema_extra=cel(rule(
        "self.replicas % 2 == 1", "control plane replicas must be odd (1, 3, 5 or 7) to keep etcd quorum",
        ".replicas")))
    replicas: int = Field(1, ge=1, le=7)
    machine_type: str | None = Field(None, max_length=100, pattern=MACHINE_TYPE)


def _reserved_rule() -> dict:
    names = ", ".join(f"'{name}'" for name in RESERVED_VARIABLES)
    # `in` on a map is a key lookup: constant cost per Fleet cluster.
    return rule(f"![{names}].exists(k, k in self)",
                f"variables may not set {', '.join(RESERVED_VARIABLES)}: Drover derives them")


class LocalObjectReference(Model):
    name: str = Field(pattern=DNS_LABEL, max_length=253)


class ClusterTemplate(Model):
    """A cluster without its name: what a ClusterSet makes each of its clusters from."""

    model_config = ConfigDict(json_schema_extra=lambda schema, _: schema.update(_template_rules()))
    provider: Literal["aws", "gcp", "azure", "digitalocean", "packet", "vsphere", "local"]
    flavor: str | None = Field(None, max_length=40, description="Template flavor; the provider's default if unset.")
    region: str | None = Field(None, max_length=64, pattern=REGION)
    kubernetes_version: str = Field(pattern=K8S_VERSION, max_length=20, description="e.g. v1.35.8")
    control_plane: ControlPlane = Field(default_factory=ControlPlane)
    workers: list[WorkerPool] = Field(default_factory=list, max_length=20, json_schema_extra={
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]})
    labels: dict[str, str] = Field(default_factory=dict)
    variables: dict[str, Annotated[str, Field(max_length=1024, pattern=VARIABLE_VALUE)]] = Field(
        default_factory=dict, json_schema_extra={"maxProperties": 100, **cel(_reserved_rule())},
        description="clusterctl template variables; they override what Drover derives, except "
                    f"{', '.join(RESERVED_VARIABLES)}, which decide where the cluster goes and whose "
                    "identity it uses. Values are plain text (see the pattern).")
    credentials_ref: LocalObjectReference | None = Field(
        None, description="Secret in the Fleet's namespace holding this cloud's credentials.")
    deletion_policy: Literal["Delete", "Orphan"] = "Delete"
    skip_preflight: bool = Field(False, description=(
        "Create the cluster without asking the cloud first (for management clusters that cannot "
        "reach the cloud's API). Credentials are still read and handed to the CAPI provider."))


class ClusterSpec(ClusterTemplate):
    model_config = ConfigDict(json_schema_extra=lambda schema, _: schema.update(_cluster_rules()))
    name: str = Field(pattern=DNS_LABEL, max_length=40,
                      description="Name of the Cluster API Cluster (unique in the Fleet's namespace).")


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class SourceRef(Model):
    kind: Literal["ConfigMap", "Secret"]
    name: str = Field(pattern=DNS_LABEL, max_length=253)
    key: str | None = Field(None, description="Only this key (default: every key, in key order).")


KUBE_VERSION = r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.+-]+)?$"
#: `group/version`, `v1`, or either with `/Kind`, as helm's Capabilities.APIVersions.Has takes them.
API_VERSION_ENTRY = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+[a-z0-9]*(/[A-Z][A-Za-z0-9]*)?$"


class ChartRef(SourceRef):
    continued_in: list[str] = Field(default_factory=list, max_length=15, json_schema_extra={
        "items": {"type": "string", "pattern": DNS_LABEL, "maxLength": 253}}, description=(
        "More objects of the same kind holding the rest of a chart bigger than one object (1 MiB), "
        "in order: the chart is the content of `name`, then of each of these (every key, or `key`, "
        "of each object, in key order)."))


#: A chart name in a repository, or an oci:// reference; never anything helm could read as a flag.
CHART = (r"^$|^[A-Za-z0-9][-A-Za-z0-9._]*$|"
         r"^oci://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)+$")
#: An http(s) chart repository: no user:password@, no query (credentials do not belong in a Fleet).
REPOSITORY = r"^https?://[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[-A-Za-z0-9._~%+/]*)?$"
#: A version or a semver constraint (`1.2.3`, `^1.2`, `>=1.0 <2.0`).
CHART_VERSION = r"^[0-9A-Za-z^~=<>*][-0-9A-Za-z^~=<>*.,|+ ]*$"
#: An absolute path whose parts do not start with a dot (no `..`, nothing hidden).
CHART_PATH = r"^(/[A-Za-z0-9_+][-A-Za-z0-9._+]*)+/?$"


class HelmSource(Model):
    model_config = ConfigDict(json_schema_extra=cel(rule(
        "[has(self.repository), has(self.path), has(self.chartFrom), self.chart.startsWith('oci://')]"
        ".filter(x, x).size() == 1",
        "helm needs exactly one chart source: repository (with chart), an oci:// chart, path, or chartFrom")))
    chart: str = Field("", max_length=512, pattern=CHART,
                       description="Chart name in the repository, or an oci:// reference.")
    repository: str | None = Field(None, max_length=512, pattern=REPOSITORY, description=(
        "An http(s) chart repository; the controller may limit these (--helm-repository)."))
    version: str | None = Field(None, max_length=64, pattern=CHART_VERSION)
    path: str | None = Field(None, max_length=512, pattern=CHART_PATH, description=(
        "A chart directory or .tgz on the controller's disk, under a directory the administrator "
        "allows (--helm-chart-dir)."))
    chart_from: ChartRef | None = Field(None, description=(
        "A packed chart (.tgz) in a ConfigMap or Secret of the Fleet's namespace: the content of `key`, "
        "or of every key joined in key order (the parts `split -b` writes), then of `continuedIn`."))
    values: dict[str, Any] = Field(default_factory=dict, description=(
        "Chart values. Strings may use {{ cluster.name }}, {{ cluster.provider }}, "
        "{{ cluster.region }} and {{ cluster.labels.KEY }}."))
    kube_version: str | None = Field(None, pattern=KUBE_VERSION, max_length=64, description=(
        "Render for this Kubernetes version (.Capabilities.KubeVersion) instead of the version the "
        "cluster reports, e.g. v1.30.0."))
    api_versions: list[str] | None = Field(None, max_length=1000, json_schema_extra={
        "items": {"type": "string", "pattern": API_VERSION_ENTRY, "maxLength": 317}}, description=(
        "Render as if the cluster served exactly these APIs (.Capabilities.APIVersions; "
        "`group/version` or `group/version/Kind`) instead of what its discovery reports. Helm adds "
        "its built-in Kubernetes API versions either way."))


class HealthCheck(Model):
    api_version: str = Field(max_length=128)
    kind: str = Field(max_length=64)
    name: str = Field(max_length=253)
    namespace: str | None = Field(None, max_length=63)
    condition: str | None = Field(None, max_length=64, description=(
        "Condition type that must be True. Default: Available for Deployments, all replicas ready "
        "for StatefulSets and DaemonSets, Established for CRDs."))


class Component(Model):
    model_config = ConfigDict(json_schema_extra=cel(
        rule("[has(self.manifests), has(self.manifestsFrom), has(self.helm)].filter(x, x).size() == 1",
             "a component needs exactly one source: manifests, manifestsFrom or helm"),
        rule("!has(self.dependsOn) || !self.dependsOn.exists(d, d == self.name)",
             "a component cannot depend on itself", ".dependsOn")))
    name: str = Field(pattern=DNS_LABEL, max_length=53)
    namespace: str | None = Field(None, pattern=DNS_LABEL, max_length=63,
                                  description="Namespace for namespaced objects; created when missing.")
    manifests: str | None = Field(None, description="Kubernetes manifests (multi-document YAML).")
    manifests_from: list[SourceRef] | None = Field(None, max_length=20)
    helm: HelmSource | None = None
    depends_on: list[str] = Field(default_factory=list, max_length=20)
    health_checks: list[HealthCheck] = Field(default_factory=list, max_length=20)


class Stack(Model):
    model_config = ConfigDict(json_schema_extra=cel(rule(
        "!has(self.components) || self.components.all(c, !has(c.dependsOn) || "
        "c.dependsOn.all(d, self.components.exists(o, o.name == d)))",
        "dependsOn names a component that is not in the stack", ".components")))
    components: list[Component] = Field(default_factory=list, max_length=50, json_schema_extra={
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]})


class Rollout(Model):
    max_unavailable: int | str = Field(1, description="Clusters updated at once: a count or a percentage.",
                                       json_schema_extra={"x-kubernetes-int-or-string": True, "maxLength": 4,
                                                          **cel(rule("type(self) == int ? self >= 1 : "
                                                                     "self.matches('^[1-9][0-9]?%$|^100%$')",
                                                                     "maxUnavailable must be at least 1 or a "
                                                                     "percentage from 1% to 100%"))})
    paused: bool = False


class Health(Model):
    probe_interval: str = Field("30s", pattern=DURATION, description="How often each cluster is probed, e.g. 30s.")

    def seconds(self) -> float:
        return parse_duration(self.probe_interval)


def parse_duration(text: str) -> float:
    """A Go-style duration (`1m30s`, `500ms`) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text))


def _flavor_rules() -> list[dict]:
    rules = []
    for provider in PROVIDERS:
        flavors = accepted_flavors(provider)
        allowed = ", ".join(f"'{f}'" for f in flavors)
        rules.append(rule(f"self.provider != '{provider}' || !has(self.flavor) || self.flavor in [{allowed}]",
                          f"flavor for {provider} must be one of: {', '.join(flavors)}", ".flavor"))
    return rules


CLOUDS = ", ".join(f"'{p}'" for p in PROVIDERS if p != "local")


def _template_rules() -> dict:
    """What a ClusterSet's template must hold (its region may come from the set's regions)."""
    return cel(
        *_flavor_rules(),
        rule(f"!(self.provider in [{CLOUDS}]) || has(self.credentialsRef)",
             "credentialsRef is required for cloud providers", ".credentialsRef"),
    )


def _cluster_rules() -> dict:
    rules = _template_rules()["x-kubernetes-validations"]
    return cel(*rules, rule(f"!(self.provider in [{CLOUDS}]) || has(self.region)",
                            "region is required for cloud providers", ".region"))


class ClusterOverride(Model):
    """What one generated cluster changes of its set's template: labels and variables are merged
    over the template's, the other fields replace it."""

    name: str = Field(pattern=DNS_LABEL, max_length=40, description="The generated cluster's name.")
    region: str | None = Field(None, max_length=64, pattern=REGION)
    kubernetes_version: str | None = Field(None, pattern=K8S_VERSION, max_length=20)
    control_plane: ControlPlane | None = None
    workers: list[WorkerPool] | None = Field(None, max_length=20, json_schema_extra={
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]})
    labels: dict[str, str] = Field(default_factory=dict)
    variables: dict[str, Annotated[str, Field(max_length=1024, pattern=VARIABLE_VALUE)]] = Field(
        default_factory=dict, json_schema_extra={"maxProperties": 100, **cel(_reserved_rule())})
    deletion_policy: Literal["Delete", "Orphan"] | None = None


def _set_rules() -> dict:
    longest = ("size(self.name)"
               " + (has(self.regions) ? self.regions.map(r, size(r) + 1).max() : 0)"
               " + (has(self.count) ? size(string(self.count)) + 1 : 0)"
               " + (has(self.names) ? self.names.map(n, size(n) + 1).max() : 0)")
    return cel(
        rule("!(has(self.count) && has(self.names))", "a ClusterSet takes count or names, not both"),
        rule("has(self.count) || has(self.names) || has(self.regions)",
             "a ClusterSet needs count, names or regions"),
        rule(f"{longest} <= 40", "the generated cluster names would be longer than 40 characters "
             "(name, region, number or entry, joined by dashes)"),
        rule(f"!(self.template.provider in [{CLOUDS}]) || has(self.template.region) || has(self.regions)",
             "region (in the template, or regions) is required for cloud providers", ".regions"),
    )


class ClusterSet(Model):
    """Many clusters from one template, named `<name>[-<region>][-<number or entry>]`: a count
    (1..count), a list of names, a list of regions, or regions crossed with either."""

    model_config = ConfigDict(json_schema_extra=lambda schema, _: schema.update(_set_rules()))
    name: str = Field(pattern=DNS_LABEL, max_length=30, description="The set's name: its clusters' name prefix.")
    count: int | None = Field(None, ge=1, le=10000, description="Clusters <name>-1 ... <name>-<count>.")
    names: list[Annotated[str, Field(pattern=DNS_LABEL, max_length=38)]] | None = Field(
        None, min_length=1, max_length=10000, json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Clusters <name>-<entry>.")
    regions: list[Annotated[str, Field(pattern=REGION, max_length=38)]] | None = Field(
        None, min_length=1, max_length=100, json_schema_extra={"x-kubernetes-list-type": "set"},
        description="The template in each of these regions: <name>-<region>[-<number or entry>].")
    template: ClusterTemplate
    # Bounded by the apiserver's CEL cost budget (each override's variables are checked).
    overrides: list[ClusterOverride] = Field(default_factory=list, max_length=1000, json_schema_extra={
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]})

    @model_validator(mode="after")
    def _overrides_name_clusters(self) -> ClusterSet:
        names = {name for name, _ in self.cluster_names()}
        unknown = [o.name for o in self.overrides if o.name not in names]
        if unknown:
            raise ValueError(f"clusterSets[{self.name}].overrides name no cluster of the set: {', '.join(unknown[:5])}")
        return self

    def cluster_names(self) -> list[tuple[str, str | None]]:
        """(name, region) of every cluster of the set, in order."""
        return set_cluster_names(self.name, self.count, self.names, self.regions)

    def expand(self) -> list[ClusterSpec]:
        base = self.template.model_dump(by_alias=True, exclude_none=True)
        base["labels"] = {**base.get("labels", {}), CLUSTER_SET_LABEL: self.name}
        overrides = {o.name: o.model_dump(by_alias=True, exclude_none=True) for o in self.overrides}
        clusters = []
        for name, region in self.cluster_names():
            fields = {**base, "name": name, **({"region": region} if region else {})}
            change = overrides.get(name)
            if change:
                fields |= {k: v for k, v in change.items() if k not in ("labels", "variables")}
                fields["labels"] = {**fields["labels"], **change.get("labels", {})}
                fields["variables"] = {**fields.get("variables", {}), **change.get("variables", {})}
            clusters.append(ClusterSpec.model_validate(fields))
        return clusters


class FleetSpec(Model):
    model_config = ConfigDict(json_schema_extra=cel(
        rule("!has(self.clusterSets) || !has(self.clusters) || self.clusterSets.all(s, "
             "self.clusters.all(c, !c.name.startsWith(s.name + '-') && c.name != s.name))",
             "an inline cluster's name may not be a ClusterSet's name or start with it and a dash "
             "(their names could collide)", ".clusters"),
        rule("!has(self.clusterSets) || self.clusterSets.all(a, self.clusterSets.all(b, "
             "a.name == b.name || !b.name.startsWith(a.name + '-')))",
             "a ClusterSet's name may not start with another's name and a dash (their names could collide)",
             ".clusterSets"),
    ))
    clusters: list[ClusterSpec] = Field(default_factory=list, max_length=5000, json_schema_extra={
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]})
    cluster_sets: list[ClusterSet] = Field(default_factory=list, max_length=20, json_schema_extra={
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}, description=(
        "Many clusters declared in a few lines: each set makes clusters from one template. "
        "Set names may not be prefixes of each other."))
    selector: LabelSelector | None = Field(None, description=(
        "Adopt existing Cluster API Clusters in this namespace whose labels match."))
    stack: Stack = Field(default_factory=Stack)
    rollout: Rollout = Field(default_factory=Rollout)
    health: Health = Field(default_factory=Health)

    def declared(self) -> list[ClusterSpec]:
        """Every cluster the Fleet declares: `clusters`, then each set's."""
        return [*self.clusters, *(c for s in self.cluster_sets for c in s.expand())]


def set_cluster_names(name: str, count: int | None, names: list[str] | None,
                      regions: list[str] | None) -> list[tuple[str, str | None]]:
    """(name, region) of every cluster of a ClusterSet, in order."""
    entries: list[str | None] = [str(n) for n in range(1, count + 1)] if count else list(names or [None])
    return [("-".join(p for p in (name, region, entry) if p), region)
            for region in (regions or [None]) for entry in entries]


def declared_names(spec: dict) -> set[str]:
    """The names of the clusters a Fleet's spec (as stored) declares, without validating it."""
    names = {c.get("name") for c in spec.get("clusters") or []}
    for cluster_set in spec.get("clusterSets") or []:
        names.update(n for n, _ in set_cluster_names(cluster_set.get("name", ""), cluster_set.get("count"),
                                                     cluster_set.get("names"), cluster_set.get("regions")))
    return names - {None}


# ---------------------------------------------------------------------------
# Status shapes

class Condition(Model):
    """metav1.Condition."""
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class Counts(Model):
    desired: int = 0
    provisioning: int = 0
    ready: int = 0
    stack_ready: int = 0
    degraded: int = 0
    unreachable: int = 0
    deleting: int = 0


class CountsChange(Counts):
    time: str = Field(description="When the Fleet's counts became these (RFC 3339).")


class UnwellMember(Model):
    cluster: str
    reason: str
    message: str = ""
    since: str | None = None


class FleetStatus(Model):
    observed_generation: int | None = None
    counts: Counts = Field(default_factory=Counts)
    display: str = ""
    conditions: list[Condition] = Field(default_factory=list)
    unwell: list[UnwellMember] = Field(default_factory=list, max_length=20,
                                       description="The first clusters that are not well (capped).")
    unwell_total: int = 0
    history: list[CountsChange] = Field(default_factory=list, max_length=48, description=(
        "The Fleet's counts each time they changed, oldest first (the last 48 changes)."))


class MemberSpec(Model):
    fleet: str
    cluster: str
    provider: str | None = None
    flavor: str | None = None
    region: str | None = None
    adopted: bool = False
    deletion_policy: Literal["Delete", "Orphan"] = "Delete"


class CapiStatus(Model):
    phase: str | None = None
    control_plane_ready: bool | None = Field(None, description="status.initialization.controlPlaneInitialized")
    infrastructure_ready: bool | None = Field(None, description="status.initialization.infrastructureProvisioned")
    version: str | None = None
    conditions: list[dict[str, str]] = Field(default_factory=list, description="type, status, reason, message")
    message: str | None = Field(None, description="Why the Cluster could not be read, if it could not.")


class ApiStatus(Model):
    reachable: bool = False
    latency_ms: int | None = None
    message: str | None = None


class NodeCounts(Model):
    ready: int = 0
    total: int = 0
    message: str | None = Field(None, description="Why the Nodes could not be listed, if they could not.")


class ComponentStatus(Model):
    name: str
    revision: str | None = Field(None, description="Revision running in the cluster (hash of the rendered source).")
    applied: bool = Field(False, description="The revision the Fleet declares is the one applied.")
    ready: bool = False
    drifted: bool = Field(False, description="This sync corrected a change made in the cluster.")
    message: str | None = None
    applied_at: str | None = Field(None, description="When this revision was applied (UTC, microseconds).")
    ready_at: str | None = Field(None, description="When this revision first became ready.")
    phase: Literal["Ready", "Progressing", "Waiting", "Paused", "Failed"] | None = None


class CloudStatus(Model):
    state: str
    message: str = ""
    details: dict[str, str] = Field(default_factory=dict)


class MemberStatus(Model):
    phase: str = "Pending"
    conditions: list[Condition] = Field(default_factory=list)
    capi: CapiStatus = Field(default_factory=CapiStatus)
    api: ApiStatus = Field(default_factory=ApiStatus)
    nodes: NodeCounts = Field(default_factory=NodeCounts)
    kubernetes_version: str | None = None
    stack: str | None = Field(None, description="ready/total components, for printing")
    components: list[ComponentStatus] = Field(default_factory=list)
    cloud: CloudStatus | None = None
    last_probe_time: str | None = None
    applied_spec: str | None = Field(None, description="digest of the cluster spec last applied without error (a "
                                     "restarted controller checks such a member for drift within a minute, not at once)")


# Printer columns ------------------------------------------------------------

def column(name: str, path: str, type_: str = "string", priority: int = 0, description: str = "") -> dict:
    out = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        out["priority"] = priority
    if description:
        out["description"] = description
    return out


FLEET_COLUMNS = [
    column("Clusters", ".status.counts.desired", "integer"),
    column("Ready", ".status.display"),
    column("Status", ".status.conditions[?(@.type==\"Ready\")].reason"),
    column("Stack", ".status.counts.stackReady", "integer", 1, "clusters whose whole stack is ready"),
    column("Degraded", ".status.counts.degraded", "integer", 1),
    column("Age", ".metadata.creationTimestamp", "date"),
]

MEMBER_COLUMNS = [
    column("Cluster", ".spec.cluster"),
    column("Provider", ".spec.provider"),
    column("Phase", ".status.phase"),
    column("Nodes", ".status.nodes.ready", "integer", description="ready nodes"),
    column("Version", ".status.kubernetesVersion"),
    column("Stack", ".status.stack"),
    column("Latency", ".status.api.latencyMs", "integer", 1, "API /readyz latency in ms"),
    column("Age", ".metadata.creationTimestamp", "date"),
]
