"""The local provider's controllers (kopf), as Cluster API's v1beta2 contracts ask.

- LocalCluster: the shared etcd runs and the `<cluster>-bootstrap` data Secret exists, then
  `status.initialization.provisioned`.
- LocalControlPlane: the cluster's kube-apiserver, controller manager, scheduler and kwok run
  (adopted if already running), `spec.controlPlaneEndpoint` points at the API server, the
  `<cluster>-kubeconfig` Secret holds its admin kubeconfig, and the status says initialized.
  A timer revives any of these processes that died.
- LocalMachine: a Node (kept Ready by kwok) named after the Machine, with
  `providerID: local://<namespace>/<cluster>/<machine>`, then `status.initialization.provisioned`.

A LocalCluster with `spec.simulated` (tests and benches only) starts no processes: it is a
virtual cluster (with `spec.simulated.nodes` Ready Nodes) of the simulator the provider was
started with (`--simulator-url`, see `providers.local.simulated`); its LocalControlPlane points
the endpoint and the `<cluster>-kubeconfig` Secret at it. Such a cluster has no LocalMachines.

Each object waits for the Cluster API owner (Cluster or Machine) like real providers do. Deleting
a machine deletes its Node; deleting a control plane stops its processes and removes its state.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import logging
import random
from pathlib import Path

import kopf
import yaml

from mgmt.kube import Kube, Unreachable
from providers.local.api import CONTROL_PLANE_GROUP, INFRA_GROUP, VERSION
from providers.local.runtime import (
    KWOK_ANNOTATION,
    KWOK_ANNOTATION_VALUE,
    ClusterProcesses,
    shared_etcd,
)
from providers.local.simulated import Simulator, SimulatorError

CAPI_GROUP = "cluster.x-k8s.io"
CAPI_VERSION = f"{CAPI_GROUP}/v1beta2"
CLUSTER_NAME_LABEL = f"{CAPI_GROUP}/cluster-name"
INFRA_API = f"{INFRA_GROUP}/{VERSION}"
CONTROL_PLANE_API = f"{CONTROL_PLANE_GROUP}/{VERSION}"
LOCAL_CLUSTER = (INFRA_GROUP, VERSION, "localclusters")
LOCAL_MACHINE = (INFRA_GROUP, VERSION, "localmachines")
LOCAL_CONTROL_PLANE = (CONTROL_PLANE_GROUP, VERSION, "localcontrolplanes")
LIVENESS_INTERVAL = 5.0
WAIT_FIRST, WAIT_MAX = 2.0, 30.0  # seconds before a waiting handler's first and longest retry

registry = kopf.OperatorRegistry()
# Retry failed handlers soon: most failures are a process still starting.
HANDLER = {"registry": registry, "backoff": 5}


def backing_off(handler):
    """A handler whose waits (kopf.TemporaryError) are retried later each time: WAIT_FIRST
    seconds, doubling up to WAIT_MAX, jittered. A fixed short delay made a thousand waiting
    objects a retry storm (each retry writes kopf's progress annotation)."""
    @functools.wraps(handler)
    async def wrapped(*args, retry: int = 0, **kwargs):
        try:
            return await handler(*args, retry=retry, **kwargs)
        except kopf.TemporaryError as error:
            raise kopf.TemporaryError(str(error), delay=retry_delay(retry)) from None
    return wrapped


def retry_delay(retry: int) -> float:
    return min(WAIT_MAX, WAIT_FIRST * 2 ** min(retry, 10)) * random.uniform(0.8, 1.0)


# -- helpers -------------------------------------------------------------------

def owner_name(body: kopf.Body, kind: str) -> str:
    """The name of the Cluster API object owning `body`; retry later while CAPI has not set it."""
    for ref in body.metadata.get("ownerReferences") or []:
        if ref.get("kind") == kind and ref.get("apiVersion", "").startswith(f"{CAPI_GROUP}/"):
            return ref["name"]
    what = f"{body.get('kind', 'object')} {body.metadata.namespace}/{body.metadata.name}"
    raise kopf.TemporaryError(f"{what}: waiting for Cluster API to set the owning {kind}")


def cluster_of(body: kopf.Body) -> str | None:
    """The cluster an object belongs to, for clean-up (the label CAPI and our template set)."""
    for ref in body.metadata.get("ownerReferences") or []:
        if ref.get("kind") == "Cluster" and ref.get("apiVersion", "").startswith(f"{CAPI_GROUP}/"):
            return ref["name"]
    return body.metadata.get("labels", {}).get(CLUSTER_NAME_LABEL)


def condition(type_: str, reason: str, generation: int | None, message: str = "") -> dict:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": type_, "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": now, "observedGeneration": generation}


def same_conditions(old: list, new: list) -> list:
    """Keep a condition's transition time while its status stays the same."""
    previous = {c.get("type"): c for c in old or []}
    kept = []
    for item in new:
        before = previous.get(item["type"])
        if before and before.get("status") == item["status"] and before.get("lastTransitionTime"):
            item = {**item, "lastTransitionTime": before["lastTransitionTime"]}
        kept.append(item)
    return kept


async def set_status(kube: Kube, api_version: str, kind: str, body: kopf.Body, status: dict) -> None:
    """Write the status unless it already says this (every resume and update would rewrite it)."""
    current = body.get("status", {})
    status = {**status, "conditions": same_conditions(current.get("conditions"), status.get("conditions", []))}
    if all(current.get(key) == value for key, value in status.items()):
        return
    await kube.patch(api_version, kind, body.metadata.name, body.metadata.namespace,
                     {"status": status}, subresource="status")


def owner_reference(body: kopf.Body, api_version: str, kind: str) -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": body.metadata.name,
            "uid": body.metadata.uid, "controller": True, "blockOwnerDeletion": True}


