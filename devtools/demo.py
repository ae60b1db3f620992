"""`drover demo`: a local management plane, the local provider, the controller and a small local
fleet on this machine, followed until it is Ready; `drover demo --down` removes all of it."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import click

from devtools import processes
from devtools.localplane import ManagementPlane
from mgmt import kubeyaml
from mgmt.api.models import API_VERSION
from mgmt.dashboard.cli import DEFAULT_PORT
from mgmt.kube import Kube

SAMPLE = "fleet-local.yaml"
READY_TIMEOUT = 900.0


def sample_path() -> Path:
    """manifests/samples/fleet-local.yaml of the checkout this package runs from."""
    return Path(__file__).resolve().parent.parent / "manifests" / "samples" / SAMPLE


class Demo:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.plane = ManagementPlane(state_dir / "mgmt")

    @property
    def local_state(self) -> Path:
        return self.state_dir / "local"

    def _drover(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mgmt.cli", *args]

    def up(self) -> dict:
        info = self.plane.up()
        kubeconfig = str(self.plane.kubeconfig)
        if processes.pid_of("local-provider", self.state_dir) is None:
            processes.start("local-provider", self._drover(
                "local-provider", f"--kubeconfig={kubeconfig}", f"--state-dir={self.local_state}"), self.state_dir)
        if processes.pid_of("controller", self.state_dir) is None:
            processes.start("controller", self._drover(
                "controller", f"--kubeconfig={self.plane.controller_kubeconfig}"), self.state_dir)
        return info

    def down(self) -> None:
        from providers.local import runtime

        for name in ("controller", "local-provider"):
            processes.stop(name, self.state_dir)
        runtime.destroy_all(self.local_state)
        self.plane.down()
        if self.state_dir.exists():
            import shutil
            shutil.rmtree(self.state_dir, ignore_errors=True)


async def apply_sample(kubeconfig: Path, path: Path) -> list[tuple[str, str]]:
    fleets = []
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        for doc in kubeyaml.load_all(path.read_text()):
            if doc:
                doc["metadata"].setdefault("namespace", "default")
                await kube.apply(doc)
                if doc["kind"] == "Fleet":
                    fleets.append((doc["metadata"]["namespace"], doc["metadata"]["name"]))
    return fleets


async def follow(kubeconfig: Path, namespace: str, name: str, started: float, timeout: float) -> dict:
    """Print the fleet's progress whenever it changes; return its final object."""
    last = None
    async with await Kube.from_kubeconfig(str(kubeconfig)) as kube:
        while True:
            fleet = await kube.get(API_VERSION, "Fleet", name, namespace) or {}
            status = fleet.get("status") or {}
            ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
            line = f"{status.get('display') or 'waiting for the controller'}: {ready.get('message', '')}".rstrip(": ")
            if line != last:
                click.echo(f"  [{time.monotonic() - started:5.0f}s] {line}")
                last = line
            stack_ready = (status.get("counts") or {}).get("stackReady")
            if ready.get("status") == "True" and stack_ready == (status.get("counts") or {}).get("desired"):
                return fleet
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"fleet {namespace}/{name} not Ready after {timeout:.0f}s: {line}")
            await asyncio.sleep(2)


def hints(demo: Demo, namespace: str, fleet: dict) -> str:
    clusters = [c["name"] for c in fleet.get("spec", {}).get("clusters", [])]
    first = clusters[0] if clusters else "CLUSTER"
    kubeconfig = demo.plane.kubeconfig
    return "\n".join([
        "Point kubectl at the management cluster:",
        f"  export KUBECONFIG={kubeconfig}",
        "  kubectl get fleets,fleetmembers,clusters,machines -A",
        "",
        f"and at a workload cluster ({', '.join(clusters)}):",
        f"  drover get kubeconfig {first} -n {namespace} --kubeconfig {kubeconfig} > {first}.kubeconfig",
        f"  kubectl --kubeconfig {first}.kubeconfig get nodes,pods -A",
        "",
        (f"Reports: drover status -o markdown --kubeconfig {kubeconfig}   |   "
         f"drover describe cluster {first} -n {namespace} --kubeconfig {kubeconfig}"),
        f"Dashboard: drover dashboard --kubeconfig {kubeconfig}   then open http://127.0.0.1:{DEFAULT_PORT}/",
        "Remove everything: make demo-down",
    ])


def default_state_dir() -> Path:
    from devtools.localplane import default_state_dir as mgmt_state

    return mgmt_state().parent / "demo"


@click.command("demo")
@click.option("--state-dir", type=click.Path(path_type=Path), default=None,
              help="Where the demo keeps everything (default ~/.local/state/drover/demo).")
@click.option("--down", is_flag=True, help="Stop and remove everything the demo started.")
@click.option("--fleet", "fleet_file", type=click.Path(exists=True, path_type=Path), default=None,
              help=f"Apply this file instead of manifests/samples/{SAMPLE}.")
@click.option("--timeout", type=float, default=READY_TIMEOUT, show_default=True,
              help="Seconds to wait for the fleet to be Ready.")
def demo(state_dir, down, fleet_file, timeout):
    """Bring up a local management plane and a fleet of three local clusters, and show its status.

    \b
    Examples:
      drover demo          # about two to four minutes on a laptop
      drover demo --down   # remove everything
    """
    from mgmt.cli import fail

    runner = Demo(state_dir or default_state_dir())
    if down:
        runner.down()
        click.echo("demo removed")
        return
    started = time.monotonic()
    click.echo("starting the management plane (etcd, kube-apiserver, Cluster API), the local provider "
               "and the Drover controller ...")
    try:
        runner.up()
        click.echo(f"  [{time.monotonic() - started:5.0f}s] management plane up")
        path = fleet_file or sample_path()
        fleets = asyncio.run(apply_sample(runner.plane.kubeconfig, path))
        click.echo(f"  [{time.monotonic() - started:5.0f}s] applied {path.name}")
        namespace, name = fleets[0]
        fleet = asyncio.run(follow(runner.plane.kubeconfig, namespace, name, started, timeout))
    except (FileNotFoundError, TimeoutError, RuntimeError) as error:
        fail(f"{error}\n(logs: {runner.state_dir}; remove everything with `make demo-down`)")
    from mgmt.report.cli import print_status

    click.echo(f"\nfleet {namespace}/{name} is Ready after {time.monotonic() - started:.0f}s\n")
    print_status(runner.plane.kubeconfig, namespace, name)
    click.echo("\n" + hints(runner, namespace, fleet))
