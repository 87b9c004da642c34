"""Compile API objects plus this node's local facts into a `NodeIntent` (the input of render).

Pure: no I/O. The reachability oracle's `ClusterState` does the API semantics once (netids, policy
selection, named ports); this module only reshapes its answer into the node's sets:
- every pod with an IP (not host-network) -> `ClusterPod` (identity = IP), with its namespace's netid;
- this node's attached pods (from the agent's IPAM leases) -> `LocalPod`, and also `ClusterPod` even
  before the API shows their IP, so a pod being added is protected in the same sync;
- NetworkPolicies -> `Policy` with IP sets (ipBlock minus excepts, numeric ports, named ports
  resolved per destination pod). A rule's shape (which kinds of peers/ports it has) never depends on
  how many pods match, so pod churn stays element-only;
- multicast is enabled for a netid iff every namespace sharing it has the annotation;
- Services forward to the endpoints of their EndpointSlices, merged as kube-proxy does
  (`osdn.model.slices`; a Service without any slice: its Endpoints, else its selector's pods).

Fail closed, never fail the node: a policy the model marks unenforceable (over the API's limits,
malformed), one that does not compile here, or one render cannot number (`render.policy.unrenderable`)
becomes `Policy.closed()` (its pods isolated in its directions, nothing allowed by it) and is listed
in `NodeIntent.policy_failures`; every other policy compiles as usual. Pods of a namespace this node
does not know yet (multitenant: no NetNamespace; networkpolicy: no Namespace object) are isolated,
never global: multitenant gives them a netid of their own above every VNID (`UNKNOWN_NETID_BASE`),
networkpolicy isolates them both ways with no rule (and ignores that namespace's policies) until the
namespace is known.

`relevant_change` (pure) is the agent's event filter: it tells whether a watch event can change the
result of `compile_intent`, so events that cannot (a pod's phase, conditions or annotations; any
resourceVersion bump) spend no sync. It must stay in step with what compile and the model read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.model import objects as o
from osdn.model.cluster import MULTITENANT, NETWORKPOLICY, ClusterState
from osdn.model.netpol import CompiledPolicy, Rule
from osdn.model.subnets import gateway_for
from osdn.node import egress_firewall as efw
from osdn.node.intent import (
    UNKNOWN_NETID_BASE,
    ClusterPod,
    DestPort,
    LocalPod,
    NetID,
    Node,
    NodeIntent,
    Policy,
    PolicyFailure,
    PolicyRule,
    PortRange,
    Proto,
    ipblock_cidrs,
)
from osdn.node.render.policy import unrenderable
from osdn.node.services import compute_services

_PROTOS: dict[str, Proto] = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
UNKNOWN_NAMESPACE_POLICY = "osdn:unknown-namespace"  # never a NetworkPolicy name (`:` is not allowed)
_VOLATILE_META = frozenset({"resourceVersion", "managedFields", "generation", "creationTimestamp", "uid",
                            "selfLink"})


@dataclass(frozen=True)
class LocalAttachment:
    """A pod attached to this node's bridge (what the CNI ADD made)."""

    namespace: str
    pod: str
    ip: str
    mac: str
    host_veth: str


@dataclass(frozen=True)
class NodeFacts:
    """What only the node knows: its name, IP, device names and attached pods."""

    name: str
    node_ip: str
    attachments: tuple[LocalAttachment, ...] = ()
    uplinks: tuple[str, ...] = ("vxlan0",)


class NoHostSubnetError(LookupError):
    """The node has no HostSubnet (yet)."""


def compile_intent(objs: Iterable[Mapping[str, Any]], facts: NodeFacts) -> NodeIntent:
    """Pure: the intent of node `facts.name` for the cluster described by `objs`."""
    objs = list(objs)
    state = ClusterState.from_objects(objs)
    own = next((h for h in state.host_subnets if h.node == facts.name and h.subnet is not None), None)
    if own is None:
        raise NoHostSubnetError(f"node {facts.name} has no HostSubnet with a subnet")
    subnet = str(own.subnet)
    ips = PodIps(state.pods)
    known = known_namespaces(objs, state.mode)
    pods = compute_cluster_pods(state, facts, ips, known)
    policies, failures = compute_policies(state, ips, known)
    if state.mode == NETWORKPOLICY:
        policies += unknown_namespace_policies(pods, known)
    return NodeIntent(
        mode=state.mode,  # type: ignore[arg-type]
        node_name=facts.name,
        cluster_cidrs=tuple(str(c) for c in state.cluster_cidrs),
        service_cidr=str(state.service_cidr),
        local_subnet=subnet,
        gateway=gateway_for(subnet),
        node_ip=facts.node_ip,
        nodes=compute_nodes(state.host_subnets),
        pods=pods,
        local_pods=tuple(sorted(LocalPod(a.ip, a.mac, a.host_veth) for a in facts.attachments)),
        uplinks=facts.uplinks,
        policies=policies,
        multicast_netids=compute_multicast_netids(state.netnamespaces),
        policy_failures=failures if state.mode == NETWORKPOLICY else (),
        services=compute_services(state, gateway_for(subnet), subnet),
        egress_firewall=efw.compute_node_firewall(state.mode, (x for x in objs if x.get("kind") == "EgressNetworkPolicy"),
                                                  state.netnamespaces, ((a.ip, a.namespace) for a in facts.attachments)),
    )


