"""Which source address a pod's traffic leaves the cluster with: node IP, egress IP, or none (dropped).

Pure. A project without egressIPs masquerades to its node's IP. A project with egressIPs leaves as
the master decides it (`osdn.model.egressip.compute_egress_state`, the same function the master
publishes and the nodes enforce): the first requested IP (list order) that is active (exactly one
node and one NetID claim it) on a node not listed offline; an IP another project also claims drops
the project; none usable -> dropped; it never falls back to the node IP. A pod on another node than
the holder is steered there over VXLAN and SNATed there. Subnet mode has no egress IPs.
"""

from __future__ import annotations

import ipaddress

from osdn.model.cluster import SUBNET, ClusterState
from osdn.model.egressip import Egress, IPStatus, NamespaceEgress, NodeEgress, compute_egress_state
from osdn.model.objects import IPv4, Pod
from osdn.model.verdict import ALLOW, DENY, INFO, Step

STAGE = "source-address"


def compute_egress_source(state: ClusterState, pod: Pod) -> tuple[IPv4 | None, list[Step]]:
    """(source IP or None when dropped, explanation)."""
    nn = state.netnamespaces.get(pod.namespace)
    if state.mode == SUBNET or nn is None or not nn.egress_ips:
        node_ip = state.node_ips.get(pod.node)
        where = f"node {pod.node or '?'} IP {node_ip}" if node_ip else f"node {pod.node or '?'} IP (unknown)"
        why = "subnet mode has no egress IPs" if state.mode == SUBNET else f"project {pod.namespace} has no egressIPs"
        return node_ip, [Step(STAGE, ALLOW, "", "", f"{why}; masqueraded to {where}")]
    egress = compute_egress_state(
        [NamespaceEgress(n.name, n.netid, tuple(map(str, n.egress_ips))) for n in state.netnamespaces.values()],
        [NodeEgress(h.node, str(h.host_ip or ""), tuple(map(str, h.egress_ips))) for h in state.host_subnets],
        state.offline_nodes)
    decision = egress.namespaces[nn.netid]
    ref = f"NetNamespace {nn.name}"
    steps: list[Step] = []
    for i, ip in enumerate(map(str, nn.egress_ips)):
        if decision.action is Egress.VIA and ip == decision.egress_ip:
            holder = decision.node or "?"
            route = (f"SNAT on node {holder}" if holder == pod.node else
                     f"steered over VXLAN from node {pod.node or '?'} to node {holder}, SNAT there")
            steps.append(Step(STAGE, ALLOW, ref, f"egressIPs[{i}]",
                              f"leaves with egress IP {ip} held by node {holder} ({route})"))
            return ipaddress.IPv4Address(ip), steps
        steps.append(Step(STAGE, INFO, ref, f"egressIPs[{i}]", f"egress IP {ip} unusable: {_why(egress.ips[ip], state)}"))
    steps.append(Step(STAGE, DENY, ref, "egressIPs", f"external traffic is dropped: {decision.reason}"))
    return None, steps


def _why(status: IPStatus, state: ClusterState) -> str:
    if status.error:
        return status.error
    if not status.node:
        return "no HostSubnet holds it"
    if status.node in state.offline_nodes:
        return f"node {status.node} is offline"
    return "not active"
