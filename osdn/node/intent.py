"""What one node must enforce: the input of the node data-plane pipeline (intent -> render -> plan).

Pure: frozen dataclasses and pure helpers, no I/O. An intent is built (by `model`) from API objects
plus local facts (the node's pods and their veths); `render` turns it into nftables sets and chains.

Invariants that keep the rendered state small (O(pods + policy rules), never O(pods x pods)):
- A NetworkPolicy is a set of *target* pod IPs plus, per rule, a set of *peer* pod IPs, a set of
  peer CIDRs (ipBlock with `except` already subtracted, see `ipblock_cidrs`) and a set of ports.
  A policy selecting 200 pods from 200 peers is ~400 set elements and a handful of rules.
- Named ports are resolved per destination pod into `DestPort(ip, proto, port)` elements.
- Which rules exist depends only on the *shape* of the policies (flags `all_peers`, `all_ports`,
  `peer_ips is None`, `dest_ports is None`), never on how many pods currently match. So pod churn
  changes only set elements, and the dataplane applies it without replacing any chain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, NewType, TypeVar

from osdn.node.egress_firewall import EgressFirewallIntent
from osdn.node.egress_intent import EgressIntent
from osdn.node.services import ServiceVIP

Mode = Literal["subnet", "multitenant", "networkpolicy"]
Direction = Literal["ingress", "egress"]
Proto = Literal["tcp", "udp", "sctp"]
NetID = NewType("NetID", int)

GLOBAL_NETID = NetID(0)
# Pods of a namespace the node does not know yet (no NetNamespace) get a netid of their own from
# here up: above every VNID (24 bits), never 0, so they reach only global pods, as any isolated project.
UNKNOWN_NETID_BASE = NetID(1 << 24)
PROTOS: tuple[Proto, ...] = ("tcp", "udp", "sctp")
T = TypeVar("T")


class Derived(tuple[T, ...]):
    """A tuple that knows how it differs from the tuple it was derived from (`base`): the items of
    `base` not in it (`gone`) and its items not in `base` (`new`), by identity. A consumer that holds
    `base` updates by the difference (`delta_from`) instead of comparing every item: the incremental
    compiler hands `intent.pods` over this way, so one pod change costs its consumers O(1), not O(pods).
    Only the newest link is kept: deriving the next tuple drops this one's (`derive`), so no chain of
    old tuples stays alive; a consumer that missed a tuple compares in full, as with a plain tuple."""

    base: tuple[T, ...] | None = None
    gone: tuple[T, ...] = ()
    new: tuple[T, ...] = ()


def derive(items: tuple[T, ...], base: tuple[T, ...] | None, gone: tuple[T, ...], new: tuple[T, ...]) -> Derived[T]:
    """`items` as a `Derived` of `base` (None: of nothing, i.e. compare in full)."""
    if isinstance(base, Derived):
        base.base, base.gone, base.new = None, (), ()
    out = Derived(items)
    out.base, out.gone, out.new = base, gone, new
    return out


def delta_from(seq: Sequence[T], prev: object) -> tuple[tuple[T, ...], tuple[T, ...]] | None:
    """(gone, new) from `prev` to `seq` if `seq` was derived from exactly `prev`, else None."""
    if isinstance(seq, Derived) and seq.base is not None and seq.base is prev:
        return seq.gone, seq.new
    return None


@dataclass(frozen=True, order=True)
class Node:
    """A node of the cluster (this one included): its IP and pod subnet with the gateway on it."""

    name: str
    node_ip: str
    subnet: str
    gateway: str


@dataclass(frozen=True, order=True)
class ClusterPod:
    """A pod anywhere in the cluster. Identity is the IP (anti-spoofing makes that safe); `owner`
    (`namespace/name`, not compared) tells the agent when an IP passed to another pod."""

    ip: str
    namespace: str
    netid: NetID
    node: str
    owner: str = field(default="", compare=False)


@dataclass(frozen=True, order=True)
class LocalPod:
    """A pod on this node: its IP, its MAC and the host side of its veth (a port of the bridge)."""

    ip: str
    mac: str
    veth: str


@dataclass(frozen=True, order=True)
class PortRange:
    """`proto` ports first..last (inclusive). A port-less NetworkPolicy port is 0..65535."""

    proto: Proto
    first: int
    last: int


@dataclass(frozen=True, order=True)
class DestPort:
    """A named port resolved for one destination pod: traffic to `ip` on `proto`/`port`."""

    ip: str
    proto: Proto
    port: int


@dataclass(frozen=True)
class PolicyRule:
    """One `ingress[i]` / `egress[i]` entry of a NetworkPolicy, compiled to sets.

    Peers (sources for ingress, destinations for egress): `all_peers` (no `from`/`to`) or the union
    of `peer_ips` (pods matched by pod/namespace selectors; None when the rule has no selector peer)
    and `peer_cidrs` (ipBlocks minus their excepts). Ports: `all_ports` (no `ports`) or the union
    of numeric `ports` and `dest_ports` (named ports; None when the rule names no port).
    """

    all_peers: bool = False
    peer_ips: frozenset[str] | None = None
    peer_cidrs: frozenset[str] = frozenset()
    all_ports: bool = True
    ports: frozenset[PortRange] = frozenset()
    dest_ports: frozenset[DestPort] | None = None


@dataclass(frozen=True)
class Policy:
    """A NetworkPolicy: the pods it selects (cluster-wide IPs; render keeps the local ones),
    the directions it isolates (policyTypes) and its rules per direction."""

    namespace: str
    name: str
    targets: frozenset[str]
    ingress: bool = True
    egress: bool = False
    ingress_rules: tuple[PolicyRule, ...] = ()
    egress_rules: tuple[PolicyRule, ...] = ()

    def closed(self) -> Policy:
        """Fail closed: the same pods isolated in the same directions, with nothing allowed."""
        return replace(self, ingress_rules=(), egress_rules=())


@dataclass(frozen=True, order=True)
class PolicyFailure:
    """A NetworkPolicy this node does not enforce rule by rule: it fails closed (see `compile`)."""

    namespace: str
    name: str
    reason: str


@dataclass(frozen=True)
class NodeIntent:
    """Everything one node enforces. `nodes` lists every node (this one too); `pods` every pod in
    the cluster; `local_pods` the pods attached to this node's bridge; `uplinks` the bridge ports that
    are not pods (the VXLAN device) and are trusted to carry any source address. `policy_failures`:
    the policies among `policies` that fail closed (no rules), with why; the agent reports them.
    `egress`: this node's part of the egress IP data path (empty: nothing rendered for it)."""

    mode: Mode
    node_name: str
    cluster_cidrs: tuple[str, ...]
    service_cidr: str
    local_subnet: str
    gateway: str
    node_ip: str
    nodes: tuple[Node, ...] = ()
    pods: tuple[ClusterPod, ...] = ()
    local_pods: tuple[LocalPod, ...] = ()
    uplinks: tuple[str, ...] = ("vxlan0",)
    vxlan_port: int = 4789
    policies: tuple[Policy, ...] = ()
    multicast_netids: frozenset[NetID] = field(default_factory=frozenset)
    policy_failures: tuple[PolicyFailure, ...] = ()
    egress: EgressIntent = field(default_factory=EgressIntent)  # egress IPs (see `egress_intent`)
    services: tuple[ServiceVIP, ...] = ()  # ClusterIP:port -> endpoints (see `osdn.node.services`)
    egress_firewall: EgressFirewallIntent = field(default_factory=EgressFirewallIntent)  # `node.egress_firewall`

    def host_addrs(self) -> frozenset[str]:
        """Node IPs and pod gateways of every node: the hosts (netid 0 in multitenant mode)."""
        addrs = {self.node_ip, self.gateway}
        for node in self.nodes:
            addrs.update((node.node_ip, node.gateway))
        return frozenset(addrs)


def ipblock_cidrs(cidr: str, excepts: tuple[str, ...] = ()) -> frozenset[str]:
    """Pure: the CIDRs covering `cidr` minus every `except` CIDR (NetworkPolicy ipBlock).

    >>> sorted(ipblock_cidrs("10.0.0.0/30", ("10.0.0.1/32",)))
    ['10.0.0.0/32', '10.0.0.2/31']
    """
    nets = [ipaddress.IPv4Network(cidr, strict=False)]
    for exc in excepts:
        hole = ipaddress.IPv4Network(exc, strict=False)
        nxt: list[ipaddress.IPv4Network] = []
        for net in nets:
            if hole.subnet_of(net):
                nxt.extend(net.address_exclude(hole))
            elif not net.subnet_of(hole):
                nxt.append(net)
        nets = nxt
    return frozenset(str(n) for n in ipaddress.collapse_addresses(nets))
