"""The node DNS server in a real node namespace: `dig` from a pod over UDP and TCP, forwarding to an
upstream pod, the cache outliving the upstream, and the sockets living in the node namespace only.
Namespaces are per-run (`osdnt-<pid>-dns-*`) and removed, also on failure."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from nsutil import Lab, leftovers, sh

from osdn.kernel import netns
from osdn.node.dns.server import DnsConfig, DnsServer, SharedZone

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
              pytest.mark.skipif(not os.path.exists("/usr/bin/dig"), reason="needs dig (bind9-dnsutils)")]

UPSTREAM = r"""
import socket, sys
import dns.message, dns.rrset
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53)); print("ready", flush=True)
while True:
    wire, peer = s.recvfrom(4096)
    q = dns.message.from_wire(wire); r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text(q.question[0].name, 30, "IN", "A", "203.0.113.80"))
    s.sendto(r.to_wire(), peer)
"""


@pytest.fixture
def lab() -> Iterator[tuple[Lab, DnsServer]]:
    lab = Lab("dns")
    server = None
    try:
        lab.add_pod("client", "10.128.0.2")
        lab.add_pod("up", "10.128.0.53")
        up = subprocess.Popen(["ip", "netns", "exec", lab.pods["up"].ns, sys.executable, "-c", UPSTREAM],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lab.procs.append(up)
        assert up.stdout is not None and up.stdout.readline().strip() == "ready"
        zone = SharedZone()
        zone.update("Service", {"metadata": {"name": "web", "namespace": "p"},
                                "spec": {"clusterIP": "172.30.0.20", "ports": [{"name": "http", "port": 80}]}}, None)
        server = DnsServer(DnsConfig(lab.node, lab.gateway, upstreams=("10.128.0.53",), upstream_timeout=0.5,
                                     tcp_idle=1.0), zone).start()
        yield lab, server
    finally:
        if server is not None:
            server.stop()
        lab.cleanup()
    assert not [n for n in leftovers() if "-dns-" in n]


def dig(lab: Lab, *args: str) -> str:
    r = sh("ip", "netns", "exec", lab.pods["client"].ns, "dig", "+time=2", "+tries=1", f"@{lab.gateway}", *args,
           check=False)
    return r.stdout


def test_cluster_names_over_udp_and_tcp_from_a_pod(lab: tuple[Lab, DnsServer]) -> None:
    nodes, _ = lab
    assert dig(nodes, "+short", "web.p.svc.cluster.local").split() == ["172.30.0.20"]
    assert dig(nodes, "+short", "+tcp", "web.p.svc.cluster.local").split() == ["172.30.0.20"]
    out = dig(nodes, "nope.p.svc.cluster.local")
    assert "status: NXDOMAIN" in out and "flags: qr aa rd ra" in out
    assert dig(nodes, "+short", "_http._tcp.web.p.svc.cluster.local", "SRV").split() == \
        ["0", "100", "80", "web.p.svc.cluster.local."]


def test_outside_names_are_forwarded_and_cached(lab: tuple[Lab, DnsServer]) -> None:
    nodes, _ = lab
    assert dig(nodes, "+short", "web.ext.test").split() == ["203.0.113.80"]
    for p in nodes.procs:  # the upstream goes away: the cached answer stays for its TTL
        p.kill()
        p.wait(timeout=5)
    out = dig(nodes, "web.ext.test")
    assert "status: NOERROR" in out and "203.0.113.80" in out
    assert "status: SERVFAIL" in dig(nodes, "other.ext.test")


def test_the_server_listens_only_in_the_node_namespace(lab: tuple[Lab, DnsServer]) -> None:
    nodes, _ = lab
    inside = sh("ip", "netns", "exec", nodes.node, "ss", "-lnu").stdout
    assert f"{nodes.gateway}:53" in inside
    assert f"{nodes.gateway}:53" not in sh("ss", "-lnu").stdout  # the root namespace has no such socket


def test_a_trickling_tcp_client_is_cut_off(lab: tuple[Lab, DnsServer]) -> None:
    """A query that does not arrive whole within tcp_idle (1 s here) ends the connection, however
    often bytes trickle in (a slow-loris holding the 64 TCP slots)."""
    nodes, _ = lab

    def trickle() -> float:
        t0 = time.monotonic()
        with socket.create_connection((nodes.gateway, 53), timeout=5) as s:
            s.sendall(b"\x00\x40")  # a 64-byte query announced ...
            try:
                for _ in range(20):  # ... and sent a byte every 0.3 s
                    time.sleep(0.3)
                    s.sendall(b"\x00")
                    s.settimeout(0.01)
                    with contextlib.suppress(socket.timeout):
                        if s.recv(10) == b"":
                            break
            except OSError:
                pass
        return time.monotonic() - t0

    assert netns.run_in_netns(nodes.pods["client"].ns, trickle) < 2.5


def test_the_hook_sees_the_clients_it_wants_and_only_those(lab: tuple[Lab, DnsServer]) -> None:
    nodes, server = lab
    seen: list[tuple[str, str]] = []
    wanted: set[str] = set()
    server.set_answer_hook(lambda client, name, addrs, ttl: seen.append((client, name)), wants=wanted.__contains__)
    for _ in range(2):  # not wanted: inline and fast-path answers, the hook never runs
        assert dig(nodes, "+short", "web.p.svc.cluster.local").split() == ["172.30.0.20"]
    assert seen == []
    wanted.add(nodes.pods["client"].ip)
    for _ in range(2):  # wanted: every answer goes through the hook, the fast path is skipped
        assert dig(nodes, "+short", "web.p.svc.cluster.local").split() == ["172.30.0.20"]
    assert seen == [(nodes.pods["client"].ip, "web.p.svc.cluster.local.")] * 2
