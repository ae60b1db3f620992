"""One real management cluster per test session: etcd, kube-apiserver (with an
audit log), every CRD, and the Cluster API manager; plus the real kubectl."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devtools import processes
from devtools.localplane import ManagementPlane
from devtools.toolchain import binary

# Fixtures for the parts of Drover that run as processes beside the management plane.
pytest_plugins = [
    "e2e.fixtures.stack",
    "e2e.fixtures.local",
    "e2e.fixtures.controller",
    "e2e.fixtures.shared",
    "e2e.fixtures.faults",
]


class Kubectl:
    """The real kubectl, pointed at one cluster."""

    def __init__(self, kubeconfig: Path):
        self.kubeconfig = kubeconfig
        self.path = binary("kubectl")

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.path, f"--kubeconfig={self.kubeconfig}", *args], input=input,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def __call__(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout

    def apply(self, manifest: str | dict | list, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        if not isinstance(manifest, str):
            docs = manifest if isinstance(manifest, list) else [manifest]
            manifest = yaml.safe_dump_all(docs)
        return self.run("apply", "-f", "-", *extra, input=manifest, check=check)

    def get_json(self, *args: str) -> dict:
        return json.loads(self("get", *args, "-o", "json"))

    def for_cluster(self, cluster: str, namespace: str, directory: Path) -> Kubectl:
        """kubectl for a workload cluster, from the `<cluster>-kubeconfig` Secret CAPI keeps here."""
        secret = self.get_json("secret", f"{cluster}-kubeconfig", "-n", namespace)
        path = directory / f"{cluster}.kubeconfig"
        path.write_bytes(base64.b64decode(secret["data"]["value"]))
        return Kubectl(path)


def drover(*args: str, expect: int = 0, timeout: float = 180) -> subprocess.CompletedProcess:
    """The drover CLI as a user runs it; fails, showing its stderr, unless it exits with `expect`."""
    proc = subprocess.run([sys.executable, "-m", "mgmt.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == expect, f"drover {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def mgmt(tmp_path_factory):
    plane = ManagementPlane(tmp_path_factory.mktemp("mgmt"))
    try:
        plane.up(audit=True)
        from e2e.fixtures.shared import install  # (a plugin: imported once pytest registered it)
        install(plane.kubeconfig)  # CAPDO's and CAPV's CRDs from ../shared, when there
    except BaseException:
        plane.down()  # what did start is stopped, not leaked
        raise
    pids = [pid for pid in plane.describe()["pids"].values() if pid]
    yield plane
    plane.down()
    survivors = [pid for pid in pids if processes.alive(pid)]
    assert not survivors, f"processes left running after the session: {survivors}"


@pytest.fixture(scope="session")
def kubectl(mgmt) -> Kubectl:
    return Kubectl(mgmt.kubeconfig)


@pytest.fixture
def namespace(kubectl, request):
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = f"t-{request.node.name.lower().replace('_', '-')[:40].strip('-')}-{os.getpid() % 1000}"
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:63].strip("-")
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)
