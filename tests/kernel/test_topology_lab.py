"""A 2-node lab with node bridges, VXLAN and two pods per node, proven with real packets.

Everything lives in namespaces named `osdn-k<pid>-...`; the module fixture destroys the lab also
when a test fails, and the last test checks that destroy leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time

import pytest

from osdn.kernel import links, netns
from osdn.lab.state import load_state
from osdn.lab.topology import build, destroy, dns_query, plan_lab

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

CLUSTER = "10.128.0.0/14"
BRIDGE, VXLAN, VNI = "osdnbr0", "osdnvx0", 4242


def node_subnet(i: int) -> tuple[str, str]:
    """(gateway CIDR, gateway IP) of node i (1-based): 10.128.(2i-2).1/23."""
    return f"10.128.{2 * i - 2}.1/23", f"10.128.{2 * i - 2}.1"


def pod_spec(topo, i: int, j: int) -> links.PodInterface:
    gw_cidr, gw = node_subnet(i)
    ip = f"10.128.{2 * i - 2}.{10 + j}"
    return links.PodInterface(
        node_netns=topo.nodes[i - 1].netns, pod_netns=f"{topo.prefix}pod-n{i}p{j}", bridge=BRIDGE,
        host_veth=links.osdn_link_name("v", f"n{i}p{j}"), ip_cidr=f"{ip}/23", gateway=gw,
        routes=tuple(links.default_pod_routes(gw, [CLUSTER])))


def ensure_node(topo, i: int) -> bool:
    node = topo.nodes[i - 1]
    gw_cidr, _ = node_subnet(i)
    changed = links.ensure_node_bridge(node.netns, BRIDGE, gw_cidr, 1450, [CLUSTER])
    remotes = [n.ip for n in topo.nodes if n is not node]
    return links.ensure_vxlan(node.netns, VXLAN, VNI, node.ip, 4789, remotes, bridge=BRIDGE, mtu=1450,
                              underlay_dev=node.ifname) or changed


def ensure_pods(topo) -> bool:
    changed = False
    for i in (1, 2):
        for j in (1, 2):
            spec = pod_spec(topo, i, j)
            netns.ensure_netns(spec.pod_netns)
            changed = links.ensure_pod_interface(spec) or changed
    return changed


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topo = plan_lab(f"k{os.getpid()}", nodes=2)
    state = build(topo, str(tmp_path_factory.mktemp("lab")))
    try:
        for i in (1, 2):
            ensure_node(topo, i)
        ensure_pods(topo)
        yield topo
    finally:
        destroy(state)


def ping(ns: str, ip: str) -> bool:
    done = netns.run_cmd(ns, ["ping", "-c", "1", "-W", "2", ip], check=False)
    return done.returncode == 0


def pod_ns(topo, i, j) -> str:
    return pod_spec(topo, i, j).pod_netns


def test_same_node_pod_to_pod(lab):
    assert ping(pod_ns(lab, 1, 1), "10.128.0.12")


def test_cross_node_pod_to_pod_over_vxlan(lab):
    assert ping(pod_ns(lab, 1, 1), "10.128.2.11")
    assert ping(pod_ns(lab, 2, 2), "10.128.0.12")


def test_pod_reaches_its_gateway_and_has_openshift_mac(lab):
    assert ping(pod_ns(lab, 2, 1), "10.128.2.1")
    eth0 = links.with_netlink(pod_ns(lab, 2, 1), lambda nl: links.observe_link(nl, "eth0"))
    assert eth0.mac == "0a:58:0a:80:02:0b" and eth0.mtu == 1450 and eth0.addresses == ("10.128.2.11/23",)


def test_arp_broadcast_floods_across_nodes(lab):
    src, dst_ip = pod_ns(lab, 1, 2), "10.128.2.12"
    netns.run_cmd(src, ["ip", "neigh", "flush", "dev", "eth0"])
    assert ping(src, dst_ip)
    neigh = netns.run_cmd(src, ["ip", "neigh", "show", dst_ip]).stdout
    assert links.pod_mac(dst_ip) in neigh


def test_multicast_reaches_the_other_node(lab):
    group, port, got = "239.1.2.3", 5555, []
    ready = threading.Event()

    def receive() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("", port))
        mreq = socket.inet_aton(group) + socket.inet_aton("10.128.2.11")
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.settimeout(0.2)
        ready.set()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not got:
            with contextlib.suppress(TimeoutError):
                got.append(s.recv(100))
        s.close()

    def send() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for _ in range(20):
            s.sendto(b"hello-mcast", (group, port))
            time.sleep(0.05)
        s.close()

    rx = threading.Thread(target=netns.run_in_netns, args=(pod_ns(lab, 2, 1), receive))
    rx.start()
    ready.wait(2)
    netns.run_in_netns(pod_ns(lab, 1, 1), send)
    rx.join()
    assert got == [b"hello-mcast"]


def test_node_reaches_external_server_through_router(lab):
    node = lab.nodes[0]

    def fetch() -> bytes:
        with socket.create_connection((lab.web_ips[0], 80), timeout=3) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):  # HTTP/1.0: the server closes after the body
                reply += chunk
            return reply

    reply = netns.run_in_netns(node.netns, fetch)
    assert f"you are {node.ip}:".encode() in reply


def test_node_resolves_external_names(lab):
    node = lab.nodes[1].netns
    assert dns_query(node, lab.dns_ip, "web2.ext.test") == lab.web_ips[1]
    assert dns_query(node, lab.dns_ip, "missing.ext.test") is None


def test_macvlan_on_node_nic_is_reachable_from_outside(lab):
    node, egr = lab.nodes[0], f"{lab.prefix}pod-egr"
    netns.ensure_netns(egr)
    assert links.ensure_macvlan(node.netns, node.ifname, "macvlan0", egr)
    assert not links.ensure_macvlan(node.netns, node.ifname, "macvlan0", egr)

    def configure(nl: links.NL) -> None:
        links.set_link(nl, "macvlan0", up=True)
        links.ensure_addresses(nl, "macvlan0", ["198.18.0.100/24"])

    links.with_netlink(egr, configure)
    assert ping(lab.router_netns, "198.18.0.100")
    assert not ping(node.netns, "198.18.0.100")  # macvlan children cannot talk to their parent


def test_second_ensure_changes_nothing(lab):
    before = {n.netns: links.observe_links(n.netns) for n in lab.nodes}
    assert not any(ensure_node(lab, i) for i in (1, 2))
    assert not ensure_pods(lab)
    assert {n.netns: links.observe_links(n.netns) for n in lab.nodes} == before


def test_bridge_routes_follow_the_cluster_networks(lab):
    """The node's on-link cluster routes are exactly the ones asked for (stale on-link routes go)."""
    node = lab.nodes[0]
    gw_cidr, _ = node_subnet(1)
    routes = lambda: links.with_netlink(node.netns, lambda nl: links.observe_routes(nl, BRIDGE))  # noqa: E731
    assert links.ensure_node_bridge(node.netns, BRIDGE, gw_cidr, 1450, [CLUSTER, "10.200.0.0/16"])
    assert routes() == {(CLUSTER, None), ("10.200.0.0/16", None)}
    assert links.ensure_node_bridge(node.netns, BRIDGE, gw_cidr, 1450, [CLUSTER])
    assert routes() == {(CLUSTER, None)}
    assert not links.ensure_node_bridge(node.netns, BRIDGE, gw_cidr, 1450, [CLUSTER])


