"""Unicast VXLAN FDB entries for the pods and gateways of other nodes: `pod_mac(ip) -> that node's IP`.

The VXLAN device does not learn, and its all-zeros entries (one per other node) replicate what no
entry names to every other node: broadcast, multicast (head-end replication, docs/multicast.md) and
unknown MACs. Without an entry per remote pod, unicast to a pod on another node went to every other
node too. openshift-sdn sends by destination subnet to one node (OVS table 90); here the node keeps
one static entry per pod of another node, from the informer caches (the pod's IP and node, that
node's HostSubnet hostIP), and one per other node's gateway (the bridge's MAC, `pod_mac(gateway)`):
replies to what a node sends from its gateway address (it reaching a pod elsewhere, or a connection
to an externalIP masqueraded towards a remote endpoint) go to that node only too. ARP stays as it
was: a request is broadcast (flooded), the pod answers.

Pure part (`compute_*`, `FdbPlanner`): which entries one node wants, and what changed since the last
call. Rules, so a pod object cannot poison the table:
- only pods of another node that has a HostSubnet, and only IPs inside that HostSubnet, neither its
  network nor broadcast address, nor any node's gateway (any other IP is refused: no entry, counted
  and logged), so no pod object can move a gateway's entry;
- entries are keyed by MAC, and a pod MAC names its IPv4 address (0a:58 + the 4 bytes), so one IP
  has at most one entry, to the node whose subnet holds it;
- every entry with osdn's 0a:58 prefix is this module's to keep or remove (a vanished node's go);
  entries with other MACs (an administrator's) are left alone.
Egress IP steering sends a namespace's packets to the holder node's gateway (`egressip`): its
entry is one of the gateways' here (the same nodes, from the same HostSubnets), so the egress IP
code does not touch the device.

Applier (`VxlanFdb`, side effects through `osdn.kernel.links`): a full sync reads the device's
entries and makes them exactly the wanted ones (one `bridge -batch`); other syncs apply only the
difference to what was last applied (a pod change: one or two netlink requests, no dump). Any
failure, a larger difference, or a VXLAN device recreated since (another ifindex) falls back to the
full reconcile.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import Gauge

from osdn.kernel import links
from osdn.node.intent import ClusterPod, Node, NodeIntent, delta_from

log = logging.getLogger(__name__)
POD_MAC_PREFIX = "0a:58:"
SMALL_CHANGE = 64  # entries: up to this many go one netlink request each, more take the full reconcile
ENTRIES = Gauge("osdn_node_vxlan_fdb_entries", "Unicast VXLAN FDB entries for other nodes' pods and gateways")
REFUSED = Gauge("osdn_node_vxlan_fdb_refused", "Pod IPs that are no pod address of their node's HostSubnet: no entry")

Entry = tuple[str, str]  # (MAC, remote node IP)


@dataclass(frozen=True)
class RemoteSubnet:
    """Another node's pod subnet as integers, with the addresses no pod may have."""

    node_ip: str
    network: int
    mask: int
    reserved: frozenset[int]

    def holds(self, ip: int) -> bool:
        return ip & self.mask == self.network and ip not in self.reserved


@dataclass(frozen=True)
class FdbDelta:
    """What to change on the device: entries to remove, then entries to add (or move)."""

    remove: frozenset[Entry] = frozenset()
    add: frozenset[Entry] = frozenset()

    def __len__(self) -> int:
        return len(self.remove) + len(self.add)


@dataclass(frozen=True)
class Topology:
    """What the entries are computed from: the other nodes' subnets and gateway entries, and every
    node's gateway address (no pod may claim one)."""

    subnets: Mapping[str, RemoteSubnet]
    gateways: Mapping[str, str]  # other nodes' gateway MAC -> node IP
    gateway_ips: frozenset[int]


