"""The scale bench's operator stack: ten components, the same objects for Drover (a Fleet's
`stack`), for ClusterResourceSet (one ConfigMap per component) and for a bare apply loop.

Made at run time from outside sources: prometheus-operator's `alertmanagers` CRD (333 KB as JSON),
its RBAC and Deployment from its Go module, and a chart made by the real `helm create`, packaged
to a .tgz (Drover renders it itself; ClusterResourceSet and the bare loop get `helm template`'s
output, as their users would)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from e2e.fixtures.bundles import prometheus_operator
from e2e.fixtures.stack import HelmCli
from e2e.simulator.resources import BUILTIN
from mgmt import kubeyaml
from mgmt.stack.sources import STACK_SOURCE_LABEL

CRD_FILE = "monitoring.coreos.com_alertmanagers.yaml"
MIN_CRD_BYTES = 256 * 1024
CLUSTER_SCOPED = {r.kind for r in BUILTIN if not r.namespaced}
CHART = "web"


@dataclass
class Component:
    name: str
    namespace: str | None
    objects: list[dict]          # with namespaces filled in, in apply order
    source_text: str | None = None  # the file as shipped, when it came as one (the CRD)


@dataclass
class BenchStack:
    components: list[Component]
    fleet_components: list[dict]   # Fleet spec.stack.components
    crd_configmap: dict            # the CRD's ConfigMap on the management cluster (Drover's manifestsFrom)
    chart_dir: Path

    def objects(self) -> list[dict]:
        return [obj for c in self.components for obj in c.objects]

    def crd_bytes(self) -> int:
        crd = next(o for o in self.objects() if o["kind"] == "CustomResourceDefinition")
        return len(json.dumps(crd, separators=(",", ":")))


def _namespaced(objects: list[dict], namespace: str | None) -> list[dict]:
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED and namespace:
            obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return objects


def _config_map(name: str, namespace: str, entries: int) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {f"setting-{i:02d}": f"value {i} " * 40 for i in range(entries)}}


def _deployment(name: str, namespace: str, image: str, service_account: str = "default") -> dict:
    labels = {"app.kubernetes.io/name": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace,
                                                                       "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"serviceAccountName": service_account,
                                           "containers": [{"name": name, "image": image,
                                                           "ports": [{"containerPort": 8080}],
                                                           "resources": {"requests": {"cpu": "10m",
                                                                                      "memory": "32Mi"}}}]}}}}


def _service(name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def _app_rbac(namespace: str) -> list[dict]:
    meta = {"name": "api", "namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "api"},
         "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": namespace}]},
    ]


def build(root: Path, namespace: str) -> BenchStack:
    """The stack; `namespace` is the Fleet's (where the CRD's ConfigMap goes)."""
    bundle = prometheus_operator()
    crd_path = next(f for f in bundle.crd_files if f.name == CRD_FILE)
    crd_text = crd_path.read_text()
    operator = [doc for f in bundle.operator_files for doc in kubeyaml.load_all(f.read_bytes())
                if doc and doc["kind"] != "ServiceMonitor"]  # a kind of the CRDs not installed here
    rbac = [d for d in operator if d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
    workload = [d for d in operator if d not in rbac]

    chart_dir = root / "charts"
    chart_dir.mkdir(parents=True)
    helm = HelmCli(root / "helm-home")
    (root / "helm-home").mkdir()
    helm("create", str(chart_dir / CHART))
    helm("package", str(chart_dir / CHART), "--destination", str(chart_dir))
    packed = next(chart_dir.glob(f"{CHART}-*.tgz"))
    values = {"fullnameOverride": CHART}
    rendered = helm("template", CHART, str(packed), "--namespace", CHART, "--skip-tests",
                    "--set", f"fullnameOverride={CHART}")

    components = [
        Component("namespaces", None, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                                       for n in ("monitoring", "apps", CHART)]),
        Component("crds", None, kubeyaml.load_all(crd_text.encode()), crd_text),
        Component("operator-rbac", "default", _namespaced(rbac, "default")),
        Component("operator", "default", _namespaced(workload, "default")),
        Component("app-rbac", "apps", _app_rbac("apps")),
        Component("config", "apps", [_config_map(f"config-{i}", "apps", 8) for i in range(3)]),
        Component("settings", CHART, [_config_map(f"settings-{i}", CHART, 4) for i in range(2)]),
        Component("api", "apps", [_deployment("api", "apps", "registry.k8s.io/pause:3.10", "api"),
                                  _service("api", "apps")]),
        Component("worker", "apps", [_deployment("worker", "apps", "registry.k8s.io/pause:3.10")]),
        Component(CHART, CHART, _namespaced([d for d in kubeyaml.load_all(rendered.encode()) if d], CHART)),
    ]
    crd_configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "bench-crd", "namespace": namespace,
                                  "labels": {STACK_SOURCE_LABEL: "true"}},
                     "data": {"crd.yaml": crd_text}}
    stack = BenchStack(components, [], crd_configmap, chart_dir)
    if stack.crd_bytes() < MIN_CRD_BYTES:
        raise RuntimeError(f"{CRD_FILE} is {stack.crd_bytes()} bytes as JSON, below {MIN_CRD_BYTES}")
    depends = {"operator": ["operator-rbac", "crds"], "api": ["app-rbac", "config"]}
    for component in components:
        entry = {"name": component.name}
        if component.namespace:
            entry["namespace"] = component.namespace
        if component.name == "crds":
            entry["manifestsFrom"] = [{"kind": "ConfigMap", "name": "bench-crd"}]
        elif component.name == CHART:
            entry["helm"] = {"path": str(packed), "values": values}
        else:
            entry["manifests"] = kubeyaml.dump_all(component.objects)
        if component.name in depends:
            entry["dependsOn"] = depends[component.name]
        stack.fleet_components.append(entry)
    return stack


def crs_configmaps(stack: BenchStack, namespace: str) -> list[dict]:
    """One ConfigMap per component, as ClusterResourceSet reads them (the CRD as shipped)."""
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"bench-crs-{c.name}",
                                                                   "namespace": namespace},
             "data": {"resources.yaml": c.source_text or kubeyaml.dump_all(c.objects)}}
            for c in stack.components]
