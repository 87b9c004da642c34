"""The rendered ruleset, loaded by `Dataplane.sync` into a real node netns, judged by real packets.

Lab: node netns with bridge br0 (gateway 10.128.0.1/23) and pods p1..p4 on veths:
p1 10.128.0.2 (ns a, netid 10), p2 .3 (ns a, netid 10), p3 .4 (ns b, netid 11), p4 .5 (ns g, netid 0).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
from nsutil import Lab, leftovers, sh

from osdn.node.dataplane import Dataplane
from osdn.node.intent import (
    ClusterPod,
    LocalPod,
    Mode,
    NetID,
    Node,
    NodeIntent,
    Policy,
    PolicyRule,
    PortRange,
)

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

PODS = {"p1": ("10.128.0.2", "a", 10), "p2": ("10.128.0.3", "a", 10),
        "p3": ("10.128.0.4", "b", 11), "p4": ("10.128.0.5", "g", 0)}
IP = {name: spec[0] for name, spec in PODS.items()}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab("dp")
    try:
        for name, (ip, _, _) in PODS.items():
            lab.add_pod(name, ip)
        yield lab
    finally:
        lab.cleanup()
        assert leftovers() == [], "every namespace of this run must be gone"


@pytest.fixture
def dp(lab: Lab) -> Iterator[Dataplane]:
    with Dataplane(lab.node) as dp:
        try:
            yield dp
        finally:
            dp.teardown()
            assert "osdn" not in sh("ip", "netns", "exec", lab.node, "nft", "list", "tables").stdout


def intent_for(lab: Lab, mode: Mode, policies: tuple[Policy, ...] = (),
               extra: dict[str, tuple[str, str, int]] | None = None) -> NodeIntent:
    specs = {**PODS, **(extra or {})}
    pods = tuple(ClusterPod(ip, ns, NetID(netid), "n1") for ip, ns, netid in specs.values())
    local = tuple(LocalPod(lab.pods[n].ip, lab.pods[n].mac, lab.pods[n].veth) for n in specs)
    return NodeIntent(mode=mode, node_name="n1", cluster_cidrs=("10.128.0.0/14",),
                      service_cidr="172.30.0.0/16", local_subnet="10.128.0.0/23", gateway="10.128.0.1",
                      node_ip="192.168.0.1", nodes=(Node("n1", "192.168.0.1", "10.128.0.0/23", "10.128.0.1"),),
                      pods=pods, local_pods=local, policies=policies)


def counter(dp: Dataplane, family: str, name: str) -> int:
    doc = dp.nft.run_json_output(f"list counter {family} osdn {name}")
    return next(o["counter"]["packets"] for o in doc["nftables"] if "counter" in o)


def table_handle(dp: Dataplane) -> int:
    doc = dp.nft.run_json_output("list tables inet")
    return next(o["table"]["handle"] for o in doc["nftables"] if o.get("table", {}).get("name") == "osdn")


def test_multitenant_isolation_by_netid(lab: Lab, dp: Dataplane) -> None:
    stats = dp.sync(intent_for(lab, "multitenant"))
    assert stats.replaced_tables and not dp.sync(intent_for(lab, "multitenant")).changed
    assert lab.ping("p1", IP["p2"]), "same netid"
    assert not lab.ping("p1", IP["p3"]), "netid 10 -> 11"
    assert not lab.ping("p3", IP["p2"]), "netid 11 -> 10"
    assert lab.ping("p4", IP["p3"]) and lab.ping("p4", IP["p1"]), "netid 0 reaches all"
    assert lab.ping("p3", IP["p4"]), "all reach netid 0"
    assert counter(dp, "inet", "drop_multitenant") >= 2


def test_networkpolicy_ingress_allows_only_chosen_peer_and_port(lab: Lab, dp: Dataplane) -> None:
    lab.serve("p2", 8080)
    lab.serve("p2", 9090)
    pol = Policy("a", "allow-p1-8080", frozenset({IP["p2"]}), ingress_rules=(PolicyRule(
        peer_ips=frozenset({IP["p1"]}), all_ports=False, ports=frozenset({PortRange("tcp", 8080, 8080)})),))
    dp.sync(intent_for(lab, "networkpolicy", (pol,)))
    assert lab.connect("p1", IP["p2"], 8080) == f"hello {IP['p1']}", "allowed; the reply came back"
    assert lab.connect("p1", IP["p2"], 9090) is None, "other port"
    assert lab.connect("p3", IP["p2"], 8080) is None, "other peer"
    assert not lab.ping("p1", IP["p2"]), "icmp is not tcp/8080"
    assert lab.ping("p3", IP["p1"]), "p1 is selected by no policy"
    assert counter(dp, "inet", "drop_np_ingress") >= 3


def test_networkpolicy_egress_is_enforced_at_the_source(lab: Lab, dp: Dataplane) -> None:
    pol = Policy("b", "only-to-p4", frozenset({IP["p3"]}), ingress=False, egress=True,
                 egress_rules=(PolicyRule(peer_ips=frozenset({IP["p4"]})),))
    dp.sync(intent_for(lab, "networkpolicy", (pol,)))
    assert lab.ping("p3", IP["p4"])
    assert not lab.ping("p3", IP["p1"])
    assert lab.ping("p1", IP["p3"]), "ingress to p3 is not isolated; the reply is established"
    assert counter(dp, "inet", "drop_np_egress") >= 1


def test_antispoofing_drops_foreign_source_ip_and_mac(lab: Lab, dp: Dataplane) -> None:
    dp.sync(intent_for(lab, "subnet"))
    p1 = lab.pods["p1"]
    assert lab.ping("p1", IP["p2"])
    sh("ip", "-n", p1.ns, "addr", "add", "10.128.0.50/23", "dev", "eth0")
    try:
        before = counter(dp, "bridge", "drop_spoof")
        assert not lab.ping("p1", IP["p2"], source_ip="10.128.0.50")
        assert counter(dp, "bridge", "drop_spoof") > before
    finally:
        sh("ip", "-n", p1.ns, "addr", "del", "10.128.0.50/23", "dev", "eth0")
    sh("ip", "-n", p1.ns, "link", "set", "eth0", "address", "0a:58:de:ad:be:ef")
    try:
        sh("ip", "-n", p1.ns, "neigh", "flush", "all")
        assert not lab.ping("p1", IP["p2"]), "right IP, wrong MAC"
    finally:
        sh("ip", "-n", p1.ns, "link", "set", "eth0", "address", p1.mac)
    assert lab.ping("p1", IP["p2"])


def test_new_pod_is_added_by_elements_without_replacing_the_table(lab: Lab, dp: Dataplane) -> None:
    lab.serve("p2", 8081)
    pol = Policy("a", "allow-p1", frozenset({IP["p2"]}), ingress_rules=(PolicyRule(
        peer_ips=frozenset({IP["p1"]})),))
    dp.sync(intent_for(lab, "networkpolicy", (pol,)))
    handle = table_handle(dp)
    p5 = lab.add_pod("p5", "10.128.0.6")
    assert lab.connect("p5", IP["p2"], 8081) is None, "unknown port: dropped by anti-spoofing"
    extra = {"p5": (p5.ip, "a", 10)}
    grown = replace(pol, targets=pol.targets | {p5.ip}, ingress_rules=(PolicyRule(
        peer_ips=frozenset({IP["p1"], p5.ip})),))
    stats = dp.sync(intent_for(lab, "networkpolicy", (grown,), extra))
    assert stats.replaced_tables == () and stats.elements_added >= 4 and stats.elements_removed == 0
    assert table_handle(dp) == handle, "same table object: not recreated"
    assert lab.connect("p5", IP["p2"], 8081) == f"hello {p5.ip}"
    assert not lab.ping("p3", p5.ip), "p5 is now a policy target"
    assert not dp.sync(intent_for(lab, "networkpolicy", (grown,), extra)).changed


def test_incremental_syncs_trust_memory_and_a_full_sync_repairs_the_kernel(lab: Lab, dp: Dataplane) -> None:
    """Between full syncs the dataplane does not re-read the kernel (the documented trade-off)."""
    p1 = lab.pods["p1"]
    dp.sync(intent_for(lab, "subnet"))
    assert lab.ping("p1", IP["p2"])
    dp.nft.run(f'delete element bridge osdn pod_addrs {{ "{p1.veth}" . {p1.ip} . {p1.mac} }}')  # behind its back
    sh("ip", "-n", p1.ns, "neigh", "flush", "all")
    assert not lab.ping("p1", IP["p2"]), "anti-spoofing drops p1 now"
    assert not dp.sync(intent_for(lab, "subnet")).changed, "incremental: planned against memory"
    stats = dp.sync(intent_for(lab, "subnet"), full=True)
    assert stats.full_resync and stats.elements_added == 1 and stats.replaced_tables == ()
    sh("ip", "-n", p1.ns, "neigh", "flush", "all")  # forget the failed ARP attempts
    assert any(lab.ping("p1", IP["p2"]) for _ in range(3))
    dp.verify(intent_for(lab, "subnet"))


def test_a_failed_incremental_apply_replaces_both_tables(lab: Lab, dp: Dataplane) -> None:
    base = intent_for(lab, "multitenant")
    grown = replace(base, pods=base.pods + (ClusterPod("10.128.0.99", "a", NetID(10), "n2"),))
    dp.sync(grown)
    dp.nft.run("delete element inet osdn pod_netid { 10.128.0.99 }")  # memory now disagrees with the kernel
    stats = dp.sync(base)  # plans `delete element ... 10.128.0.99`, which the kernel refuses
    assert stats.fell_back and stats.full_resync
    assert sorted(stats.replaced_tables) == ["bridge osdn", "inet osdn"]
    dp.verify(base)
    assert lab.ping("p1", IP["p2"]) and not lab.ping("p1", IP["p3"])
    assert not dp.sync(base).changed


def test_policy_changes_rewrite_chains_inside_the_table(lab: Lab, dp: Dataplane) -> None:
    """New, changed and removed policies: chains added, rewritten, deleted; elements diffed (also in the
    concatenated interval sets); the table is never recreated; every step is verified against the
    kernel and judged by packets."""
    lab.serve("p2", 8082)
    lab.serve("p2", 9092)
    only_port = {port: PolicyRule(peer_ips=frozenset({IP["p1"]}), all_ports=False,
                                  ports=frozenset({PortRange("tcp", port, port)})) for port in (8082, 9092)}
    web = {port: Policy("a", "web", frozenset({IP["p2"]}), ingress_rules=(rule,)) for port, rule in only_port.items()}
    lock_b = Policy("b", "lock", frozenset({IP["p3"]}))
    steps = [  # policies, the open port, chains changed?, what
        ((web[8082],), 8082, True, "first policy"),
        ((web[8082], lock_b), 8082, True, "a new namespace: its chain is added"),
        ((web[9092], lock_b), 9092, False, "another port: np_port elements only"),
        ((replace(web[9092], ingress_rules=(only_port[9092], PolicyRule(
            all_peers=True, all_ports=False, ports=frozenset({PortRange("udp", 53, 53)})))), lock_b),
         9092, True, "one more rule: the namespace's chain is rewritten"),
        ((web[8082],), 8082, True, "the namespace's last policy is gone: its chain is deleted"),
    ]
    handle = None
    for policies, port, chains, what in steps:
        stats = dp.sync(intent_for(lab, "networkpolicy", policies))
        dp.verify(intent_for(lab, "networkpolicy", policies))
        assert not stats.fell_back, what
        if handle is None:
            handle = table_handle(dp)
        else:
            assert stats.replaced_tables == () and bool(stats.chains_changed) == chains, what
            assert table_handle(dp) == handle, what
        assert lab.connect("p1", IP["p2"], port) == f"hello {IP['p1']}", what
        assert lab.connect("p1", IP["p2"], 8082 + 9092 - port) is None, what
        assert lab.ping("p1", IP["p3"]) == (lock_b not in policies), what


def test_a_full_sync_is_checked_by_the_nft_generation(lab: Lab, dp: Dataplane) -> None:
    """A periodic full sync reads the kernel only if some nft transaction was committed in the namespace
    since the kernel last matched memory; our own applies keep the proof, anyone else's voids it."""
    base = intent_for(lab, "multitenant")
    assert dp.sync(base).full_resync  # the first sync reads the kernel
    stats = dp.sync(base, full=True)
    assert stats.checked and not stats.full_resync
    grown = replace(base, pods=base.pods + (ClusterPod("10.128.0.99", "a", NetID(10), "n2"),))
    assert dp.sync(grown).changed  # our own transaction: the generation moves by one
    assert dp.sync(grown, full=True).checked
    dp.nft.run("add table inet osdn_other\ndelete table inet osdn_other")  # someone else's transaction
    stats = dp.sync(grown, full=True)
    assert stats.full_resync and not stats.checked and not stats.changed
    assert dp.sync(grown, full=True).checked
    dp.verify(grown)