def known_namespaces(objs: Iterable[Mapping[str, Any]], mode: str) -> frozenset[str] | None:
    """Pure: the namespaces whose isolation this node knows (None: all, in subnet mode): those with a
    NetNamespace in multitenant mode (it carries the netid), a Namespace object in networkpolicy mode
    (it carries the labels that namespace selectors read)."""
    if mode not in (MULTITENANT, NETWORKPOLICY):
        return None
    kind = "NetNamespace" if mode == MULTITENANT else "Namespace"
    return frozenset(str(o.get("netname") or (o.get("metadata") or {}).get("name") or "")
                     for o in objs if o.get("kind") == kind)


def unknown_namespace_policies(pods: tuple[ClusterPod, ...], known: frozenset[str] | None) -> tuple[Policy, ...]:
    """Pure: per unknown namespace, a policy isolating its pods both ways and allowing nothing."""
    by_ns: dict[str, set[str]] = {}
    for p in pods:
        if known is not None and p.namespace not in known:
            by_ns.setdefault(p.namespace, set()).add(p.ip)
    return tuple(Policy(ns, UNKNOWN_NAMESPACE_POLICY, frozenset(ips), ingress=True, egress=True)
                 for ns, ips in sorted(by_ns.items()))


def compute_policies(state: ClusterState, ips: PodIps, known: frozenset[str] | None = None
                     ) -> tuple[tuple[Policy, ...], tuple[PolicyFailure, ...]]:
    """Pure: every policy of a known namespace, each compiled or closed (with why); one policy never
    stops the others."""
    policies: list[Policy] = []
    failures: list[PolicyFailure] = []
    skip = known if state.mode == NETWORKPOLICY else None
    for cp in state.policies:
        if skip is not None and cp.namespace not in skip:
            continue
        pol, why = policy_or_closed(cp, ips)
        policies.append(pol)
        if why:
            failures.append(PolicyFailure(cp.namespace, cp.name, why))
    return tuple(policies), tuple(failures)


def policy_or_closed(cp: CompiledPolicy, ips: PodIps) -> tuple[Policy, str]:
    """Pure: one model policy compiled to sets, or its closed form with why (never raises)."""
    try:
        pol = compute_policy(cp, ips)
    except (ValueError, TypeError) as exc:
        pol = Policy(cp.namespace, cp.name, ips.of(cp.selected), ingress=cp.ingress is not None,
                     egress=cp.egress is not None)
        return pol, f"cannot compile: {type(exc).__name__}: {exc}"
    why = cp.failed or unrenderable(pol) or ""
    return (pol.closed() if why else pol), why


class PodIps:
    """Pod IPs as text by pod index (None: no IP, or host network: in no set), and the IP sets of
    pod-index sets, memoized: the model shares one frozenset per selector, and at 10k pods turning
    addresses into text is a good part of compile's own cost. `pods` is the model's pod sequence the
    indexes point into (the whole cluster, or the namespaces a policy reads: see `incremental`)."""

    def __init__(self, pods: Sequence[o.Pod]) -> None:
        self.pods = pods
        self.text = [None if p.ip is None or p.host_network else str(p.ip) for p in pods]
        self._sets: dict[frozenset[int], frozenset[str]] = {}

    def of(self, idxs: frozenset[int]) -> frozenset[str]:
        got = self._sets.get(idxs)
        if got is None:
            got = self._sets[idxs] = frozenset(t for t in map(self.text.__getitem__, idxs) if t is not None)
        return got


def compute_nodes(host_subnets: Iterable[o.HostSubnet]) -> tuple[Node, ...]:
    return tuple(sorted(Node(h.node, str(h.host_ip), str(h.subnet), gateway_for(str(h.subnet)))
                        for h in host_subnets if h.subnet is not None and h.host_ip is not None))


def compute_cluster_pods(state: ClusterState, facts: NodeFacts, ips: PodIps | None = None,
                         known: frozenset[str] | None = None) -> tuple[ClusterPod, ...]:
    """Every pod IP of the cluster; a local attachment wins over a (stale) API pod with its IP.
    A namespace not in `known` (None: all known) gets a netid of its own above every VNID."""
    text = (ips or PodIps(state.pods)).text
    local = {a.ip: a for a in facts.attachments}
    found = [(ip, p.namespace, p.node, p.key) for p, ip in zip(state.pods, text, strict=True)
             if ip is not None and ip not in local]
    found += [(a.ip, a.namespace, facts.name, f"{a.namespace}/{a.pod}") for a in facts.attachments]
    netids = unknown_netids({ns for _, ns, _, _ in found}, known)
    pods: dict[str, ClusterPod] = {}
    for ip, ns, node, owner in found:
        netid = netids.get(ns)
        if netid is None:
            netid = netids[ns] = NetID(state.netid(ns))
        pods[ip] = ClusterPod(ip, ns, netid, node, owner)
    return tuple(sorted(pods.values()))


