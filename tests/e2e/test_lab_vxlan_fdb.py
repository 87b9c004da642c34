"""Unicast between pods on two nodes crosses the underlay only to those nodes, in a real 3-node lab.

The agents keep a static VXLAN FDB entry `pod MAC -> node IP` for every pod and every gateway of
another node (`osdn.node.fdb`). With a pod on node1 and one on node2: `bridge fdb show dev osdnvx0`
on each shows the other's pod and gateway; UDP and TCP between them, and node1's own pings of the
node2 pod (answered to node1's gateway MAC), reach node2's VXLAN device and not node3's (before the
entries every frame was flooded to node3 too); the flood entries stay (broadcast and multicast
still reach every node: tests/e2e/test_lab_multicast.py); a deleted pod's entry goes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from labkit import Lab, make_lab, needs_agent
from polling import wait_for

from osdn.kernel import links, netns
from osdn.model.subnets import gateway_for

pytestmark = [pytest.mark.e2e, needs_agent]
VXLAN = "osdnvx0"
COUNTER_TABLE = "osdnfdbtest"
DATAGRAMS = 300
SEND = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    s.sendto(b"x" * 64, (sys.argv[1], 9))
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("fdb", "networkpolicy", 3)


def fdb_show(lab: Lab, node: str) -> str:
    return netns.run_cmd(lab.node(node).netns, ["bridge", "fdb", "show", "dev", VXLAN]).stdout


@contextmanager
def frame_counter(lab: Lab, node: str, macs: tuple[str, ...]) -> Iterator[Callable[[], int]]:
    """Count the frames to `macs` that arrive through the node's VXLAN device (a netdev ingress chain
    of a table of its own: nothing else counts, such as the IPv6 neighbour discovery of new pods)."""
    ns, chain = lab.node(node).netns, ["netdev", COUNTER_TABLE, "in"]
    netns.run_cmd(ns, ["nft", f"add table netdev {COUNTER_TABLE}"])
    try:
        netns.run_cmd(ns, ["nft", f"add chain {' '.join(chain)} {{ type filter hook ingress device {VXLAN} "
                                  "priority 0; }"])
        netns.run_cmd(ns, ["nft", f"add rule {' '.join(chain)} ether daddr {{ {', '.join(macs)} }} counter"])

        def count() -> int:
            out = json.loads(netns.run_cmd(ns, ["nft", "-j", "list", "chain", *chain]).stdout)
            exprs = [e for x in out["nftables"] if "rule" in x for e in x["rule"]["expr"]]
            return sum(e["counter"]["packets"] for e in exprs if "counter" in e)
        yield count
    finally:
        netns.run_cmd(ns, ["nft", f"delete table netdev {COUNTER_TABLE}"], check=False)


def entry(lab: Lab, pod_ip: str, node: str) -> str:
    return f"{links.pod_mac(pod_ip)} dst {lab.node(node).ip} self permanent"


def flood_entries(lab: Lab, node: str) -> bool:
    """The all-zeros entries to every other node are there: broadcast and multicast reach every node."""
    shown = fdb_show(lab, node)
    return all(f"00:00:00:00:00:00 dst {lab.node(n).ip} self permanent" in shown
               for n in ("node1", "node2", "node3") if n != node)


def test_unicast_reaches_only_the_destination_node(lab: Lab) -> None:
    a_ip, a_ns = lab.pod("a", "fdb", "node1")
    b_ip, _ = lab.pod("b", "fdb", "node2")
    wait_for(lambda: entry(lab, b_ip, "node2") in fdb_show(lab, "node1"), what="node1's entry for b")
    wait_for(lambda: entry(lab, a_ip, "node1") in fdb_show(lab, "node2"), what="node2's entry for a")
    wait_for(lambda: entry(lab, b_ip, "node2") in fdb_show(lab, "node3"), what="node3's entry for b")  # every node
    node1_gw = gateway_for(lab.client.get("HostSubnet", "node1")["subnet"])
    wait_for(lambda: entry(lab, node1_gw, "node1") in fdb_show(lab, "node2"), what="node2's entry for node1's gateway")
    wait_for(lambda: all(flood_entries(lab, node) for node in ("node1", "node2")), what="the flood entries")
    wait_for(lambda: lab.can_connect(a_ns, b_ip, 80), what="a reaches b")  # ARP resolved
    macs = (links.pod_mac(a_ip), links.pod_mac(b_ip), links.pod_mac(node1_gw))
    with frame_counter(lab, "node2", macs) as at2, frame_counter(lab, "node3", macs) as at3:
        netns.run_cmd(a_ns, [sys.executable, "-c", SEND, b_ip, str(DATAGRAMS)])
        answered = sum(bool(lab.get(a_ns, b_ip)) for _ in range(10))  # TCP: an HTTP exchange each
        pinged = netns.run_cmd(lab.node("node1").netns, ["ping", "-c", "10", "-i", "0.05", "-W", "5", b_ip],
                               check=False).returncode == 0  # node1 itself, from its gateway address
        to2, to3 = at2(), at3()
    assert answered and pinged and to2 >= DATAGRAMS // 2, f"node2 got {to2} frames, {answered} HTTP answers"
    assert to3 == 0, f"node3 got {to3} frames of unicast between node1 and node2 (flooded?)"


def test_a_deleted_pods_entry_goes(lab: Lab) -> None:
    c_ip, _ = lab.pod("c", "fdb", "node3")
    wait_for(lambda: entry(lab, c_ip, "node3") in fdb_show(lab, "node1"), what="node1's entry for c")
    lab.delete_pod("c", "fdb")
    wait_for(lambda: links.pod_mac(c_ip) not in fdb_show(lab, "node1") + fdb_show(lab, "node2"),
             what="c's entries to go from node1 and node2")
