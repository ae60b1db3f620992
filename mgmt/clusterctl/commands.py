"""The clusterctl-shaped commands: `drover generate cluster`, `drover get kubeconfig` and
`drover completion`. Exit codes as in mgmt.cli: 1 failed, 2 usage, 3 missing input."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import click

from . import config as ctlconfig
from . import generate as gen
from . import sources

EXIT_FAILED = 1
EXIT_MISSING_INPUT = 3


class CommandError(click.ClickException):
    """Printed as `Error: message` on stderr; exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def _load_variables(config_path: str | None) -> ctlconfig.Variables:
    try:
        return ctlconfig.Variables(ctlconfig.load_config(config_path))
    except (ctlconfig.ConfigError, sources.SourceError) as error:
        code = EXIT_MISSING_INPUT if getattr(error, "missing", False) else EXIT_FAILED
        raise CommandError(str(error), code) from None


# -- drover generate cluster -------------------------------------------------------------------

def _complete_provider(ctx, param, incomplete: str) -> list[str]:
    import providers

    return [name for name in providers.NAMES if name.startswith(incomplete)]


@click.group()
def generate():
    """Generate manifests the way `clusterctl generate` does."""


@generate.command("cluster")
@click.argument("name")
@click.option("-i", "--infrastructure", metavar="PROVIDER[:VERSION]", shell_complete=_complete_provider,
              help="The infrastructure provider whose template to use: aws, gcp, azure, digitalocean, "
                   "packet, vsphere or local (a version is accepted for clusterctl compatibility; Drover ships "
                   "one template per provider).")
@click.option("-f", "--flavor", help="The template variant, e.g. eks, gke, aks or managed "
                                     "(default: the provider's default template).")
@click.option("--from", "url", metavar="PATH|URL",
              help="Read the template from a file, an http(s) URL, or '-' for standard input "
                   "instead of a provider.")
@click.option("-n", "--target-namespace", default="",
              help="The namespace of the workload cluster's objects (default: the namespace of the "
                   "kubeconfig's current context, 'default' if it names none; an error if there is no "
                   "kubeconfig or no such context, as with clusterctl).")
@click.option("--kubernetes-version", default="",
              help="Sets KUBERNETES_VERSION (default: from the environment or the config file).")
@click.option("--control-plane-machine-count", metavar="INTEGER", default=None,
              help="Sets CONTROL_PLANE_MACHINE_COUNT (default: environment, config file, else 1); read as "
                   "Go reads integers (0x10 and 1_000 are numbers, ' 2' is not).")
@click.option("--worker-machine-count", metavar="INTEGER", default=None,
              help="Sets WORKER_MACHINE_COUNT (default: environment, config file, else 0).")
@click.option("--list-variables", is_flag=True,
              help="Print the template's variables instead of the manifests.")
@click.option("--write-to", type=click.Path(path_type=Path),
              help="Write the manifests to this file instead of standard output.")
@click.option("--config", "config_path", metavar="PATH|URL",
              help="clusterctl's config file, YAML, JSON or TOML by its extension (default: clusterctl.json, "
                   ".toml, .yaml or .yml in $XDG_CONFIG_HOME/cluster-api, then in ~/.cluster-api).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False),
              help="Only to find the current namespace (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--kubeconfig-context", help="The kubeconfig context whose namespace to use.")
def generate_cluster(name, infrastructure, flavor, url, target_namespace, kubernetes_version,
                     control_plane_machine_count, worker_machine_count, list_variables, write_to,
                     config_path, kubeconfig, kubeconfig_context):
    """Print the manifests of a workload cluster named NAME, like `clusterctl generate cluster`.

    Template variables are taken from the flags (CLUSTER_NAME, NAMESPACE, KUBERNETES_VERSION,
    CONTROL_PLANE_MACHINE_COUNT, WORKER_MACHINE_COUNT), then the environment, then clusterctl's
    config file. A variable with no value and no default fails with exit code 3, naming all of them.

    \b
    Examples:
      # A local cluster with two workers, applied straight away:
      drover generate cluster c1 --infrastructure local --kubernetes-version v1.35.8 \\
          --worker-machine-count 2 | kubectl apply -f -
      # What an EKS template needs:
      drover generate cluster prod -i aws --flavor eks --list-variables
      # A template of your own, into a file:
      drover generate cluster dev --from ./cluster-template.yaml -n team-a --write-to dev.yaml
    """
    try:
        options = gen.Options(
            cluster_name=name, target_namespace=target_namespace, infrastructure=infrastructure,
            flavor=flavor, url=url, kubernetes_version=kubernetes_version,
            control_plane_machine_count=gen.parse_count_flag("control-plane-machine-count",
                                                             control_plane_machine_count),
            worker_machine_count=gen.parse_count_flag("worker-machine-count", worker_machine_count),
        )
    except gen.GenerateError as error:
        raise CommandError(str(error)) from None
    variables = _load_variables(config_path)
    try:
        gen.check_sources(options)
        namespace = target_namespace or _kubeconfig_namespace(kubeconfig, kubeconfig_context)
        gen.apply_options(options, variables, namespace)
        text = gen.read_template(options)
        if list_variables:
            click.echo(gen.variables_report(text, options), nl=False)
            return
        output = gen.generate(text, variables, namespace)
    except gen.GenerateError as error:
        raise CommandError(str(error), EXIT_MISSING_INPUT if error.missing_input else EXIT_FAILED) from None
    if write_to:
        _write_file(write_to, output)
    else:
        click.echo(output, nl=False)