def compute_topology(nodes: Iterable[Node], me: str, my_ip: str) -> Topology:
    """Pure: the `Topology` seen from node `me` (a node with this node's IP is this node too)."""
    subnets, gateways, gateway_ips = {}, {}, set()
    for n in nodes:
        gateway_ips.add(int(ipaddress.IPv4Address(n.gateway)))
        if n.name == me or n.node_ip == my_ip:
            continue
        net = ipaddress.IPv4Network(n.subnet, strict=False)
        ends = frozenset({int(net.network_address), int(net.broadcast_address)})
        subnets[n.name] = RemoteSubnet(n.node_ip, int(net.network_address), int(net.netmask), ends)
        gateways[links.pod_mac(n.gateway)] = n.node_ip
    return Topology(subnets, gateways, frozenset(gateway_ips))


def compute_entry(ip: str, node: str, topo: Topology) -> Entry | Literal[False] | None:
    """Pure: the entry for a pod with `ip` on `node`; None if it needs none (this node's, or a node
    without a HostSubnet); False if refused (the IP is not a pod address of its node's subnet)."""
    sub = topo.subnets.get(node)
    if sub is None:
        return None
    addr = int(ipaddress.IPv4Address(ip))
    return (links.pod_mac(ip), sub.node_ip) if sub.holds(addr) and addr not in topo.gateway_ips else False


def compute_fdb(pods: Iterable[ClusterPod], nodes: Iterable[Node], me: str, my_ip: str) -> dict[str, str]:
    """Pure: the wanted entries, MAC -> remote node IP (the from-scratch form of `FdbPlanner`)."""
    topo = compute_topology(nodes, me, my_ip)
    entries = (compute_entry(p.ip, p.node, topo) for p in pods)
    return {**topo.gateways, **dict(e for e in entries if isinstance(e, tuple))}


def owns_mac(mac: str) -> bool:
    """Pure: whether an FDB entry with `mac` is this module's to keep or remove (see the module doc)."""
    return mac.startswith(POD_MAC_PREFIX)


def compute_delta(have: Iterable[Entry], want: Mapping[str, str]) -> FdbDelta:
    """Pure: what turns the entries `have` into exactly `want`."""
    have_set, want_set = set(have), set(want.items())
    return FdbDelta(frozenset(have_set - want_set), frozenset(want_set - have_set))


@dataclass
class FdbPlanner:
    """Pure state: the wanted entries (the gateways', then the pods'), updated pod by pod. After one pod change `update` costs a pass
    building IP -> node (C-level dict work) and one entry per changed IP; a change of the nodes or
    their subnets recomputes everything."""

    want: dict[str, str] = field(default_factory=dict)  # MAC -> node IP
    refused: dict[str, str] = field(default_factory=dict)  # IP -> node it claims
    _where: dict[str, str] = field(default_factory=dict)  # IP -> node, of the pods last seen
    _pods: object = None
    _nodes: object = None
    _topo: Topology = Topology({}, {}, frozenset())

    def reset(self, pods: tuple[ClusterPod, ...], nodes: tuple[Node, ...], me: str, my_ip: str) -> dict[str, str]:
        """Recompute from scratch; the wanted entries."""
        self._pods, self._nodes = pods, (nodes, me, my_ip)
        self._topo = compute_topology(nodes, me, my_ip)
        self._where = {p.ip: p.node for p in pods}
        self.want, self.refused = dict(self._topo.gateways), {}
        for ip, node in self._where.items():
            self._set(ip, node)
        return self.want

    def update(self, pods: tuple[ClusterPod, ...], nodes: tuple[Node, ...], me: str, my_ip: str) -> FdbDelta:
        """The change from the entries wanted at the last call to those wanted now."""
        if pods is self._pods and (nodes, me, my_ip) == self._nodes:
            return FdbDelta()
        before = dict(self.want)
        if (nodes, me, my_ip) != self._nodes:
            return compute_delta(before.items(), self.reset(pods, nodes, me, my_ip))
        changed = self._move(pods)
        for ip in changed:
            self._drop(ip)
            if ip in self._where:
                self._set(ip, self._where[ip])
        touched = {links.pod_mac(ip) for ip in changed}
        return compute_delta(((m, before[m]) for m in touched if m in before),
                             {m: self.want[m] for m in touched if m in self.want})

    def _move(self, pods: tuple[ClusterPod, ...]) -> set[str]:
        """Follow `pods` in `_where`; the IPs whose node changed (by the difference if `pods` was derived
        from the last tuple, see `intent.Derived`)."""
        delta = delta_from(pods, self._pods)
        self._pods = pods
        if delta is None:
            where = {p.ip: p.node for p in pods}
            changed = {ip for ip, _ in where.items() ^ self._where.items()}
            self._where = where
            return changed
        now = {p.ip: p.node for p in delta[1]}
        changed = set()
        for ip in {p.ip for p in delta[0]} | now.keys():
            node = now.get(ip)
            if self._where.get(ip) != node:
                changed.add(ip)
                if node is None:
                    del self._where[ip]
                else:
                    self._where[ip] = node
        return changed

    def _set(self, ip: str, node: str) -> None:
        entry = compute_entry(ip, node, self._topo)
        if isinstance(entry, tuple):
            self.want[entry[0]] = entry[1]
        elif entry is False:
            self.refused[ip] = node

    def _drop(self, ip: str) -> None:
        mac = links.pod_mac(ip)
        if mac not in self._topo.gateways:  # a pod claiming a gateway IP never had it
            self.want.pop(mac, None)
        self.refused.pop(ip, None)


