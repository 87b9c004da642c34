"""Unicast VXLAN FDB entries for remote pods and gateways (`osdn.node.fdb.VxlanFdb`) in a real 3-node
topology, proven with packets: unicast between pods on node1 and node2, and replies to node1 itself,
reach node3's VXLAN device without the entries (flooded) and not with them; the entries follow pod
changes exactly (incrementally, without reading the table), survive a recreated device, stay as
they are while egress steering routes come and go, leave foreign entries alone, and 10k of them are installed
and reconciled exactly (timings printed).

Namespaces are `osdn-f<pid>-...` (`osdn.lab.topology`, nothing linked to the root namespace); the
module fixture destroys them also when a test fails.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from osdn.kernel import links, netns
from osdn.lab.topology import build, destroy, plan_lab
from osdn.node import fdb
from osdn.node.egress_intent import EgressIntent, EgressRoute
from osdn.node.egressip import EgressIPs
from osdn.node.intent import ClusterPod, NetID, Node, NodeIntent

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

CLUSTER = "10.128.0.0/14"
BRIDGE, VXLAN = "osdnbr0", "osdnvx0"
COUNTER_TABLE = "osdnfdbtest"
DATAGRAMS, PINGS = 200, 20
SEND = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    s.sendto(b"x" * 64, (sys.argv[1], 9))
"""
SERVER = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(16); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(c.recv(100)); c.close()
"""
CONNECT = r"""
import socket, sys
for i in range(int(sys.argv[2])):
    with socket.create_connection((sys.argv[1], 8080), timeout=5) as c:
        c.sendall(b"ping"); assert c.recv(100) == b"ping"
"""


def subnet(i: int) -> str:
    return f"10.128.{2 * i - 2}.0/23"


def gateway(i: int) -> str:
    return f"10.128.{2 * i - 2}.1"


def pod_ip(i: int, j: int) -> str:
    return f"10.128.{2 * i - 2}.{10 + j}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topo = plan_lab(f"f{os.getpid() % 100000}", nodes=3)
    state = build(topo, str(tmp_path_factory.mktemp("lab")))
    try:
        for i, node in enumerate(topo.nodes, 1):
            links.ensure_node_bridge(node.netns, BRIDGE, f"{gateway(i)}/23", 1450, [CLUSTER])
            remotes = [n.ip for n in topo.nodes if n is not node]
            links.ensure_vxlan(node.netns, VXLAN, 0, node.ip, 4789, remotes, bridge=BRIDGE, mtu=1450,
                               underlay_dev=node.ifname)
        for i in (1, 2):
            spec = links.PodInterface(topo.nodes[i - 1].netns, f"{topo.prefix}pod-n{i}", BRIDGE,
                                      links.osdn_link_name("v", f"f{i}"), f"{pod_ip(i, 1)}/23", gateway(i),
                                      routes=tuple(links.default_pod_routes(gateway(i), [CLUSTER])))
            netns.ensure_netns(spec.pod_netns)
            links.ensure_pod_interface(spec)
        yield topo
    finally:
        destroy(state)


def nodes_of(topo, count: int = 3) -> tuple[Node, ...]:
    return tuple(Node(f"node{i}", topo.nodes[i - 1].ip, subnet(i), gateway(i)) for i in range(1, count + 1))


def intent(topo, me: int, pods: tuple[ClusterPod, ...], count: int = 3) -> NodeIntent:
    return NodeIntent("networkpolicy", f"node{me}", (CLUSTER,), "172.30.0.0/16", subnet(me), gateway(me),
                      topo.nodes[me - 1].ip, nodes=nodes_of(topo, count), pods=pods)


def pod(ip: str, node: int) -> ClusterPod:
    return ClusterPod(ip, "p", NetID(1), f"node{node}", f"p/{ip}")


def two_pods() -> tuple[ClusterPod, ...]:
    return pod(pod_ip(1, 1), 1), pod(pod_ip(2, 1), 2)


def gateways(topo, me: int, count: int = 3) -> set[tuple[str, str]]:
    """The entries of the other nodes' gateways (bridge MACs)."""
    return {(links.pod_mac(gateway(i)), topo.nodes[i - 1].ip) for i in range(1, count + 1) if i != me}


def unicast_entries(node_ns: str) -> set[tuple[str, str]]:
    """The device's `self` entries with a remote, except the flood entries (`bridge -j fdb show`)."""
    out = netns.run_cmd(node_ns, ["bridge", "-j", "fdb", "show", "dev", VXLAN]).stdout
    return {(e["mac"], e["dst"]) for e in json.loads(out) if e.get("dst") and e["mac"] != links.ZERO_MAC}


