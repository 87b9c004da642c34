"""`osdn lab ...`: up, down, status, run, demo and the (internal) kubelet command.

Role: argument parsing and printing only; the work is in osdn.lab.cluster (processes), osdn.lab.kubelet
(pods) and osdn.lab.demo. Does not import osdn.cli (a sibling layer): the few shared bits (error
printing, which config file) are done here. Heavy imports happen inside the commands, so
registering this group costs `osdn` nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from osdn.errors import OsdnError

if TYPE_CHECKING:  # the lab modules pull in pyroute2: imported when a lab command runs, not by `osdn`
    from osdn.client import Client
    from osdn.lab.cluster import LabInfo

MODES = ("multitenant", "networkpolicy", "subnet")
F = TypeVar("F", bound=Callable[..., Any])
_name = click.option("--name", default="lab", show_default=True, help="Lab name (1-12 lowercase letters/digits).")
_dir = click.option("--dir", "lab_dir", default="", metavar="DIR",
                    help="Lab directory (default /var/lib/osdn/lab/NAME, or /tmp/osdn-lab-NAME).")


def lab_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (OsdnError, ValueError, TimeoutError) as exc:
            click.echo(f"error: {getattr(exc, 'message', None) or exc}", err=True)
            sys.exit(1)
    return wrapper  # type: ignore[return-value]


def progress() -> Callable[[str], None]:
    t0 = time.monotonic()
    return lambda msg: click.echo(f"[{time.monotonic() - t0:5.1f}s] {msg}", err=True)


def find_lab(name: str, lab_dir: str) -> LabInfo:
    from osdn.lab import cluster
    lab_dir = lab_dir or cluster.default_lab_dir(name)
    lab = cluster.load_lab(lab_dir)
    if lab is None:
        raise OsdnError(f"no lab {name!r} in {lab_dir} (start one with `osdn lab up --name {name}`)")
    return lab


def lab_client(lab: LabInfo) -> Client:
    """The --config/$OSDN_CONFIG client if one was given, else the lab's admin."""
    from osdn.client import Client, load_config
    root = click.get_current_context().find_root()
    explicit = getattr(root.obj, "config_path", None) or os.environ.get("OSDN_CONFIG")
    return Client(load_config(explicit or lab.admin_conf))


@click.group()
def lab() -> None:
    """A whole osdn cluster on this machine, out of network namespaces (see docs/lab.md).

    Nodes, an underlay, a router and an outside world, with the real server, node agents and CNI,
    and a lab kubelet that runs Pods as a kubelet would. Nothing links to the host's network.

    \b
    Examples:
      osdn lab up --nodes 3 --mode networkpolicy --demo
      osdn lab run web -n blue --port 80
      osdn lab status
      osdn lab down
    """


@lab.command()
@_name
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 89))
@click.option("--mode", default="networkpolicy", show_default=True, type=click.Choice(MODES))
@click.option("--demo", is_flag=True, help="Then create projects and pods and show isolation at work.")
@_dir
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for the nodes.")
@click.option("--host-subnet-length", default=9, show_default=True, type=click.IntRange(2, 16),
              help="Bits for pods per node: 9 -> a /23 per node, 3 -> a /29 (5 pods; IPs are soon reused).")
@click.option("--no-router", is_flag=True, help="Do not create the router pod default/router (HAProxy, hostPorts "
              "80/443 on node1).")
@click.option("--store", default="sqlite", show_default=True, type=click.Choice(["sqlite", "etcd"]),
              help="etcd: a 3-member etcd cluster on loopback holds the objects (see --servers).")
@click.option("--servers", default=1, show_default=True, type=click.IntRange(1, 9),
              help="API servers on the etcd store (leader-elected controllers; clients know every URL).")
