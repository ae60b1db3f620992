"""The processes of local clusters, supervised from one state directory.

    <state>/etcd/                       the etcd every local cluster stores in (own key prefix)
    <state>/clusters/<ns>/<name>/       one cluster: kube-apiserver (pki, port), controller
                                        manager, scheduler and kwok, each with pid file and log

Everything is found again from the pid files, so a restarted provider adopts running processes
instead of starting second ones, and restarts only what died.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import ClassVar

from devtools import processes
from devtools.localkube import ApiServer, Component, ControllerManager, Etcd, Scheduler
from devtools.toolchain import binary

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_ANNOTATION_VALUE = "fake"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
NODE_LEASE_SECONDS = 40  # kwokctl's default

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(path: Path) -> threading.Lock:
    """One lock per state directory: the timer and the handlers of a cluster never race."""
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.Lock())


@dataclass
class Kwok(Component):
    """kwok plays the kubelet of the cluster's Nodes that carry the kwok annotation."""

    NAME: ClassVar[str] = "kwok"
    USER: ClassVar[str] = "kwok"

    @property
    def healthz(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "kwok.yaml"

    def argv(self, server: ApiServer) -> list[str]:
        self.config_path.write_text(kwok_config())
        return [binary("kwok"), f"--kubeconfig={self.kubeconfig_path}", f"--config={self.config_path}",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}={KWOK_ANNOTATION_VALUE}",
                f"--server-address=127.0.0.1:{self.port}", "--node-ip=127.0.0.1", "--cidr=10.244.0.0/16",
                # The stages heartbeat a Node's status only every ~10 min and count on the Lease for
                # liveness: without kwok renewing Leases the node lifecycle controller marks every
                # Node NotReady after its grace period, and their pods unready for good.
                f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}"]


def kwok_config() -> str:
    """The stages kwok plays: the kwok binary has no default stages (only kwokctl has them)."""
    return resources.files("providers.local").joinpath("kwok-stages.yaml").read_text()


@dataclass
class ClusterProcesses:
    """The processes of one local cluster."""

    root: Path
    namespace: str
    name: str

    @property
    def state_dir(self) -> Path:
        return self.root / "clusters" / self.namespace / self.name

    @property
    def etcd_prefix(self) -> str:
        return f"/clusters/{self.namespace}/{self.name}"

    def exists(self) -> bool:
        return (self.state_dir / "apiserver.json").exists()

    def server(self) -> ApiServer:
        saved = json.loads((self.state_dir / "apiserver.json").read_text())
        return ApiServer(**{**saved, "state_dir": self.state_dir})

    def pids(self) -> dict[str, int | None]:
        return {name: processes.pid_of(name, self.state_dir) for name in COMPONENTS}

    def ensure(self, create: bool = True) -> list[str]:
        """Start whatever is not running; the names of the components started now.

        With create=False only an existing cluster is revived (for the liveness timer: a cluster
        being deleted must not come back)."""
        with _lock(self.state_dir):
            if not create and not self.exists():
                return []
            before = self.pids()
            etcd = shared_etcd(self.root)
            server = ApiServer.ensure(self.name, self.state_dir, etcd.url, self.etcd_prefix)
            for component in (ControllerManager, Scheduler, Kwok):
                component.ensure(server, wait=True)
            after = self.pids()
            return [name for name in COMPONENTS if before[name] != after[name]]

    def kubeconfig(self) -> dict:
        """An admin kubeconfig (with embedded credentials) of the cluster's API server."""
        return self.server().kubeconfig(context=self.name)

    def destroy(self) -> list[int]:
        """Stop every process, drop the cluster's etcd keys and its state; the pids stopped."""
        with _lock(self.state_dir):
            stopped = [pid for pid in self.pids().values() if pid]
            for name in reversed(COMPONENTS):
                processes.stop(name, self.state_dir)
            etcd_dir = self.root / "etcd"
            if processes.pid_of("etcd", etcd_dir):
                delete_prefix(shared_etcd(self.root).url, self.etcd_prefix)
            shutil.rmtree(self.state_dir, ignore_errors=True)
            return stopped


def destroy_all(root: Path) -> list[int]:
    """Stop every local cluster under `root` and the shared etcd (for `drover demo --down`)."""
    stopped = []
    for cluster_dir in sorted((root / "clusters").glob("*/*")):
        stopped += ClusterProcesses(root, cluster_dir.parent.name, cluster_dir.name).destroy()
    processes.stop("etcd", root / "etcd")
    return stopped


def shared_etcd(root: Path) -> Etcd:
    with _lock(root / "etcd"):
        return Etcd.ensure(root / "etcd")


def _prefix_range(prefix: str) -> dict[str, str]:
    """etcd's JSON gateway range for every key under `prefix/` (the end is '/' + 1 = '0')."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()
    return {"key": b64(prefix.rstrip("/") + "/"), "range_end": b64(prefix.rstrip("/") + "0")}


def _etcd_call(etcd_url: str, method: str, body: dict) -> dict:
    request = urllib.request.Request(f"{etcd_url}/v3/kv/{method}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def delete_prefix(etcd_url: str, prefix: str) -> int:
    """Delete every key under `prefix/`; how many were deleted."""
    return int(_etcd_call(etcd_url, "deleterange", _prefix_range(prefix)).get("deleted", 0))


def count_prefix(etcd_url: str, prefix: str) -> int:
    answer = _etcd_call(etcd_url, "range", {**_prefix_range(prefix), "count_only": True})
    return int(answer.get("count", 0))