@contextmanager
def frame_counter(node_ns: str, macs: tuple[str, ...]) -> Iterator[Callable[[], int]]:
    """Count the frames to `macs` that arrive through the node's VXLAN device (a netdev ingress chain:
    nothing else counts, such as the IPv6 neighbour discovery of new interfaces)."""
    chain = ["netdev", COUNTER_TABLE, "in"]
    netns.run_cmd(node_ns, ["nft", f"add table netdev {COUNTER_TABLE}"])
    try:
        netns.run_cmd(node_ns, ["nft", f"add chain {' '.join(chain)} {{ type filter hook ingress device {VXLAN} "
                                       "priority 0; }"])
        netns.run_cmd(node_ns, ["nft", f"add rule {' '.join(chain)} ether daddr {{ {', '.join(macs)} }} counter"])

        def count() -> int:
            out = json.loads(netns.run_cmd(node_ns, ["nft", "-j", "list", "chain", *chain]).stdout)
            exprs = [e for x in out["nftables"] if "rule" in x for e in x["rule"]["expr"]]
            return sum(e["counter"]["packets"] for e in exprs if "counter" in e)
        yield count
    finally:
        netns.run_cmd(node_ns, ["nft", f"delete table netdev {COUNTER_TABLE}"], check=False)


def udp(topo) -> None:
    netns.run_cmd(f"{topo.prefix}pod-n1", [sys.executable, "-c", SEND, pod_ip(2, 1), str(DATAGRAMS)])


def node_ping(topo) -> None:
    """node1 itself (from its gateway address) pings node2's pod: the replies go to node1's gateway MAC."""
    netns.run_cmd(topo.nodes[0].netns, ["ping", "-c", str(PINGS), "-i", "0.01", "-W", "5", pod_ip(2, 1)])


def tcp(topo) -> None:
    netns.run_cmd(f"{topo.prefix}pod-n1", [sys.executable, "-c", CONNECT, pod_ip(2, 1), "20"])


