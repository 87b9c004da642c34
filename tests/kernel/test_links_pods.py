"""Pod interfaces on one node bridge: bandwidth limits measured with real TCP, and bulk creation.

Namespaces are named `osdn-t<pid>-...` and deleted by the fixture, also on failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from osdn.kernel import links, netns, tc

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

PREFIX = f"osdn-t{os.getpid()}-"
NODE, BRIDGE, GW = PREFIX + "node", "osdnbr0", "10.250.0.1"
LIMIT = 10_000_000


def pod(i: int) -> links.PodInterface:
    return links.PodInterface(NODE, f"{PREFIX}pod{i}", BRIDGE, links.osdn_link_name("v", f"{PREFIX}{i}"),
                              f"10.250.{i // 250}.{i % 250 + 2}/16", GW, mtu=1500)


def ensure_pods(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        netns.ensure_netns(pod(i).pod_netns)
        links.ensure_pod_interface(pod(i))


@pytest.fixture
def node():
    try:
        netns.ensure_netns(NODE)
        links.ensure_node_bridge(NODE, BRIDGE, GW + "/16", 1500)
        yield NODE
    finally:
        for name in netns.list_netns(PREFIX):
            netns.delete_netns(name, kill=True)


def measure_mbps(src_ns: str, dst_ns: str, dst_ip: str, seconds: float = 1.5) -> float:
    """TCP goodput src -> dst measured at the receiver, in Mbit/s."""
    port, box, ready = 5201, {}, threading.Event()

    def serve() -> None:
        with socket.socket() as srv:
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("0.0.0.0", port))
            srv.listen(1)
            ready.set()
            conn, _ = srv.accept()
            with conn:
                first = conn.recv(65536)
                t0, total = time.monotonic(), 0
                while time.monotonic() - t0 < seconds:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    total += len(chunk)
                box["mbps"] = total * 8 / (time.monotonic() - t0) / 1e6
                del first

    def send() -> None:
        with socket.create_connection((dst_ip, port), timeout=5) as s:
            data, stop = b"x" * 65536, time.monotonic() + seconds + 1.0
            try:
                while time.monotonic() < stop:
                    s.sendall(data)
            except OSError:  # receiver closed
                pass

    rx = threading.Thread(target=netns.run_in_netns, args=(dst_ns, serve))
    rx.start()
    assert ready.wait(5)
    netns.run_in_netns(src_ns, send)
    rx.join(10)
    return box["mbps"]


def test_bandwidth_limits_hold_both_directions(node):
    ensure_pods(2)
    a, b = pod(0), pod(1)
    b_ip = b.ip_cidr.split("/")[0]
    unlimited = measure_mbps(a.pod_netns, b.pod_netns, b_ip)
    assert unlimited > 5 * LIMIT / 1e6

    assert tc.ensure_bandwidth(NODE, a.host_veth, tc.Bandwidth(egress=LIMIT))
    assert not tc.ensure_bandwidth(NODE, a.host_veth, tc.Bandwidth(egress=LIMIT))
    assert tc.observe_bandwidth(NODE, a.host_veth) == tc.Bandwidth(egress=LIMIT)
    egress = measure_mbps(a.pod_netns, b.pod_netns, b_ip)
    assert 1 < egress < 2 * LIMIT / 1e6

    assert tc.delete_bandwidth(NODE, a.host_veth)
    assert tc.observe_bandwidth(NODE, a.host_veth) == tc.Bandwidth()
    ifb_gone = links.with_netlink(NODE, lambda nl: nl.index(links.ifb_name(a.host_veth)))
    assert ifb_gone is None

    assert tc.ensure_bandwidth(NODE, b.host_veth, tc.Bandwidth(ingress=LIMIT))
    assert tc.observe_bandwidth(NODE, b.host_veth) == tc.Bandwidth(ingress=LIMIT)
    ingress = measure_mbps(a.pod_netns, b.pod_netns, b_ip)
    print(f"\nMbit/s: unlimited {unlimited:.0f}, egress-limited {egress:.1f}, ingress-limited {ingress:.1f}")
    assert 1 < ingress < 2 * LIMIT / 1e6


def test_delete_pod_interface_removes_the_ifb(node):
    ensure_pods(1)
    p = pod(0)
    tc.ensure_bandwidth(NODE, p.host_veth, tc.Bandwidth(LIMIT, LIMIT))
    assert links.delete_pod_interface(NODE, p.host_veth)
    names = {s.name for s in links.observe_links(NODE, links.LINK_PREFIX)}
    assert names == {BRIDGE}


def test_hundred_pods_are_quick_and_reachable(node):
    t0 = time.monotonic()
    ensure_pods(100)
    elapsed = time.monotonic() - t0
    print(f"\n100 pods (netns + veth + bridge port + MAC/MTU/address/routes): {elapsed:.2f} s")
    assert elapsed < 20  # a loose bound; the figure is printed (about 1 s on the project VM)
    assert len(links.observe_links(NODE, "osdnv")) == 100
    done = netns.run_cmd(pod(0).pod_netns, ["ping", "-c", "1", "-W", "2", pod(99).ip_cidr.split("/")[0]],
                         check=False)
    assert done.returncode == 0
