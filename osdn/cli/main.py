"""The `osdn` command line: kubectl/oc-shaped object commands plus osdn's own admin tools."""

from __future__ import annotations

import importlib

import click

from osdn import __version__
from osdn.cli import (
    admin,
    analysis,
    crud,
    meta,
    podnetwork,
    pods,
    quota_cmd,  # noqa: F401  (registers `create quota`)
    route_cmd,  # noqa: F401  (registers `create route ...`)
    scc_cmd,  # noqa: F401  (registers `adm policy add-scc-to-user ...`)
    token_cmd,  # noqa: F401  (registers `create token`)
    troubleshoot,
    verify,
    workloads,  # noqa: F401  (registers `create deployment`)
)
from osdn.cli.context import Ctx

# The process commands, imported only when named (or listed by --help): they pull in uvicorn,
# pyroute2 and the agents, which `osdn get ...` and the other object commands never need.
LAZY_COMMANDS = {
    "console": "osdn.cli.console_cmd:console",
    "egress-router": "osdn.cli.egress_cmd:egress_router",
    "lab": "osdn.lab.cli:lab",
    "master": "osdn.cli.master_cmd:master",
    "node": "osdn.cli.node_cmd:node",
    "router": "osdn.cli.router_cmd:router",
    "server": "osdn.cli.server_cmd:server",
}


class LazyGroup(click.Group):
    """A click group that imports the commands of LAZY_COMMANDS the first time they are looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
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
                admin.project, admin.whoami, admin.version):
    cli.add_command(command)
admin.adm.add_command(analysis.reachability)
admin.adm.add_command(analysis.trace)
admin.adm.add_command(verify.verify)
admin.adm.add_command(podnetwork.pod_network)
admin.adm.add_command(troubleshoot.diagnose)
admin.adm.add_command(troubleshoot.capture)
cli.add_command(pods.exec_)
cli.add_command(pods.logs)


def main() -> None:
    cli(prog_name="osdn")
