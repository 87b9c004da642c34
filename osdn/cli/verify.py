"""`osdn adm verify`: probe real traffic between the pods of a local lab and compare with the model.

Argument parsing and printing only: the objects come from the API server (`clusterstate`), the
probing and the comparison are `osdn.lab.verify` (imported when the command runs, so registering
it costs `osdn` nothing).
"""

from __future__ import annotations

import json
import os
import sys

import click

from osdn.cli.clusterstate import fetch_objects
from osdn.cli.context import Ctx, pass_ctx
from osdn.errors import OsdnError
from osdn.model.verdict import PROTOCOLS


@click.command("verify")
@click.option("--port", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="PORT",
              help="TCP port to probe (repeatable). Default: every TCP containerPort the pods declare, plus 80.")
@click.option("--protocol", type=click.Choice(PROTOCOLS, case_sensitive=False), default="TCP", show_default=True,
              help="Only TCP: a UDP or SCTP probe cannot tell a drop from a silent listener.")
@click.option("-n", "--namespace", "namespaces", multiple=True, metavar="PROJECT",
              help="Only pairs with an end in this project (repeatable).")
@click.option("-l", "--selector", default="", help="Only pairs with an end whose labels match, e.g. -l app=web.")
@click.option("--timeout", type=click.FloatRange(0.05, 30.0), default=1.0, show_default=True,
              help="Seconds a probe waits for an answer (a blocked connection costs this much).")
@click.option("--parallel", type=click.IntRange(1, 256), default=32, show_default=True,
              help="Probes running at the same time.")
@click.option("--settle", type=click.FloatRange(0.0, 60.0), default=2.0, show_default=True,
              help="Probe disagreeing pairs again after this many seconds (0: never): changes take a sync "
                   "to reach the kernel.")
@click.option("--matrix/--no-matrix", default=True, show_default=True, help="Print a matrix per port.")
@click.option("--outside", is_flag=True,
              help="Also probe every outside web-server address of the lab (port 80) from every pod.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_ctx
def verify(ctx: Ctx, ports: tuple[int, ...], protocol: str, namespaces: tuple[str, ...], selector: str,
           timeout: float, parallel: int, settle: float, matrix: bool, outside: bool, output: str) -> None:
    """Check the kernel against the model: real TCP probes between every pair of local lab pods.

    Connects from inside each running lab pod's network namespace to every other pod's IP on each
    port, and compares each answer with the model's matrix (`osdn adm reachability`). A connection
    counts as reached when it connects or is refused (the pod has nothing on that port), as blocked
    when nothing answers within --timeout. Prints every disagreement with the model's reason and
    exits 1 if there is any (or if a probe failed, or nothing could be probed). Pods not run by a
    lab on this machine, or not running, are listed as skipped. Needs root.

    \b
    Examples:
      osdn adm verify
      osdn adm verify -n blue --port 80 --port 8080 -o json
      osdn adm verify --outside -n p1          # also every pod of p1 to the lab's outside world
    """
    if protocol.upper() != "TCP":
        raise click.UsageError(f"--protocol {protocol}: verify probes TCP only (a UDP or SCTP packet that "
                               "gets no answer may have been dropped or simply not answered)")
    if os.geteuid() != 0:
        raise click.ClickException("verify enters the lab pods' network namespaces: run it as root")
    from osdn.lab.verify import VerifyOptions, render_verify_report, run_verify, verify_report_to_dict
    opts = VerifyOptions(tuple(sorted(set(ports))), namespaces, selector, timeout, parallel, settle,
                         _outside_ips(ctx) if outside else ())
    try:
        report = run_verify(fetch_objects(ctx.client), opts, lambda msg: click.echo(msg, err=True))
    except OsdnError as e:
        raise click.ClickException(e.message) from None
    if output == "json":
        click.echo(json.dumps(verify_report_to_dict(report), indent=2))
    else:
        click.echo(render_verify_report(report, matrices=matrix))
    sys.exit(0 if report.ok else 1)


def _outside_ips(ctx: Ctx) -> tuple[str, ...]:
    """The outside web-server addresses of the lab this client talks to (`--outside`)."""
    from osdn.lab.kernel_view import find_local_lab
    from osdn.lab.verify_outside import observe_outside_ips
    cfg = ctx.client.config
    lab = find_local_lab(cfg.source, cfg.server)
    if lab is None:
        raise click.ClickException(f"--outside: no lab on this machine serves {cfg.server}")
    return observe_outside_ips(f"{lab.prefix}web")
