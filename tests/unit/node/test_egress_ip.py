"""Egress IPs on a node: the master's decisions -> codes, SNAT map, addresses, steering; their render."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from node_builders import base_intent

from osdn.kernel.arp import garp_frames
from osdn.node.egress_intent import (
    DROP,
    EGRESS_MASK,
    SNAT,
    STEER,
    Decision,
    EgressInputs,
    compute_egress,
    egress_for,
    route_ids,
    steer_code,
)
from osdn.node.intent import ClusterPod, NetID
from osdn.node.render import render_node, render_node_text

NODES = {"n1": ("10.128.0.0/23", "10.128.0.1", "192.168.0.1"), "n2": ("10.128.2.0/23", "10.128.2.1", "192.168.0.2"),
         "n3": ("10.128.4.0/23", "10.128.4.1", "192.168.0.3")}
PODS = (("10.128.0.2", "p1", "n1"), ("10.128.2.2", "p1", "n2"), ("10.128.0.3", "other", "n1"),
        ("10.128.4.2", "dropped", "n3"), ("10.128.0.4", "dropped", "n1"))
VIA_N2 = Decision("via", "198.18.0.100", "n2")


def inputs(node: str, decisions: dict[str, Decision], active: tuple[str, ...] = ()) -> EgressInputs:
    return EgressInputs(node, NODES, PODS, decisions, active)


def test_pods_on_other_nodes_are_steered_to_the_holder_and_snat_there() -> None:
    on_n1 = compute_egress(inputs("n1", {"p1": VIA_N2}))
    rid = route_ids(NODES)["n2"]
    # n2's own p1 pod, should its traffic ever arrive here, is not n1's to send: dropped
    assert dict(on_n1.codes) == {"10.128.0.2": steer_code(rid), "10.128.2.2": DROP}
    assert on_n1.snat == () and on_n1.addresses == ()
    assert [(r.node, r.gateway, r.mark) for r in on_n1.routes] == [("n2", "10.128.2.1", STEER | rid << 16)]
    on_n2 = compute_egress(inputs("n2", {"p1": VIA_N2}, ("198.18.0.100",)))
    assert dict(on_n2.codes) == {"10.128.0.2": SNAT, "10.128.2.2": SNAT}
    assert dict(on_n2.snat) == {"10.128.0.2": "198.18.0.100", "10.128.2.2": "198.18.0.100"}
    assert on_n2.addresses == ("198.18.0.100",) and on_n2.routes == ()


def test_other_projects_are_untouched_and_dropped_projects_drop_everywhere() -> None:
    decisions = {"p1": VIA_N2, "dropped": Decision("drop", reason="no usable egress IP")}
    for node in NODES:
        codes = dict(compute_egress(inputs(node, decisions)).codes)
        assert "10.128.0.3" not in codes  # project `other` has no egress IPs
        assert codes["10.128.4.2"] == DROP and codes["10.128.0.4"] == DROP


def test_a_remote_pod_steered_to_a_node_that_does_not_hold_the_ip_is_dropped() -> None:
    on_n3 = compute_egress(inputs("n3", {"p1": VIA_N2}))
    assert dict(on_n3.codes) == {"10.128.0.2": DROP, "10.128.2.2": DROP}


def test_holder_hosts_its_active_ips_and_the_ips_it_is_chosen_for() -> None:
    got = compute_egress(inputs("n2", {"p1": VIA_N2}, ("198.18.0.101",)))
    assert got.addresses == ("198.18.0.100", "198.18.0.101")


@pytest.mark.parametrize("text", ["{", "[]", '{"action": "via"}', '{"action": "via", "egressIP": "x", "node": "n1"}'],
                         ids=["broken-json", "not-an-object", "via-without-ip", "not-an-ip"])
def test_an_unreadable_decision_drops_never_masquerades(text: str) -> None:
    decision = Decision.parse(text)
    got = compute_egress(inputs("n1", {"p1": decision}))
    assert dict(got.codes)["10.128.0.2"] == DROP


def test_a_decision_naming_an_unknown_node_drops() -> None:
    got = compute_egress(inputs("n1", {"p1": Decision("via", "198.18.0.100", "gone")}))
    assert dict(got.codes)["10.128.0.2"] == DROP and got.problems


def test_route_ids_are_stable_when_nodes_come_and_go() -> None:
    ids = route_ids(NODES)
    assert len(set(ids.values())) == 3
    fewer = route_ids({k: v for k, v in NODES.items() if k != "n1"})
    assert fewer == {k: v for k, v in ids.items() if k != "n1"}
    assert all(steer_code(i) & EGRESS_MASK == steer_code(i) for i in ids.values())


def netnamespace(name: str, decision: dict[str, object] | None) -> dict[str, object]:
    ann = {"network.osdn.io/egress": json.dumps(decision)} if decision else {}
    return {"kind": "NetNamespace", "metadata": {"name": name, "annotations": ann}, "netname": name, "netid": 10}


def hostsubnet(name: str, active: str = "") -> dict[str, object]:
    ann = {"network.osdn.io/egress-active": active} if active else {}
    return {"kind": "HostSubnet", "metadata": {"name": name, "annotations": ann}, "host": name}


def test_egress_for_reads_the_published_annotations() -> None:
    intent = replace(base_intent("networkpolicy"), pods=(ClusterPod("10.128.0.2", "a", NetID(10), "n1"),
                                                         ClusterPod("10.128.0.3", "b", NetID(11), "n1")))
    objs = [netnamespace("a", {"action": "via", "egressIP": "192.168.0.100", "node": "n1", "nodeIP": "192.168.0.1"}),
            netnamespace("b", None), hostsubnet("n1", "192.168.0.100"), hostsubnet("n2")]
    got = egress_for(intent, objs)
    assert dict(got.codes) == {"10.128.0.2": SNAT} and got.addresses == ("192.168.0.100",)
    assert egress_for(intent, [netnamespace("b", None)]).empty


class CountedPods(tuple[ClusterPod, ...]):
    """The cluster's pods, counting the passes over them."""

    passes = 0

    def __iter__(self) -> Iterator[ClusterPod]:
        CountedPods.passes += 1
        return super().__iter__()