class VxlanFdb:
    """The unicast entries of VXLAN device `vxlan` in node namespace `netns` (one caller at a time)."""

    def __init__(self, netns: str, vxlan: str) -> None:
        self.netns, self.vxlan = netns, vxlan
        self.planner = FdbPlanner()
        self._ifindex: int | None = None  # the device the applied entries are on (None: reconcile next)
        self._refused: frozenset[str] = frozenset()

    def sync(self, intent: NodeIntent, full: bool) -> int:
        """Bring the device's entries to what `intent` wants; the number of entries changed."""
        args = (intent.pods, intent.nodes, intent.node_name, intent.node_ip)
        if full or self._ifindex is None:
            return self._reconcile(intent)
        delta = self.planner.update(*args)
        if not delta:
            return 0
        if len(delta) > SMALL_CHANGE:
            return self._reconcile(intent)
        try:
            done = links.with_netlink(self.netns, lambda nl: self._change(nl, delta))
        except links.LinkError as exc:
            log.warning("vxlan fdb: %s; reading the device's entries again", exc.message)
            return self._reconcile(intent)
        except Exception:
            self._ifindex = None  # the planner moved on: the next sync reads the device again
            raise
        if done is None:  # the device was recreated: its entries are gone
            return self._reconcile(intent)
        self._note(len(self.planner.want))
        return done

    def _change(self, nl: links.NL, delta: FdbDelta) -> int | None:
        if nl.require(self.vxlan) != self._ifindex:
            return None
        return links.change_fdb(nl, self.vxlan, sorted(delta.remove), sorted(delta.add))

    def _reconcile(self, intent: NodeIntent) -> int:
        """Read the device's entries and make ours exactly the wanted ones."""
        self._ifindex = None
        self.planner.update(intent.pods, intent.nodes, intent.node_name, intent.node_ip)  # pure, incremental
        want = self.planner.want
        ifindex = links.with_netlink(self.netns, lambda nl: nl.require(self.vxlan))
        have = {e for e in links.observe_fdb_entries(self.netns, self.vxlan) if owns_mac(e[0])}
        delta = compute_delta(have, want)
        done = links.apply_fdb_batch(self.netns, self.vxlan, sorted(delta.remove), sorted(delta.add))
        self._ifindex = ifindex
        self._note(len(want))
        if done:
            log.info("vxlan fdb %s in %s: %d entries for other nodes' pods and gateways (+%d -%d)", self.vxlan,
                     self.netns, len(want), len(delta.add), len(delta.remove))
        return done

    def _note(self, entries: int) -> None:
        ENTRIES.set(entries)
        refused = self.planner.refused
        REFUSED.set(len(refused))
        if refused.keys() != self._refused:
            new = sorted(refused.keys() - self._refused)
            if new:
                log.warning("vxlan fdb: %d pod IP(s) outside their node's HostSubnet get no entry: %s", len(new),
                            ", ".join(f"{ip} (node {refused[ip]})" for ip in new[:5]))
            self._refused = frozenset(refused)
