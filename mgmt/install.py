"""`drover init`: install Drover into a management cluster.

What is installed: Drover's own CRDs (`crds/`, which `make crds` keeps current), and from
`manifests/install/` the Namespace, RBAC and the controller Deployment. Both ship inside the
wheel (see `mgmt.bundled`); when any is missing or short of a kind, `init` names what is missing
and installs nothing.
Everything goes through server-side apply under Drover's field manager, so running it again
changes nothing. Cluster API and its providers are not installed here (`clusterctl init` or
`drover up` do that).
"""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

from . import bundled, crds, kubeyaml
from .kube import Kube, KubeError, object_ref
from .templating import render

FILES = ("namespace.yaml", "rbac.yaml", "deployment.yaml", "service.yaml")
DEFAULT_NAMESPACE = "drover-system"


def default_image() -> str:
    try:
        tag = f"v{version('drover')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        tag = "latest"
    return f"ghcr.io/drover/drover:{tag}"


class IncompleteInstallation(Exception):
    """Files this Drover should ship are not there (a broken wheel or source tree)."""


def manifests(namespace: str = DEFAULT_NAMESPACE, image: str | None = None) -> list[dict]:
    """Every object `drover init` applies, in order: Namespace, CRDs, RBAC, Deployment, Service."""
    values = {"DROVER_NAMESPACE": namespace, "DROVER_IMAGE": image or default_image()}
    directory = bundled.path("manifests", "install")
    missing = [str(directory / name) for name in FILES if not (directory / name).is_file()]
    if missing:
        raise IncompleteInstallation(f"missing from this installation: {', '.join(missing)}")
    docs = []
    for name in FILES:
        docs += kubeyaml.load_all(render((directory / name).read_text(), values))
    namespace_docs = [d for d in docs if d["kind"] == "Namespace"]
    rest = [d for d in docs if d["kind"] != "Namespace"]
    return namespace_docs + drover_crds() + rest


def drover_crds() -> list[dict]:
    """Drover's CRDs as shipped; every kind the models define must be among them."""
    from .api.generate import all_kinds

    shipped = crds.load(crds.drover_crd_files())
    names = {crd["metadata"]["name"] for crd in shipped}
    missing = sorted(kind.name for kind in all_kinds() if kind.name not in names)
    if missing:
        raise IncompleteInstallation(
            f"missing from this installation: CRD {', '.join(missing)} (looked in {crds.DROVER_CRDS})")
    return shipped


async def install(kube: Kube, objects: list[dict], timeout: float = 60) -> list[tuple[str, str]]:
    """Apply `objects` in order; returns (object, created|configured|unchanged) for each."""
    results = []
    for obj in objects:
        meta = obj["metadata"]
        before = await kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        after = await kube.apply(obj)
        results.append((object_ref(obj), _change(before, after)))
    crd_names = [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"]
    await crds.wait_established(kube, crd_names, timeout)
    kube.forget_discovery()
    return results


def _change(before: dict | None, after: dict) -> str:
    if before is None:
        return "created"
    same = before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    return "unchanged" if same else "configured"


async def _install(kubeconfig: str | None, context: str | None, objects: list[dict]):
    async with await Kube.from_kubeconfig(kubeconfig, context) as kube:
        return await install(kube, objects)


def _valid_namespace(ctx, param, value: str) -> str:
    from .clusterctl.generate import dns1123_label_errors

    if errors := dns1123_label_errors(value):
        raise click.BadParameter("; ".join(errors))
    return value


@click.command("init")
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The management cluster's kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--kubeconfig-context", help="The context to use (default: the current context).")
@click.option("--namespace", default=DEFAULT_NAMESPACE, show_default=True, callback=_valid_namespace,
              help="The namespace the controller runs in.")
@click.option("--image", default=None,
              help=f"The controller image (default: {default_image()}).")
@click.option("--dry-run", is_flag=True,
              help="Print the manifests as YAML documents instead of applying them.")
def init(kubeconfig, kubeconfig_context, namespace, image, dry_run):
    """Install Drover (CRDs, RBAC, controller) into the current context's cluster.

    Installs Drover's own CRDs (Fleet, FleetMember and the local provider's kinds), a Namespace,
    a ServiceAccount with the ClusterRole the controller needs, and the controller Deployment
    (`drover controller`). Cluster API and its providers' CRDs are not installed: use
    `clusterctl init` (or `drover up` for a local management cluster). Running it again changes
    nothing; a new --image rolls the Deployment.

    \b
    Examples:
      drover init
      drover init --image registry.example.com/drover:v0.1.0 --namespace drover
      # Check against the server without changing anything (the namespace must exist:
      # a server-side dry run creates nothing, so objects inside a new namespace are refused):
      drover init --dry-run | kubectl apply --dry-run=server -f -
    """
    try:
        objects = manifests(namespace, image)
    except IncompleteInstallation as error:
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(1) from None
    if dry_run:
        click.echo(kubeyaml.dump_all(objects, sort_keys=False, explicit_start=True), nl=False)
        return
    try:
        results = asyncio.run(_install(str(kubeconfig) if kubeconfig else None, kubeconfig_context, objects))
    except (KubeError, TimeoutError) as error:
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(1) from None
    except Exception as error:  # kubeconfig problems come as kubernetes_asyncio's ConfigException
        if type(error).__name__ != "ConfigException":
            raise
        click.echo(f"Error: cannot load the kubeconfig: {error}", err=True)
        raise SystemExit(1) from None
    for ref, change in results:
        click.echo(f"{ref} {change}")
