"""Unicast between pods on two nodes crosses the underlay only to those nodes, in a real 3-node lab.

The agents keep a static VXLAN FDB entry `pod MAC -> node IP` for every pod on another node
(`osdn.node.fdb`). With a pod on node1 and one on node2: `bridge fdb show dev osdnvx0` on each
shows the other's pod; UDP and TCP between them reach node2's VXLAN device and not node3's (before
the entries every frame was flooded to node3 too); the flood entries stay (broadcast and multicast
still reach every node: tests/e2e/test_lab_multicast.py); a deleted pod's entry goes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent
from polling import wait_for

from osdn.kernel import links, netns

pytestmark = [pytest.mark.e2e, needs_agent]
VXLAN = "osdnvx0"
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


def vxlan_rx(lab: Lab, node: str) -> int:
    out = netns.run_cmd(lab.node(node).netns, ["ip", "-j", "-s", "link", "show", "dev", VXLAN]).stdout
    return int(json.loads(out)[0]["stats64"]["rx"]["packets"])


def entry(lab: Lab, pod_ip: str, node: str) -> str:
    return f"{links.pod_mac(pod_ip)} dst {lab.node(node).ip} self permanent"


def test_unicast_reaches_only_the_destination_node(lab: Lab) -> None:
    a_ip, a_ns = lab.pod("a", "fdb", "node1")
    b_ip, _ = lab.pod("b", "fdb", "node2")
    wait_for(lambda: entry(lab, b_ip, "node2") in fdb_show(lab, "node1"), what="node1's entry for b")
    wait_for(lambda: entry(lab, a_ip, "node1") in fdb_show(lab, "node2"), what="node2's entry for a")
    assert entry(lab, b_ip, "node2") in fdb_show(lab, "node3")  # every other node has one
    for node in ("node1", "node2"):  # the flood entries stay: broadcast and multicast still reach every node
        others = [n for n in ("node1", "node2", "node3") if n != node]
        assert all(f"00:00:00:00:00:00 dst {lab.node(n).ip} self permanent" in fdb_show(lab, node) for n in others)
    wait_for(lambda: lab.can_connect(a_ns, b_ip, 80), what="a reaches b")  # ARP resolved
    before = vxlan_rx(lab, "node2"), vxlan_rx(lab, "node3")
    netns.run_cmd(a_ns, [sys.executable, "-c", SEND, b_ip, str(DATAGRAMS)])
    answered = sum(bool(lab.get(a_ns, b_ip)) for _ in range(10))  # TCP: an HTTP exchange each
    to2, to3 = vxlan_rx(lab, "node2") - before[0], vxlan_rx(lab, "node3") - before[1]
    assert answered and to2 >= DATAGRAMS // 2, f"node2 got {to2} frames, {answered} HTTP answers"
    assert to3 < 30, f"node3 got {to3} frames of unicast between node1 and node2 (flooded?)"


def test_a_deleted_pods_entry_goes(lab: Lab) -> None:
    c_ip, _ = lab.pod("c", "fdb", "node3")
    wait_for(lambda: entry(lab, c_ip, "node3") in fdb_show(lab, "node1"), what="node1's entry for c")
    lab.delete_pod("c", "fdb")
    wait_for(lambda: links.pod_mac(c_ip) not in fdb_show(lab, "node1") + fdb_show(lab, "node2"),
             what="c's entries to go from node1 and node2")
