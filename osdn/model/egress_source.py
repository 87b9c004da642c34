"""Which source address a pod's traffic leaves the cluster with: node IP, egress IP, or none (dropped).

Pure. A project without egressIPs masquerades to its node's IP. A project with egressIPs uses the
first of them (list order) that is usable: held by exactly one HostSubnet, requested by exactly one
NetNamespace, on a node not listed offline. None usable -> dropped; it never falls back to the node
IP. Subnet mode has no egress IPs.
"""

from __future__ import annotations

from osdn.model.cluster import SUBNET, ClusterState
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
    ref = f"NetNamespace {nn.name}"
    steps: list[Step] = []
    for i, ip in enumerate(nn.egress_ips):
        problem = _unusable(state, ip)
        if problem is None:
            holder = next(h.node for h in state.host_subnets if ip in h.egress_ips)
            steps.append(Step(STAGE, ALLOW, ref, f"egressIPs[{i}]", f"leaves with egress IP {ip} held by node {holder}"))
            return ip, steps
        steps.append(Step(STAGE, INFO, ref, f"egressIPs[{i}]", f"egress IP {ip} unusable: {problem}"))
    steps.append(Step(STAGE, DENY, ref, "egressIPs", "no usable egress IP; external traffic is dropped"))
    return None, steps


def _unusable(state: ClusterState, ip: IPv4) -> str | None:
    holders = [h.node for h in state.host_subnets if ip in h.egress_ips]
    claimants = [n.name for n in state.netnamespaces.values() if ip in n.egress_ips]
    if not holders:
        return "no HostSubnet holds it"
    if len(holders) > 1:
        return f"multiple nodes ({', '.join(holders)}) claim it"
    if len(claimants) > 1:
        return f"multiple namespaces ({', '.join(claimants)}) claim it"
    if holders[0] in state.offline_nodes:
        return f"node {holders[0]} is offline"
    return None
