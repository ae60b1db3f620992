"""`drover controller`: the Fleet controller (kopf) against a management cluster."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import click
import kopf

from mgmt import metrics
from mgmt.controller import handlers, kopf_namespaces
from mgmt.controller.credentials import CLOUD_POLL_SECONDS, CloudHealthPoller
from mgmt.controller.leader import LeaderElection, Timing
from mgmt.controller.runtime import Shared
from mgmt.controller.shards import Shard, index_from_hostname
from mgmt.kube import Kube, RateLimiter
from mgmt.stack import StackEngine
from mgmt.stack.helm import Helm, HelmPolicy
from mgmt.workload import WorkloadClients


@kopf.on.login()
def login(**kwargs):
    """The kubeconfig when there is one, else the Pod's service account.

    kopf's service-account login always dials https://kubernetes.default.svc, which needs the
    cluster's DNS; like client-go (and our own Kube client), prefer KUBERNETES_SERVICE_HOST/PORT."""
    info = kopf.login_with_kubeconfig(**kwargs)
    if info:
        return info
    info = kopf.login_with_service_account(**kwargs)
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if info and host and port:
        host = f"[{host}]" if ":" in host else host
        info = dataclasses.replace(info, server=f"https://{host}:{port}")
    return info


#: A member with its whole stack ready has its drift looked for this often (the others every pass).
STACK_SETTLED_INTERVAL = 30.0
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace() -> str:
    """The Pod's namespace ($POD_NAMESPACE, else its service account's), else drover-system."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "drover-system"


@dataclass(frozen=True)
class Election:
    """Where the replicas' leader Lease lives, and its timing."""

    namespace: str
    name: str
    timing: Timing


async def operate(namespaces: tuple[str, ...], kube: Kube, election: Election | None) -> None:
    """Run kopf; with an election, only while this replica holds the Lease (losing it ends the
    process with status 1, so the Pod restarts as a standby)."""
    kopf_namespaces.install()

    def operator():
        return kopf.operator(clusterwide=not namespaces, namespaces=list(namespaces), standalone=True)

    if election is None:
        await operator()
        return
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    leader = LeaderElection(kube, election.namespace, election.name, identity, election.timing)
    await leader.acquire()
    running = asyncio.create_task(operator())
    holding = asyncio.create_task(leader.hold())
    await asyncio.wait({running, holding}, return_when=asyncio.FIRST_COMPLETED)
    if holding.done():
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        raise SystemExit(1)
    holding.cancel()
    await asyncio.gather(holding, return_exceptions=True)
    await leader.release()
    running.result()


async def run(namespaces: tuple[str, ...], metrics_port: int | None, metrics_host: str,
              helm_policy: HelmPolicy | None = None, election: Election | None = None,
              limiter: RateLimiter | None = None, cloud_poll_interval: float = CLOUD_POLL_SECONDS) -> None:
    kube = await Kube.from_environment(limiter=limiter)
    clients = WorkloadClients(kube)
    stack = StackEngine(kube, clients, helm=Helm(policy=helm_policy), settled_interval=STACK_SETTLED_INTERVAL)
    handlers.SHARED = Shared(kube, clients, stack, cloud=CloudHealthPoller(cloud_poll_interval))
    if metrics_port is not None:
        server = metrics.serve_for(metrics_port, metrics_host, kube, asyncio.get_running_loop())
        scheme = "http" if metrics.is_loopback(metrics_host) else "https (bearer tokens reviewed)"
        logging.getLogger("drover.controller").info("metrics on %s://%s:%d/metrics", scheme, metrics_host,
                                                    server.server_port)
    try:
        await operate(namespaces, kube, election)
    finally:
        await clients.close()
        await kube.close()


def shard(count: int, index: int | None) -> Shard:
    if index is None and count > 1:
        index = index_from_hostname(socket.gethostname())
        if index is None:
            raise click.BadParameter(f"give --shard-index: the host name {socket.gethostname()!r} ends in no "
                                     "ordinal", param_hint="--shard-index")
    try:
        return Shard(index or 0, count)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--shard-index") from None


@click.command("controller")
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path), default=None,
              help="Management cluster (default: $KUBECONFIG, then ~/.kube/config; in a Pod: its service account).")
@click.option("-n", "--namespace", "namespaces", multiple=True,
              help="Watch only these namespaces (repeatable; default: all).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics on PORT (0 picks a free port).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics endpoint listens on (0.0.0.0 in a Pod: then over TLS, to "
                   "bearer tokens allowed to get /metrics only).")
