"""DNS proxy mode forwarding in the kernel, in real namespaces with real TCP connections.

A 1-node lab topology (python DNS server for ext.test whose records change at run time, the outside
web namespace with a "who" TCP server on :9001/:9002 answering "LOCAL_IP:PORT saw SOURCE_IP"); a
client pod and an egress router pod with macvlan0. `osdn egress-router dns-proxy` runs in the router
pod's namespace with its own /etc/resolv.conf (a private mount namespace) naming the lab's DNS server.
Everything is destroyed afterwards, also on failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from osdn.kernel import links, netns
from osdn.lab import extdns
from osdn.lab.topology import build, destroy, plan_lab
from osdn.node.macvlan import attach_macvlan

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

BRIDGE, GW, ROUTER, SOURCE = "osdnbr0", "10.128.0.1", "10.128.0.11", "198.18.0.120"
WHO = """
import socket, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, a = s.accept()
        c.sendall(("%s:%d saw %s\\n" % (c.getsockname()[0], port, a[0])).encode()); c.close()
for p in (9001, 9002): threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait()
"""
DESTINATIONS = "# kernel\n9001 203.0.113.80\n9100 203.0.113.81 9002\n9200 web2.ext.test 9001\n9300 nothere.ext.test 9002\n"


def eventually(fn: Callable[[], object], ok: Callable[[object], bool], timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except OSError as exc:
            value = exc
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab_dir = str(tmp_path_factory.mktemp("egdns"))
    topo = plan_lab(f"k{os.getpid() % 100000}", 1)
    state = build(topo, lab_dir, dns_server="python")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        node = topo.nodes[0]
        links.ensure_node_bridge(node.netns, BRIDGE, f"{GW}/23", 1450, ["10.128.0.0/14"])
        for name, ip in (("client", "10.128.0.10"), ("router", ROUTER)):
            ns = f"{topo.prefix}pod-{name}"
            state.add_namespace(ns)
            netns.ensure_netns(ns)
            links.ensure_pod_interface(links.PodInterface(
                node.netns, ns, BRIDGE, links.osdn_link_name("v", name), f"{ip}/23", GW,
                routes=tuple(links.default_pod_routes(GW, ["10.128.0.0/14"]))))
        pod = {"metadata": {"name": "dns", "namespace": "p",
                            "annotations": {"pod.network.openshift.io/assign-macvlan": "true"}},
               "spec": {"containers": [{"name": "r", "securityContext": {"privileged": True}}]}}
        assert attach_macvlan(node.netns, pod, topo.prefix + "pod-router")
        procs.append(netns.spawn_in_netns(topo.web_netns, [sys.executable, "-c", WHO],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield topo, extdns.zone_path(lab_dir), lab_dir
    finally:
        for p in procs:
            p.kill()
            p.wait()
        destroy(state)


def in_router(topo, argv: list[str], resolv: str | None = None) -> list[str]:
    prefix = ["nsenter", f"--net={netns.netns_path(topo.prefix + 'pod-router')}", "--"]
    if resolv:
        prefix += ["unshare", "-m", "--", "sh", "-c", f'mount --bind {resolv} /etc/resolv.conf && exec "$@"', "sh"]
    return prefix + argv


def who(topo, port: int) -> str:
    def get() -> str:
        with socket.create_connection((ROUTER, port), timeout=4) as s:
            return s.makefile().readline().strip()
    return netns.run_in_netns(topo.prefix + "pod-client", get)


def router_tables(topo) -> str:
    return subprocess.run(["ip", "netns", "exec", topo.prefix + "pod-router", "nft", "list", "tables"],
                          capture_output=True, text=True, check=True).stdout


def test_dns_proxy_forwards_in_the_kernel_with_the_egress_source(lab):
    topo, zone, lab_dir = lab
    base = {"PATH": os.environ["PATH"]}
    init = subprocess.run(in_router(topo, [sys.executable, "-m", "osdn", "egress-router"]),
                          env={**base, "EGRESS_SOURCE": f"{SOURCE}/24", "EGRESS_GATEWAY": "198.18.0.1",
                               "EGRESS_ROUTER_MODE": "dns-proxy"}, capture_output=True, text=True, timeout=30)
    assert init.returncode == 0, init.stderr
    resolv = os.path.join(lab_dir, "resolv.conf")
    with open(resolv, "w") as fh:
        fh.write(f"nameserver {topo.dns_ip}\n")
    proc = subprocess.Popen(in_router(topo, [sys.executable, "-m", "osdn", "egress-router", "dns-proxy"], resolv),
                            env={**base, "EGRESS_DNS_PROXY_DESTINATION": DESTINATIONS},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        saw = f" saw {SOURCE}"
        assert eventually(lambda: who(topo, 9001), lambda v: v == "203.0.113.80:9001" + saw) == "203.0.113.80:9001" + saw
        assert who(topo, 9100) == "203.0.113.81:9002" + saw
        assert eventually(lambda: who(topo, 9200), lambda v: v == "203.0.113.81:9001" + saw) == \
            "203.0.113.81:9001" + saw  # the name as resolved at start
        with pytest.raises(ConnectionRefusedError):  # no address: a TCP reset, as haproxy with no server up
            who(topo, 9300)
        listening = subprocess.run(["ip", "netns", "exec", topo.prefix + "pod-router", "ss", "-Htln"],
                                   capture_output=True, text=True, check=True).stdout
        assert ":9001" not in listening and ":9200" not in listening  # nothing in userspace
        extdns.set_record(zone, "web2", ["203.0.113.80"], ttl=0)
        assert eventually(lambda: who(topo, 9200), lambda v: v == "203.0.113.80:9001" + saw) == \
            "203.0.113.80:9001" + saw  # re-resolved: the rule now goes to the new address
        extdns.set_record(zone, "nothere", ["203.0.113.81"], ttl=0)
        assert eventually(lambda: who(topo, 9300), lambda v: v == "203.0.113.81:9002" + saw) == \
            "203.0.113.81:9002" + saw  # a name that appears: the reset becomes a DNAT
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "Running the egress DNS proxy with config:" in out
    assert "egress_dns_proxy" not in router_tables(topo)  # removed on exit
