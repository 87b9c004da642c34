"""Two nodes joined by VXLAN: multitenant isolation and NetworkPolicy across nodes, real packets.

node1: p1 10.128.0.2 (ns a, netid 10), p2 10.128.0.3 (ns b, netid 11)
node2: p3 10.128.2.2 (ns a, netid 10), p4 10.128.2.3 (ns b, netid 11)
One flat L2 /14 over the bridges and vxlan0; each node syncs its own intent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from nsutil import Lab, join_nodes, leftovers

from osdn.node.dataplane import Dataplane
from osdn.node.intent import ClusterPod, LocalPod, Mode, NetID, Node, NodeIntent, Policy, PolicyRule

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

NODES = (Node("n1", "10.255.0.1", "10.128.0.0/23", "10.128.0.1"),
         Node("n2", "10.255.0.2", "10.128.2.0/23", "10.128.2.1"))
PODS = {"p1": ("n1", "10.128.0.2", "a", 10), "p2": ("n1", "10.128.0.3", "b", 11),
        "p3": ("n2", "10.128.2.2", "a", 10), "p4": ("n2", "10.128.2.3", "b", 11)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Lab]]:
    labs: dict[str, Lab] = {}
    try:
        labs["n1"] = Lab("x1", gateway="10.128.0.1", prefixlen=14)
        labs["n2"] = Lab("x2", gateway="10.128.2.1", prefixlen=14)
        join_nodes(labs["n1"], labs["n2"])
        for name, (node, ip, _, _) in PODS.items():
            labs[node].add_pod(name, ip)
        yield labs
    finally:
        for lab in labs.values():
            lab.cleanup()
        assert leftovers() == []


def intent(labs: dict[str, Lab], node: str, mode: Mode, policies: tuple[Policy, ...] = ()) -> NodeIntent:
    me = next(n for n in NODES if n.name == node)
    pods = tuple(ClusterPod(ip, ns, NetID(netid), nd) for nd, ip, ns, netid in PODS.values())
    local = tuple(LocalPod(p.ip, p.mac, p.veth) for p in labs[node].pods.values())
    return NodeIntent(mode=mode, node_name=node, cluster_cidrs=("10.128.0.0/14",), service_cidr="172.30.0.0/16",
                      local_subnet=me.subnet, gateway=me.gateway, node_ip=me.node_ip, nodes=NODES,
                      pods=pods, local_pods=local, policies=policies)


@pytest.fixture
def dps(cluster: dict[str, Lab]) -> Iterator[dict[str, Dataplane]]:
    dps = {n: Dataplane(lab.node) for n, lab in cluster.items()}
    try:
        yield dps
    finally:
        for dp in dps.values():
            dp.teardown()
            dp.close()


def ping(cluster: dict[str, Lab], src: str, dst: str) -> bool:
    return cluster[PODS[src][0]].ping(src, PODS[dst][1])


def test_multitenant_across_vxlan(cluster: dict[str, Lab], dps: dict[str, Dataplane]) -> None:
    for n, dp in dps.items():
        dp.sync(intent(cluster, n, "multitenant"))
    assert ping(cluster, "p1", "p3") and ping(cluster, "p4", "p2"), "same netid across nodes"
    assert not ping(cluster, "p1", "p4") and not ping(cluster, "p3", "p2"), "different netids"


def test_networkpolicy_ingress_is_enforced_on_the_destination_node(cluster: dict[str, Lab],
                                                                  dps: dict[str, Dataplane]) -> None:
    pol = Policy("a", "only-p1", frozenset({PODS["p3"][1]}), ingress_rules=(PolicyRule(
        peer_ips=frozenset({PODS["p1"][1]})),))
    for n, dp in dps.items():
        dp.sync(intent(cluster, n, "networkpolicy", (pol,)))
    assert ping(cluster, "p1", "p3")
    assert not ping(cluster, "p2", "p3"), "node1 lets it out, node2 drops it"
    assert not ping(cluster, "p4", "p3"), "same-node peer also dropped"
    assert ping(cluster, "p3", "p2"), "egress of p3 is not isolated"


def test_networkpolicy_egress_is_enforced_on_the_source_node(cluster: dict[str, Lab],
                                                             dps: dict[str, Dataplane]) -> None:
    pol = Policy("a", "p1-only-to-p3", frozenset({PODS["p1"][1]}), ingress=False, egress=True,
                 egress_rules=(PolicyRule(peer_ips=frozenset({PODS["p3"][1]})),))
    for n, dp in dps.items():
        dp.sync(intent(cluster, n, "networkpolicy", (pol,)))
    assert ping(cluster, "p1", "p3")
    assert not ping(cluster, "p1", "p4")
    assert ping(cluster, "p4", "p1"), "ingress to p1 is open; its replies are established"
