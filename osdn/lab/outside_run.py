"""`osdn lab outside -- CMD`: run CMD on a host of the lab's outside world (an internet client).

CMD runs in the outside `web` host's network namespace (203.0.113.80, on the external network
203.0.113.0/24, routed to the nodes' underlay by the lab router without NAT), with the host's tools
(curl, openssl, ...). It reaches routes at node1's underlay address (198.18.0.11) the way a client
on the internet reaches a cluster's routers. The exit code is CMD's.
`install_default_run` makes `run` the `outside` group's default, so `osdn lab outside -- CMD`
works beside the group's other subcommands (`outside add`).
"""

from __future__ import annotations

import sys

import click

from osdn.lab.cli import find_lab, lab_errors


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", "lab_name", default="lab", show_default=True, help="Lab name.")
@click.option("--dir", "lab_dir", default="", metavar="DIR", help="Lab directory (as for `lab up`).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@lab_errors
def outside_run(lab_name: str, lab_dir: str, command: tuple[str, ...]) -> None:
    """Run COMMAND on the outside host 203.0.113.80 (curl and openssl work): an internet client.

    `osdn lab outside -- CMD` is the same as `osdn lab outside run -- CMD`.

    \b
    Examples:
      osdn lab outside -- curl -s --resolve www.example.com:80:198.18.0.11 http://www.example.com/
      osdn lab outside -- curl -sk --resolve www.example.com:443:198.18.0.11 https://www.example.com/ -D -
      osdn lab outside run --name lab2 -- openssl s_client -connect 198.18.0.11:443 -servername www.example.com
    """
    from osdn.kernel import netns
    from osdn.lab.topology import plan_lab
    lab = find_lab(lab_name, lab_dir)
    web = plan_lab(lab.name, max(1, len(lab.nodes))).web_netns
    proc = netns.spawn_in_netns(web, list(command))
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        sys.exit(130)


def install_default_run(group: click.Group) -> None:
    """Add `run` to `group` and make it the command for arguments that name no subcommand."""
    group.add_command(outside_run)
    resolve = group.resolve_command

    def resolve_or_run(ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in group.commands:
            return "run", outside_run, args
        return resolve(ctx, args)

    object.__setattr__(group, "resolve_command", resolve_or_run)  # this instance only
