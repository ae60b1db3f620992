"""`drover local-provider`: the local Cluster API provider, in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@click.command("local-provider")
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Kubeconfig of the management cluster.")
@click.option("--state-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the local clusters' processes keep their data, pids and logs.")
@click.option("--namespace", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable; default: all namespaces).")
@click.option("--simulator-url", metavar="URL",
              help="For tests and benches: a running simulator (e2e/simulator) that serves the "
                   "LocalClusters with spec.simulated as its virtual clusters.")
@click.option("--debug", is_flag=True, help="Log kopf's own progress too.")
def local_provider(kubeconfig: Path, state_dir: Path, namespaces: tuple[str, ...], simulator_url: str | None,
                   debug: bool):
    """Run the local infrastructure and control-plane provider until SIGINT/SIGTERM.

    The processes of local clusters keep running when it stops; the next run adopts them."""
    import logging
    import re

    from devtools.toolchain import binary
    from mgmt.cli import fail
    from providers.local import operator

    if simulator_url and not re.fullmatch(r"https?://[^/\s]+/?", simulator_url):
        fail(f"--simulator-url: {simulator_url!r} is not an http(s)://HOST:PORT address")
    try:
        for name in REQUIRED_BINARIES:
            binary(name)
    except FileNotFoundError as error:
        fail(str(error))
    operator.configure_logging(logging.DEBUG if debug else logging.INFO)
    operator.run(kubeconfig, state_dir, namespaces, simulator_url)