def cluster_secret(name: str, namespace: str, cluster: str, owner: dict, data: dict[str, bytes]) -> dict:
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {CLUSTER_NAME_LABEL: cluster},
                     "ownerReferences": [owner]},
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def simulator_of(memo: kopf.Memo, namespace: str, cluster: str) -> Simulator:
    if memo.simulator is None:
        raise kopf.PermanentError(f"cluster {namespace}/{cluster}: LocalCluster spec.simulated needs the local "
                                  "provider started with --simulator-url")
    return memo.simulator


async def infrastructure_of(memo: kopf.Memo, namespace: str, cluster: str) -> dict:
    """The LocalCluster of a Cluster (its infrastructureRef)."""
    owner = await memo.mgmt.get(CAPI_VERSION, "Cluster", cluster, namespace)
    ref = ((owner or {}).get("spec") or {}).get("infrastructureRef") or {}
    infra = await memo.mgmt.get(INFRA_API, "LocalCluster", ref["name"], namespace) if ref.get("name") else None
    if not infra:
        raise kopf.TemporaryError(f"cluster {namespace}/{cluster}: waiting for its LocalCluster")
    return infra


async def workload(memo: kopf.Memo, procs: ClusterProcesses) -> Kube:
    """A client of the cluster's own API server (one per cluster, kept until it is deleted)."""
    key = (procs.namespace, procs.name)
    if key not in memo.workloads:
        memo.workloads[key] = await Kube.from_kubeconfig_dict(procs.kubeconfig(), timeout=15)
    return memo.workloads[key]


async def forget_workload(memo: kopf.Memo, namespace: str, cluster: str) -> None:
    client = memo.workloads.pop((namespace, cluster), None)
    if client:
        await client.close()


# -- operator lifecycle ---------------------------------------------------------

@kopf.on.login(registry=registry)
def login(memo: kopf.Memo, **_) -> kopf.ConnectionInfo:
    return connection_info(yaml.safe_load(Path(memo.kubeconfig).read_text()))


