"""The wanted unicast VXLAN FDB entries (`osdn.node.fdb`): which pods get one, which are refused, the
incremental planner against the from-scratch computation, and the other nodes' gateway entries
(also the next hop of egress IP steering to a holder node)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.kernel.links import ZERO_MAC, pod_mac
from osdn.node.fdb import FdbPlanner, compute_delta, compute_fdb, owns_mac
from osdn.node.intent import ClusterPod, NetID, Node

N1 = Node("node1", "198.18.0.11", "10.128.0.0/23", "10.128.0.1")
N2 = Node("node2", "198.18.0.12", "10.128.2.0/23", "10.128.2.1")
N3 = Node("node3", "198.18.0.13", "10.128.4.0/23", "10.128.4.1")
NODES = (N1, N2, N3)
GATEWAYS = {pod_mac(N2.gateway): N2.node_ip, pod_mac(N3.gateway): N3.node_ip}  # the other nodes' bridges


def pod(ip: str, node: str) -> ClusterPod:
    return ClusterPod(ip, "p", NetID(1), node, f"p/{ip}")


def want(*pods: ClusterPod, nodes: tuple[Node, ...] = NODES) -> dict[str, str]:
    return compute_fdb(pods, nodes, "node1", N1.node_ip)


def test_a_pod_of_another_node_gets_an_entry_to_that_node():
    assert want(pod("10.128.2.5", "node2"), pod("10.128.4.7", "node3")) == {
        **GATEWAYS, "0a:58:0a:80:02:05": "198.18.0.12", "0a:58:0a:80:04:07": "198.18.0.13"}


@pytest.mark.parametrize("bogus", [
    pod("10.128.0.5", "node1"),      # this node's own pod: on the bridge, not over VXLAN
    pod("10.128.2.5", "node1"),      # another node's subnet, claiming this node
    pod("10.128.4.5", "node2"),      # node3's subnet, claiming node2
    pod("10.200.0.5", "node2"),      # outside every HostSubnet
    pod("192.0.2.1", "node2"),       # a foreign address
    pod("10.128.2.1", "node2"),      # node2's gateway
    pod("10.128.2.0", "node2"),      # network address
    pod("10.128.3.255", "node2"),    # broadcast address
    pod("10.128.2.5", "node9"),      # a node without a HostSubnet
], ids=["local", "foreign-subnet-claims-me", "other-nodes-subnet", "outside", "foreign", "gateway",
        "network", "broadcast", "unknown-node"])
def test_no_entry_for_an_ip_outside_its_nodes_subnet(bogus):
    assert want(bogus, pod("10.128.2.9", "node2")) == {**GATEWAYS, pod_mac("10.128.2.9"): N2.node_ip}


def test_a_pod_cannot_take_another_nodes_gateway_even_in_overlapping_subnets():
    wide = (N1, Node("node2", N2.node_ip, "10.128.0.0/16", "10.128.2.1"), N3)  # node2's subnet holds node3's gateway
    assert want(pod(N3.gateway, "node2"), pod(N1.gateway, "node2"), nodes=wide) == GATEWAYS


def test_refused_pods_are_listed_and_leave_with_their_pod():
    planner = FdbPlanner()
    bad, good = pod("10.128.4.5", "node2"), pod("10.128.2.9", "node2")
    planner.reset((bad, good), NODES, "node1", N1.node_ip)
    assert planner.refused == {"10.128.4.5": "node2"}
    planner.update((good,), NODES, "node1", N1.node_ip)
    assert planner.refused == {}


def test_a_node_sharing_this_nodes_ip_is_not_remote():
    twin = Node("node1-old", N1.node_ip, "10.128.6.0/23", "10.128.6.1")
    assert want(pod("10.128.6.5", "node1-old"), nodes=(*NODES, twin)) == GATEWAYS


def test_every_other_nodes_gateway_has_an_entry_no_pod_can_move():
    """Replies to a node's gateway address, and packets steered to an egress IP holder's gateway, go to
    that node only."""
    assert want() == GATEWAYS
    every_ip = [pod(f"10.128.{s}.{h}", n.name) for n in NODES for s in (0, 1, 2, 3, 4, 5) for h in (0, 1, 5, 255)]
    assert {m: d for m, d in want(*every_ip).items() if m in GATEWAYS} == GATEWAYS
    planner = FdbPlanner()
    planner.reset((), NODES, "node1", N1.node_ip)
    claim = (pod(N2.gateway, "node2"),)
    assert len(planner.update(claim, NODES, "node1", N1.node_ip)) == 0  # refused
    assert len(planner.update((), NODES, "node1", N1.node_ip)) == 0  # and its going removes nothing
    assert planner.want == GATEWAYS


def test_every_osdn_mac_is_ours_and_no_other():
    assert owns_mac(pod_mac("10.128.2.5")) and owns_mac(pod_mac(N2.gateway))
    assert owns_mac(pod_mac("10.131.0.5"))  # a vanished node's pod: ours to remove
    assert not owns_mac(ZERO_MAC) and not owns_mac("52:54:00:12:34:56")


def test_delta_removes_then_adds_a_moved_pod():
    have = {(pod_mac("10.128.2.5"), "198.18.0.12"), (pod_mac("10.128.2.6"), "198.18.0.12")}
    delta = compute_delta(have, {pod_mac("10.128.2.5"): "198.18.0.13", pod_mac("10.128.2.6"): "198.18.0.12"})
    assert delta.remove == {(pod_mac("10.128.2.5"), "198.18.0.12")}
    assert delta.add == {(pod_mac("10.128.2.5"), "198.18.0.13")}
    assert len(compute_delta(have, dict(have))) == 0


def test_unchanged_input_costs_nothing():
    planner = FdbPlanner()
    pods = (pod("10.128.2.5", "node2"),)
    planner.reset(pods, NODES, "node1", N1.node_ip)
    assert len(planner.update(pods, NODES, "node1", N1.node_ip)) == 0


def test_a_node_that_goes_takes_its_pods_entries():
    planner = FdbPlanner()
    pods = (pod("10.128.2.5", "node2"), pod("10.128.4.5", "node3"))
    planner.reset(pods, NODES, "node1", N1.node_ip)
    delta = planner.update(pods, (N1, N2), "node1", N1.node_ip)
    assert delta.remove == {(pod_mac("10.128.4.5"), N3.node_ip), (pod_mac(N3.gateway), N3.node_ip)}
    assert not delta.add


ips = st.sampled_from([f"10.128.{s}.{h}" for s in (0, 2, 3, 4, 9) for h in (1, 5, 6, 255)])
pod_lists = st.lists(st.tuples(ips, st.sampled_from(["node1", "node2", "node3", "node9"])), max_size=12)
node_sets = st.sampled_from([NODES, (N1, N2), (N1, N3, Node("node2", "198.18.0.22", "10.128.2.0/23", "10.128.2.1"))])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(pod_lists, node_sets), min_size=1, max_size=6))
def test_incremental_updates_keep_the_table_equal_to_the_from_scratch_answer(steps):
    """Applying every delta to a table (removals, then additions) always gives `compute_fdb`, and
    returning to an earlier input returns to the same table (a -> b -> a)."""
    planner, table = FdbPlanner(), {}
    first = None
    for raw, nodes in steps:
        pods = tuple(sorted({ip: pod(ip, node) for ip, node in raw}.values()))  # one pod per IP, as the index
        delta = planner.update(pods, nodes, "node1", N1.node_ip)
        for mac, dst in delta.remove:
            assert table.pop(mac) == dst
        for mac, dst in delta.add:
            assert mac not in table
            table[mac] = dst
        assert table == compute_fdb(pods, nodes, "node1", N1.node_ip) == planner.want
        first = first or (pods, nodes, dict(table))
    assert first is not None
    pods, nodes, table_then = first
    delta = planner.update(pods, nodes, "node1", N1.node_ip)
    for mac, _ in delta.remove:
        table.pop(mac)
    table.update(delta.add)
    assert table == table_then
