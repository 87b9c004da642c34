"""The `osdn` command line: kubectl/oc-shaped object commands plus osdn's own admin tools."""

from __future__ import annotations

import click

from osdn import __version__
from osdn.cli import (
    admin,
    analysis,
    console_cmd,
    crud,
    egress_cmd,
    master_cmd,
    meta,
    node_cmd,
    podnetwork,
    pods,
    quota_cmd,  # noqa: F401  (registers `create quota`)
    route_cmd,  # noqa: F401  (registers `create route ...`)
    router_cmd,
    scc_cmd,  # noqa: F401  (registers `adm policy add-scc-to-user ...`)
    server_cmd,
    token_cmd,  # noqa: F401  (registers `create token`)
    troubleshoot,
    verify,
    workloads,  # noqa: F401  (registers `create deployment`)
)
from osdn.cli.context import Ctx
from osdn.lab import cli as lab_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--config", "--kubeconfig", "config_path", envvar="OSDN_CONFIG", default=None, metavar="FILE",
              help="Client config file (a kubeconfig, or the older osdn format); default $OSDN_CONFIG, "
                   "$KUBECONFIG, ~/.osdn/config, ~/.kube/config.")
@click.option("--context", "context", default=None, metavar="NAME", help="Kubeconfig context to use.")
@click.option("--server", default=None, metavar="URL[,URL...]",
              help="API server URL, or several separated by commas (tried in turn when one is down); "
                   "overrides the config file.")
@click.option("--token", default=None, help="Bearer token (overrides the config file).")
@click.version_option(__version__, "--version", prog_name="osdn")
@click.pass_context
def cli(cctx: click.Context, config_path: str | None, context: str | None, server: str | None,
        token: str | None) -> None:
    """osdn: a software-defined network for multi-tenant container clusters.

    kubectl/oc-shaped commands for objects (get, describe, create, apply, edit, ...), osdn's
    administration and analysis tools (adm ...), the processes (server, node, master) and a whole
    cluster on this machine (lab). Every command has --help with examples.

    \b
    Examples:
      osdn server --data-dir /var/lib/osdn
      osdn --config /var/lib/osdn/admin.conf get netnamespaces
      osdn lab up --nodes 2 --mode multitenant
    """
    cctx.obj = Ctx(config_path, server, token, context)


for command in (crud.get, crud.describe, crud.create, crud.apply, crud.replace, crud.delete, crud.patch,
                crud.edit, meta.label, meta.annotate, meta.expose, admin.adm, admin.new_project,
                admin.project, admin.whoami, admin.version, server_cmd.server, master_cmd.master, node_cmd.node):
    cli.add_command(command)
admin.adm.add_command(analysis.reachability)
admin.adm.add_command(analysis.trace)
admin.adm.add_command(verify.verify)
admin.adm.add_command(podnetwork.pod_network)
admin.adm.add_command(troubleshoot.diagnose)
admin.adm.add_command(troubleshoot.capture)
cli.add_command(pods.exec_); cli.add_command(pods.logs); cli.add_command(lab_cli.lab)  # noqa: E702
cli.add_command(egress_cmd.egress_router)
cli.add_command(router_cmd.router)
cli.add_command(console_cmd.console)


def main() -> None:
    cli(prog_name="osdn")
