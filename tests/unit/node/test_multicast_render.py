"""Multicast delivery as rendered in `table bridge osdn`: group keys per mode, ports, node drops."""

from __future__ import annotations

from dataclasses import replace

from osdn.node.intent import ClusterPod, NetID, NodeIntent
from osdn.node.render import render_node
from osdn.node.render.multicast import SPLIT_BASE, group_keys
from osdn.node.render.ruleset import Table
from tests.unit.node.node_builders import base_intent, local_pod


def intent(mode: str, pods: list[tuple[str, str, int, str]], enabled: set[int]) -> NodeIntent:
    """`pods`: (ip, namespace, netid, veth or '' for a pod on n2)."""
    cluster = tuple(ClusterPod(ip, ns, NetID(n), "n1" if veth else "n2") for ip, ns, n, veth in pods)
    local = tuple(local_pod(ip, veth) for ip, _, _, veth in pods if veth)
    return base_intent(mode, pods=cluster, local_pods=local,  # type: ignore[arg-type]
                       multicast_netids=frozenset(NetID(n) for n in enabled))


def bridge(it: NodeIntent) -> Table:
    return render_node(it).by_id()[("bridge", "osdn")]


def elements(it: NodeIntent, name: str) -> frozenset[str]:
    return {s.name: s.elements for s in bridge(it).sets}[name]


PODS = [("10.128.0.2", "a", 10, "vh-a"), ("10.128.0.3", "b", 11, "vh-b"),
        ("10.128.2.2", "a", 10, ""), ("10.128.2.3", "g", 0, ""), ("10.128.0.4", "g2", 0, "vh-g")]


def test_multitenant_keys_by_netid_and_only_enabled_netids() -> None:
    it = intent("multitenant", PODS, {10, 0})
    assert group_keys(it) == {"10.128.0.2": 10, "10.128.2.2": 10, "10.128.2.3": 0, "10.128.0.4": 0}
    assert elements(it, "mc_port_netid") == {'"vh-a" . 10', '"vh-g" . 0'}  # b (netid 11) is off
    assert elements(it, "mc_src_netid") == {"10.128.0.2 : 10", "10.128.2.2 : 10", "10.128.2.3 : 0",
                                           "10.128.0.4 : 0"}


def test_networkpolicy_splits_a_netid_shared_by_projects() -> None:
    """Global namespaces share netid 0; in networkpolicy mode multicast still stays in each project."""
    it = intent("networkpolicy", PODS, {10, 0})
    keys = group_keys(it)
    assert keys["10.128.0.2"] == keys["10.128.2.2"] == 10
    assert keys["10.128.2.3"] != keys["10.128.0.4"]
    assert {keys["10.128.2.3"], keys["10.128.0.4"]} == {SPLIT_BASE, SPLIT_BASE + 1}


def test_subnet_mode_enables_nothing() -> None:
    it = intent("subnet", PODS, {10, 0})
    assert group_keys(it) == {}
    assert elements(it, "mc_port_netid") == frozenset()


def test_uplinks_carry_enabled_senders_and_the_node_sends_none() -> None:
    chains = {c.name: c for c in bridge(intent("multitenant", PODS, {10})).chains}
    assert "meta mark set ip saddr map @mc_src_netid oifname @uplinks accept" in chains["multicast"].rules
    assert chains["multicast"].rules[-1] == "counter name drop_multicast drop"
    for hook in ("output", "input"):
        assert chains[hook].hook == hook
        assert chains[hook].rules == ("ip daddr 224.0.0.0/4 counter name drop_multicast_node drop",)


def test_removing_the_annotation_empties_the_maps() -> None:
    it = intent("multitenant", PODS, {10})
    assert elements(replace(it, multicast_netids=frozenset()), "mc_src_netid") == frozenset()