def _write_file(path: Path, text: str) -> None:
    """As clusterctl writes it: os.WriteFile(path, data, 0600), so a new file is the user's alone."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise CommandError(f"failed to write to destination file: open {path}: {reason}") from None


def _kubeconfig_namespace(kubeconfig: str | None, context: str | None) -> str:
    try:
        return ctlconfig.current_namespace(kubeconfig, context)
    except ctlconfig.ConfigError as error:
        raise CommandError("management cluster not available. Cannot auto-discover target namespace. "
                           f"Please specify a target namespace: {error}") from None


# -- drover get kubeconfig -----------------------------------------------------------------------

@click.group()
def get():
    """Read things from the management cluster."""


@get.command("kubeconfig")
@click.argument("name")
@click.option("-n", "--namespace", default="",
              help="The cluster's namespace (default: the kubeconfig's current namespace).")
@click.option("--kubeconfig", type=click.Path(exists=True, dir_okay=False),
              help="The management cluster's kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--kubeconfig-context", help="The context to use within that kubeconfig.")
def get_kubeconfig(name, namespace, kubeconfig, kubeconfig_context):
    """Print the kubeconfig of workload cluster NAME, like `clusterctl get kubeconfig`.

    It is the `value` of the Secret NAME-kubeconfig that Cluster API keeps beside the cluster.

    \b
    Examples:
      drover get kubeconfig c1 -n team-a > c1.kubeconfig
      kubectl --kubeconfig <(drover get kubeconfig c1) get nodes
    """
    try:
        namespace = namespace or ctlconfig.current_namespace(kubeconfig, kubeconfig_context)
    except ctlconfig.ConfigError as error:
        raise CommandError(str(error)) from None
    value = asyncio.run(_read_kubeconfig(name, namespace, kubeconfig, kubeconfig_context))
    click.echo(value.rstrip("\n"))


async def _read_kubeconfig(name: str, namespace: str, path: str | None, context: str | None) -> str:
    from kubernetes_asyncio.config import ConfigException

    from mgmt.kube import Kube, KubeError

    try:
        kube = await Kube.from_kubeconfig(path, context)
    except (ConfigException, OSError) as error:
        raise CommandError(f"cannot load the kubeconfig: {error}") from None
    async with kube:
        try:
            secret = await kube.get("v1", "Secret", f"{name}-kubeconfig", namespace)
        except KubeError as error:
            raise CommandError(f"failed to get the kubeconfig of cluster {namespace}/{name}: {error}") from None
    if secret is None:
        raise CommandError(f'secret "{name}-kubeconfig" not found in namespace "{namespace}": '
                           f"is {namespace}/{name} a Cluster API cluster that has been provisioned?")
    encoded = (secret.get("data") or {}).get("value")
    if not encoded:
        raise CommandError(f'secret "{name}-kubeconfig" in namespace "{namespace}" has no "value" key')
    return base64.b64decode(encoded).decode()


# -- drover completion --------------------------------------------------------------------------

@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx, shell):
    """Print the shell completion script for SHELL.

    \b
    Examples:
      source <(drover completion bash)                         # this bash session
      drover completion zsh > "${fpath[1]}/_drover"            # zsh, for good
      drover completion fish > ~/.config/fish/completions/drover.fish
    """
    from click.shell_completion import get_completion_class

    # The script completes the `drover` console script, however this command was started.
    root = ctx.find_root().command
    script = get_completion_class(shell)(root, {}, "drover", "_DROVER_COMPLETE").source()
    click.echo(script)