def connection_info(config: dict) -> kopf.ConnectionInfo:
    """kopf's credentials from the current context of a kubeconfig (inline or file references)."""
    def named(section: str, name: str) -> dict:
        return next(item[section[:-1]] for item in config[section] if item["name"] == name)

    context = named("contexts", config["current-context"])
    cluster, user = named("clusters", context["cluster"]), named("users", context["user"])
    return kopf.ConnectionInfo(
        server=cluster["server"], ca_data=cluster.get("certificate-authority-data"),
        ca_path=cluster.get("certificate-authority"),
        insecure=cluster.get("insecure-skip-tls-verify"),
        certificate_data=user.get("client-certificate-data"),
        certificate_path=user.get("client-certificate"),
        private_key_data=user.get("client-key-data"), private_key_path=user.get("client-key"),
        token=user.get("token"), default_namespace=context.get("namespace"))


@kopf.on.startup(registry=registry)
async def startup(memo: kopf.Memo, logger, **_) -> None:
    memo.mgmt = await Kube.from_kubeconfig(str(memo.kubeconfig))
    memo.workloads = {}
    logger.info(f"local provider: state in {memo.runtime_root}, management API {memo.mgmt.host}")


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: kopf.Memo, **_) -> None:
    for key in list(memo.workloads):
        await forget_workload(memo, *key)
    await memo.mgmt.close()


# -- LocalCluster ---------------------------------------------------------------