def unknown_netids(namespaces: Iterable[str], known: frozenset[str] | None) -> dict[str, NetID]:
    """Pure: a netid of its own (from `UNKNOWN_NETID_BASE` up, in name order) for every namespace
    not in `known` (None: all known)."""
    unknown = sorted(ns for ns in set(namespaces) if known is not None and ns not in known)
    return {ns: NetID(UNKNOWN_NETID_BASE + i) for i, ns in enumerate(unknown)}


def compute_multicast_netids(netnamespaces: Mapping[str, o.NetNamespace]) -> frozenset[NetID]:
    by_netid: dict[int, list[bool]] = {}
    for nn in netnamespaces.values():
        by_netid.setdefault(nn.netid, []).append(nn.multicast)
    return frozenset(NetID(n) for n, flags in by_netid.items() if all(flags))


def compute_policy(pol: CompiledPolicy, ips: PodIps) -> Policy:
    """One model policy as sets of IPs; named ports resolve on the destination pods."""
    targets = ips.of(pol.selected)
    ingress = tuple(_rule(ips, r, pol.selected, "ingress") for r in pol.ingress or ())
    egress = tuple(_rule(ips, r, pol.selected, "egress") for r in pol.egress or ())
    return Policy(pol.namespace, pol.name, targets, ingress=pol.ingress is not None,
                  egress=pol.egress is not None, ingress_rules=ingress, egress_rules=egress)


def _rule(ips: PodIps, rule: Rule, selected: frozenset[int], direction: str) -> PolicyRule:
    peer_ips: frozenset[str] | None = None
    cidrs: set[str] = set()
    peer_idxs: set[int] = set()
    for peer in rule.peers or ():
        peer_idxs |= peer.pods  # named egress ports resolve on every peer pod, ipBlock ones included
        if peer.block is not None:
            cidrs |= ipblock_cidrs(str(peer.block), tuple(str(e) for e in peer.excepts))
        elif not peer.text.startswith("ipBlock"):
            peer_ips = ips.of(peer.pods) if peer_ips is None else peer_ips | ips.of(peer.pods)
    ports: set[PortRange] = set()
    dest: set[DestPort] | None = None
    for pm in rule.ports or ():
        proto = _PROTOS.get(pm.protocol)
        if proto is None:
            continue  # an unknown protocol matches nothing
        if isinstance(pm.port, str):
            dest = dest or set()
            dest |= _named(ips, pm.port, pm.protocol, proto, _dest_pods(ips, rule, selected, peer_idxs, direction))
        elif pm.port is None:
            ports.add(PortRange(proto, 0, 65535))
        else:
            end = pm.end_port if pm.end_port is not None and pm.end_port >= pm.port else pm.port
            ports.add(PortRange(proto, pm.port, end))
    return PolicyRule(all_peers=rule.peers is None, peer_ips=peer_ips, peer_cidrs=frozenset(cidrs),
                      all_ports=rule.ports is None, ports=frozenset(ports),
                      dest_ports=None if dest is None else frozenset(dest))


def _dest_pods(ips: PodIps, rule: Rule, selected: frozenset[int], peer_idxs: set[int],
               direction: str) -> Iterable[int]:
    """Where a named port is looked up (pod indexes): the policy's pods (ingress) or the peers (egress)."""
    if direction == "ingress":
        return selected
    if rule.peers is None:
        return range(len(ips.pods))
    return peer_idxs


def _named(ips: PodIps, name: str, protocol: str, proto: Proto, idxs: Iterable[int]) -> set[DestPort]:
    out = set()
    for i in idxs:
        ip = ips.text[i]
        if ip is None:
            continue
        port = ips.pods[i].named_port(name, protocol)
        if port is not None:
            out.add(DestPort(ip, proto, port))
    return out


def relevant_change(kind: str, new: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> bool:
    """Pure: whether an event (old -> new; None for a missing object) can change any node's intent."""
    return _projection(kind, new) != _projection(kind, old)


def _projection(kind: str, obj: Mapping[str, Any] | None) -> object:
    """The part of `obj` that compile (through the model) reads; conservative: everything but
    bookkeeping, except for Pods, whose status and annotations churn while only the IP matters."""
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _VOLATILE_META}
    if kind != "Pod":
        return meta, {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    status = obj.get("status") or {}
    if not status.get("podIP"):
        return None  # a pod without an IP is in no set (this node's own pods come from its IPAM leases)
    meta.pop("annotations", None)
    return meta, obj.get("spec"), status.get("podIP"), status.get("podIPs")
