"""`drover controller`: the Fleet controller (kopf) against a management cluster."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import click
import kopf

from mgmt import metrics
from mgmt.controller import handlers
from mgmt.controller.runtime import Shared
from mgmt.kube import Kube
from mgmt.stack import StackEngine
from mgmt.stack.helm import Helm, HelmPolicy
from mgmt.workload import WorkloadClients


@kopf.on.login()
def login(**kwargs):
    """The kubeconfig when there is one, else the Pod's service account."""
    return kopf.login_with_kubeconfig(**kwargs) or kopf.login_with_service_account(**kwargs)


async def run(namespaces: tuple[str, ...], metrics_port: int | None, metrics_host: str,
              helm_policy: HelmPolicy | None = None) -> None:
    kube = await Kube.from_environment()
    clients = WorkloadClients(kube)
    handlers.SHARED = Shared(kube, clients, StackEngine(kube, clients, helm=Helm(policy=helm_policy)))
    if metrics_port is not None:
        server = metrics.serve(metrics_port, metrics_host)
        logging.getLogger("drover.controller").info("metrics on http://%s:%d/metrics", metrics_host,
                                                    server.server_port)
    try:
        await kopf.operator(clusterwide=not namespaces, namespaces=list(namespaces), standalone=True)
    finally:
        await clients.close()
        await kube.close()


@click.command("controller")
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path), default=None,
              help="Management cluster (default: $KUBECONFIG, then ~/.kube/config; in a Pod: its service account).")
@click.option("-n", "--namespace", "namespaces", multiple=True,
              help="Watch only these namespaces (repeatable; default: all).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics on PORT (0 picks a free port).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics endpoint listens on (0.0.0.0 in a Pod).")
@click.option("--helm-repository", "helm_repositories", multiple=True, envvar="DROVER_HELM_REPOSITORIES",
              help="Chart repository (http(s):// or oci:// prefix) Fleets may use (repeatable; "
                   "$DROVER_HELM_REPOSITORIES, space-separated; default: any).")
@click.option("--helm-chart-dir", "helm_chart_dirs", multiple=True, envvar="DROVER_HELM_CHART_DIRS",
              type=click.Path(file_okay=False, path_type=str),
              help="Directory whose charts Fleets may name in helm.path (repeatable; "
                   "$DROVER_HELM_CHART_DIRS, space-separated; default: none, helm.path is refused).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def controller(kubeconfig, namespaces, metrics_port, metrics_host, helm_repositories, helm_chart_dirs, verbose):
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
    asyncio.run(run(namespaces, metrics_port, metrics_host,
                    HelmPolicy(tuple(helm_repositories), tuple(helm_chart_dirs))))