@lab_errors
def up(name: str, nodes: int, mode: str, demo: bool, lab_dir: str, timeout: float, host_subnet_length: int,
       no_router: bool, store: str, servers: int) -> None:
    """Build the lab and start the server, node agents and the lab kubelet.

    Namespaces for the nodes, an underlay, a router and an outside world (DNS, web), then
    `osdn server`, one `osdn node` per node and the lab kubelet; waits until every node is Ready
    with a HostSubnet and prints the next steps; creates the router pod default/router (routes are
    served at node1's address) unless --no-router. Ctrl-C (or a failure) tears down what was made.

    \b
    Examples:
      osdn lab up
      osdn lab up --nodes 2 --mode multitenant --demo
      osdn lab up --name blue1 --nodes 3 --host-subnet-length 3
      osdn lab up --store etcd --servers 3     # then: osdn lab kill-server 1, kill-etcd 2, ...
    """
    from osdn.client import Client, load_config
    from osdn.lab import cluster
    say = progress()
    try:
        info = cluster.up(cluster.UpOptions(name, nodes, mode, lab_dir, timeout, host_subnet_length,
                                            router=not no_router, store=store, servers=servers), say)
    except KeyboardInterrupt:
        click.echo(f"lab {name!r}: up interrupted; everything it had made was removed", err=True)
        sys.exit(130)
    say(f"lab {name!r} is up")
    _print_next(info)
    if demo:
        from osdn.lab import demo as demo_mod
        with Client(load_config(info.admin_conf)) as client:
            demo_mod.run_demo(info, client, click.echo)


def _print_next(info: LabInfo) -> None:
    from osdn.lab import cluster
    click.echo(next_steps(info, cluster.default_lab_dir(info.name)))


def lab_flags(info: LabInfo, default_dir: str) -> str:
    """What every `osdn lab` command needs to find this lab: --name unless it is "lab", --dir
    unless it is the default one. Pure."""
    flags = "" if info.name == "lab" else f" --name {info.name}"
    return flags + ("" if info.dir == default_dir else f" --dir {info.dir}")


def next_steps(info: LabInfo, default_dir: str) -> str:
    """The commands `lab up` suggests, each ready to run against this lab. Pure."""
    names = " ".join(n.name for n in info.nodes)
    lab = f"osdn lab{{}}{lab_flags(info, default_dir)}"
    return f"""
Lab {info.name!r}: {len(info.nodes)} nodes ({names}), mode {info.mode}, dir {info.dir}
  kubeconfig context osdn-{info.name} is current: osdn and kubectl use it (or --kubeconfig {info.admin_conf})
  osdn get nodes; osdn get hostsubnets; kubectl get netnamespaces
  osdn new-project blue
  {lab.format(" run web -n blue --port 80")}            # an HTTP server pod; prints its IP
  {lab.format(" run client -n blue --image busybox")} -- sleep 3600
  osdn exec -n blue client -- wget -qO- -T 2 http://POD_IP/
  osdn logs -n blue web
  osdn adm reachability                         # what the model says, pod to pod
  osdn adm trace --from blue/client --to blue/web   # why; with the kernel's own answer and counters
  osdn adm verify                               # probe every pod pair, compare with the model
  osdn exec -n blue client -- wget -qO- -T 2 http://203.0.113.80/   # the lab's outside world
  {lab.format(" status")}
  {lab.format(" down")}"""


@lab.command()
@_name
@_dir
@lab_errors
def down(name: str, lab_dir: str) -> None:
    """Stop every lab process and delete every lab namespace (also after a crash).

    Idempotent: it also sweeps namespaces that only carry the lab's prefix. The lab directory
    (logs) stays.

    \b
    Examples:
      osdn lab down
      osdn lab down --name blue1
    """
    from osdn.lab import cluster
    t0 = time.monotonic()
    report = cluster.down(name, lab_dir)
    left = cluster.leftovers(name)
    click.echo(f"lab {name!r} down: {len(report.killed)} processes stopped, {len(report.namespaces)} "
               f"namespaces deleted in {time.monotonic() - t0:.1f}s")
    if left:
        raise OsdnError(f"namespaces left behind: {', '.join(left)}")


