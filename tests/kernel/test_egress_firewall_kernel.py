"""The DNS hold and the admin chain against a real nftables in a throw-away namespace: held addresses
are in the kernel when `on_answer` returns, survive full syncs (verify passes), leave after their
hold; the admin table is created once and never touched by syncs, teardown or a second ensure."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from nsutil import PREFIX, sh

from osdn.node.admin_output import TABLE, ensure_admin_chain
from osdn.node.dataplane import Dataplane
from osdn.node.dnshold import DnsHold
from osdn.node.egress_firewall import EgressFirewallIntent, FirewallProgram, FirewallRule
from osdn.node.intent import ClusterPod, LocalPod, NetID, Node, NodeIntent
from osdn.node.render.egress_firewall import dns_set

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]
POD = "10.128.0.2"


@pytest.fixture
def node_ns() -> Iterator[str]:
    name = f"{PREFIX}efw"
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def intent() -> NodeIntent:
    fw = EgressFirewallIntent((FirewallProgram(11, "p1", (FirewallRule(0, True, None, "www.foo.com"),
                                                          FirewallRule(1, False, "0.0.0.0/0"))),),
                              ((POD, 11),), (("www.foo.com", frozenset({"5.6.7.8"})),))
    return NodeIntent(mode="networkpolicy", node_name="n1", cluster_cidrs=("10.128.0.0/14",),
                      service_cidr="172.30.0.0/16", local_subnet="10.128.0.0/23", gateway="10.128.0.1",
                      node_ip="192.168.0.1", nodes=(Node("n1", "192.168.0.1", "10.128.0.0/23", "10.128.0.1"),),
                      pods=(ClusterPod(POD, "p1", NetID(11), "n1"),),
                      local_pods=(LocalPod(POD, "0a:58:0a:80:00:02", "vh-a"),), egress_firewall=fw)


def elements(ns: str) -> str:
    return sh("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "osdn", dns_set("www.foo.com")).stdout


def test_held_addresses_are_installed_before_return_survive_full_syncs_and_expire(node_ns: str) -> None:
    now = [0.0]
    with Dataplane(node_ns) as dp:
        hold = DnsHold(dp, clock=lambda: now[0])
        dp.overlay = hold.overlay
        hold.configure(intent().egress_firewall)
        dp.sync(intent())
        hold.on_answer(POD, "www.foo.com.", ("5.6.7.9",), 1)
        assert "5.6.7.9" in elements(node_ns)
        dp.sync(intent(), full=True)  # plans against the kernel and verifies: the held address stays
        dp.sync(intent())  # an incremental sync keeps it too
        assert "5.6.7.9" in elements(node_ns) and "5.6.7.8" in elements(node_ns)
        now[0] = 6.0  # past max(TTL 1 s, 5 s); no connection open to it
        dp.sync(intent(), full=True)
        assert "5.6.7.9" not in elements(node_ns) and "5.6.7.8" in elements(node_ns)


def test_admin_table_is_created_once_and_never_touched(node_ns: str) -> None:
    with Dataplane(node_ns) as dp:
        assert ensure_admin_chain(dp.nft, "osdnbr0")
        sh("ip", "netns", "exec", node_ns, "nft", "add", "rule", "inet", TABLE, "output_rules",
           "ip", "daddr", "192.0.2.1", "counter", "drop")
        assert not ensure_admin_chain(dp.nft, "osdnbr0")
        dp.sync(intent(), full=True)
        dp.teardown()
        listing = sh("ip", "netns", "exec", node_ns, "nft", "list", "table", "inet", TABLE).stdout
        assert "ip daddr 192.0.2.1 counter" in listing and 'iifname "osdnbr0" oifname != "osdnbr0"' in listing
