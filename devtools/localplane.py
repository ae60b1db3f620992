"""`drover up` / `drover down`: a real management cluster on this machine.

etcd and kube-apiserver on 127.0.0.1 at free ports, certificates generated here,
the Cluster API, provider and Drover CRDs installed, and the real Cluster API
core manager running against it. Everything lives under one state directory;
running `up` again finds the running processes instead of starting new ones.
Given an existing cluster's kubeconfig instead, only what is missing is added.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from devtools import processes
from devtools.localkube import ApiServer, ControllerManager, Etcd
from devtools.toolchain import binary, crd_dir
from mgmt import crds, install, pki
from mgmt.kube import Kube

# The controller runs as the ServiceAccount `drover init` makes, with exactly the shipped RBAC.
CONTROLLER_NAMESPACE = "drover-local"
CONTROLLER_SERVICE_ACCOUNT = "drover"
CONTROLLER_USER = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:{CONTROLLER_SERVICE_ACCOUNT}"
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
#: Long enough for any session; the token is asked for again at every `up`.
TOKEN_SECONDS = 7 * 24 * 3600


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "drover" / "mgmt"


@dataclass
class CapiManager:
    """The Cluster API core controller manager, as a local process."""

    state_dir: Path

    @property
    def pid(self) -> int | None:
        return processes.pid_of("capi-manager", self.state_dir)

    def ensure(self, kubeconfig: Path) -> int:
        if self.pid:
            return self.pid
        ports_file = self.state_dir / "capi.json"
        ports = json.loads(ports_file.read_text()) if ports_file.exists() else {
            name: processes.free_port() for name in ("webhook", "health", "diagnostics")}
        ports_file.parent.mkdir(parents=True, exist_ok=True)
        ports_file.write_text(json.dumps(ports))
        cert_dir = self._serving_cert()
        argv = [
            binary("capi-manager"), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            f"--webhook-port={ports['webhook']}", f"--webhook-cert-dir={cert_dir}",
            f"--health-addr=127.0.0.1:{ports['health']}",
            f"--diagnostics-address=127.0.0.1:{ports['diagnostics']}", "--insecure-diagnostics",
            "--feature-gates=MachinePool=true,ClusterTopology=false",
            "--sync-period=2m", "--v=2",
        ]
        pid = processes.start("capi-manager", argv, self.state_dir)
        processes.wait_http(f"http://127.0.0.1:{ports['health']}/readyz", 90, pid=pid,
                            log=self.state_dir / "capi-manager.log")
        return pid

    def _serving_cert(self) -> Path:
        """CAPI's webhook server always starts and needs a certificate, webhooks or not."""
        cert_dir = self.state_dir / "capi-webhook-certs"
        if not (cert_dir / "tls.crt").exists():
            cert_dir.mkdir(parents=True, exist_ok=True)
            pair = pki.issue(pki.new_ca("capi-webhook-ca"), "capi-webhook", dns_names=("localhost",),
                             ip_addresses=("127.0.0.1",), server=True)
            pair.write(cert_dir, "tls")
        return cert_dir

    def stop(self) -> None:
        processes.stop("capi-manager", self.state_dir)


@dataclass
class ManagementPlane:
    state_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def controller_kubeconfig(self) -> Path:
        """Credentials of the Drover controller: a token of its ServiceAccount (CONTROLLER_USER),
        so the apiserver holds it to the shipped RBAC and audit logs tell its writes apart."""
        return self.state_dir / "controller.kubeconfig"

    @property
    def etcd(self) -> Etcd:
        return Etcd.ensure(self.state_dir / "etcd")

    def apiserver(self, audit: bool = False) -> ApiServer:
        return ApiServer.ensure("drover-mgmt", self.state_dir / "apiserver", self.etcd.url, audit=audit)

    @property
    def capi(self) -> CapiManager:
        return CapiManager(self.state_dir / "capi")

    def up(self, audit: bool = False) -> dict:
        server = self.apiserver(audit)
        server.write_kubeconfig(self.kubeconfig)
        # Namespace deletion and garbage collection of owned objects need a controller manager.
        ControllerManager.ensure(server, self.state_dir / "controller-manager")
        asyncio.run(install_crds(self.kubeconfig, only_missing=False))
        token = asyncio.run(install_controller_rbac(self.kubeconfig))
        write_token_kubeconfig(self.controller_kubeconfig, server, token)
        self.capi.ensure(self.kubeconfig)
        return self.describe()

    def describe(self) -> dict:
        pids = {
            "etcd": processes.pid_of("etcd", self.state_dir / "etcd"),
            "kube-apiserver": processes.pid_of("kube-apiserver", self.state_dir / "apiserver"),
            "kube-controller-manager": processes.pid_of(ControllerManager.NAME,
                                                        self.state_dir / "controller-manager"),
            "capi-manager": self.capi.pid,
        }
        saved = json.loads((self.state_dir / "apiserver" / "apiserver.json").read_text())
        return {"kubeconfig": str(self.kubeconfig), "server": f"https://127.0.0.1:{saved['port']}",
                "pids": pids, "state": str(self.state_dir)}

    def down(self) -> None:
        self.capi.stop()
        processes.stop(ControllerManager.NAME, self.state_dir / "controller-manager")
        processes.stop("kube-apiserver", self.state_dir / "apiserver")
        processes.stop("etcd", self.state_dir / "etcd")
        shutil.rmtree(self.state_dir, ignore_errors=True)


