"""The egress-router CNI plugin (seed 004) in real namespaces, run as a Multus delegate runs it.

A 1-node lab topology (underlay, router, external web server that reports the source address); a
client pod and a router pod on the node's bridge (eth0). The plugin runs in the node's namespace
with CNI_IFNAME=net1 and a NetworkAttachmentDefinition-style config; traffic to the router pod's
cluster IP then leaves through net1 with the configured address as its source. Destroyed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from osdn.kernel import links, netns
from osdn.lab.topology import build, destroy, plan_lab

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

BRIDGE, GW = "osdnbr0", "10.128.0.1"
SOURCE = "198.18.0.130"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topo = plan_lab(f"c{os.getpid() % 100000}", 1)
    state = build(topo, str(tmp_path_factory.mktemp("egcni")))
    try:
        node = topo.nodes[0]
        links.ensure_node_bridge(node.netns, BRIDGE, f"{GW}/23", 1450, ["10.128.0.0/14"])
        for name, ip in (("client", "10.128.0.10"), ("router", "10.128.0.11"), ("other", "10.128.0.12")):
            ns = f"{topo.prefix}pod-{name}"
            state.add_namespace(ns)
            netns.ensure_netns(ns)
            links.ensure_pod_interface(links.PodInterface(
                node.netns, ns, BRIDGE, links.osdn_link_name("v", name), f"{ip}/23", GW,
                routes=tuple(links.default_pod_routes(GW, ["10.128.0.0/14"]))))
        yield topo
    finally:
        destroy(state)


def nad(destinations: list[str]) -> dict[str, Any]:
    return {"cniVersion": "0.4.0", "name": "egress-router-cni-nad", "type": "egress-router",
            "ip": {"addresses": [f"{SOURCE}/24"], "gateway": "198.18.0.1", "destinations": destinations}}


def plugin(topo, command: str, pod: str, conf: dict[str, Any]) -> tuple[int, Any]:
    env = {"PATH": os.environ["PATH"], "CNI_COMMAND": command, "CNI_CONTAINERID": pod, "CNI_IFNAME": "net1",
           "CNI_NETNS": netns.netns_path(topo.prefix + "pod-" + pod), "CNI_PATH": "/nonexistent"}
    done = subprocess.run(["nsenter", f"--net={netns.netns_path(topo.nodes[0].netns)}", "--",
                           sys.executable, "-m", "osdn.egress.cni"], input=json.dumps(conf), env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None


def fetch(topo, url: str) -> str:
    def get() -> str:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=4) as r:
            return r.read().decode()
    return netns.run_in_netns(topo.prefix + "pod-client", get)


def net1(topo, pod: str):
    return links.with_netlink(topo.prefix + "pod-" + pod, lambda nl: links.observe_link(nl, "net1"))


def test_add_redirects_through_net1_with_its_address_then_del(lab):
    code, result = plugin(lab, "ADD", "router", nad(["8080 tcp 203.0.113.81 80", "203.0.113.80"]))
    assert code == 0, result
    assert result["interfaces"][0]["name"] == "net1" and result["ips"][0]["address"] == f"{SOURCE}/24"
    state = net1(lab, "router")
    assert state is not None and state.kind == "macvlan" and f"{SOURCE}/24" in state.addresses
    assert fetch(lab, "http://10.128.0.11/").startswith(f"you are {SOURCE}:")  # fallback to .80
    assert fetch(lab, "http://10.128.0.11:8080/").startswith(f"you are {SOURCE}:")  # to .81 port 80
    assert plugin(lab, "CHECK", "router", nad([]))[0] == 0
    assert plugin(lab, "DEL", "router", nad([])) == (0, None)
    assert net1(lab, "router") is None
    with pytest.raises(OSError):
        fetch(lab, "http://10.128.0.11/")  # no redirect any more: nothing listens in the pod
    assert plugin(lab, "DEL", "router", nad([])) == (0, None)  # DEL is idempotent
    assert plugin(lab, "CHECK", "router", nad([]))[0] != 0


def test_refused_config_touches_nothing(lab):
    code, result = plugin(lab, "ADD", "other", nad(["80 icmp 203.0.113.80"]))
    assert code == 7
    assert result["details"] == "Invalid destination [80 icmp 203.0.113.80]: Incorrect protocol number provided icmp"
    assert net1(lab, "other") is None
