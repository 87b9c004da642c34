"""Service forwarding (render.services) loaded by `Dataplane.sync` into a real node netns, judged by packets.

Lab: node netns with bridge br0 (gateway 10.128.0.1/23) and pods p1..p4 (as in test_render_dataplane).
Each pod serves TCP on 8080 answering its own name, so a client can tell which endpoint it reached.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from nsutil import Lab, leftovers, sh
from test_render_dataplane import PODS, intent_for

from osdn.node.dataplane import Dataplane
from osdn.node.intent import NodeIntent, Policy, PolicyRule, PortRange
from osdn.node.services import ServiceEndpoint, ServiceVIP

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]
IP = {name: spec[0] for name, spec in PODS.items()}
NAMED = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(64); print("ready", flush=True)
while True:
    c, a = s.accept(); c.sendall((sys.argv[1] + " " + a[0]).encode()); c.close()
"""
MANY = r"""
import socket, sys
out = []
for _ in range(int(sys.argv[3])):
    s = socket.socket(); s.settimeout(1.0)
    try:
        s.connect((sys.argv[1], int(sys.argv[2]))); out.append(s.recv(100).decode())
    except OSError as e:
        out.append("FAIL " + type(e).__name__)
    s.close()
print("\n".join(out))
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab("svc")
    try:
        sh("ip", "netns", "exec", lab.node, "sysctl", "-qw", "net.ipv4.ip_forward=1")  # as the agent sets it
        sh("ip", "-n", lab.node, "route", "add", "172.30.0.0/16", "dev", "br0")  # ditto (links.ensure_node_bridge)
        for name, (ip, _, _) in PODS.items():
            lab.add_pod(name, ip)
            sh("ip", "-n", lab.node, "link", "set", lab.pods[name].veth, "type", "bridge_slave", "hairpin", "on")
            p = subprocess.Popen(["ip", "netns", "exec", lab.pods[name].ns, sys.executable, "-c", NAMED, name],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            lab.procs.append(p)
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
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


def connects(lab: Lab, src: str, ip: str, port: int, n: int = 1) -> list[str]:
    return connects_from(lab.pods[src].ns, ip, port, n)


def connects_from(netns: str, ip: str, port: int, n: int = 1) -> list[str]:
    r = sh("ip", "netns", "exec", netns, sys.executable, "-c", MANY, ip, str(port), str(n))
    return r.stdout.split("\n")[:n]


def vip(port: int, *pods: str, affinity: int | None = None, key: str = "a/web:http") -> ServiceVIP:
    return ServiceVIP("172.30.0.20", "tcp", port, key, tuple(ServiceEndpoint(IP[p], 8080) for p in pods), affinity)


def with_services(intent: NodeIntent, *services: ServiceVIP) -> NodeIntent:
    return replace(intent, services=tuple(sorted(services)))


def test_clusterip_spreads_over_endpoints_and_replies_come_from_the_vip(lab: Lab, dp: Dataplane) -> None:
    dp.sync(with_services(intent_for(lab, "subnet"), vip(80, "p2", "p3")), full=True)
    got = Counter(line.split()[0] for line in connects(lab, "p1", "172.30.0.20", 80, 40))
    assert set(got) == {"p2", "p3"} and min(got.values()) >= 5, got  # random over both endpoints
    assert connects(lab, "p1", "172.30.0.20", 80)[0] .endswith(IP["p1"])  # the endpoint sees the real client


def test_no_endpoints_is_refused_at_once_and_unknown_port_dropped(lab: Lab, dp: Dataplane) -> None:
    dp.sync(with_services(intent_for(lab, "subnet"), vip(80), vip(81, "p2")), full=True)
    assert connects(lab, "p1", "172.30.0.20", 80) == ["FAIL ConnectionRefusedError"]
    assert connects(lab, "p1", "172.30.0.20", 82) == ["FAIL TimeoutError"]
    assert connects(lab, "p1", "172.30.0.20", 81)[0].startswith("p2 ")


UDP_PROBE = r"""
import socket, sys, time
out = []
for _ in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5.0); s.connect((sys.argv[1], int(sys.argv[2])))
    try:
        s.send(b"ping"); s.recv(100); out.append("answer")
    except OSError as e:
        out.append(type(e).__name__)
    s.close()
    time.sleep(float(sys.argv[4]))
