"""Egress IPs in the node namespace: addresses on the uplink, gratuitous ARP, steering rules and routes.

Side effects (netlink, AF_PACKET, conntrack) in one node namespace, through `osdn.kernel`. The nft part
of the data path is rendered with the rest of the ruleset (`render.egress_ip`); this is the rest of
`EgressIntent`:
- every address in `addresses` is on the uplink (the interface with the node IP), with its prefix
  length and the label `<ifname>:eip`; the kernel answers ARP for it. A newly added one is announced
  at once with a gratuitous ARP reply and request (`kernel.arp`), repeated once `REANNOUNCE_S` later
  (openshift-sdn: `arping -A`, then `arping -U` after 2 s). An address that is no longer wanted is
  removed at once, and the conntrack entries translated to it are deleted, so no connection keeps
  leaving from an address that moved to another node. Labelled addresses the agent does not want
  (a previous run's) are removed the same way: a restart leaves no stray address.
- per route: rule `iif <bridge> fwmark <code>/0xffff0000 lookup <table>` and in that table
  `default via <holder's pod gateway> dev <bridge> onlink`. Stale rules and tables are removed. The
  VXLAN device's unicast entry for the holder gateway's MAC (the device does not learn: without it
  every steered frame would be flooded to every node) is `osdn.node.fdb`'s, which keeps one for
  every other node's gateway from the same HostSubnets; this module does not touch the device.
- an address outside the uplink's network, or equal to the node IP, is refused (logged and counted
  in `problems`); the API refuses both up front (`apiserver.plugins.egressip`).
Call order in a sync: `prepare` (new steering routes), nft (a lost IP stops being used before its
address goes), then `sync` (everything else, removals included).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from osdn.client import Client
from osdn.errors import KernelError
from osdn.kernel import arp, conntrack, links, policyroute
from osdn.kernel.policyroute import FwmarkRule, Uplink
from osdn.node.egress_intent import EGRESS_MASK, ROUTE_TABLE_BASE, RULE_PRIORITY, EgressIntent

log = logging.getLogger(__name__)
REANNOUNCE_S = 1.0
IPCONFIG_ANNOTATION = "network.osdn.io/egress-ipconfig"
# A steered packet leaves through the bridge it came in by: no ICMP redirect may tell the pod to skip
# this node (the holder's gateway is not on the pod's subnet anyway; this makes it explicit).
EGRESS_SYSCTLS: dict[str, str | int] = {"net.ipv4.conf.all.send_redirects": 0, "net.ipv4.conf.default.send_redirects": 0}
MOVES = Counter("osdn_node_egress_ip_changes_total", "Egress IPs added to or removed from this node", ["op"])
HELD = Gauge("osdn_node_egress_ips", "Egress IPs this node holds on its uplink")
STEERED = Gauge("osdn_node_egress_routes", "Nodes this node steers egress traffic to")


@dataclass(frozen=True)
class EgressChanges:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    routes_changed: int = 0
    refused: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.routes_changed)


class EgressIPs:
    """Egress IP addresses and steering in node namespace `netns` (one caller at a time)."""

    def __init__(self, netns: str, node_ip: str, bridge: str) -> None:
        self.netns, self.node_ip, self.bridge = netns, node_ip, bridge
        self.uplink: Uplink | None = None
        self._applied: tuple[tuple[str, ...], tuple[object, ...]] | None = None

    def find_uplink(self) -> Uplink:
        if self.uplink is None:
            self.uplink = links.with_netlink(self.netns, lambda nl: policyroute.find_uplink(nl, self.node_ip))
        return self.uplink

    def prepare(self, egress: EgressIntent) -> None:
        """Before the nft sync: add the steering rules and routes `egress` needs (removes nothing), so
        no connection is marked for a route that is not there yet."""
        if (egress.addresses, tuple(egress.routes)) == self._applied or not egress.routes:
            return
        links.with_netlink(self.netns, lambda nl: self._add_routes(nl, egress))

    def _add_routes(self, nl: links.NL, egress: EgressIntent) -> None:
        bridge = nl.index(self.bridge)
        if bridge is None:
            return
        have = policyroute.observe_rules(nl, RULE_PRIORITY)
        for r in egress.routes:
            policyroute.ensure_default_route(nl, r.table, r.gateway, bridge)
        policyroute.sync_rules(nl, RULE_PRIORITY, have | {FwmarkRule(r.mark, EGRESS_MASK, r.table, self.bridge)
                                                          for r in egress.routes})

    def sync(self, egress: EgressIntent, full: bool = False) -> EgressChanges:
        """Make the addresses, rules and routes what `egress` says; `full`: re-read even if unchanged."""
        key = (egress.addresses, tuple(egress.routes))
        if key == self._applied and not full:
            return EgressChanges()
        self._applied = None
        up = self.find_uplink()
        want, refused = self.usable(up, egress.addresses)
        changes = links.with_netlink(self.netns, lambda nl: self._apply(nl, up, want, egress))
        changes = EgressChanges(changes.added, changes.removed, changes.routes_changed, refused)
        if changes.removed:
            n = conntrack.delete_nat_flows(self.netns, changes.removed)
            log.info("egress: %d conntrack entries translated to %s deleted", n, ", ".join(changes.removed))
        if changes.added:
            self._announce_later(changes.added)
        MOVES.labels("added").inc(len(changes.added))
        MOVES.labels("removed").inc(len(changes.removed))
        HELD.set(len(want))
        STEERED.set(len(egress.routes))
        self._applied = key
        return changes

    def usable(self, up: Uplink, addresses: tuple[str, ...]) -> tuple[set[str], tuple[str, ...]]:
        want, refused = set(), []
        for ip in addresses:
            if ip == self.node_ip or ipaddress.IPv4Address(ip) not in up.network:
                why = "is the node IP" if ip == self.node_ip else f"is not in the network {up.network} of {up.ifname}"
                log.warning("egress IP %s %s: not added (netns %s)", ip, why, self.netns)
                refused.append(f"{ip} {why}")
            else:
                want.add(ip)
        return want, tuple(refused)

    def _apply(self, nl: links.NL, up: Uplink, want: set[str], egress: EgressIntent) -> EgressChanges:
        have = policyroute.observe_labelled(nl, up)
        for ip in sorted(have - want):
            policyroute.delete_labelled(nl, up, ip)
            log.info("egress IP %s removed from %s", ip, up.ifname)
        for ip in sorted(want - have):
            policyroute.add_labelled(nl, up, ip)
            _announce(up, ip)
            log.info("egress IP %s added to %s (gratuitous ARP sent)", ip, up.ifname)
        return EgressChanges(tuple(sorted(want - have)), tuple(sorted(have - want)), self._routes(nl, egress))

    def _routes(self, nl: links.NL, egress: EgressIntent) -> int:
        bridge = nl.index(self.bridge)
        routes = egress.routes if bridge is not None else ()  # no bridge yet: the next sync
        rules = {FwmarkRule(r.mark, EGRESS_MASK, r.table, self.bridge) for r in routes}
        added, removed = policyroute.sync_rules(nl, RULE_PRIORITY, rules)
        changed = len(added) + len(removed)
        for r in routes:
            assert bridge is not None
            changed += policyroute.ensure_default_route(nl, r.table, r.gateway, bridge)
        for rule in removed:
            if rule.table > ROUTE_TABLE_BASE and rule.table not in {r.table for r in egress.routes}:
                changed += policyroute.delete_default_route(nl, rule.table)
        return changed

    def _announce_later(self, ips: tuple[str, ...]) -> None:
        def again() -> None:
            try:
                up = self.find_uplink()
                links.with_netlink(self.netns, lambda nl: _announce_held(nl, up, ips))
            except KernelError as exc:
                log.warning("egress: repeating the gratuitous ARP for %s failed: %s", ", ".join(ips), exc)
        t = threading.Timer(REANNOUNCE_S, again)
        t.daemon = True
        t.start()

    def teardown(self) -> EgressChanges:
        """Remove every egress address, rule and route (a clean stop: the IPs go to other nodes)."""
        self._applied = None
        return self.sync(EgressIntent(), full=True)


def _announce_held(nl: links.NL, up: Uplink, ips: tuple[str, ...]) -> None:
    held = policyroute.observe_labelled(nl, up)
    for ip in ips:
        if ip in held:
            _announce(up, ip)


def _announce(up: Uplink, ip: str) -> None:
    try:
        arp.send_frames(up.ifname, arp.garp_frames(up.mac, ip))
    except KernelError as exc:
        log.warning("egress IP %s: %s", ip, exc)


def ipconfig_annotation(up: Uplink) -> str:
    """Pure: the Node annotation that tells admission the node's underlay network (the shape of
    openshift-sdn's cloud `egress-ipconfig`, without capacity)."""
    return json.dumps([{"interface": up.ifname, "ifaddr": {"ipv4": str(up.network)}}], separators=(",", ":"))


def publish_ipconfig(client: Client, node: str, up: Uplink) -> None:
    """Write `IPCONFIG_ANNOTATION` on the Node (admission checks egress IPs against it)."""
    client.patch("Node", node, {"metadata": {"annotations": {IPCONFIG_ANNOTATION: ipconfig_annotation(up)}}})
