"""Egress controller details: what counts as an edit burst, one-reconcile settling, write order."""

from __future__ import annotations

from typing import Any

from osdn.master.egress import assignment_input, decision_key
from osdn.model.egressip import (
    NamespaceEgress,
    NodeEgress,
    reallocate_egress_ips,
    settle_egress_ips,
    write_order,
)


def node(status: str, beat: str) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": "n1"},
            "status": {"conditions": [{"type": "Ready", "status": status, "lastHeartbeatTime": beat}]}}


def test_a_heartbeat_is_not_an_edit_but_readiness_is() -> None:
    assert assignment_input(node("True", "2026-01-01T00:00:00Z")) == assignment_input(node("True", "2026-01-01T00:00:05Z"))
    assert assignment_input(node("True", "2026-01-01T00:00:00Z")) != assignment_input(node("False", "2026-01-01T00:00:05Z"))
    hs = {"kind": "HostSubnet", "metadata": {"name": "n1"}, "egressCIDRs": ["10.0.0.0/24"]}
    assert assignment_input(hs) != assignment_input({**hs, "egressCIDRs": ["10.0.1.0/24"]})


def test_an_ip_taken_off_an_offline_node_is_placed_in_the_same_decision() -> None:
    namespaces = [NamespaceEgress("a", 10, ("10.0.0.5",))]
    nodes = [NodeEgress("n1", "192.168.0.1", ("10.0.0.5",), ("10.0.0.0/24",)),
             NodeEgress("n2", "192.168.0.2", (), ("10.0.0.0/24",))]
    one_round = reallocate_egress_ips(namespaces, nodes, {"n1"})
    assert one_round.again and one_round.by_node == {"n1": [], "n2": []}  # the reference: placed next round
    settled = settle_egress_ips(namespaces, nodes, {"n1"})
    assert settled.by_node == {"n1": [], "n2": ["10.0.0.5"]} and not settled.again
    assert write_order(settled.changes(nodes), nodes) == ["n1", "n2"]  # the loser first: never on two nodes


def test_decision_keys_tell_moves_apart() -> None:
    via = '{"action":"via","egressIP":"10.0.0.5","node":"n1","standby":["10.0.0.6"]}'
    assert decision_key(via) == ("via", "10.0.0.5", "n1")
    assert decision_key(via.replace("n1", "n2")) != decision_key(via)
    assert decision_key(None) is None and decision_key("{")[0] == "unreadable"


def test_get_wide_shows_the_active_ip_and_the_holder_of_each() -> None:
    from osdn.api.columns import WIDE
    from osdn.master.egress import decision_annotation, holders_of
    from osdn.model.egressip import compute_egress_state

    namespaces = [NamespaceEgress("p1", 10, ("10.0.0.5", "10.0.0.6", "10.0.0.7"))]
    nodes = [NodeEgress("n1", "192.168.0.1", ("10.0.0.5",)), NodeEgress("n2", "192.168.0.2", ("10.0.0.6",))]
    state = compute_egress_state(namespaces, nodes, offline={"n1"})
    text = decision_annotation(state.namespaces[10], holders_of(state, ["10.0.0.5", "10.0.0.6", "10.0.0.7"]))
    obj = {"metadata": {"name": "p1", "annotations": {"network.osdn.io/egress": text}}}
    cells = {head: fn(obj) for head, fn in WIDE["NetNamespace"]}
    assert cells == {"EGRESS": "10.0.0.6@n2", "HOLDERS": "10.0.0.5@n1,10.0.0.6@n2,10.0.0.7@<none>"}
    assert {h: fn({"metadata": {}}) for h, fn in WIDE["NetNamespace"]} == {"EGRESS": "", "HOLDERS": ""}


def test_online_trace_treats_the_published_offline_egress_nodes_as_offline() -> None:
    from osdn.cli.analysis import egress_offline

    def hs(name: str, health: str | None) -> dict[str, Any]:
        ann = {"network.osdn.io/egress-health": health} if health else {}
        return {"kind": "HostSubnet", "host": name, "metadata": {"name": name, "annotations": ann}}

    objs = [hs("n1", "offline: 5 consecutive probes failed over 1.00s"), hs("n2", "online"), hs("n3", None)]
    assert egress_offline(objs) == {"n1"}


def test_seed_example_is_balanced_even_when_node2_gets_its_cidrs_later() -> None:
    """Seed 003 9.2.2: project1 -> .100, project2 -> .101, egressCIDRs on node1 and node2: one IP per
    node, "or vice versa" -- also when the administrator types the node2 patch seconds later."""
    namespaces = [NamespaceEgress("project1", 11, ("192.168.1.100",)), NamespaceEgress("project2", 12, ("192.168.1.101",))]
    only_node1 = [NodeEgress("node1", "192.168.1.11", (), ("192.168.1.0/24",)), NodeEgress("node2", "192.168.1.12")]
    first = settle_egress_ips(namespaces, only_node1)
    assert first.by_node == {"node1": ["192.168.1.100", "192.168.1.101"]}
    both = [NodeEgress("node1", "192.168.1.11", tuple(first.by_node["node1"]), ("192.168.1.0/24",)),
            NodeEgress("node2", "192.168.1.12", (), ("192.168.1.0/24",))]
    later = settle_egress_ips(namespaces, both)
    assert sorted(len(ips) for ips in later.by_node.values()) == [1, 1] and not later.again
    again = settle_egress_ips(namespaces, [NodeEgress(n, ip, tuple(later.by_node[n]), ("192.168.1.0/24",))
                                           for n, ip in (("node1", "192.168.1.11"), ("node2", "192.168.1.12"))])
    assert again.changes([NodeEgress(n, "", tuple(later.by_node[n])) for n in later.by_node]) == {}  # stable


def test_a_single_ip_never_bounces_back_to_a_returning_node() -> None:
    namespaces = [NamespaceEgress("p", 11, ("10.0.0.5",))]
    cidrs = ("10.0.0.0/24",)
    nodes = [NodeEgress("node1", "192.168.0.1", (), cidrs), NodeEgress("node2", "192.168.0.2", ("10.0.0.5",), cidrs),
             NodeEgress("node3", "192.168.0.3", (), cidrs)]
    assert settle_egress_ips(namespaces, nodes).changes(nodes) == {}  # node1 (first by name) is back: no move
