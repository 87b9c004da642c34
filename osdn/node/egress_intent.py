"""Egress IPs on one node: what the master decided, turned into this node's part of the data path.

Pure: no I/O. Input: every NetNamespace's published decision (annotation `network.osdn.io/egress`,
written by the master's egress controller), this node's HostSubnet annotation
`network.osdn.io/egress-active`, the cluster's pods and nodes. Output: an `EgressIntent`.

The data path (rendered by `render.egress_ip`, routes and addresses applied by `node.egressip`):
- a connection from a pod of a namespace with egress IPs to a destination outside the cluster
  network, the service network and this node's own addresses is classified once, when conntrack
  first sees it, by its source pod: the conntrack mark's egress bits get a *code* (below);
- `SNAT`: this node holds the namespace's active egress IP: source NAT to it (pods of any node:
  steered ones arrive over VXLAN);
- `STEER | route`: another node holds it: the packet mark gets the code, a policy-routing rule
  (`iif <bridge> fwmark`) sends it to that node's pod gateway over the bridge and VXLAN, unNATed; the
  holder classifies it again as `SNAT`; replies come back through the holder's conntrack and VXLAN;
- `DROP`: the namespace's egress is dropped (no usable egress IP, a conflict), or a remote pod's
  traffic arrived here though this node does not hold its namespace's IP (a stale steer): dropped,
  never sent from a node address.

Mark layout (the conntrack mark, `ct mark`; 32 bits):
    bits 16-31  egress (this module; `EGRESS_MASK`)  0 = not an egress connection
                0x0001 SNAT here, 0x0002 drop, 0x8000 | route id (1..0x7fff) steer to a node
    bits 1-15   free for other features
    bit 0       a connection to a Cluster policy node port, to masquerade (`render.services`)
`meta mark` stays the policy chains' scratch space: the egress code is copied into it in prerouting
only (for the routing decision, which happens before the forward hook overwrites it).
Route ids are per holder node, from its pod subnet's number (stable while the node exists);
routing table = `ROUTE_TABLE_BASE` + route id.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osdn.node.intent import NodeIntent

EGRESS_ANNOTATION = "network.osdn.io/egress"
ACTIVE_ANNOTATION = "network.osdn.io/egress-active"
EGRESS_MASK = 0xFFFF0000
SNAT = 0x00010000
DROP = 0x00020000
STEER = 0x80000000
ROUTE_ID_MAX = 0x7FFF
ROUTE_TABLE_BASE = 5000
RULE_PRIORITY = 5000


def steer_code(route_id: int) -> int:
    """The mark of a connection steered to the node with `route_id`."""
    if not 1 <= route_id <= ROUTE_ID_MAX:
        raise ValueError(f"egress route id {route_id}: want 1..{ROUTE_ID_MAX}")
    return STEER | (route_id << 16)


@dataclass(frozen=True, order=True)
class EgressRoute:
    """Steering to one holder node: packets with `mark` (under `EGRESS_MASK`) go to `gateway`."""

    route_id: int
    node: str
    gateway: str   # its MAC's unicast VXLAN entry is osdn.node.fdb's (every other node's gateway)

    @property
    def mark(self) -> int:
        return steer_code(self.route_id)

    @property
    def table(self) -> int:
        return ROUTE_TABLE_BASE + self.route_id


@dataclass(frozen=True, order=True)
class EgressNamespace:
    """One namespace's published decision, as this node acts on it (for logs, trace and metrics)."""

    namespace: str
    action: str            # via | drop
    egress_ip: str = ""
    node: str = ""
    code: int = DROP
    reason: str = ""


@dataclass(frozen=True)
class EgressIntent:
    """This node's egress IP work. `codes`: pod IP -> conntrack mark code (every pod of a namespace
    with egress IPs); `snat`: pod IP -> egress IP, for the pods whose code is SNAT; `addresses`: the
    egress IPs this node hosts on its underlay interface; `routes`: steering to other holders."""

    codes: tuple[tuple[str, int], ...] = ()
    snat: tuple[tuple[str, str], ...] = ()
    addresses: tuple[str, ...] = ()
    routes: tuple[EgressRoute, ...] = ()
    namespaces: tuple[EgressNamespace, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)
    bridge: str = "osdnbr0"  # the node's pod bridge: steered packets must leave through it

    @property
    def empty(self) -> bool:
        return not (self.codes or self.addresses or self.routes)

    @property
    def snat_sources(self) -> frozenset[str]:
        return frozenset(ip for _, ip in self.snat)


@dataclass(frozen=True)
class Decision:
    """A NetNamespace's `network.osdn.io/egress` annotation (see `osdn.master.egress`)."""

    action: str
    egress_ip: str = ""
    node: str = ""
    reason: str = ""

    @classmethod
    def parse(cls, text: str) -> Decision:
        """An unreadable annotation is a drop: a namespace that asked for egress IPs never leaves
        from a node address because of a bad annotation."""
        try:
            raw = json.loads(text)
            action = str(raw["action"])
        except (ValueError, KeyError, TypeError):
            return cls("drop", reason=f"unreadable {EGRESS_ANNOTATION} annotation {text!r}")
        if action == "via" and raw.get("egressIP") and raw.get("node"):
            return cls("via", str(raw["egressIP"]), str(raw["node"]))
        return cls("drop", reason=str(raw.get("reason") or f"action {action!r}"))