@lab.command()
@_name
@_dir
@lab_errors
def status(name: str, lab_dir: str) -> None:
    """Show the processes, nodes, HostSubnets and pods of the lab.

    Each process with its pid and whether it still runs; each node with Ready and its subnet;
    each pod with its phase, IP and node.

    \b
    Examples:
      osdn lab status
      osdn lab status --name blue1
    """
    from osdn.lab import cluster
    info = find_lab(name, lab_dir)
    click.echo(f"lab {info.name!r} ({info.mode}) in {info.dir}; server {info.server}")
    for p in cluster.process_status(info.dir):
        click.echo(f"  {p.role.rsplit(':', 1)[0] if p.role.startswith('pod:') else p.role:<28} pid {p.pid:<8} {'running' if p.alive else 'DEAD'}  netns {p.netns}")
    with lab_client(info) as client:
        _print_cluster(client)


def _print_cluster(client: Client) -> None:
    subnets = {s["metadata"]["name"]: s for s in client.list("HostSubnet").get("items", [])}
    click.echo("nodes:")
    for node in client.list("Node").get("items", []):
        name = node["metadata"]["name"]
        conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        sub = subnets.get(name, {})
        click.echo(f"  {name:<10} Ready={conds.get('Ready', '?'):<6} hostIP {sub.get('hostIP', '-'):<14} "
                   f"subnet {sub.get('subnet', '-')}")
    click.echo("pods:")
    for pod in client.list("Pod").get("items", []):
        meta, st = pod["metadata"], pod.get("status") or {}
        click.echo(f"  {meta.get('namespace', '') + '/' + meta['name']:<28} {st.get('phase', 'Pending'):<8} "
                   f"{st.get('podIP', '-'):<15} {(pod.get('spec') or {}).get('nodeName', '-')}")


@lab.command(context_settings={"ignore_unknown_options": True})
@click.argument("pod_name")
@click.option("-n", "--namespace", default=None, help="Project (namespace) of the pod (default: the current project).")
@click.option("--node", default="", help="Put the pod on this node (else the kubelet schedules it).")
@click.option("--labels", default="", help="Pod labels, k=v,k2=v2.")
@click.option("--image", default="python", show_default=True, type=click.Choice(["python", "busybox"]))
@click.option("--port", "ports", multiple=True, type=int, help="containerPort (repeatable; default 80).")
@click.option("--restart", default="Always", show_default=True, type=click.Choice(["Always", "OnFailure", "Never"]),
              help="The pod's restartPolicy, as kubectl run's --restart.")
@click.option("--timeout", default=60.0, show_default=True)
@_name
@_dir
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@lab_errors
def run(pod_name: str, namespace: str | None, node: str, labels: str, image: str, ports: tuple[int, ...],
        restart: str, timeout: float, name: str, lab_dir: str, command: tuple[str, ...]) -> None:
    """Create a pod in the lab and wait until it runs; print its IP.

    Without a command the pod serves HTTP on each --port (default 80) and answers
    "<project>/<pod> on port P: you are IP:PORT". The lab kubelet schedules it (or puts it on
    --node), starts it and honours its restartPolicy.

    \b
    Examples:
      osdn lab run web -n blue --port 80 --port 8080
      osdn lab run client -n blue --image busybox -- sleep 3600
      osdn lab run db --node node2 --labels app=db,tier=data
      osdn lab run once -n blue --restart Never -- sh -c 'echo done'
    """
    from osdn.lab.pods import PodRequest, create_pod, wait_pod_ip
    info = find_lab(name, lab_dir)
    if node and info.node(node) is None:
        raise OsdnError(f"--node {node}: lab {info.name!r} has no such node (its nodes: "
                        f"{', '.join(n.name for n in info.nodes)})")
    with lab_client(info) as client:
        namespace = namespace or client.config.namespace or "default"
        req = PodRequest(pod_name, namespace, node, parse_labels(labels), image, list(ports), list(command),
                         restart)
        create_pod(client, req)
        ip = wait_pod_ip(client, namespace, pod_name, timeout)
    click.echo(f"pod/{pod_name} running in {namespace}: {ip}")


