"""Drover's own Helm chart (manifests/chart/drover) with the real helm and kubectl: it lints,
installs exactly what `drover init` installs, is accepted by the management plane, and installs,
upgrades and uninstalls as the README says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.toolchain import binary
from e2e.conftest import drover
from mgmt.controller.main import controller

CHART = Path(__file__).resolve().parent.parent / "manifests" / "chart" / "drover"


@pytest.fixture
def helm(tmp_path):
    env = {"HOME": str(tmp_path), "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_DATA_HOME": str(tmp_path / "data")}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([binary("helm"), *args], env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc
    return run


def remove_cluster_rbac(kubectl) -> None:
    """Drover's ClusterRoles and bindings, which other tests' installs may have left: helm
    refuses to install over objects it does not own."""
    kubectl("delete", "clusterrole,clusterrolebinding", "-l", "app.kubernetes.io/part-of=drover", "--ignore-not-found")


def objects(text: str) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


def test_chart_lints_and_packs(helm, tmp_path):
    linted = helm("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in linted.stdout
    # Packing follows the links to crds/ and rbac.yaml: the archive renders what the directory does.
    helm("package", str(CHART), "--destination", str(tmp_path))
    packed = tmp_path / "drover-0.1.0.tgz"
    render = ("template", "drover", "--namespace", "ops", "--include-crds")
    assert helm(*render, str(packed)).stdout == helm(*render, str(CHART)).stdout


def test_chart_and_init_install_the_same_objects(helm):
    chart = objects(helm("template", "drover", str(CHART), "--namespace", "ops", "--include-crds",
                         "--set", "image.repository=registry.example.com/drover,image.tag=v9").stdout)
    init = objects(drover("init", "--dry-run", "--namespace", "ops", "--image",
                          "registry.example.com/drover:v9").stdout)
    # helm leaves the release namespace to `--create-namespace`; everything else is the same.
    del init[("Namespace", "ops")]
    assert sorted(chart) == sorted(init)
    assert [key for key in init if chart[key] != init[key]] == []
    assert ("Deployment", "drover-controller") in chart and ("Service", "drover-controller-metrics") in chart


def test_values_reach_the_controller_and_the_server_accepts_them(helm, kubectl, namespace):
    rendered = helm("template", "drover", str(CHART), "--namespace", namespace, "--include-crds",
                    "--set", "replicas=2,logLevel=debug,metrics.port=9090,metrics.host=127.0.0.1",
                    "--set", "watchNamespaces={team-a,team-b}",
                    "--set", "helm.repositories={https://charts.example.com,oci://registry.example.com/charts}",
                    "--set", "resources.limits.memory=2Gi").stdout
    deployment = objects(rendered)[("Deployment", "drover-controller")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 2 and container["resources"]["limits"]["memory"] == "2Gi"
    assert container["args"] == ["--metrics-port=9090", "--metrics-host=127.0.0.1", "--namespace=team-a",
                                 "--namespace=team-b", "--leader-elect",
                                 "--helm-repository=https://charts.example.com",
                                 "--helm-repository=oci://registry.example.com/charts", "--verbose"]
    # Every flag the chart renders is one `drover controller` takes, with these values.
    params = controller.make_context("controller", list(container["args"])).params
    assert params["metrics_port"] == 9090 and params["leader_elect"] and params["verbose"]
    assert params["metrics_host"] == "127.0.0.1" and params["namespaces"] == ("team-a", "team-b")
    assert params["helm_repositories"] == ("https://charts.example.com", "oci://registry.example.com/charts")
    applied = kubectl.run("apply", "--dry-run=server", "-f", "-", input=rendered)
    lines = applied.stdout.splitlines()
    assert len(lines) == len(objects(rendered)) and all(line.endswith("(server dry run)") for line in lines)


@pytest.mark.parametrize("values,message", [
    ("replicas=2,leaderElection.enabled=false", "replicas above 1 need leaderElection.enabled"),
    ("logLevel=trace", 'logLevel must be info or debug, not "trace"'),
])
def test_bad_values_are_refused(helm, values, message):
    failed = helm("template", "drover", str(CHART), "--set", values, check=False)
    assert failed.returncode == 1 and message in failed.stderr


def test_install_upgrade_uninstall(helm, kubectl, mgmt, namespace):
    kubeconfig = f"--kubeconfig={mgmt.kubeconfig}"
    remove_cluster_rbac(kubectl)
    try:
        helm("install", "drover", str(CHART), "--namespace", namespace, kubeconfig)
        deployment = kubectl.get_json("deployment", "drover-controller", "-n", namespace)
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/drover/drover:v0.1.0"
        assert kubectl.get_json("crd", "fleets.fleet.drover.dev")["metadata"]["name"] == "fleets.fleet.drover.dev"
        helm("upgrade", "drover", str(CHART), "--namespace", namespace, "--reuse-values",
             "--set", "image.tag=v0.2.0", kubeconfig)
        deployment = kubectl.get_json("deployment", "drover-controller", "-n", namespace)
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/drover/drover:v0.2.0"
        helm("uninstall", "drover", "--namespace", namespace, kubeconfig)
        assert kubectl.run("get", "deployment", "drover-controller", "-n", namespace, check=False).returncode != 0
        assert kubectl.run("get", "clusterrole", "drover-controller", check=False).returncode != 0
        # helm never deletes a chart's CRDs (nor the Fleets in them).
        assert kubectl.run("get", "crd", "fleets.fleet.drover.dev", check=False).returncode == 0
    finally:
        helm("uninstall", "drover", "--namespace", namespace, kubeconfig, check=False)
        remove_cluster_rbac(kubectl)
