"""Egress IPs: which requested IPs are active, what each namespace's egress does, and the marks.

Pure: no I/O, no clock, no randomness; results depend only on the arguments (input order breaks
ties, as documented per function). Namespaces are grouped by NetID, as in openshift-sdn: joined
namespaces share one egress decision.

Activity (openshift-sdn `egressIPActive`): an egress IP is active iff exactly one node and exactly one
NetID claim it, and no other requested IP of that NetID sits on the same node. Node state does not
change activity; it changes which active IP a namespace uses.

Namespace decision (documented choice between the 3.11 and 4.x behaviours):
- no egress IPs requested -> NORMAL (masquerade to the node IP);
- any requested IP also claimed by another NetID -> DROP;
- else the *first* requested IP (list order) that is active and whose node is online -> VIA that IP
  (3.11 failover: a later IP is used only while the earlier ones are unusable; the other usable IPs
  are listed as `standby`);
- nothing usable -> DROP with the reason. Never falls back to the node IP while egressIPs are set.
  (Unlike 3.11, a single-IP namespace whose node is offline is DROPped explicitly rather than
  steered into the dead node: the same outcome, but visible in traces.)

Automatic assignment: `reallocate_egress_ips` (openshift-sdn 4.x `ReallocateEgressIPs`, with capacity),
at the bottom of this module; its invariants are stated there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class NamespaceEgress:
    """The egress part of a NetNamespace."""

    name: str
    netid: int
    egress_ips: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> NamespaceEgress:
        name = str(obj.get("netname") or (obj.get("metadata") or {}).get("name", ""))
        return cls(name, int(obj.get("netid") or 0), tuple(obj.get("egressIPs") or ()))


@dataclass(frozen=True)
class NodeEgress:
    """The egress part of a HostSubnet; `capacity` None = unlimited (cloud nodes set a limit)."""

    name: str
    host_ip: str
    egress_ips: tuple[str, ...] = ()
    egress_cidrs: tuple[str, ...] = ()
    capacity: int | None = None

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], capacity: int | None = None) -> NodeEgress:
        name = str(obj.get("host") or (obj.get("metadata") or {}).get("name", ""))
        return cls(name, str(obj.get("hostIP") or ""), tuple(obj.get("egressIPs") or ()),
                   tuple(obj.get("egressCIDRs") or ()), capacity)


@dataclass(frozen=True)
class IPStatus:
    ip: str
    active: bool
    node: str | None = None          # the claiming node (when exactly one)
    node_ip: str | None = None
    netid: int | None = None         # the claiming NetID (when exactly one)
    error: str | None = None         # conflict message (reference wording); None if merely unused


class Egress(StrEnum):
    NORMAL = "normal"
    VIA = "via"
    DROP = "drop"


@dataclass(frozen=True)
class EgressDecision:
    netid: int
    namespaces: tuple[str, ...]
    action: Egress
    egress_ip: str | None = None
    node: str | None = None
    node_ip: str | None = None
    standby: tuple[str, ...] = ()     # further usable IPs, in failover order
    reason: str = ""


@dataclass(frozen=True)
class EgressState:
    ips: dict[str, IPStatus]
    namespaces: dict[int, EgressDecision]    # by NetID

    def hosted_by(self, node: str) -> list[IPStatus]:
        """Active egress IPs that `node` must configure (address + SNAT), sorted by IP."""
        return sorted((s for s in self.ips.values() if s.active and s.node == node), key=lambda s: s.ip)


@dataclass
class _Claims:
    nodes: list[NodeEgress] = field(default_factory=list)
    netids: list[int] = field(default_factory=list)


def _requested_by_netid(namespaces: Iterable[NamespaceEgress]) -> tuple[dict[int, list[str]], dict[int, list[str]], dict[int, str]]:
    """NetID -> requested IPs (deduplicated, ordered), NetID -> names, NetID -> conflict reason."""
    requested: dict[int, list[str]] = {}
    names: dict[int, list[str]] = {}
    conflicts: dict[int, str] = {}
    for ns in namespaces:
        names.setdefault(ns.netid, []).append(ns.name)
        ips = list(dict.fromkeys(ns.egress_ips))
        if not ips:
            continue
        if ns.netid in requested and requested[ns.netid] != ips:
            conflicts[ns.netid] = (f"namespaces {', '.join(names[ns.netid])} share VNID {ns.netid} "
                                   "but request different egress IPs")
        requested.setdefault(ns.netid, ips)
    return requested, names, conflicts


def _claims(requested: Mapping[int, list[str]], nodes: Iterable[NodeEgress]) -> dict[str, _Claims]:
    claims: dict[str, _Claims] = {}
    for node in nodes:
        for ip in dict.fromkeys(node.egress_ips):
            claims.setdefault(ip, _Claims()).nodes.append(node)
    for netid, ips in requested.items():
        for ip in ips:
            claims.setdefault(ip, _Claims()).netids.append(netid)
    return claims


def _status(ip: str, c: _Claims, requested: Mapping[int, list[str]], claims: Mapping[str, _Claims]) -> IPStatus:
    if not c.nodes or not c.netids:
        netid = c.netids[0] if len(c.netids) == 1 else None
        if len(c.nodes) == 1:
            return IPStatus(ip, False, c.nodes[0].name, c.nodes[0].host_ip, netid)
        return IPStatus(ip, False, netid=netid)
    if len(c.nodes) > 1:
        return IPStatus(ip, False, error=f"Multiple nodes ({c.nodes[0].host_ip}, {c.nodes[1].host_ip}) "
                                        f"claiming EgressIP {ip}")
    node, netid = c.nodes[0], c.netids[0]
    if len(c.netids) > 1:
        return IPStatus(ip, False, node.name, node.host_ip,
                        error=f"Multiple namespaces ({c.netids[0]}, {c.netids[1]}) claiming EgressIP {ip}")
    for other in requested[netid]:
        oc = claims.get(other)
        if other != ip and oc is not None and len(oc.nodes) == 1 and oc.nodes[0] is node:
            return IPStatus(ip, False, node.name, node.host_ip, netid,
                            f"Multiple EgressIPs ({ip}, {other}) for VNID {netid} on node {node.host_ip}")
    return IPStatus(ip, True, node.name, node.host_ip, netid)


def compute_egress_state(namespaces: Iterable[NamespaceEgress], nodes: Iterable[NodeEgress],
                         offline: Iterable[str] = ()) -> EgressState:
    """Activity of every egress IP and the egress decision of every NetID.

    `offline` holds node names. Conflicting claims are reported with the first two claimants in input
    order (nodes by their host IP, namespaces by NetID).
    """
    requested, names, conflicts = _requested_by_netid(namespaces)
    claims = _claims(requested, nodes)
    ips = {ip: _status(ip, c, requested, claims) for ip, c in claims.items()}
    down = set(offline)
    decisions = {}
    for netid, ns_names in names.items():
        decisions[netid] = _decide(netid, tuple(ns_names), requested.get(netid, []), ips, claims, down,
                                   conflicts.get(netid))
    return EgressState(ips, decisions)


def _decide(netid: int, names: tuple[str, ...], wanted: list[str], ips: Mapping[str, IPStatus],
            claims: Mapping[str, _Claims], down: set[str], conflict: str | None) -> EgressDecision:
    if not wanted:
        return EgressDecision(netid, names, Egress.NORMAL)
    if conflict:
        return EgressDecision(netid, names, Egress.DROP, reason=conflict)
    for ip in wanted:
        if len(claims[ip].netids) > 1:
            return EgressDecision(netid, names, Egress.DROP, reason=f"egress IP {ip} is claimed by several "
                                  f"namespaces: {ips[ip].error}")
    usable, why = [], []
    for ip in wanted:
        st = ips[ip]
        if not st.active:
            why.append(f"{ip}: {st.error or 'not assigned to any node'}")
        elif st.node in down:
            why.append(f"{ip}: node {st.node} ({st.node_ip}) is offline")
        else:
            usable.append(st)
    if not usable:
        return EgressDecision(netid, names, Egress.DROP, reason="no usable egress IP (" + "; ".join(why) + ")")
    first = usable[0]
    return EgressDecision(netid, names, Egress.VIA, first.ip, first.node, first.node_ip,
                          tuple(s.ip for s in usable[1:]))


# ---------------------------------------------------------------------------------------------
# marks


def vnid_mark(vnid: int, masq_bit: int) -> int:
    """The packet mark carrying `vnid` to the egress node's SNAT rule (openshift-sdn getMarkForVNID).

    Avoids kube-proxy's masquerade bit (`masq_bit`, e.g. 1<<14) and kubelet's drop bit (0x8000) by
    moving them to bits 24 / 28; VNID 0 gets 0xff000000 (with the masquerade bit moved if it is there).
    """
    if vnid == 0:
        mark = 0xFF000000
    else:
        mark = vnid
        if mark & 0x8000:
            mark = (mark | 0x10000000) ^ 0x8000
    if mark & masq_bit:
        mark = (mark | 0x01000000) ^ masq_bit
    return mark


def format_mark(mark: int) -> str:
    return f"0x{mark:08x}"


# ---------------------------------------------------------------------------------------------
# automatic assignment


@dataclass(frozen=True)
class EgressAllocation:
    """New HostSubnet.egressIPs for every node that has egressCIDRs.

    `again`: the controller should run another round after writing this one (IPs were removed from
    nodes and may be placed elsewhere next round).
    """

    by_node: dict[str, list[str]]
    again: bool = False

    def changes(self, nodes: Iterable[NodeEgress]) -> dict[str, list[str]]:
        """Only the HostSubnets whose egressIPs (as a set) differ: what to write."""
        current = {n.name: set(n.egress_ips) for n in nodes}
        return {name: ips for name, ips in self.by_node.items() if set(ips) != current.get(name, set())}



# Invariants of `reallocate_egress_ips` (checked by property tests):
# - an IP appears on at most one node of the result, and never on a node that already holds it
#   manually (a node without egressCIDRs);
# - every IP in the result lies inside one of its node's egressCIDRs, on an online node, within its
#   capacity, and no node holds two IPs of the same NetID;
# - only IPs requested by exactly one NetID and claimed by at most one node are placed.
# Determinism: the reference iterates Go maps; here ties are broken by input order / NetID / node name.


@dataclass
class _AutoNode:
    node: NodeEgress
    online: bool
    fits: frozenset[str]       # the requested IPs inside this node's egressCIDRs

    def spare(self, alloc: Mapping[str, list[str]]) -> float:
        cap = float("inf") if self.node.capacity is None else self.node.capacity
        return cap - len(alloc[self.node.name])


def _ip_int(ip: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(ip))
    except ValueError:
        return None


def _fits(cidrs: Iterable[str], ips: Iterable[tuple[str, int]]) -> frozenset[str]:
    """IPs inside any of `cidrs`; invalid or non-IPv4 CIDRs (rejected by API validation) are ignored."""
    nets = []
    for text in cidrs:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if isinstance(net, ipaddress.IPv4Network):
            nets.append((int(net.network_address), int(net.netmask)))
    return frozenset(ip for ip, value in ips if any(value & mask == base for base, mask in nets))


class _Planner:
    def __init__(self, namespaces: Iterable[NamespaceEgress], nodes: Iterable[NodeEgress],
                 offline: Iterable[str]) -> None:
        requested, _, conflicts = _requested_by_netid(namespaces)
        self.requested = {netid: ips for netid, ips in requested.items() if netid not in conflicts}
        self.nodes = list(nodes)
        self.claims = _claims(self.requested, self.nodes)
        self.status = {ip: _status(ip, c, self.requested, self.claims) for ip, c in self.claims.items()}
        down = set(offline)
        self.order = round_robin_order(self.requested)
        wanted = [(ip, v) for ip in self.order if (v := _ip_int(ip)) is not None]
        self.auto = {n.name: _AutoNode(n, n.name not in down, _fits(n.egress_cidrs, wanted))
                     for n in self.nodes if n.egress_cidrs}

    def empty(self) -> tuple[dict[str, list[str]], set[str]]:
        """Fresh allocation. 'done' IPs are never placed: unused, conflicting, or held by a node without
        egressCIDRs (manual; even when inactive, placing it elsewhere would make two nodes claim it)."""
        done = {ip for ip, c in self.claims.items()
                if len(c.netids) != 1 or len(c.nodes) > 1
                or any(n.name not in self.auto for n in c.nodes)}   # held manually: never ours to move
        return {name: [] for name in self.auto}, done

    def keep_existing(self, alloc: dict[str, list[str]], done: set[str]) -> bool:
        """Keep active IPs where they are if still valid; returns whether any was removed."""
        removed = False
        for node in self.nodes:
            auto = self.auto.get(node.name)
            for ip in node.egress_ips:
                if ip in done or not self.status[ip].active:
                    continue
                done.add(ip)           # placed, kept manual, or removed: not re-placed this round
                if auto is None:
                    continue           # manual assignment on a node without egressCIDRs: not ours
                if auto.online and ip in auto.fits and auto.spare(alloc) > 0:
                    alloc[node.name].append(ip)
                else:
                    removed = True
        return removed

    def place_new(self, alloc: dict[str, list[str]], done: set[str]) -> None:
        """Pass 1: IPs with exactly one eligible node; pass 2: the rest."""
        for single_only in (True, False):
            for ip in self.order:
                if ip in done:
                    continue
                best, several = self.best_node(ip, alloc)
                if best is not None and not (single_only and several):
                    alloc[best].append(ip)
                    done.add(ip)

    def best_node(self, ip: str, alloc: Mapping[str, list[str]]) -> tuple[str | None, bool]:
        """Fewest allocated IPs, then most spare capacity, then the node fewer requested IPs fit (keep
        flexible nodes for later), then name. Also returns whether more than one node is eligible."""
        siblings = set(self.requested[self.claims[ip].netids[0]])
        eligible = [n for n in self.auto.values()
                    if n.online and n.spare(alloc) > 0 and not siblings.intersection(alloc[n.node.name])
                    and ip in n.fits]
        if not eligible:
            return None, False
        best = min(eligible, key=lambda n: (len(alloc[n.node.name]), -n.spare(alloc), len(n.fits), n.node.name))
        return best.node.name, len(eligible) > 1


def round_robin_order(requested: Mapping[int, list[str]]) -> list[str]:
    """Requested IPs round-robin over NetIDs sorted by ascending request count (ties: NetID).

    {1: [a, b, c], 2: [d, e], 3: [f]} -> [f, d, a, e, b, c]: the most constrained first.
    """
    netids = sorted(requested, key=lambda v: (len(requested[v]), v))
    width = max((len(ips) for ips in requested.values()), default=0)
    return [requested[v][i] for i in range(width) for v in netids if i < len(requested[v])]


def reallocate_egress_ips(namespaces: Iterable[NamespaceEgress], nodes: Iterable[NodeEgress],
                          offline: Iterable[str] = ()) -> EgressAllocation:
    """One round of automatic egress IP assignment over the nodes that have egressCIDRs.

    1. IPs with no namespace, several nodes or several NetIDs are not placed (and dropped from nodes);
    2. each active IP stays on its node if still inside one of its egressCIDRs, the node is online and
       has capacity left; otherwise it is removed (and placed only next round);
    3. pending IPs in `round_robin_order`; 4. pass 1 places IPs that have exactly one eligible node,
       pass 2 the rest, on the node with the fewest IPs (then most spare capacity; the reference
       leaves further ties to Go map order, here: the node fewer requested IPs fit, then name);
    5. if nothing was removed, compare with a from-scratch plan: nodes holding fewer than half of what
       the fresh plan gives them (rounded down, as the reference), or nothing while the fresh plan
       gives them something (the reference's rounding never counts a node the fresh plan gives one IP
       as empty, so the seed's example, two IPs and `egressCIDRs` set on node1 and then node2 more than
       a second apart, would stay on node1), while another node holds at least two more IPs than they
       do (moving an IP breaks its connections: only for a real gain, so a single IP never bounces
       between nodes), are "empty"; the IPs the fresh plan puts there that sit on a node
       holding at least two more IPs are unassigned now so that the next round can place them there
       (an IP the fresh plan puts there but that is unplaced, or on a node no fuller, is left alone:
       withholding it would gain nothing and never settle).
    """
    plan = _Planner(namespaces, nodes, offline)
    alloc, done = plan.empty()
    removed = plan.keep_existing(alloc, done)
    plan.place_new(alloc, done)
    if removed:
        return EgressAllocation(alloc, again=True)
    fresh, fresh_done = plan.empty()
    plan.place_new(fresh, fresh_done)
    most = max((len(ips) for ips in alloc.values()), default=0)
    starved = [name for name, ips in fresh.items()
               if _starved(len(alloc[name]), len(ips)) and most >= len(alloc[name]) + 2]
    holder = {ip: name for name, ips in alloc.items() for ip in ips}
    moving = {ip for name in starved for ip in fresh[name]
              if ip in holder and len(alloc[holder[ip]]) >= len(alloc[name]) + 2}
    if not moving:  # what the fresh plan gives them is unplaced or on a node no fuller: nothing to gain
        return EgressAllocation(alloc)
    alloc, done = plan.empty()
    done.update(moving)
    plan.keep_existing(alloc, done)
    plan.place_new(alloc, done)
    return EgressAllocation(alloc, again=True)


def _starved(held: int, fresh: int) -> bool:
    """A node holding `held` IPs where a fresh plan puts `fresh`: below half (the reference's
    `len(incremental) < len(full)/2`), or empty although the fresh plan uses it."""
    return held < fresh // 2 or held == 0 < fresh


def settle_egress_ips(namespaces: Iterable[NamespaceEgress], nodes: Iterable[NodeEgress],
                      offline: Iterable[str] = (), rounds: int = 4) -> EgressAllocation:
    """`reallocate_egress_ips` repeated on its own result until a round changes nothing (at most
    `rounds`): an IP taken off an offline node is placed on another in the same decision, so nodes
    see one move instead of "dropped" and then "moved" a round later. `again`: still unsettled."""
    namespaces, current, down = list(namespaces), list(nodes), list(offline)
    alloc = reallocate_egress_ips(namespaces, current, down)
    for _ in range(rounds - 1):
        if not alloc.again:
            break
        current = [replace(n, egress_ips=tuple(alloc.by_node[n.name])) if n.name in alloc.by_node else n
                   for n in current]
        alloc = reallocate_egress_ips(namespaces, current, down)
    return alloc


def write_order(changes: Mapping[str, list[str]], nodes: Iterable[NodeEgress]) -> list[str]:
    """Nodes to write, those that lose an IP first: an IP is never on two HostSubnets at once."""
    before = {n.name: set(n.egress_ips) for n in nodes}
    return sorted(changes, key=lambda name: (not (before.get(name, set()) - set(changes[name])), name))