@kopf.on.resume(*LOCAL_CLUSTER, **HANDLER)
@kopf.on.create(*LOCAL_CLUSTER, **HANDLER)
@kopf.on.update(*LOCAL_CLUSTER, **HANDLER)
@backing_off
async def reconcile_cluster(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    cluster = owner_name(body, "Cluster")
    namespace = body.metadata.namespace
    simulated = body.spec.get("simulated")
    if simulated is None:
        await asyncio.to_thread(shared_etcd, memo.runtime_root)
    else:
        simulator = simulator_of(memo, namespace, cluster)
        try:
            await simulator.add(simulator.cluster_name(namespace, cluster), simulated.get("nodes", 0))
        except SimulatorError as error:
            raise kopf.TemporaryError(f"cluster {namespace}/{cluster}: {error}") from None
    # Local machines boot from nothing; the Secret exists because Machines name it.
    secret = cluster_secret(f"{cluster}-bootstrap", namespace, cluster,
                            owner_reference(body, INFRA_API, "LocalCluster"),
                            {"value": b"# local machines need no bootstrap data\n", "format": b"cloud-config"})
    await memo.mgmt.apply(secret)
    await set_status(memo.mgmt, INFRA_API, "LocalCluster", body, {
        "initialization": {"provisioned": True},
        "conditions": [condition("Ready", "Provisioned", body.metadata.get("generation"))]})
    if not body.get("status", {}).get("initialization", {}).get("provisioned"):
        logger.info(f"cluster {namespace}/{cluster}: infrastructure provisioned")


@kopf.on.delete(*LOCAL_CLUSTER, **HANDLER)
@backing_off
async def delete_cluster(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    cluster = cluster_of(body)
    if cluster and body.spec.get("simulated") is not None:
        await remove_virtual_cluster(memo, body.metadata.namespace, cluster, logger)
    if cluster:
        await memo.mgmt.delete("v1", "Secret", f"{cluster}-bootstrap", body.metadata.namespace)
        logger.info(f"cluster {body.metadata.namespace}/{cluster}: infrastructure removed")


async def remove_virtual_cluster(memo: kopf.Memo, namespace: str, cluster: str, logger) -> None:
    if memo.simulator is None:  # it can have added none
        logger.warning(f"cluster {namespace}/{cluster}: no --simulator-url, no virtual cluster to remove")
        return
    try:
        removed = await memo.simulator.remove(memo.simulator.cluster_name(namespace, cluster))
    except SimulatorError as error:
        raise kopf.TemporaryError(f"cluster {namespace}/{cluster}: {error}") from None
    if removed:
        logger.info(f"cluster {namespace}/{cluster}: virtual cluster removed")


# -- LocalControlPlane ------------------------------------------------------------

@kopf.on.resume(*LOCAL_CONTROL_PLANE, **HANDLER)
@kopf.on.create(*LOCAL_CONTROL_PLANE, **HANDLER)
@kopf.on.update(*LOCAL_CONTROL_PLANE, **HANDLER)
@backing_off
async def reconcile_control_plane(body: kopf.Body, memo: kopf.Memo, reason: str, logger, **_) -> None:
    cluster = owner_name(body, "Cluster")
    namespace = body.metadata.namespace
    infra = await infrastructure_of(memo, namespace, cluster)
    if infra.get("spec", {}).get("simulated") is not None:
        await serve_simulated(body, memo, namespace, cluster, logger)
    else:
        await serve_processes(body, memo, ClusterProcesses(memo.runtime_root, namespace, cluster), reason, logger)
    # One API server serves however many replicas are asked for.
    replicas = body.spec.get("replicas", 1)
    generation = body.metadata.get("generation")
    await set_status(memo.mgmt, CONTROL_PLANE_API, "LocalControlPlane", body, {
        "initialization": {"controlPlaneInitialized": True},
        "externalManagedControlPlane": True,
        "version": body.spec["version"],
        "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
        "upToDateReplicas": replicas,
        "conditions": [condition("Available", "Available", generation),
                       condition("Ready", "Ready", generation)]})


async def serve_processes(body: kopf.Body, memo: kopf.Memo, procs: ClusterProcesses, reason: str, logger) -> None:
    """The cluster's processes run (started or adopted), published, and its controllers working."""
    started = await asyncio.to_thread(procs.ensure)
    server = procs.server()
    if started:
        logger.info(f"cluster {procs.namespace}/{procs.name}: started {', '.join(started)} ({server.url})")
    elif reason == "resume":
        logger.info(f"cluster {procs.namespace}/{procs.name}: adopted running processes ({server.url})")
    await publish_endpoint(body, memo, procs.name, {"host": "127.0.0.1", "port": server.port}, procs.kubeconfig())
    await controllers_working(memo, procs)


async def serve_simulated(body: kopf.Body, memo: kopf.Memo, namespace: str, cluster: str, logger) -> None:
    """The virtual cluster the LocalCluster added, published (it has no controllers to wait for)."""
    simulator = simulator_of(memo, namespace, cluster)
    name = simulator.cluster_name(namespace, cluster)
    try:
        exists = await simulator.exists(name)
    except SimulatorError as error:
        raise kopf.TemporaryError(f"cluster {namespace}/{cluster}: {error}") from None
    if not exists:
        raise kopf.TemporaryError(f"cluster {namespace}/{cluster}: waiting for its virtual cluster")
    await publish_endpoint(body, memo, cluster, simulator.endpoint(), simulator.kubeconfig(name))
    if not body.get("status", {}).get("initialization", {}).get("controlPlaneInitialized"):
        logger.info(f"cluster {namespace}/{cluster}: simulated at {simulator.server(name)}")


async def publish_endpoint(body: kopf.Body, memo: kopf.Memo, cluster: str, endpoint: dict, kubeconfig: dict) -> None:
    """`spec.controlPlaneEndpoint` and the `<cluster>-kubeconfig` Secret, as CAPI expects them."""
    namespace = body.metadata.namespace
    if body.spec.get("controlPlaneEndpoint") != endpoint:
        await memo.mgmt.patch(CONTROL_PLANE_API, "LocalControlPlane", body.metadata.name, namespace,
                              {"spec": {"controlPlaneEndpoint": endpoint}})
    await memo.mgmt.apply(cluster_secret(
        f"{cluster}-kubeconfig", namespace, cluster,
        owner_reference(body, CONTROL_PLANE_API, "LocalControlPlane"), {"value": yaml.safe_dump(kubeconfig).encode()}))


async def controllers_working(memo: kopf.Memo, procs: ClusterProcesses) -> None:
    """Initialized only once the controller manager made the `default` ServiceAccount: Pods
    created before that are refused, and their ReplicaSets back off."""
    try:
        account = await (await workload(memo, procs)).get("v1", "ServiceAccount", "default", "default")
    except Unreachable as error:
        raise kopf.TemporaryError(f"cluster {procs.name}: API server unreachable: {error}")
    if not account:
        raise kopf.TemporaryError(f"cluster {procs.name}: waiting for the controller manager")


@kopf.timer(*LOCAL_CONTROL_PLANE, interval=LIVENESS_INTERVAL, initial_delay=LIVENESS_INTERVAL,
            registry=registry)
async def keep_alive(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    cluster = cluster_of(body)
    if not cluster or body.metadata.get("deletionTimestamp"):
        return
    procs = ClusterProcesses(memo.runtime_root, body.metadata.namespace, cluster)
    try:
        restarted = await asyncio.to_thread(procs.ensure, False)
    except (RuntimeError, TimeoutError) as error:
        logger.warning(f"cluster {procs.namespace}/{cluster}: restart failed, retrying: {error}")
        return
    if restarted:
        logger.warning(f"cluster {procs.namespace}/{cluster}: restarted {', '.join(restarted)}")


@kopf.on.delete(*LOCAL_CONTROL_PLANE, **HANDLER)
@backing_off
async def delete_control_plane(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    cluster = cluster_of(body)
    namespace = body.metadata.namespace
    if not cluster:
        return
    await forget_workload(memo, namespace, cluster)
    procs = ClusterProcesses(memo.runtime_root, namespace, cluster)
    had_processes = procs.state_dir.exists()  # a simulated cluster has none
    stopped = await asyncio.to_thread(procs.destroy)
    # No garbage collector may run in the management cluster: delete what we own ourselves.
    await memo.mgmt.delete("v1", "Secret", f"{cluster}-kubeconfig", namespace)
    if had_processes:
        logger.info(f"cluster {namespace}/{cluster}: stopped {len(stopped)} processes, state removed")


# -- LocalMachine -------------------------------------------------------------------

def provider_id(namespace: str, cluster: str, machine: str) -> str:
    return f"local://{namespace}/{cluster}/{machine}"


def node_manifest(name: str, provider_id_: str, capacity: dict) -> dict:
    resources = {"cpu": str(capacity.get("cpu", "4")), "memory": str(capacity.get("memory", "8Gi")),
                 "pods": str(capacity.get("pods", "110"))}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: KWOK_ANNOTATION_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "local",
                       "type": "kwok"},
        },
        "spec": {"providerID": provider_id_},
        "status": {"capacity": resources, "allocatable": resources,
                   "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                 {"type": "Hostname", "address": name}]},
    }


async def machine_of(body: kopf.Body, memo: kopf.Memo) -> dict:
    name = owner_name(body, "Machine")
    machine = await memo.mgmt.get(CAPI_VERSION, "Machine", name, body.metadata.namespace)
    if not machine:
        raise kopf.TemporaryError(f"waiting for Machine {name}")
    return machine


@kopf.on.resume(*LOCAL_MACHINE, **HANDLER)
@kopf.on.create(*LOCAL_MACHINE, **HANDLER)
@kopf.on.update(*LOCAL_MACHINE, **HANDLER)
@backing_off
async def reconcile_machine(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    machine = await machine_of(body, memo)
    namespace, name = body.metadata.namespace, machine["metadata"]["name"]
    cluster = machine["spec"]["clusterName"]
    if not machine["spec"].get("bootstrap", {}).get("dataSecretName"):
        raise kopf.TemporaryError(f"machine {name}: waiting for bootstrap data")
    procs = ClusterProcesses(memo.runtime_root, namespace, cluster)
    if not procs.exists():
        raise kopf.TemporaryError(f"machine {name}: waiting for the control plane of {cluster}")

    pid = provider_id(namespace, cluster, name)
    if body.spec.get("providerID") != pid:
        await memo.mgmt.patch(INFRA_API, "LocalMachine", body.metadata.name, namespace,
                              {"spec": {"providerID": pid}})
    node = node_manifest(name, pid, body.spec.get("capacity") or {})
    kube = await workload(memo, procs)
    try:
        existed = await kube.get("v1", "Node", name) is not None
        await kube.apply(node)
        # On create the status above is kept; afterwards only the status subresource changes it.
        await kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                          "status": {k: node["status"][k] for k in ("capacity", "allocatable")}},
                         subresource="status")
    except Unreachable as error:
        raise kopf.TemporaryError(f"machine {name}: API server of {cluster} unreachable: {error}")
    if not existed:
        logger.info(f"machine {namespace}/{name}: node created in cluster {cluster} ({pid})")

    await set_status(memo.mgmt, INFRA_API, "LocalMachine", body, {
        "initialization": {"provisioned": True}, "nodeName": name,
        "addresses": node["status"]["addresses"],
        "conditions": [condition("Ready", "Provisioned", body.metadata.get("generation"))]})


@kopf.on.delete(*LOCAL_MACHINE, **HANDLER)
@backing_off
async def delete_machine(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    cluster = body.metadata.get("labels", {}).get(CLUSTER_NAME_LABEL)
    node = body.get("status", {}).get("nodeName")
    if not cluster or not node:
        return
    procs = ClusterProcesses(memo.runtime_root, body.metadata.namespace, cluster)
    if not procs.exists():
        return  # the whole cluster is gone, its Nodes with it
    try:
        deleted = await (await workload(memo, procs)).delete("v1", "Node", node)
    except Unreachable as error:
        raise kopf.TemporaryError(f"machine {node}: API server of {cluster} unreachable: {error}")
    if deleted:
        logger.info(f"machine {body.metadata.namespace}/{node}: node deleted from cluster {cluster}")


# -- running --------------------------------------------------------------------

class _Readable(logging.Filter):
    """Drop kopf's per-handler success chatter (every timer tick would log one) and log the
    expected waits (for an owner, for a process) as what they are, not as errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno <= logging.INFO and (message.endswith(" succeeded.") or " is processed: " in message):
            return False
        if " failed temporarily: " in message and ": waiting for " in message:
            record.msg, record.args = message.split(" failed temporarily: ", 1)[1], ()
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def settings() -> kopf.OperatorSettings:
    config = kopf.OperatorSettings()
    config.peering.standalone = True
    config.persistence.finalizer = "local.drover.dev/finalizer"
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="local.drover.dev")
    config.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="local.drover.dev", key="last-handled-configuration")
    config.posting.level = logging.WARNING
    config.watching.server_timeout = 120
    config.watching.client_timeout = 150
    config.networking.request_timeout = 60
    return config


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
    handler.addFilter(_Readable())
    # On kopf's object logger too, before its handler that posts Events: a wait is not an error
    # Event (one more write per retry).
    logging.getLogger("kopf.objects").addFilter(_Readable())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp", "asyncio", "kubernetes_asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(kubeconfig: Path, state_dir: Path, namespaces: tuple[str, ...] = (), simulator_url: str | None = None) -> None:
    """Run the provider in the foreground until SIGINT/SIGTERM; cluster processes keep running."""
    state_dir.mkdir(parents=True, exist_ok=True)
    memo = kopf.Memo(kubeconfig=str(kubeconfig), runtime_root=state_dir.resolve(),
                     simulator=Simulator(simulator_url) if simulator_url else None)
    kopf.run(registry=registry, settings=settings(), standalone=True, memo=memo,
             clusterwide=not namespaces, namespaces=list(namespaces))
