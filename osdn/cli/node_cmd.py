"""`osdn node`: run the node agent (see osdn/node/agent.py and docs/node.md)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from osdn.api import duration as api_duration
from osdn.cli.context import Ctx, pass_ctx
from osdn.client import load_config
from osdn.errors import BadRequestError, OsdnError


def parse_duration(text: str | int | float, where: str) -> float:
    """Seconds from `30s`, `1m30s`, `500ms`, `2` (seconds); BadRequestError naming `where`."""
    value = api_duration.parse_duration(text, bare_seconds=True)
    if value is None:
        raise BadRequestError(f"{where}: invalid duration {text!r} (examples: 30s, 1m, 500ms)")
    return value


def periods_from_file(path: str) -> dict[str, float]:
    """iptablesSyncPeriod / iptablesMinSyncPeriod from node.yaml (top level or under kubeProxyConfig;
    also `proxyArguments: {iptables-min-sync-period: [1s]}` as in openshift's node config)."""
    try:
        doc: dict[str, Any] = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BadRequestError(f"cannot read node config {path} (from --config-file): {exc}") from None
    out: dict[str, float] = {}
    for section in (doc, doc.get("kubeProxyConfig") or {}):
        if "iptablesSyncPeriod" in section:
            out["sync"] = parse_duration(section["iptablesSyncPeriod"], f"{path}: iptablesSyncPeriod")
        if "iptablesMinSyncPeriod" in section:
            out["min"] = parse_duration(section["iptablesMinSyncPeriod"], f"{path}: iptablesMinSyncPeriod")
        arg = (section.get("proxyArguments") or {}).get("iptables-min-sync-period")
        if arg:
            value = arg[0] if isinstance(arg, list) else arg
            out["min"] = parse_duration(value, f"{path}: proxyArguments.iptables-min-sync-period")
    return out


@click.command("node")
@click.option("--name", required=True, help="Node name (the Node and HostSubnet object).")
@click.option("--netns", "netns_name", required=True, help="The node's network namespace (name in /run/netns or a path).")
@click.option("--node-ip", required=True, help="The node IP (exists in --netns; VXLAN endpoint, InternalIP).")
@click.option("--config", "client_config", default=None, metavar="FILE",
              help="Client config (server + node token); default: osdn's global --config.")
@click.option("--config-file", default=None, metavar="FILE",
              help="node.yaml with iptablesSyncPeriod / iptablesMinSyncPeriod (flags win).")
@click.option("--cni-socket", default="/run/osdn/cni.sock", show_default=True, help="Unix socket for osdn-cni.")
@click.option("--state-dir", default="", help="Where the IPAM file lives [default: the CNI socket's directory].")
@click.option("--sync-period", default=None,
              help="Periodic full resync; pins it on this node [Network cluster's iptablesSyncPeriod, else 30s].")
@click.option("--min-sync-period", default=None,
              help="Minimum gap between syncs after a burst of 2; pins it on this node "
                   "[Network cluster's iptables-min-sync-period, else 1s].")
@click.option("--subnet-timeout", default="60s", show_default=True, help="How long to wait for the HostSubnet.")
@click.option("--metrics-listen", default="", metavar="HOST:PORT", help="Serve Prometheus /metrics here.")
@click.option("--dns-upstream", "dns_upstreams", multiple=True, metavar="IP[:PORT]",
              help="Resolver for names outside cluster.local (repeat for more, tried in order) [none: SERVFAIL].")
@click.option("--dns-port", default=53, show_default=True, type=click.IntRange(0, 65535),
              help="The node's DNS server port on its pod gateway address (0: no DNS server).")
@click.option("--egress-dns-hold/--no-egress-dns-hold", default=True, show_default=True,
              envvar="OSDN_EGRESS_DNS_HOLD",
              help="Hold DNS answers for egress firewall names until their addresses are installed "
                   "(off: the master's resolution only, openshift-sdn's race; env OSDN_EGRESS_DNS_HOLD=0).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
@pass_ctx
def node(ctx: Ctx, name: str, netns_name: str, node_ip: str, client_config: str | None, config_file: str | None,
         cni_socket: str, state_dir: str, sync_period: str | None, min_sync_period: str | None,
         subnet_timeout: str, metrics_listen: str, dns_upstreams: tuple[str, ...], dns_port: int,
         egress_dns_hold: bool, log_level: str) -> None:
    """Run the node agent: keep NETNS equal to the API state and serve CNI on a unix socket.

    Watches the API (pods, namespaces, policies, subnets, ...) and programs the node's bridge,
    VXLAN, routes and nftables ruleset in NETNS; `osdn lab up` starts one per lab node.

    \b
    Examples:
      osdn node --name node1 --netns node1 --node-ip 198.18.0.11 --config node1.conf
    """
    from osdn.node.agent import Agent, AgentConfig

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API request drowns the sync lines
    try:
        file_periods = periods_from_file(config_file) if config_file else {}
        cfg = AgentConfig(
            name=name, netns=netns_name, node_ip=node_ip,
            client=load_config(client_config or ctx.config_path, ctx.server, ctx.token),
            cni_socket=cni_socket, state_dir=state_dir,
            sync_period=parse_duration(sync_period, "--sync-period") if sync_period else file_periods.get("sync"),
            min_sync_period=(parse_duration(min_sync_period, "--min-sync-period") if min_sync_period
                             else file_periods.get("min")),
            subnet_timeout=parse_duration(subnet_timeout, "--subnet-timeout"), metrics_listen=metrics_listen,
            dns_upstreams=dns_upstreams, dns_port=dns_port, egress_dns_hold=egress_dns_hold)
        agent = Agent(cfg)
        signal.signal(signal.SIGTERM, lambda *_: agent.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: agent.stopping.set())
        try:
            agent.run()
        finally:
            agent.stop()
    except OsdnError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
