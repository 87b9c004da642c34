"""`osdn adm diagnose throughput` and `osdn adm capture`: the seed's throughput troubleshooting, run
for you on the pods of a local lab.

Argument parsing and printing only; the work is `osdn.lab.troubleshoot` (imported when a command
runs, so registering them costs `osdn` nothing).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.errors import OsdnError
from osdn.model.sdnconfig import DEFAULT_VXLAN_PORT


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        click.echo(f"\r\033[K{text}", nl=False, err=True)
    else:
        click.echo(text, err=True)


def _done_progress() -> None:
    if sys.stderr.isatty():
        click.echo("\r\033[K", nl=False, err=True)


def _endpoint(ctx: Ctx, ref: str) -> Any:
    from osdn.lab.kernel_view import find_local_lab
    from osdn.lab.troubleshoot import resolve
    ns, sep, name = ref.partition("/")
    if not sep or not ns or not name:
        raise OsdnError(f"{ref!r}: name a pod as PROJECT/POD, e.g. blue/web")
    if os.geteuid() != 0:
        raise OsdnError("these tools enter the lab's network namespaces: run them as root")
    cfg = ctx.client.config
    return resolve(ctx.client.get("Pod", name, ns), find_local_lab(cfg.source, cfg.server))


@click.group("diagnose")
def diagnose() -> None:
    """Measure where the time or the bandwidth goes between pods of a local lab.

    `throughput` compares the pod path with the nodes' underlay (the seed's "Troubleshooting
    Throughput Issues"); see also `osdn adm capture` for packets.

    \b
    Examples:
      osdn adm diagnose throughput --from blue/client --to blue/web
    """


@diagnose.command("throughput")
@click.option("--from", "src", required=True, metavar="PROJECT/POD", help="The sending pod.")
@click.option("--to", "dst", required=True, metavar="PROJECT/POD", help="The receiving pod.")
@click.option("--seconds", type=click.IntRange(1, 600), default=5, show_default=True,
              help="Length of each of the two measurements.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_ctx
@handle_errors
def throughput(ctx: Ctx, src: str, dst: str, seconds: int, output: str) -> None:
    """TCP throughput pod to pod, then node to node, and their ratio.

    Runs iperf3 (one TCP stream) from the first pod to the second, then between the two pods'
    nodes over the underlay (the SDN left out; for two pods on one node, the node to its own
    address), and prints both and the ratio: the SDN's share of what the nodes can do, as the
    seed's "Troubleshooting Throughput Issues" does by hand. A progress line counts the seconds on
    stderr. Every iperf3 it starts is stopped when it ends, also on Ctrl-C. Lab pods only (they
    are namespaces on this machine); needs root and iperf3.

    \b
    Examples:
      osdn adm diagnose throughput --from blue/client --to blue/web
      osdn adm diagnose throughput --from blue/client --to red/db --seconds 10 -o json
    """
    from osdn.lab.troubleshoot import measure_throughput, render_throughput, throughput_to_dict
    report = measure_throughput(_endpoint(ctx, src), _endpoint(ctx, dst), seconds, _progress)
    _done_progress()
    click.echo(json.dumps(throughput_to_dict(report), indent=2) if output == "json" else render_throughput(report))


@click.command("capture")
@click.option("--pod", "pod", required=True, metavar="PROJECT/POD", help="The pod to capture at.")
@click.option("--peer", default=None, metavar="PROJECT/POD", help="Only traffic between --pod and this pod.")
@click.option("--vxlan", is_flag=True,
              help="Capture the VXLAN packets (UDP 4789, or the cluster's vxlanPort) between the pods' nodes, "
                   "in --pod's node namespace, instead of the pod's own traffic.")
@click.option("-c", "--count", type=click.IntRange(0), default=0, help="Stop after this many packets (0: no limit).")
@click.option("--timeout", type=click.FloatRange(0), default=0.0, help="Stop after this many seconds (0: none).")
@click.option("-w", "--write", "path", required=True, metavar="FILE", help="The pcap file to write.")
@pass_ctx
@handle_errors
def capture(ctx: Ctx, pod: str, peer: str | None, vxlan: bool, count: int, timeout: float, path: str) -> None:
    """Capture a pod's packets (or its node's VXLAN packets) into a pcap file.

    Runs `tcpdump -s 0 -i any -w FILE` with the seed's filters: in the pod's network namespace
    with `host POD` (`host POD and host PEER` with --peer), or with --vxlan in the pod's node
    namespace with `udp port 4789 and host NODE [and host PEER_NODE]`: the same traffic between the
    nodes, the SDN's encapsulation visible. It stops after -c packets, --timeout seconds or Ctrl-C,
    stops tcpdump (which flushes the file) and prints how many packets it wrote. Read the file
    with `tcpdump -r FILE` or Wireshark. Lab pods only; needs root and tcpdump.

    \b
    Examples:
      osdn adm capture --pod blue/client --peer blue/web -c 20 -w /tmp/pods.pcap
      osdn adm capture --pod blue/client --peer blue/web --vxlan -c 20 -w /tmp/vxlan.pcap
      tcpdump -nn -r /tmp/pods.pcap
    """
    from osdn.lab.troubleshoot import CapturePlan, pod_filter, vxlan_filter
    from osdn.lab.troubleshoot import capture as run_capture
    a = _endpoint(ctx, pod)
    b = _endpoint(ctx, peer) if peer else None
    if vxlan:
        port = int(ctx.client.get("ClusterNetwork", "default").get("vxlanPort") or DEFAULT_VXLAN_PORT)
        plan = CapturePlan(a.node_netns, f"node {a.node}", vxlan_filter(a, b, port))
    else:
        plan = CapturePlan(a.netns, f"pod {a.key}", pod_filter(a, b))
    got = run_capture(plan, os.path.abspath(path), count, timeout, _progress)
    _done_progress()
    click.echo(f"{got} packets captured on {plan.where} ({plan.filter}) into {os.path.abspath(path)}")