def parse_labels(text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OsdnError(f"--labels {text!r}: {item!r} is not key=value")
        out[key] = value
    return out


@lab.command("demo")
@_name
@_dir
@lab_errors
def demo_cmd(name: str, lab_dir: str) -> None:
    """Create demo projects and pods on a running lab and show isolation (as `up --demo`).

    Makes a few projects with HTTP pods, probes every pair and prints who reaches whom before and
    after the demo's pod-network and NetworkPolicy changes.

    \b
    Examples:
      osdn lab demo
      osdn lab demo --name blue1
    """
    from osdn.lab import demo as demo_mod
    info = find_lab(name, lab_dir)
    with lab_client(info) as client:
        demo_mod.run_demo(info, client, click.echo)


@lab.command()
@click.argument("node")
@click.option("--signal", "sig", default="TERM", show_default=True, type=click.Choice(["TERM", "KILL"]),
              help="TERM: a clean stop (Node Ready=False); KILL: a crash.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the new agent.")
@_name
@_dir
@lab_errors
def restart(node: str, sig: str, timeout: float, name: str, lab_dir: str) -> None:
    """Stop NODE's agent and start it again with the same command line.

    Waits until the new agent serves CNI. --signal KILL simulates a crash; TERM is a clean stop
    (the Node goes Ready=False meanwhile).

    \b
    Examples:
      osdn lab restart node2
      osdn lab restart node1 --signal KILL --name blue1
    """
    from osdn.lab import restart as restart_mod
    info = find_lab(name, lab_dir)
    stopped = restart_mod.stop_agent(info, node, restart_mod.SIGNALS[sig])
    how = "SIGTERM not obeyed, killed" if stopped.escalated else f"SIG{sig}"
    proc = restart_mod.start_agent(info, node)
    ready = restart_mod.wait_agent_ready(info, node, proc, timeout)
    click.echo(f"node {node}: agent pid {stopped.pid} stopped ({how}, {stopped.seconds:.1f}s); "
               f"pid {proc.pid} serving CNI after {ready:.1f}s")


@lab.command("stop-node")
@click.argument("node")
@_name
@_dir
@lab_errors
def stop_node(node: str, name: str, lab_dir: str) -> None:
    """Make NODE fail: its underlay link goes down and its agent is killed.

    Its pods stay but cannot reach other nodes or the outside; the master's egress health probes
    (from the lab router, across the underlay) stop being answered, so its egress IPs fail over.

    \b
    Examples:
      osdn lab stop-node node2
      osdn lab stop-node node1 --name blue1
    """
    from osdn.lab import nodefail
    done = nodefail.stop_node(find_lab(name, lab_dir), node)
    click.echo(f"node {node}: underlay link down, agent pid {done.pid} killed ({done.seconds:.2f}s)")


@lab.command("start-node")
@click.argument("node")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the new agent.")
@_name
@_dir
@lab_errors
def start_node(node: str, timeout: float, name: str, lab_dir: str) -> None:
    """Bring NODE back after stop-node: start its agent, wait for its first sync, link up.

    The agent starts with its recorded command line and syncs the node's kernel state before the
    underlay link comes back, so the node returns with current rules.

    \b
    Examples:
      osdn lab start-node node2
      osdn lab start-node node1 --name blue1
    """
    from osdn.lab import nodefail
    done = nodefail.start_node(find_lab(name, lab_dir), node, timeout)
    click.echo(f"node {node}: agent pid {done.pid} synced, underlay link up ({done.seconds:.2f}s)")


@lab.command(hidden=True)
@click.option("--dir", "lab_dir", required=True)
@click.option("--log-level", default="info")
def kubelet(lab_dir: str, log_level: str) -> None:
    """Run the lab kubelet in the foreground (`lab up` starts it)."""
    from osdn.lab import cluster
    from osdn.lab.kubelet import run_kubelet
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    info = cluster.load_lab(lab_dir)
    if info is None:
        raise click.ClickException(f"no lab.json in {lab_dir}")
    run_kubelet(info)


from osdn.lab.outside_cli import dns, outside  # noqa: E402  (they use this module's helpers)

lab.add_command(dns)
lab.add_command(outside)
from osdn.lab.controlplane_cli import COMMANDS as CONTROL_PLANE_COMMANDS  # noqa: E402

for _command in CONTROL_PLANE_COMMANDS:
    lab.add_command(_command)
from osdn.lab.outside_run import install_default_run  # noqa: E402

install_default_run(outside)  # `osdn lab outside -- CMD`
