"""`drover dashboard`: serve the dashboard on 127.0.0.1 for a kubeconfig until interrupted."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

DEFAULT_PORT = 8421


async def serve(kubeconfig: Path, context: str | None, port: int, namespace: str) -> None:
    from aiohttp import web

    from mgmt.kube import Kube

    from .app import make_app

    kube = await Kube.from_kubeconfig(str(kubeconfig), context)
    runner = web.AppRunner(make_app(kube, namespace, context or _current_context(kubeconfig)),
                           access_log=None, shutdown_timeout=2)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # the port the OS chose for --port 0
        click.echo(f"Drover dashboard: http://127.0.0.1:{bound}/  (Ctrl-C to stop)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        await kube.close()


def _current_context(kubeconfig: Path) -> str:
    import yaml

    try:
        return (yaml.safe_load(kubeconfig.read_text()) or {}).get("current-context") or "kubeconfig"
    except (OSError, yaml.YAMLError, AttributeError):
        return "kubeconfig"


@click.command("dashboard")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port on 127.0.0.1 (0: any free port, printed).")
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None,
              help="The management cluster (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--context", default=None, help="The kubeconfig context to use (default: its current one).")
def dashboard(port, kubeconfig, context):
    """Serve the web dashboard on 127.0.0.1: every read and write is made as the kubeconfig's user."""
    from mgmt.report.cli import default_namespace, kubeconfig_path

    path = kubeconfig_path(kubeconfig)
    try:
        asyncio.run(serve(path, context, port, default_namespace(path)))
    except OSError as error:
        raise click.ClickException(f"cannot serve on 127.0.0.1:{port}: {error}") from None
