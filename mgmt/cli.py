"""The `drover` command line.

Exit codes a script can rely on: 0 success, 1 the operation failed, 2 bad usage
(click's own), 3 a required variable or input is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_FAILED = 1
EXIT_MISSING_INPUT = 3


def fail(message: str, code: int = EXIT_FAILED):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class LazyGroup(click.Group):
    """Commands that live beside the code they drive (COMMANDS) are imported only when run or listed,
    so `drover controller` never loads the development tooling behind `drover demo`."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx, name):
        if name in COMMANDS:
            import importlib

            module, attribute = COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="drover")
def main():
    """Drover: many Kubernetes clusters, declared as one Fleet, built by Cluster API."""


# -- the local management plane ------------------------------------------------

@main.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="Where the local management plane keeps its data (default ~/.local/state/drover/mgmt).")
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path), default=None,
              help="Use this existing cluster instead: only install what it is missing.")
@click.option("--audit/--no-audit", default=False, help="Write an audit log of every write request.")
@click.option("--capi-manager/--no-capi-manager", "capi_manager", default=None,
              help="With --kubeconfig: run a local Cluster API manager (default: when none runs there).")
def up(state_dir, kubeconfig, audit, capi_manager):
    """Start a real local management cluster (etcd, kube-apiserver, CRDs, Cluster API)."""
    from devtools import localplane

    try:
        if kubeconfig:
            result = localplane.up_existing(kubeconfig, capi_manager)
            installed = result["installed"]
            click.echo(f"installed {len(installed)} missing CRDs" if installed else "all CRDs present")
            if result["capi-manager"]:
                click.echo(f"Cluster API manager running (pid {result['capi-manager']})")
            return
        plane = localplane.ManagementPlane(state_dir or localplane.default_state_dir())
        info = plane.up(audit=audit)
    except (FileNotFoundError, TimeoutError, RuntimeError) as error:
        fail(str(error))
    click.echo(f"management cluster ready at {info['server']}")
    for name, pid in info["pids"].items():
        click.echo(f"  {name:<16} pid {pid}")
    click.echo(f"\n  export KUBECONFIG={info['kubeconfig']}")


@main.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=None)
def down(state_dir):
    """Stop the local management cluster and delete its data."""
    from devtools import localplane

    localplane.ManagementPlane(state_dir or localplane.default_state_dir()).down()
    click.echo("management cluster stopped")


@main.group()
def tools():
    """The Kubernetes binaries Drover builds from Go modules."""


@tools.command("build")
def tools_build():
    """Build (or find in the cache) etcd, kube-apiserver, kubectl, the CAPI manager, helm and kwok."""
    from devtools import toolchain

    try:
        toolchain.build_all()
    except RuntimeError as error:
        fail(str(error))


# -- commands that live beside the code they drive ------------------------------
# Command name -> "module:attribute" naming a click command or group.
COMMANDS = {
    "controller": "mgmt.controller.main:controller",
    "demo": "devtools.demo:demo",
    "local-provider": "providers.local.cli:local_provider",
    "generate": "mgmt.clusterctl.commands:generate",
    "get": "mgmt.clusterctl.commands:get",
    "completion": "mgmt.clusterctl.commands:completion",
    "init": "mgmt.install:init",
    "status": "mgmt.report.cli:status",
    "describe": "mgmt.report.cli:describe",
    "dashboard": "mgmt.dashboard.cli:dashboard",
}

if __name__ == "__main__":
    main()
