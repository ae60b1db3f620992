"""Real etcd and Kubernetes control-plane processes on 127.0.0.1.

Used by `drover up` for the management cluster and by the local provider for
workload clusters. Each component keeps its ports, certificates and pid under a
state directory, so a later process finds it again (or restarts it with the
same identity) instead of starting a second one.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools import processes
from devtools.toolchain import binary
from mgmt import pki

SERVICE_CIDR = "10.96.0.0/16"


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


@dataclass
class Etcd:
    state_dir: Path
    client_port: int
    peer_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return processes.pid_of("etcd", self.state_dir)

    @classmethod
    def ensure(cls, state_dir: Path) -> Etcd:
        """The etcd of this state directory, started if it is not running."""
        state_dir.mkdir(parents=True, exist_ok=True)
        saved = _load(state_dir / "etcd.json")
        etcd = cls(state_dir, saved["client_port"], saved["peer_port"]) if saved else \
            cls(state_dir, processes.free_port(), processes.free_port())
        if etcd.pid is None:
            etcd._start()
        return etcd

    def _start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        argv = [
            binary("etcd"), "--name=default", f"--data-dir={self.state_dir / 'etcd-data'}",
            f"--listen-client-urls={self.url}", f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}", "--log-level=warn",
            "--quota-backend-bytes=4294967296", "--auto-compaction-retention=10m",
        ]
        (self.state_dir / "etcd.json").write_text(json.dumps(
            {"client_port": self.client_port, "peer_port": self.peer_port}))
        pid = processes.start("etcd", argv, self.state_dir)
        processes.wait_http(f"{self.url}/health", 60, pid=pid, log=self.state_dir / "etcd.log")

    def stop(self) -> None:
        processes.stop("etcd", self.state_dir)


@dataclass
class ApiServer:
    """A kube-apiserver with its own CA and credentials, storing under `etcd_prefix`."""

    name: str
    state_dir: Path
    port: int
    etcd_url: str
    etcd_prefix: str
    audit: bool = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def pid(self) -> int | None:
        return processes.pid_of("kube-apiserver", self.state_dir)

    @property
    def audit_log(self) -> Path:
        return self.state_dir / "audit.log"

    @classmethod
    def ensure(cls, name: str, state_dir: Path, etcd_url: str, etcd_prefix: str = "/registry",
               audit: bool = False, wait: bool = True) -> ApiServer:
        """The API server of this state directory, (re)started if it is not running."""
        state_dir.mkdir(parents=True, exist_ok=True)
        saved = _load(state_dir / "apiserver.json")
        server = cls(**{**saved, "state_dir": state_dir}) if saved else \
            cls(name, state_dir, processes.free_port(), etcd_url, etcd_prefix, audit)
        if server.pid is None:
            server.start(wait=wait)
        return server

    def start(self, wait: bool = True) -> None:
        self._write_pki()
        (self.state_dir / "apiserver.json").write_text(
            json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()
                        if k != "state_dir"}))
        pid = processes.start("kube-apiserver", self._argv(), self.state_dir)
        if wait:
            self.wait_ready(pid)

    def wait_ready(self, pid: int | None = None, timeout: float = 90) -> None:
        processes.wait_http(f"{self.url}/readyz", timeout, ssl_context=self.ssl_context(),
                            pid=pid, log=self.state_dir / "kube-apiserver.log")

    def _argv(self) -> list[str]:
        p = self.pki_dir
        argv = [
            binary("kube-apiserver"), f"--etcd-servers={self.etcd_url}", f"--etcd-prefix={self.etcd_prefix}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={p / 'serving.crt'}", f"--tls-private-key-file={p / 'serving.key'}",
            f"--client-ca-file={p / 'ca.crt'}",
            f"--service-account-key-file={p / 'sa.pub'}", f"--service-account-signing-key-file={p / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=Node,RBAC",
            "--allow-privileged=true", "--profiling=false", "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none", "--v=1",
        ]
        if self.audit:
            policy = self.state_dir / "audit-policy.yaml"
            policy.write_text(yaml.safe_dump({
                "apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
                          {"level": "None"}]}))
            argv += [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}",
                     "--audit-log-format=json", "--audit-log-mode=blocking"]
        return argv

    def _write_pki(self) -> None:
        p = self.pki_dir
        if (p / "ca.crt").exists():
            return
        p.mkdir(parents=True, exist_ok=True)
        ca = pki.new_ca(f"{self.name}-ca")
        ca.write(p, "ca")
        pki.issue(ca, "kube-apiserver", dns_names=("localhost", "kubernetes", "kubernetes.default",
                                                   "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"),
                  ip_addresses=("127.0.0.1", "10.96.0.1"), server=True).write(p, "serving")
        pki.issue(ca, "admin", ("system:masters",), client=True).write(p, "admin")
        write_service_account_keys(p)

    def client_pair(self, user: str, groups: tuple[str, ...] = ("system:masters",)) -> pki.KeyPair:
        """A client certificate for `user`, issued once and kept."""
        stem = f"client-{user}"
        if (self.pki_dir / f"{stem}.crt").exists():
            return pki.KeyPair.read(self.pki_dir, stem)
        pair = pki.issue(pki.KeyPair.read(self.pki_dir, "ca"), user, groups, client=True)
        pair.write(self.pki_dir, stem)
        return pair

    def kubeconfig(self, user: str = "admin", context: str | None = None) -> dict:
        """A kubeconfig (with embedded credentials) for this server."""
        pair = pki.KeyPair.read(self.pki_dir, "admin") if user == "admin" else self.client_pair(user)
        return kubeconfig_dict(self.name, self.url, (self.pki_dir / "ca.crt").read_bytes(),
                               pair.cert_pem, pair.key_pem, user, context)

    def write_kubeconfig(self, path: Path, user: str = "admin") -> Path:
        path.write_text(yaml.safe_dump(self.kubeconfig(user)))
        path.chmod(0o600)
        return path

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return context

    def stop(self) -> None:
        processes.stop("kube-apiserver", self.state_dir)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)


def kubeconfig_dict(cluster: str, server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes,
                    user: str, context: str | None = None) -> dict:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    context = context or f"{user}@{cluster}"
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": f"{user}@{cluster}", "user": {"client-certificate-data": b64(cert_pem),
                                                          "client-key-data": b64(key_pem)}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": f"{user}@{cluster}"}}],
    }


def _self_signed_context() -> ssl.SSLContext:
    """Controllers serve /healthz with a certificate they generate themselves."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class Component:
    """A process that works against one ApiServer: its own port, kubeconfig and pid file
    in a state directory (by default the API server's), restartable from what is saved there."""

    NAME: ClassVar[str] = ""
    USER: ClassVar[str] = ""

    state_dir: Path
    port: int
    extra_args: tuple[str, ...] = ()

    @property
    def pid(self) -> int | None:
        return processes.pid_of(self.NAME, self.state_dir)

    @property
    def log(self) -> Path:
        return self.state_dir / f"{self.NAME}.log"

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / f"{self.NAME}.kubeconfig"

    @classmethod
    def ensure(cls, server: ApiServer, state_dir: Path | None = None, extra_args: tuple[str, ...] = (),
               wait: bool = False):
        """The component of this state directory, (re)started if it is not running."""
        state_dir = state_dir or server.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        saved = _load(state_dir / f"{cls.NAME}.json")
        component = cls(state_dir, saved["port"], tuple(saved.get("extra_args", ()))) if saved else \
            cls(state_dir, processes.free_port(), tuple(extra_args))
        if component.pid is None:
            component.start(server, wait=wait)
        return component

    def start(self, server: ApiServer, wait: bool = False) -> int:
        server.write_kubeconfig(self.kubeconfig_path, user=self.USER)
        (self.state_dir / f"{self.NAME}.json").write_text(
            json.dumps({"port": self.port, "extra_args": list(self.extra_args)}))
        pid = processes.start(self.NAME, [*self.argv(server), *self.extra_args], self.state_dir)
        if wait:
            self.wait_ready(pid)
        return pid

    def argv(self, server: ApiServer) -> list[str]:
        raise NotImplementedError

    @property
    def healthz(self) -> str:
        return f"https://127.0.0.1:{self.port}/healthz"

    def wait_ready(self, pid: int | None = None, timeout: float = 60) -> None:
        processes.wait_http(self.healthz, timeout, ssl_context=_self_signed_context(),
                            pid=pid, log=self.log)

    def stop(self) -> None:
        processes.stop(self.NAME, self.state_dir)

    def _serving_args(self) -> list[str]:
        # Own cert dir: the default (/var/run/kubernetes) would be shared by every cluster here.
        k = self.kubeconfig_path
        return [f"--kubeconfig={k}", f"--authentication-kubeconfig={k}", f"--authorization-kubeconfig={k}",
                "--bind-address=127.0.0.1", f"--secure-port={self.port}",
                f"--cert-dir={self.state_dir / (self.NAME + '-certs')}", "--leader-elect=false", "--v=1"]


@dataclass
class ControllerManager(Component):
    """kube-controller-manager: Deployments, ReplicaSets, service accounts, node lifecycle..."""

    NAME: ClassVar[str] = "kube-controller-manager"
    USER: ClassVar[str] = "system:kube-controller-manager"

    def argv(self, server: ApiServer) -> list[str]:
        p = server.pki_dir
        return [binary(self.NAME), *self._serving_args(), f"--cluster-name={server.name}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={p / 'sa.key'}", f"--root-ca-file={p / 'ca.crt'}",
                f"--cluster-signing-cert-file={p / 'ca.crt'}", f"--cluster-signing-key-file={p / 'ca.key'}"]


@dataclass
class Scheduler(Component):
    """kube-scheduler: binds Pods to Nodes."""

    NAME: ClassVar[str] = "kube-scheduler"
    USER: ClassVar[str] = "system:kube-scheduler"

    def argv(self, server: ApiServer) -> list[str]:
        return [binary(self.NAME), *self._serving_args()]


def write_service_account_keys(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / "sa.key", directory / "sa.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public