def controller_rbac() -> list[dict]:
    """The RBAC objects `drover init` installs (manifests/install/rbac.yaml), for a ServiceAccount
    in CONTROLLER_NAMESPACE. Rules and namespaced names are the shipped ones; the cluster-wide
    objects are renamed (and not labelled part-of=drover) so that installing or removing Drover in
    this plane, as the install tests do, neither replaces nor deletes them."""
    def own(name: str) -> str:
        return f"{CONTROLLER_NAMESPACE}:{name}"

    docs = [d for d in install.manifests(CONTROLLER_NAMESPACE) if d["kind"] in RBAC_KINDS]
    for doc in docs:
        doc["metadata"]["labels"] = {"app.kubernetes.io/part-of": "drover-local-plane"}
        if doc["kind"].startswith("Cluster"):
            doc["metadata"]["name"] = own(doc["metadata"]["name"])
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] = own(doc["roleRef"]["name"])
    return docs


async def install_controller_rbac(kubeconfig: Path) -> str:
    """Apply `controller_rbac()`; returns a new token of the controller's ServiceAccount (TokenRequest)."""
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        await install.install(kube, controller_rbac())
        path = f"/api/v1/namespaces/{CONTROLLER_NAMESPACE}/serviceaccounts/{CONTROLLER_SERVICE_ACCOUNT}/token"
        answer = await kube.request("POST", path, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                                   "spec": {"expirationSeconds": TOKEN_SECONDS}})
    return answer["status"]["token"]


def write_token_kubeconfig(path: Path, server: ApiServer, token: str) -> None:
    user = f"{CONTROLLER_SERVICE_ACCOUNT}@{server.name}"
    config = {"apiVersion": "v1", "kind": "Config", "current-context": user,
              "clusters": [{"name": server.name, "cluster": {
                  "server": server.url,
                  "certificate-authority-data": base64.b64encode((server.pki_dir / "ca.crt").read_bytes()).decode()}}],
              "users": [{"name": user, "user": {"token": token}}],
              "contexts": [{"name": user, "context": {"cluster": server.name, "user": user}}]}
    path.touch(mode=0o600)
    path.chmod(0o600)  # touch keeps an existing file's mode
    path.write_text(yaml.safe_dump(config))


def upstream_crd_files() -> dict[str, list[Path]]:
    """contract -> CRD files, as `make tools` laid them out."""
    files = {contract.name: sorted(contract.glob("*/*.yaml")) for contract in sorted(crd_dir().glob("*"))}
    if not any(files.values()):
        raise FileNotFoundError(f"no CRDs under {crd_dir()}: run `make tools` first")
    return files


def all_crds() -> list[dict]:
    """Everything `drover up` installs: upstream (prepared) and Drover's own."""
    upstream = [crds.prepare_upstream(crd, contract)
                for contract, files in upstream_crd_files().items() for crd in crds.load(files)]
    return upstream + crds.load(crds.drover_crd_files())


async def install_crds(kubeconfig: Path, only_missing: bool) -> list[str]:
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        return await crds.install(kube, all_crds(), only_missing=only_missing)


async def capi_installed(kubeconfig: Path) -> bool:
    """Whether Cluster API's core controllers already run in that cluster."""
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        deployments = await kube.list("apps/v1", "Deployment")
    return any("cluster-api-controller" in c.get("image", "")
               for d in deployments for c in d["spec"]["template"]["spec"]["containers"])


def up_existing(kubeconfig: Path, start_capi: bool | None = None) -> dict:
    """Add what is missing to an existing cluster: CRDs, and a local CAPI manager if none runs."""
    installed = asyncio.run(install_crds(kubeconfig, only_missing=True))
    if start_capi is None:
        start_capi = not asyncio.run(capi_installed(kubeconfig))
    key = hashlib.sha256(str(kubeconfig.resolve()).encode()).hexdigest()[:12]
    state = default_state_dir().parent / "existing" / key
    pid = CapiManager(state).ensure(kubeconfig) if start_capi else None
    return {"kubeconfig": str(kubeconfig), "installed": installed, "capi-manager": pid}
