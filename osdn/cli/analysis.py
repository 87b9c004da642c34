"""`osdn adm reachability` and `osdn adm trace`: the model's answers, from a manifest or a server.

Offline (`--offline -f FILE`) reads the manifest (multi-document YAML, JSON or a kube List); online
reads the same objects from the API server. Both build a ClusterState and print what osdn.model
computes. Online, `trace` then probes the connection for real when its source is a local lab pod
or node, and shows what the kernel did next to the model (osdn.lab.kernel_view; `--no-probe` skips it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

import click

from osdn.cli.clusterstate import fetch_objects
from osdn.cli.context import Ctx, pass_ctx
from osdn.cli.manifests import read_manifests
from osdn.client import Client
from osdn.console.grid import AUTO, LEVELS, POD_LEVEL_LIMIT, compute_grid, overlay_verify
from osdn.console.svg import render_grid_html, render_grid_svg
from osdn.errors import OsdnError
from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_matrix
from osdn.model.multicast import compute_multicast_receivers
from osdn.model.oracle import compute_verdict, resolve_endpoint
from osdn.model.services import NO_ENDPOINTS
from osdn.model.trace import (
    is_multicast_group,
    matrix_to_dict,
    multicast_to_dict,
    render_matrix_table,
    render_multicast,
    render_trace,
    verdict_to_dict,
)
from osdn.model.verdict import DENY, PROTOCOLS, Connection, Verdict


def _common(fn):  # type: ignore[no-untyped-def]
    opts = [
        click.option("--offline", is_flag=True, help="Compute from the manifest given with -f, no server."),
        click.option("-f", "--filename", "files", multiple=True, help="Manifest with the cluster state."),
        click.option("--port", type=click.IntRange(1, 65535), default=80, show_default=True),
        click.option("--protocol", type=click.Choice(PROTOCOLS, case_sensitive=False), default="TCP",
                     show_default=True),
        click.option("--dns", "dns", multiple=True, metavar="NAME=IP[,IP...]",
                     help="DNS resolution for EgressNetworkPolicy dnsName rules (repeatable)."),
        click.option("--offline-node", "offline_nodes", multiple=True, metavar="NODE",
                     help="Treat this node as offline for egress IPs (repeatable)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _state(ctx: Ctx, offline: bool, files: tuple[str, ...], dns: Iterable[str],
           offline_nodes: Iterable[str]) -> ClusterState:
    if files and not offline:
        raise click.UsageError("-f FILE reads a manifest: add --offline (or drop -f to ask the server)")
    if offline and not files:
        raise click.UsageError("--offline needs -f FILE")
    table: dict[str, list[str]] = {}
    for entry in dns:
        name, sep, ips = entry.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{entry!r}: expected NAME=IP[,IP...]", param_hint="--dns")
        table.setdefault(name, []).extend(x.strip() for x in ips.split(",") if x.strip())
    objs = [obj for _, obj in read_manifests(files)] if offline else fetch_objects(ctx.client)
    return ClusterState.from_objects(objs, table, {*offline_nodes, *egress_offline(objs)})


def egress_offline(objs: Iterable[dict[str, Any]]) -> set[str]:
    """Nodes the master published as offline egress nodes (HostSubnet `network.osdn.io/egress-health`)."""
    return {str(o.get("host") or o["metadata"]["name"]) for o in objs if o.get("kind") == "HostSubnet"
            and str(((o.get("metadata") or {}).get("annotations") or {}).get("network.osdn.io/egress-health", ""))
            .startswith("offline")}


@click.command("reachability")
@_common
@click.option("-o", "--output", type=click.Choice(["table", "json", "svg", "html"]), default="table",
              show_default=True, help="svg/html: the console's heat map as a standalone file.")
@click.option("--level", type=click.Choice(LEVELS), default=AUTO, show_default=True,
              help=f"svg/html: pod by pod, project by project, or auto (projects above {POD_LEVEL_LIMIT} pods).")
@click.option("--projects", metavar="FROM:TO", default=None,
              help="svg/html: only the pods of project FROM (rows) to project TO (columns).")
@click.option("--verify", "verify_file", type=click.File("r"), default=None, metavar="FILE",
              help="svg/html: overlay an `osdn adm verify -o json` report (agreements and disagreements marked).")
@pass_ctx
def reachability(ctx: Ctx, offline: bool, files: tuple[str, ...], port: int, protocol: str, dns: tuple[str, ...],
                 offline_nodes: tuple[str, ...], output: str, level: str, projects: str | None,
                 verify_file: TextIO | None) -> None:
    """Print the pod-to-pod reachability matrix for one port and protocol.

    The model's verdict for every pair of pods (isolation, NetworkPolicy, ...), from the live
    cluster, or with --offline from manifests (-f) alone. -o svg|html writes the heat map the
    console shows (green allowed, red denied, amber partly allowed) as a standalone file.

    \b
    Examples:
      osdn adm reachability
      osdn adm reachability --port 8080 --protocol TCP -o json
      osdn adm reachability --offline -f cluster-state.yaml
      osdn adm reachability -o html --verify verify.json
      osdn adm reachability -o svg --projects blue:red
    """
    scope = _scope(projects)
    verify = _verify_report(verify_file)
    try:
        state = _state(ctx, offline, files, dns, offline_nodes)
        matrix = compute_matrix(state, protocol.upper(), port)
        if output in ("svg", "html"):
            grid = compute_grid(matrix, level, scope)
            grid = overlay_verify(grid, verify) if verify is not None else grid
    except OsdnError as e:
        raise click.ClickException(e.message) from None
    if output == "json":
        click.echo(json.dumps(matrix_to_dict(matrix), indent=2))
    elif output == "svg":
        click.echo(render_grid_svg(grid))
    elif output == "html":
        click.echo(render_grid_html(grid, f"osdn reachability {matrix.protocol}/{matrix.port}"), nl=False)
    else:
        click.echo(render_matrix_table(matrix))


def _scope(projects: str | None) -> tuple[str, str] | None:
    if projects is None:
        return None
    src, sep, dst = projects.partition(":")
    if not sep or not src or not dst:
        raise click.BadParameter(f"{projects!r}: expected FROM:TO (two project names)", param_hint="--projects")
    return src, dst


def _verify_report(file: TextIO | None) -> dict[str, Any] | None:
    if file is None:
        return None
    try:
        report = json.load(file)
    except ValueError as e:
        raise click.BadParameter(f"{file.name}: not JSON ({e})", param_hint="--verify") from None
    if not isinstance(report, dict):
        raise click.BadParameter(f"{file.name}: not the JSON object osdn adm verify -o json prints",
                                 param_hint="--verify")
    return report


@click.command("trace")
@_common
@click.option("--from", "src", required=True, help="ns/pod, pod IP, node/NAME or an IP.")
@click.option("--to", "dst", required=True,
              help="ns/pod, ns/service, svc.ns.svc.cluster.local, node/NAME, an IP, or a multicast group IP.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--no-probe", is_flag=True, help="Online: the model only, no real probe of the connection.")
@click.option("--probe-timeout", type=click.FloatRange(0.05, 30.0), default=1.0, show_default=True,
              help="Online: seconds the real probe waits for an answer.")
@pass_ctx
def trace(ctx: Ctx, offline: bool, files: tuple[str, ...], port: int, protocol: str, dns: tuple[str, ...],
          offline_nodes: tuple[str, ...], src: str, dst: str, output: str, no_probe: bool,
          probe_timeout: float) -> None:
    """Explain, step by step, whether a connection is allowed and by which rules.

    Online, when the source is a pod (or node) of an osdn lab on this machine, the connection is
    then tried once for real (TCP) and the kernel's answer is shown next to the model's, with the
    osdn drop counters that moved on the lab's nodes meanwhile (other traffic can move them too).

    \b
    Examples:
      osdn adm trace --from blue/client --to blue/web
      osdn adm trace --from blue/client --to red/db --port 5432 --no-probe
      osdn adm trace --from blue/client --to 203.0.113.80 --port 80
    """
    try:
        state = _state(ctx, offline, files, dns, offline_nodes)
        if is_multicast_group(dst):
            _print_multicast(state, src, dst, output)
            return
        conn = Connection(resolve_endpoint(state, src), resolve_endpoint(state, dst), protocol.upper(), port)
        verdict = compute_verdict(state, conn)
        kernel = None if offline or no_probe else kernel_view(ctx.client, verdict, probe_timeout)
    except OsdnError as e:
        raise click.ClickException(e.message) from None
    if output == "json":
        doc = verdict_to_dict(verdict)
        if kernel is not None:
            doc["kernel"] = kernel[1]
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(render_trace(verdict) + (f"\n{kernel[0]}" if kernel is not None else ""))


def kernel_view(client: Client, verdict: Verdict, timeout: float) -> tuple[str, dict[str, object]]:
    """(text, json) of one real probe of the verdict's connection (osdn.lab.kernel_view; imported only
    when used); to a service, with the DNAT the kernel took next to the model's endpoints. Also the
    kernel section of `osdn console --serve` (osdn.cli.console_serve)."""
    from osdn.lab.dnat_view import ModelEndpoint
    from osdn.lab.kernel_view import find_local_lab, kernel_view_to_dict, observe_trace, render_kernel_view
    cfg = client.config
    endpoints = tuple(ModelEndpoint(str(b.connection.dst.ip), b.connection.port, b.connection.dst.describe())
                      for b in verdict.backends if b.connection.dst.ip is not None)
    refused = not verdict.allowed and any(s.verdict == DENY and s.detail == NO_ENDPOINTS for s in verdict.steps)
    view = observe_trace(verdict.connection, verdict.allowed, client.list("Pod")["items"],
                         find_local_lab(cfg.source, cfg.server), timeout, endpoints, refused)
    return render_kernel_view(view), kernel_view_to_dict(view)


def _print_multicast(state: ClusterState, src: str, group: str, output: str) -> None:
    endpoint = resolve_endpoint(state, src)
    if endpoint.pod is None:
        raise click.ClickException("multicast senders must be pods")
    result = compute_multicast_receivers(state, endpoint.pod)
    if output == "json":
        click.echo(json.dumps(multicast_to_dict(result, group), indent=2))
    else:
        click.echo(render_multicast(result, group))
