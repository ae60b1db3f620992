"""The kinds a virtual cluster serves: a fixed set of built-ins, plus what CRDs add at run time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    status: bool = False  # has a status subresource
    short_names: tuple[str, ...] = ()
    singular: str = field(default="")
    categories: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """How errors name the resource: `configmaps`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self) -> list[dict]:
        main = {"name": self.plural, "singularName": self.singular or self.kind.lower(),
                "namespaced": self.namespaced, "kind": self.kind, "verbs": list(VERBS)}
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        out = [main]
        if self.status:
            out.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return out


def _r(gv: str, plural: str, kind: str, namespaced: bool = True, status: bool = False, *short: str) -> Resource:
    group, _, version = gv.rpartition("/")
    return Resource(group, version, plural, kind, namespaced, status, short)


BUILTIN = (
    _r("v1", "namespaces", "Namespace", False, True, "ns"),
    _r("v1", "nodes", "Node", False, True, "no"),
    _r("v1", "configmaps", "ConfigMap", True, False, "cm"),
    _r("v1", "secrets", "Secret"),
    _r("v1", "services", "Service", True, True, "svc"),
    _r("v1", "serviceaccounts", "ServiceAccount", True, False, "sa"),
    _r("v1", "pods", "Pod", True, True, "po"),
    _r("v1", "events", "Event", True, False, "ev"),
    _r("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, True, "pvc"),
    _r("v1", "resourcequotas", "ResourceQuota", True, True, "quota"),
    _r("v1", "limitranges", "LimitRange", True, False, "limits"),
    _r("apps/v1", "deployments", "Deployment", True, True, "deploy"),
    _r("apps/v1", "statefulsets", "StatefulSet", True, True, "sts"),
    _r("apps/v1", "daemonsets", "DaemonSet", True, True, "ds"),
    _r("apps/v1", "replicasets", "ReplicaSet", True, True, "rs"),
    _r("batch/v1", "jobs", "Job", True, True),
    _r("batch/v1", "cronjobs", "CronJob", True, True, "cj"),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", False, True,
       "crd", "crds"),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", True, True, "ing"),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True, False, "netpol"),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True, True, "pdb"),
    _r("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False),
    _r("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False),
    _r("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False, False, "pc"),
    _r("storage.k8s.io/v1", "storageclasses", "StorageClass", False, False, "sc"),
    _r("coordination.k8s.io/v1", "leases", "Lease"),
)

# `kubectl get all`
IN_ALL = {"Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
BUILTIN = tuple(replace(r, categories=("all",)) if r.kind in IN_ALL else r for r in BUILTIN)
CRD = next(r for r in BUILTIN if r.kind == "CustomResourceDefinition")


def from_crd(crd: dict) -> list[Resource]:
    """The resources a CRD serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        status = "status" in (version.get("subresources") or {})
        out.append(Resource(spec.get("group", ""), version.get("name", ""), names.get("plural", ""),
                            names.get("kind", ""), spec.get("scope") == "Namespaced", status,
                            tuple(names.get("shortNames") or ()), names.get("singular", ""),
                            tuple(names.get("categories") or ())))
    return out


def crd_problem(crd: dict) -> str | None:
    """Why the API server would refuse a CRD (the checks clients most often trip), or None."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = (crd.get("metadata") or {}).get("name", "")
    if not spec.get("group"):
        return "spec.group: Required value"
    for key in ("plural", "kind"):
        if not names.get(key):
            return f"spec.names.{key}: Required value"
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        return f'spec.scope: Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"'
    if name != f"{names['plural']}.{spec['group']}":
        return f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group'
    if not spec.get("versions"):
        return "spec.versions: Invalid value: null: must have exactly one version marked as storage version"
    return None
