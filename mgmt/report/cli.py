"""`drover status` and `drover describe cluster`: read the management cluster, print a report."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click
import yaml

from mgmt.api.models import API_VERSION
from mgmt.kube import Kube, KubeError
from mgmt.report import fleet as fleet_report
from mgmt.report.html import to_html
from mgmt.report.tree import describe_cluster, fetch_cluster

FORMATS = ("table", "json", "yaml", "markdown", "html")
EXIT_FAILED, EXIT_USAGE, EXIT_MISSING_INPUT = 1, 2, 3  # mgmt.cli's codes (importing it here would be circular)


def fail(message: str, code: int = EXIT_FAILED):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def kubeconfig_path(given: Path | None) -> Path:
    """The kubeconfig to use: --kubeconfig, else $KUBECONFIG (its first file), else ~/.kube/config."""
    if given:
        path = given
    elif os.environ.get("KUBECONFIG"):
        path = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    else:
        path = Path.home() / ".kube" / "config"
    if not path.is_file():
        fail(f"no kubeconfig at {path} (use --kubeconfig or set KUBECONFIG)", EXIT_MISSING_INPUT)
    return path


def default_namespace(path: Path) -> str:
    """The namespace of the kubeconfig's current context, as kubectl would use it."""
    try:
        config = yaml.safe_load(path.read_text()) or {}
        current = config.get("current-context")
        context = next((c["context"] for c in config.get("contexts") or [] if c.get("name") == current), {})
        return context.get("namespace") or "default"
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError):
        return "default"


async def _load_fleets(path: Path, name: str | None, namespace: str | None) -> tuple[list[dict], list[dict]]:
    async with await Kube.from_kubeconfig(str(path)) as kube:
        if name:
            fleet = await kube.get(API_VERSION, "Fleet", name, namespace)
            fleets = [fleet] if fleet else []
        else:
            fleets = await kube.list(API_VERSION, "Fleet", namespace)
        members = await kube.list(API_VERSION, "FleetMember", namespace) if fleets else []
    return fleets, members


def print_status(kubeconfig: Path, namespace: str, name: str) -> None:
    """The table of one Fleet (for `drover demo`)."""
    fleets, members = _run(_load_fleets(kubeconfig, name, namespace))
    click.echo(fleet_report.to_table(fleet_report.reports(fleets, members), False), nl=False)


def _run(coroutine):
    try:
        return asyncio.run(coroutine)
    except KubeError as error:
        fail(f"cannot read the management cluster: {error}")


@click.command("status")
@click.argument("fleet", required=False)
@click.option("-n", "--namespace", default=None, help="Namespace of the Fleet (default: the context's).")
@click.option("-A", "--all-namespaces", is_flag=True, help="Every Fleet in every namespace.")
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None,
              help="The management cluster (default: $KUBECONFIG, then ~/.kube/config).")
def status(fleet, namespace, all_namespaces, output, kubeconfig):
    """Show Fleets and the health of their clusters."""
    path = kubeconfig_path(kubeconfig)
    if all_namespaces and fleet:
        fail("a FLEET name cannot be combined with --all-namespaces", EXIT_USAGE)
    namespace = None if all_namespaces else namespace or default_namespace(path)
    fleets, members = _run(_load_fleets(path, fleet, namespace))
    if fleet and not fleets:
        fail(f"Fleet {fleet!r} not found in namespace {namespace!r}")
    if not fleets:
        where = "any namespace" if all_namespaces else f"namespace {namespace!r}"
        fail(f"no Fleets found in {where}")
    items = fleet_report.reports(fleets, members)
    single = bool(fleet)
    if output == "json":
        text = fleet_report.to_json(items, single)
    elif output == "yaml":
        text = fleet_report.to_yaml(items, single)
    elif output == "markdown":
        text = fleet_report.to_markdown(items)
    elif output == "html":
        text = to_html(items)
    else:
        text = fleet_report.to_table(items, all_namespaces)
    click.echo(text, nl=False)


@click.group("describe")
def describe():
    """Describe one object of the fleet in depth."""


async def _load_cluster(path: Path, namespace: str, name: str):
    async with await Kube.from_kubeconfig(str(path)) as kube:
        return await fetch_cluster(kube, namespace, name)


@describe.command("cluster")
@click.argument("name")
@click.option("-n", "--namespace", default=None, help="Namespace of the Cluster (default: the context's).")
@click.option("--show-conditions", default=None, metavar="all|KIND[/NAME],...",
              help="List every condition of these objects ('all' for every object).")
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None,
              help="The management cluster (default: $KUBECONFIG, then ~/.kube/config).")
def describe_cluster_command(name, namespace, show_conditions, kubeconfig):
    """A cluster's Cluster API objects as a tree (like `clusterctl describe cluster`), and its stack."""
    path = kubeconfig_path(kubeconfig)
    namespace = namespace or default_namespace(path)
    objects = _run(_load_cluster(path, namespace, name))
    if objects is None:
        fail(f"Cluster {name!r} not found in namespace {namespace!r}")
    click.echo(describe_cluster(objects, show_conditions), nl=False)