@click.option("--helm-repository", "helm_repositories", multiple=True, envvar="DROVER_HELM_REPOSITORIES",
              help="Chart repository (http(s):// or oci:// prefix) Fleets may use (repeatable; "
                   "$DROVER_HELM_REPOSITORIES, space-separated; default: any).")
@click.option("--helm-chart-dir", "helm_chart_dirs", multiple=True, envvar="DROVER_HELM_CHART_DIRS",
              type=click.Path(file_okay=False, path_type=str),
              help="Directory whose charts Fleets may name in helm.path (repeatable; "
                   "$DROVER_HELM_CHART_DIRS, space-separated; default: none, helm.path is refused).")
@click.option("--kube-api-qps", type=float, default=100.0, show_default=True,
              help="Requests a second to the management cluster, on average (0: no limit).")
@click.option("--kube-api-burst", type=int, default=200, show_default=True,
              help="Requests to the management cluster that may go at once before --kube-api-qps applies.")
@click.option("--leader-elect", is_flag=True, envvar="DROVER_LEADER_ELECT",
              help="Act only while holding the leader Lease, so that replicas never both act.")
@click.option("--leader-elect-namespace", default=None,
              help="Namespace of the leader Lease (default: the Pod's own, else drover-system).")
@click.option("--leader-elect-name", default="drover-controller", show_default=True, help="Name of the leader Lease.")
@click.option("--leader-elect-lease-duration", type=float, default=15.0, show_default=True,
              help="Seconds a standby waits after the last renewal before it takes the Lease over.")
@click.option("--leader-elect-renew-deadline", type=float, default=10.0, show_default=True,
              help="Seconds the leader keeps trying to renew before it gives up and exits.")
@click.option("--leader-elect-retry-period", type=float, default=2.0, show_default=True,
              help="Seconds between renewals and between a standby's attempts.")
@click.option("--cloud-poll-interval", type=click.FloatRange(min=1), default=CLOUD_POLL_SECONDS, show_default=True,
              envvar="DROVER_CLOUD_POLL_INTERVAL",
              help="Seconds between reads of a member's view from its cloud (each costs cloud API calls).")
@click.option("--shard-count", type=click.IntRange(min=1), default=1, show_default=True, envvar="DROVER_SHARD_COUNT",
              help="Split the Fleets across this many shards of replicas (by a hash of namespace/name).")
@click.option("--shard-index", type=click.IntRange(min=0), default=None, envvar="DROVER_SHARD_INDEX",
              help="This replica's shard, 0..count-1 (default: the ordinal that ends the host name, as a "
                   "StatefulSet's Pods have).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def controller(kubeconfig, namespaces, metrics_port, metrics_host, helm_repositories, helm_chart_dirs,
               kube_api_qps, kube_api_burst, cloud_poll_interval, shard_count, shard_index, leader_elect, leader_elect_namespace, leader_elect_name, leader_elect_lease_duration,
               leader_elect_renew_deadline, leader_elect_retry_period, verbose):
    """Run the Fleet controller until interrupted.

    \b
    Example:
      drover controller --kubeconfig ~/.local/state/drover/mgmt/kubeconfig
    """
    if kubeconfig:
        os.environ["KUBECONFIG"] = str(kubeconfig)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for noisy in ("kopf.objects", "kopf.activities", "aiohttp.access", "botocore", "azure", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handlers.SHARD = shard(shard_count, shard_index)
    if shard_count > 1:
        logging.getLogger("drover.controller").info("acting on the Fleets of %s", handlers.SHARD)
    election = None
    if leader_elect:
        try:
            timing = Timing(leader_elect_lease_duration, leader_elect_renew_deadline, leader_elect_retry_period)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--leader-elect-*") from None
        election = Election(leader_elect_namespace or own_namespace(), handlers.SHARD.lease_name(leader_elect_name),
                            timing)
    if kube_api_qps < 0 or kube_api_burst < 1:
        raise click.BadParameter("must be >= 0, with a burst of at least 1", param_hint="--kube-api-qps/--kube-api-burst")
    limiter = RateLimiter(kube_api_qps, kube_api_burst) if kube_api_qps else None
    asyncio.run(run(namespaces, metrics_port, metrics_host,
                    HelmPolicy(tuple(helm_repositories), tuple(helm_chart_dirs)), election, limiter,
                    cloud_poll_interval))