def test_vxlan_flood_entries_follow_the_remote_list(lab):
    node = lab.nodes[0]
    fdb = lambda: links.with_netlink(node.netns, lambda nl: links.observe_fdb(nl, VXLAN))  # noqa: E731
    both = ["198.18.0.12", "198.18.0.13"]
    assert links.ensure_vxlan(node.netns, VXLAN, VNI, node.ip, 4789, both, bridge=BRIDGE)
    assert fdb() == {(links.ZERO_MAC, ip) for ip in both}
    assert links.ensure_vxlan(node.netns, VXLAN, VNI, node.ip, 4789, ["198.18.0.12"], bridge=BRIDGE)
    assert fdb() == {(links.ZERO_MAC, "198.18.0.12")}
    assert ping(pod_ns(lab, 1, 1), "10.128.2.12")


def test_pod_interface_is_repaired_and_deleted(lab):
    spec = pod_spec(lab, 2, 2)
    netns.run_cmd(spec.pod_netns, ["ip", "route", "del", "default"])
    netns.run_cmd(spec.pod_netns, ["ip", "addr", "add", "10.99.0.1/24", "dev", "eth0"])
    assert links.ensure_pod_interface(spec)
    assert ping(spec.pod_netns, "10.128.0.11")
    addrs = links.with_netlink(spec.pod_netns, lambda nl: links.observe_link(nl, "eth0")).addresses
    assert addrs == ("10.128.2.12/23",)
    assert links.delete_pod_interface(spec.node_netns, spec.host_veth)
    assert not links.delete_pod_interface(spec.node_netns, spec.host_veth)
    assert links.with_netlink(spec.pod_netns, lambda nl: nl.index("eth0")) is None
    assert links.ensure_pod_interface(spec)  # and back
    assert ping(spec.pod_netns, "10.128.0.11")


def test_errors_name_the_object(lab):
    with pytest.raises(links.LinkNotFoundError, match="nosuchdev.*" + lab.nodes[0].netns):
        links.with_netlink(lab.nodes[0].netns, lambda nl: links.set_link(nl, "nosuchdev", mtu=1400))
    with pytest.raises(netns.NetnsNotFoundError, match="osdn-nosuch"):
        links.observe_links("osdn-nosuch")
    with pytest.raises(links.LinkConflictError, match="not a vxlan"):
        links.ensure_vxlan(lab.nodes[0].netns, BRIDGE, VNI, lab.nodes[0].ip, 4789, [])
    with pytest.raises(links.LinkNameError):
        links.ensure_node_bridge(lab.nodes[0].netns, "x" * 16, "10.1.0.1/24")


def test_destroy_leaves_nothing_and_survives_a_lost_process(tmp_path):
    topo = plan_lab(f"d{os.getpid()}", nodes=1)
    state = build(topo, str(tmp_path))
    stray = f"{topo.prefix}pod-stray"  # made outside the state file, found by prefix
    netns.ensure_netns(stray)
    reloaded = load_state(str(tmp_path))  # as after a crash of the process that built it
    assert reloaded is not None and reloaded.namespaces == list(topo.namespaces)
    report = destroy(reloaded)
    assert stray in report.namespaces and len(report.killed) == 2
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert topo.prefix not in listed
    assert all(not os.path.exists(f"/proc/{p.pid}/ns") or _zombie(p.pid) for p in state.processes)
    assert load_state(str(tmp_path)) is None
    assert destroy(state).namespaces == []  # idempotent


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
