"""A test stand-in for openshift-sdn's EgressIPTracker, built on osdn's pure egress IP model.

openshift-sdn's tests (`pkg/network/common/egressip_test.go`) feed HostSubnet/NetNamespace updates to
a tracker and assert the *changes* its watcher hears: "claim IP on NODEIP for namespace V",
"release IP on NODEIP", "namespace V normal|dropped", and "namespace V via IP on NODEIP" (one line
per usable egress IP). osdn's model is level-triggered (`compute_egress_state` of the whole state),
so this stand-in keeps the objects, recomputes the state after each update and reports the same
change lines by diffing consecutive states. Its "via" lines list every usable IP (the reference 4.x
shape); which of them carries the traffic (the first, osdn's documented 3.11 choice) is
`state.namespaces[v].egress_ip`. The reference's "update egress CIDRs" notifications (a trigger for
the master's reallocation) are not modelled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from osdn.model.egressip import (
    Egress,
    EgressState,
    NamespaceEgress,
    NodeEgress,
    compute_egress_state,
    reallocate_egress_ips,
)

View = frozenset[tuple[str, str]] | str | None     # usable (ip, node ip) pairs, "dropped", or None


def node_name(host_ip: str) -> str:
    """The reference's default HostSubnet name: 'node-' + the last octet of its IP."""
    return "node-" + host_ip.rsplit(".", 1)[1]


@dataclass
class Tracker:
    nodes: dict[str, NodeEgress] = field(default_factory=dict)
    namespaces: dict[int, NamespaceEgress] = field(default_factory=dict)
    offline: set[str] = field(default_factory=set)
    changes: list[str] = field(default_factory=list)
    state: EgressState = field(default_factory=lambda: compute_egress_state([], []))

    # ---- inputs (the reference's updateHostSubnetEgress / updateNetNamespaceEgress / SetNodeOffline)

    def hostsubnet(self, host_ip: str, egress_ips: tuple[str, ...] = (), egress_cidrs: tuple[str, ...] = (),
                   host: str | None = None) -> None:
        name = host or node_name(host_ip)
        self.nodes[name] = NodeEgress(name, host_ip, tuple(egress_ips), tuple(egress_cidrs))
        self._sync()

    def netnamespace(self, netid: int, *egress_ips: str) -> None:
        self.namespaces[netid] = NamespaceEgress(f"ns-{netid}", netid, tuple(egress_ips))
        self._sync()

    def delete_netnamespace_egress(self, netid: int) -> None:
        self.netnamespace(netid)

    def set_offline(self, host_ip: str, offline: bool) -> None:
        name = next(n.name for n in self.nodes.values() if n.host_ip == host_ip)
        (self.offline.add if offline else self.offline.discard)(name)
        self._sync()

    def reallocate(self) -> dict[str, list[str]]:
        """The reference's ReallocateEgressIPs: new egressIPs of every node that has egressCIDRs."""
        return reallocate_egress_ips(self.namespaces.values(), self.nodes.values(), self.offline).by_node

    def apply(self, allocation: dict[str, list[str]]) -> None:
        """The reference's updateAllocations: write the allocation into the HostSubnets."""
        for name, ips in allocation.items():
            self.nodes[name] = replace(self.nodes[name], egress_ips=tuple(ips))
            self._sync()

    # ---- outputs

    def take(self) -> Counter[str]:
        out, self.changes = Counter(self.changes), []
        return out

    def _sync(self) -> None:
        new = compute_egress_state(self.namespaces.values(), self.nodes.values(), self.offline)
        self.changes += _ip_changes(self.state, new) + _namespace_changes(self.state, new)
        self.state = new


def _assigned(state: EgressState) -> dict[str, tuple[str, int]]:
    return {s.ip: (s.node_ip or "", s.netid or 0) for s in state.ips.values() if s.active}


def _ip_changes(old: EgressState, new: EgressState) -> list[str]:
    before, after = _assigned(old), _assigned(new)
    out = []
    for ip, (node_ip, _) in sorted(before.items()):
        if ip not in after:
            out.append(f"release {ip} on {node_ip}")
    for ip, (node_ip, netid) in sorted(after.items()):
        if before.get(ip, ("", 0))[0] != node_ip:
            out.append(f"claim {ip} on {node_ip} for namespace {netid}")
    return out


def _view(state: EgressState, netid: int) -> View:
    d = state.namespaces.get(netid)
    if d is None or d.action is Egress.NORMAL:
        return None
    if d.action is Egress.DROP:
        return "dropped"
    usable = (d.egress_ip or "", *d.standby)
    return frozenset((ip, state.ips[ip].node_ip or "") for ip in usable)


def _namespace_changes(old: EgressState, new: EgressState) -> list[str]:
    out = []
    for netid in sorted(set(old.namespaces) | set(new.namespaces)):
        before, after = _view(old, netid), _view(new, netid)
        if before == after:
            continue
        if after is None:
            out.append(f"namespace {netid} normal")
        elif isinstance(after, str):
            out.append(f"namespace {netid} {after}")
        else:
            out += [f"namespace {netid} via {ip} on {node_ip}" for ip, node_ip in sorted(after)]
    return out
