"""Node ports (render.services) loaded by `Dataplane.sync` into a real node netns, judged by packets.

Lab: node netns with bridge br0 (gateway 10.128.0.1/23) and pods p1..p4 serving TCP 8080 (answering
their name and the client's address), and an outside host on a link to the node's address
198.51.100.1, which is the intent's node IP. Node ports are forwarded on that address only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from nsutil import Lab, leftovers, sh
from test_render_dataplane import PODS, intent_for
from test_render_services import NAMED, connects, connects_from

from osdn.node.dataplane import Dataplane
from osdn.node.intent import NodeIntent
from osdn.node.services import ServiceEndpoint, ServiceVIP

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]
IP = {name: spec[0] for name, spec in PODS.items()}
NODE_IP, OUTSIDE = "198.51.100.1", "198.51.100.2"


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Lab, str]]:
    lab = Lab("np")
    try:
        sh("ip", "netns", "exec", lab.node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for name, (ip, _, _) in PODS.items():
            lab.add_pod(name, ip)
            p = subprocess.Popen(["ip", "netns", "exec", lab.pods[name].ns, sys.executable, "-c", NAMED, name],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            lab.procs.append(p)
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        out = lab._add_ns("out")
        sh("ip", "link", "add", "eth0", "netns", out, "type", "veth", "peer", "name", "up0", "netns", lab.node)
        for ns, dev, addr in ((lab.node, "up0", f"{NODE_IP}/24"), (out, "eth0", f"{OUTSIDE}/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield lab, out
    finally:
        lab.cleanup()
        assert leftovers() == [], "every namespace of this run must be gone"


@pytest.fixture
def dp(lab: tuple[Lab, str]) -> Iterator[Dataplane]:
    with Dataplane(lab[0].node) as dp:
        try:
            yield dp
        finally:
            dp.teardown()


def node_port(port: int, *endpoints: str, local: bool = False, key: str = "a/web:http") -> ServiceVIP:
    eps = tuple(ServiceEndpoint(ip, 8080) for ip in endpoints)
    return ServiceVIP("", "tcp", port, key, eps, external=not local, node_port=True, local=local and bool(eps))


def intent(lab: Lab, *services: ServiceVIP) -> NodeIntent:
    return replace(intent_for(lab, "subnet"), node_ip=NODE_IP, services=tuple(sorted(services)))


def test_cluster_policy_from_outside_the_node_and_a_pod(lab: tuple[Lab, str], dp: Dataplane) -> None:
    node, out = lab
    dp.sync(intent(node, node_port(30080, IP["p2"]), node_port(30083, key="a/none:http")), full=True)
    assert connects_from(out, NODE_IP, 30080) == ["p2 10.128.0.1"]   # masqueraded: replies come back here
    assert connects_from(node.node, NODE_IP, 30080) == ["p2 10.128.0.1"]   # the node itself (output hook)
    assert connects(node, "p1", NODE_IP, 30080) == [f"p2 {IP['p1']}"]   # a pod keeps its address
    assert connects_from(out, NODE_IP, 30083) == ["FAIL ConnectionRefusedError"]   # no endpoints: refused
    assert connects(node, "p1", "10.128.0.1", 30080) == ["FAIL ConnectionRefusedError"]   # not on the gateway


def test_local_policy_keeps_the_client_and_drops_without_a_local_endpoint(lab: tuple[Lab, str],
                                                                          dp: Dataplane) -> None:
    node, out = lab
    far = replace(node_port(30082, local=True, key="a/far:http"), local=True)   # its endpoints are elsewhere
    own = replace(node_port(30082, IP["p2"], key="a/far:http"), external=False, internal=True)   # ... such as p2
    dp.sync(intent(node, node_port(30081, IP["p3"], local=True), far, own), full=True)
    assert connects_from(out, NODE_IP, 30081) == [f"p3 {OUTSIDE}"]   # the real client
    assert connects_from(out, NODE_IP, 30082) == ["FAIL TimeoutError"]   # dropped, not refused
    assert connects(node, "p1", NODE_IP, 30082) == [f"p2 {IP['p1']}"]   # but this node's pods reach any endpoint
    assert connects_from(node.node, NODE_IP, 30082) == [f"p2 {NODE_IP}"]   # and so does the node itself
    dp.sync(intent(node), full=True)   # the Service is gone: nothing forwards, the node refuses
    assert connects_from(out, NODE_IP, 30081) == ["FAIL ConnectionRefusedError"]


def test_isolation_judges_the_endpoint_after_dnat(lab: tuple[Lab, str], dp: Dataplane) -> None:
    node, out = lab
    dp.sync(replace(intent(node, node_port(30080, IP["p3"])), mode="multitenant"), full=True)   # p3: netid 11
    assert connects(node, "p1", NODE_IP, 30080) == ["FAIL TimeoutError"]   # a pod of netid 10: isolated
    assert connects(node, "p4", NODE_IP, 30080)[0].startswith("p3 ")   # a global pod reaches anyone
    assert connects_from(out, NODE_IP, 30080) == ["p3 10.128.0.1"]   # from outside: the node, netid 0