def test_unicast_goes_only_to_the_destination_node(lab):
    """Without entries, node3 gets a copy of every frame between node1's and node2's pods, and of
    node2's pod's replies to node1 itself (its gateway address); with them, not one (node2 gets them)."""
    n1, n2, n3 = (n.netns for n in lab.nodes)
    macs = (links.pod_mac(pod_ip(1, 1)), links.pod_mac(pod_ip(2, 1)), links.pod_mac(gateway(1)))
    server = netns.spawn_in_netns(f"{lab.prefix}pod-n2", [sys.executable, "-c", SERVER],
                                  stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        for src in (f"{lab.prefix}pod-n1", n1):  # ARP resolved
            netns.run_cmd(src, ["ping", "-c", "1", "-W", "5", pod_ip(2, 1)])
        with frame_counter(n2, macs) as at2, frame_counter(n3, macs) as at3:
            udp(lab)
            node_ping(lab)
            assert at2() >= DATAGRAMS and at3() >= DATAGRAMS + PINGS, "flooded without entries"
            for me, ns in ((1, n1), (2, n2)):
                fdb.VxlanFdb(ns, VXLAN).sync(intent(lab, me, two_pods()), full=True)
            assert unicast_entries(n1) == {(macs[1], lab.nodes[1].ip)} | gateways(lab, 1)
            assert unicast_entries(n2) == {(macs[0], lab.nodes[0].ip)} | gateways(lab, 2)
            before2, before3 = at2(), at3()
            udp(lab)
            tcp(lab)
            node_ping(lab)
            assert at2() - before2 >= DATAGRAMS + 20 * 3  # SYN, data, ACKs... per connection
            assert at3() == before3
        flood = netns.run_cmd(n1, ["bridge", "fdb", "show", "dev", VXLAN]).stdout
        assert f"00:00:00:00:00:00 dst {lab.nodes[2].ip} self permanent" in flood  # broadcast still floods
    finally:
        server.kill()
        server.wait()
        for ns in (n1, n2):
            links.apply_fdb_batch(ns, VXLAN, unicast_entries(ns), ())


def test_entries_follow_pod_changes_without_reading_the_table(lab, monkeypatch):
    n1 = lab.nodes[0].netns
    node2, node3 = lab.nodes[1].ip, lab.nodes[2].ip
    table = fdb.VxlanFdb(n1, VXLAN)
    a, b, c = pod("10.128.2.20", 2), pod("10.128.2.21", 2), pod("10.128.4.20", 3)
    try:
        assert table.sync(intent(lab, 1, (a, b)), full=True) == 2 + 2  # and the 2 gateways

        def no_dump(*_args: object) -> set[tuple[str, str]]:
            raise AssertionError("a pod change read the whole table")
        monkeypatch.setattr(links, "observe_fdb_entries", no_dump)
        assert table.sync(intent(lab, 1, (a, b, c)), full=False) == 1
        assert table.sync(intent(lab, 1, (a, c)), full=False) == 1  # b deleted
        bogus = pod("10.128.4.99", 2)  # node3's subnet, claiming node2
        assert table.sync(intent(lab, 1, (a, c, bogus)), full=False) == 0
        assert table.planner.refused == {"10.128.4.99": "node2"}
        monkeypatch.undo()
        assert unicast_entries(n1) == {(links.pod_mac(a.ip), node2), (links.pod_mac(c.ip), node3)} | gateways(lab, 1)
        assert table.sync(intent(lab, 1, (a, c), count=2), full=False) == 2  # node3 went: c and its gateway
        assert unicast_entries(n1) == {(links.pod_mac(a.ip), node2)} | gateways(lab, 1, count=2)
        assert table.sync(intent(lab, 1, (a, c), count=2), full=True) == 0  # apply twice: nothing to do
    finally:
        links.apply_fdb_batch(n1, VXLAN, unicast_entries(n1), ())


def test_a_recreated_device_gets_its_entries_back(lab):
    node = lab.nodes[0]
    table = fdb.VxlanFdb(node.netns, VXLAN)
    a, b = pod("10.128.2.30", 2), pod("10.128.4.30", 3)
    remotes = [n.ip for n in lab.nodes[1:]]
    try:
        table.sync(intent(lab, 1, (a,)), full=True)
        links.delete_links(node.netns, [VXLAN])
        links.ensure_vxlan(node.netns, VXLAN, 0, node.ip, 4789, remotes, bridge=BRIDGE, mtu=1450,
                           underlay_dev=node.ifname)
        assert unicast_entries(node.netns) == set()
        table.sync(intent(lab, 1, (a, b)), full=False)
        assert unicast_entries(node.netns) == {(links.pod_mac(a.ip), lab.nodes[1].ip),
                                               (links.pod_mac(b.ip), lab.nodes[2].ip)} | gateways(lab, 1)
    finally:
        links.apply_fdb_batch(node.netns, VXLAN, unicast_entries(node.netns), ())


def test_egress_steering_leaves_the_gateway_entries_alone_and_foreign_entries_stay(lab):
    """This module keeps every other node's gateway entry, so egress steering's next hop (a holder's
    gateway) has its entry without the egress IP code touching the device: adding and removing a
    steering route leaves the entries exactly as they were. An administrator's entry stays, a
    vanished node's pod's goes."""
    node = lab.nodes[0]
    egress, table = EgressIPs(node.netns, node.ip, BRIDGE), fdb.VxlanFdb(node.netns, VXLAN)
    steer = EgressIntent(routes=(EgressRoute(1, "node2", gateway(2)),), bridge=BRIDGE)
    admin, stale = ("52:54:00:aa:bb:cc", lab.nodes[1].ip), (links.pod_mac("10.131.0.5"), lab.nodes[2].ip)
    a = pod("10.128.2.40", 2)
    want = {admin, (links.pod_mac(a.ip), lab.nodes[1].ip)} | gateways(lab, 1)
    try:
        links.apply_fdb_batch(node.netns, VXLAN, (), (admin, stale))
        assert table.sync(intent(lab, 1, (a,)), full=True) == 4  # a and both gateways added, stale removed
        assert egress.sync(steer).routes_changed > 0
        assert unicast_entries(node.netns) == want
        assert egress.sync(EgressIntent(bridge=BRIDGE)).routes_changed > 0  # the route goes
        assert unicast_entries(node.netns) == want  # node2's gateway entry stays: no reconcile needed
        assert table.sync(intent(lab, 1, (a,)), full=True) == 0
    finally:
        egress.teardown()
        links.apply_fdb_batch(node.netns, VXLAN, unicast_entries(node.netns), ())


def test_ten_thousand_entries_are_installed_and_reconciled_exactly(lab):
    n1 = lab.nodes[0].netns
    ip1, ip2, ip3 = (n.ip for n in lab.nodes)
    nodes = (Node("node1", ip1, "10.130.0.0/23", "10.130.0.1"), Node("node2", ip2, "10.128.0.0/18", "10.128.0.1"),
             Node("node3", ip3, "10.129.0.0/18", "10.129.0.1"))
    base = {2: int(ipaddress.IPv4Address("10.128.0.0")), 3: int(ipaddress.IPv4Address("10.129.0.0"))}
    pods = tuple(sorted(pod(str(ipaddress.IPv4Address(base[n] + 2 + k)), n) for n in (2, 3) for k in range(5000)))
    big = NodeIntent("networkpolicy", "node1", (CLUSTER,), "172.30.0.0/16", "10.130.0.0/23", "10.130.0.1", ip1,
                     nodes=nodes, pods=pods)
    one_more = replace(big, pods=tuple(sorted((*pods, pod("10.129.60.7", 3)))))
    table = fdb.VxlanFdb(n1, VXLAN)
    try:
        t0 = time.perf_counter()
        assert table.sync(big, full=True) == 10000 + 2  # and the 2 gateways
        t1 = time.perf_counter()
        assert table.sync(big, full=True) == 0
        t2 = time.perf_counter()
        assert table.sync(one_more, full=False) == 1
        t3 = time.perf_counter()
        dst = {"node2": ip2, "node3": ip3}
        gws = {(links.pod_mac(n.gateway), n.node_ip) for n in nodes[1:]}
        assert unicast_entries(n1) == {(links.pod_mac(p.ip), dst[p.node]) for p in one_more.pods} | gws
        print(f"\n10k entries: install {t1 - t0:.3f}s, full reconcile with nothing to do {t2 - t1:.3f}s, "
              f"one pod added {1000 * (t3 - t2):.1f} ms")
    finally:
        links.apply_fdb_batch(n1, VXLAN, unicast_entries(n1), ())