def test_egress_for_without_decisions_makes_no_pass_over_the_pods() -> None:
    pods = CountedPods(ClusterPod(f"10.128.0.{i}", "a", NetID(10), "n1") for i in range(2, 200))
    CountedPods.passes = 0
    got = egress_for(replace(base_intent("networkpolicy"), pods=pods), [netnamespace("a", None), hostsubnet("n1")])
    assert got.empty and CountedPods.passes == 0  # every sync calls it: no O(cluster pods) work for nothing


def test_render_without_egress_is_unchanged_and_with_it_classifies_snats_and_guards() -> None:
    plain = base_intent("networkpolicy", pods=(ClusterPod("10.128.0.2", "a", NetID(10), "n1"),))
    objs = [netnamespace("a", {"action": "via", "egressIP": "192.168.0.100", "node": "n1"}), hostsubnet("n1")]
    with_egress = replace(plain, egress=egress_for(plain, objs))
    assert "egress_code" not in render_node_text(plain) and "drop_egress" not in render_node_text(plain)
    text = render_node_text(with_egress)
    inet = {t.family: t for t in render_node(with_egress).tables}["inet"]
    chains = {c.name: c for c in inet.chains}
    assert chains["postrouting"].rules[0].startswith("ct mark and 0xffff0000 == 0x00010000 snat ip to")
    assert chains["postrouting"].rules[-1].endswith("masquerade")  # the node's masquerade comes last
    assert (chains["egress_pre"].hook, chains["egress_pre"].prio) == ("prerouting", -150)
    assert (chains["egress_post"].hook, chains["egress_post"].prio) == ("postrouting", 300)
    assert f"10.128.0.2 : {SNAT}" in inet.set_by_name()["egress_code"].elements
    assert "10.128.0.2 : 192.168.0.100" in inet.set_by_name()["egress_snat"].elements
    assert "192.168.0.100" in inet.set_by_name()["egress_held"].elements
    assert "drop_egress" in inet.counters and "meta mark set ct mark and 0xffff0000" in text
    # a steered connection whose routing rule is not there yet would leave unNATed: the guard drops it
    assert any('ct mark and 0x80000000 == 0x80000000 oifname != "osdnbr0"' in r and r.endswith("drop")
               for r in chains["egress_post"].rules)


def test_gratuitous_arp_frames_announce_the_address_at_the_mac() -> None:
    reply, request = garp_frames("0a:58:c6:12:00:0b", "198.18.0.100")
    for frame, op in ((reply, 2), (request, 1)):
        assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
        assert frame[20:22] == op.to_bytes(2, "big")
        assert frame[22:28] == bytes.fromhex("0a58c612000b")
        assert frame[28:32] == frame[38:42] == bytes([198, 18, 0, 100])  # sender IP = target IP