@dataclass(frozen=True)
class EgressInputs:
    """What `compute_egress` reads: this node, the nodes (name -> (pod subnet, gateway, node IP)),
    the pods (ip, namespace, node) and the published annotations."""

    node: str
    nodes: Mapping[str, tuple[str, str, str]]
    pods: tuple[tuple[str, str, str], ...]
    decisions: Mapping[str, Decision]
    active: tuple[str, ...] = ()


def decisions_from_objects(objs: Iterable[Mapping[str, Any]]) -> dict[str, Decision]:
    """Pure: namespace -> decision, from the NetNamespaces that carry the master's annotation."""
    out = {}
    for o in objs:
        if o.get("kind") != "NetNamespace":
            continue
        meta = o.get("metadata") or {}
        text = (meta.get("annotations") or {}).get(EGRESS_ANNOTATION)
        if text is not None:
            out[str(o.get("netname") or meta.get("name") or "")] = Decision.parse(str(text))
    return out


def active_from_objects(objs: Iterable[Mapping[str, Any]], node: str) -> tuple[str, ...]:
    """Pure: the egress IPs the master says `node` must host (its HostSubnet annotation)."""
    for o in objs:
        meta = o.get("metadata") or {}
        if o.get("kind") == "HostSubnet" and (o.get("host") or meta.get("name")) == node:
            text = str((meta.get("annotations") or {}).get(ACTIVE_ANNOTATION) or "")
            return tuple(sorted({ip.strip() for ip in text.split(",") if _is_ipv4(ip.strip())}))
    return ()


def route_ids(nodes: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Pure: a route id per node, from its pod subnet's number (so it does not change when other
    nodes come and go); collisions (mod 0x7fff) probe linearly, nodes in name order."""
    ids: dict[str, int] = {}
    used: set[int] = set()
    for name in sorted(nodes):
        net = ipaddress.IPv4Network(nodes[name][0], strict=False)
        rid = (int(net.network_address) >> (32 - net.prefixlen)) % ROUTE_ID_MAX + 1 if net.prefixlen else 1
        while rid in used:
            rid = rid % ROUTE_ID_MAX + 1
        used.add(rid)
        ids[name] = rid
    return ids


def compute_egress(inp: EgressInputs) -> EgressIntent:
    """Pure: this node's egress codes, SNAT map, hosted addresses and steering routes."""
    ids = route_ids(inp.nodes)
    hosted = set(inp.active) | {d.egress_ip for d in inp.decisions.values()
                                if d.action == "via" and d.node == inp.node and _is_ipv4(d.egress_ip)}
    per_ns: dict[str, EgressNamespace] = {}
    problems: list[str] = []
    for ns, d in sorted(inp.decisions.items()):
        per_ns[ns] = _namespace(ns, d, inp, ids, hosted, problems)
    codes, snat, routes = [], [], {}
    for ip, ns, node in inp.pods:
        e = per_ns.get(ns)
        if e is None:
            continue
        code = e.code
        if code & STEER and node != inp.node:
            code = DROP  # a remote pod's packet reached a node that does not hold its egress IP
        codes.append((ip, code))
        if code == SNAT:
            snat.append((ip, e.egress_ip))
        elif code & STEER:
            rid = (code & ~STEER) >> 16
            routes[rid] = EgressRoute(rid, e.node, inp.nodes[e.node][1])
    return EgressIntent(tuple(sorted(codes)), tuple(sorted(snat)), tuple(sorted(hosted, key=_ip_key)),
                        tuple(sorted(routes.values())), tuple(per_ns.values()), tuple(problems))


def _namespace(ns: str, d: Decision, inp: EgressInputs, ids: Mapping[str, int], hosted: set[str],
               problems: list[str]) -> EgressNamespace:
    if d.action != "via":
        return EgressNamespace(ns, "drop", code=DROP, reason=d.reason)
    if not _is_ipv4(d.egress_ip):
        return EgressNamespace(ns, "drop", code=DROP, reason=f"egress IP {d.egress_ip!r} is not an IPv4 address")
    if d.node == inp.node:
        return EgressNamespace(ns, "via", d.egress_ip, d.node, SNAT)
    if d.node not in inp.nodes:
        problems.append(f"namespace {ns}: egress IP {d.egress_ip} is on node {d.node}, which has no HostSubnet "
                        "here yet: dropped")
        return EgressNamespace(ns, "drop", d.egress_ip, d.node, DROP, f"node {d.node} unknown")
    return EgressNamespace(ns, "via", d.egress_ip, d.node, steer_code(ids[d.node]))


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _ip_key(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def egress_for(intent: NodeIntent, objs: Iterable[Mapping[str, Any]], bridge: str = "osdnbr0") -> EgressIntent:
    """Pure: the egress part of `intent` (pods and nodes from it, decisions from `objs`)."""
    objs = list(objs)
    decisions = decisions_from_objects(objs)
    if not decisions and not any(o.get("kind") == "HostSubnet" for o in objs):
        return EgressIntent()
    nodes = {n.name: (n.subnet, n.gateway, n.node_ip) for n in intent.nodes}
    # every sync calls this: without any egress decision, no pass over the cluster's (10k) pods
    pods = tuple((p.ip, p.namespace, p.node) for p in intent.pods if p.namespace in decisions) if decisions else ()
    found = compute_egress(EgressInputs(intent.node_name, nodes, pods, decisions,
                                        active_from_objects(objs, intent.node_name)))
    return replace(found, bridge=bridge)