print(" ".join(out))
"""


def test_udp_to_a_service_without_endpoints_is_refused_by_icmp(lab: Lab, dp: Dataplane) -> None:
    """A pod's datagram gets an ICMP port unreachable (the client's socket: ECONNREFUSED, within
    the 5 s it waits, not a timeout) and TCP to the same port is reset; on the node itself the reject
    in the output hook fails the send at once (EPERM). The pod's datagrams are 1.2 s apart: the kernel's
    ICMP error rate limit per destination host (`net.ipv4.icmp_ratelimit`: a token a second) swallows the error
    for a datagram sent right behind another one; one refusal among timeouts still tells a reject from a
    drop (which never answers)."""
    udp = replace(vip(80), proto="udp", key="a/dns:udp")
    dp.sync(with_services(intent_for(lab, "subnet"), udp, vip(80)), full=True)
    r = sh("ip", "netns", "exec", lab.pods["p1"].ns, sys.executable, "-c", UDP_PROBE, "172.30.0.20", "80", "3", "1.2")
    got = r.stdout.split()
    # a drop would give three timeouts; the kernel's ICMP limits may still eat an error on a loaded host
    assert len(got) == 3 and set(got) <= {"ConnectionRefusedError", "TimeoutError"} and \
        "ConnectionRefusedError" in got, (r.stdout, r.stderr)
    r = sh("ip", "netns", "exec", lab.node, sys.executable, "-c", UDP_PROBE, "172.30.0.20", "80", "3", "0")
    assert r.stdout.split() == ["PermissionError"] * 3, (r.stdout, r.stderr)  # local: no ICMP, no limit
    assert connects(lab, "p1", "172.30.0.20", 80) == ["FAIL ConnectionRefusedError"]


def test_hairpin_reaches_itself_masqueraded_even_when_isolated(lab: Lab, dp: Dataplane) -> None:
    deny_all = Policy("a", "deny", frozenset({IP["p1"]}), ingress=True)
    dp.sync(with_services(intent_for(lab, "networkpolicy", (deny_all,)), vip(80, "p1")), full=True)
    assert connects(lab, "p1", "172.30.0.20", 80) == ["p1 10.128.0.1"]  # from the node's bridge address
    assert connects(lab, "p2", "172.30.0.20", 80) == ["FAIL TimeoutError"]  # policy judges the endpoint


def test_policy_judges_the_endpoint_pod_and_port_after_dnat(lab: Lab, dp: Dataplane) -> None:
    allow_8080 = Policy("a", "p", frozenset({IP["p2"]}), ingress=True,
                        ingress_rules=(PolicyRule(all_peers=True, all_ports=False,
                                                  ports=frozenset({PortRange("tcp", 8080, 8080)})),))
    dp.sync(with_services(intent_for(lab, "networkpolicy", (allow_8080,)), vip(80, "p2")), full=True)
    assert connects(lab, "p3", "172.30.0.20", 80)[0].startswith("p2 ")  # 80 -> 8080, allowed on 8080


def test_multitenant_isolation_applies_to_the_endpoint(lab: Lab, dp: Dataplane) -> None:
    dp.sync(with_services(intent_for(lab, "multitenant"), vip(80, "p3")), full=True)  # p3: netid 11
    assert connects(lab, "p1", "172.30.0.20", 80) == ["FAIL TimeoutError"]  # netid 10 -> 11
    assert connects(lab, "p4", "172.30.0.20", 80)[0].startswith("p3 ")  # global -> anyone


def test_session_affinity_holds_and_survives_a_full_sync(lab: Lab, dp: Dataplane) -> None:
    intent = with_services(intent_for(lab, "subnet"), vip(80, "p2", "p3", "p4", affinity=60))
    dp.sync(intent, full=True)
    first = {line.split()[0] for line in connects(lab, "p1", "172.30.0.20", 80, 15)}
    assert len(first) == 1, first
    dp.sync(intent, full=True)  # a full sync plans against the kernel: the affinity set is not diffed
    again = {line.split()[0] for line in connects(lab, "p1", "172.30.0.20", 80, 5)}
    assert again == first


def test_endpoint_and_service_changes_are_elements_only(lab: Lab, dp: Dataplane) -> None:
    base = intent_for(lab, "subnet")
    dp.sync(with_services(base, vip(80, "p2")), full=True)
    stats = dp.sync(with_services(base, vip(80, "p3"), vip(81, "p2", key="a/other:http")))
    assert not stats.replaced_tables and stats.chains_changed == 0 and stats.elements_added == 3
    assert connects(lab, "p1", "172.30.0.20", 80)[0].startswith("p3 ")
    assert connects(lab, "p1", "172.30.0.20", 81)[0].startswith("p2 ")
    dp.verify(with_services(base, vip(80, "p3"), vip(81, "p2", key="a/other:http")))
    dp.sync(with_services(base, vip(80, "p2", "p3")))  # one pick chain for 2 endpoints replaces the one for 1
    assert {line.split()[0] for line in connects(lab, "p1", "172.30.0.20", 80, 20)} == {"p2", "p3"}
    dp.sync(with_services(base, vip(80, "p4")))
    assert connects(lab, "p1", "172.30.0.20", 80)[0].startswith("p4 ")
    dp.verify(with_services(base, vip(80, "p4")))


def test_hairpin_ports_do_not_echo_broadcasts(lab: Lab, dp: Dataplane) -> None:
    dp.sync(with_services(intent_for(lab, "subnet"), vip(80, "p1")), full=True)
    mac = lab.pods["p1"].mac
    dump = subprocess.Popen(["ip", "netns", "exec", lab.pods["p1"].ns, "tcpdump", "-nn", "-l", "-Q", "in", "-i", "eth0",
                             "-c", "1", "arp", "and", "ether", "src", mac], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        import time
        time.sleep(0.5)
        sh("ip", "netns", "exec", lab.pods["p1"].ns, "ping", "-c1", "-W1", "10.128.0.99", check=False)  # ARP broadcast
        time.sleep(0.3)
        assert dump.poll() is None, "p1 received its own ARP broadcast back"
    finally:
        dump.kill()
        dump.wait()


def outside_host(lab: Lab) -> str:
    """A host outside the cluster on a link to the node (198.51.100.0/24) that routes the externalIPs'
    network 192.0.2.0/24 to the node, as a router in front of a cluster would; the node routes that
    network out to it (where such addresses live when no Service claims them)."""
    out = lab._add_ns("out")
    sh("ip", "link", "add", "eth0", "netns", out, "type", "veth", "peer", "name", "up0", "netns", lab.node)
    for ns, dev, addr in ((lab.node, "up0", "198.51.100.1/24"), (out, "eth0", "198.51.100.2/24")):
        sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", out, "route", "add", "192.0.2.0/24", "via", "198.51.100.1")
    sh("ip", "-n", lab.node, "route", "add", "192.0.2.0/24", "via", "198.51.100.2")
    return out


def test_external_ips_forward_like_the_cluster_ip_and_outside_clients_are_masqueraded(lab: Lab, dp: Dataplane
                                                                                      ) -> None:
    """Pods keep their address (policy judges them); the node and an outside client arriving at the
    node are masqueraded to the node's bridge address, so replies come back through the node."""
    out = outside_host(lab)
    web, empty = vip(80, "p2"), vip(81, key="a/empty:http")
    external = [replace(v, vip="192.0.2.10", external=True) for v in (web, empty)]
    dp.sync(with_services(intent_for(lab, "subnet"), web, empty, *external), full=True)
    assert connects(lab, "p1", "192.0.2.10", 80) == [f"p2 {IP['p1']}"]
    assert connects_from(out, "192.0.2.10", 80) == ["p2 10.128.0.1"]
    assert connects_from(lab.node, "192.0.2.10", 80) == ["p2 10.128.0.1"]
    assert connects(lab, "p1", "172.30.0.20", 80) == [f"p2 {IP['p1']}"]  # the ClusterIP as before
    for client in (lab.pods["p1"].ns, out):  # no endpoints: refused at once, as for the ClusterIP
        assert connects_from(client, "192.0.2.10", 81) == ["FAIL ConnectionRefusedError"]
