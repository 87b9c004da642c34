"""The egress router in real namespaces: macvlan0 at "CNI ADD", `osdn egress-router` redirect and proxies.

A 1-node lab topology (underlay, router, external web server that reports the source address); a
client pod and an egress router pod on the node's bridge. Traffic to the router pod's cluster IP
leaves through its macvlan0 with EGRESS_SOURCE as the source. Everything is destroyed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from osdn.api.cni import CniError
from osdn.kernel import links, netns
from osdn.lab.topology import build, destroy, plan_lab
from osdn.node.macvlan import attach_macvlan

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")]

BRIDGE, GW = "osdnbr0", "10.128.0.1"
SOURCE = "198.18.0.120"


def router_pod(annotate: str | None = "true", privileged: bool = True) -> dict:
    ann = {"pod.network.openshift.io/assign-macvlan": annotate} if annotate else {}
    return {"metadata": {"name": "egress-1", "namespace": "p", "annotations": ann},
            "spec": {"containers": [{"name": "r", "image": "openshift/origin-egress-router",
                                     "securityContext": {"privileged": privileged}}]}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topo = plan_lab(f"e{os.getpid() % 100000}", 1)
    state = build(topo, str(tmp_path_factory.mktemp("egr")))
    try:
        node = topo.nodes[0]
        links.ensure_node_bridge(node.netns, BRIDGE, f"{GW}/23", 1450, ["10.128.0.0/14"])
        for name, ip in (("client", "10.128.0.10"), ("router", "10.128.0.11")):
            ns = f"{topo.prefix}pod-{name}"
            state.add_namespace(ns)
            netns.ensure_netns(ns)
            links.ensure_pod_interface(links.PodInterface(
                node.netns, ns, BRIDGE, links.osdn_link_name("v", name), f"{ip}/23", GW,
                routes=tuple(links.default_pod_routes(GW, ["10.128.0.0/14"]))))
        yield topo
    finally:
        destroy(state)


def egress(topo, mode_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "EGRESS_SOURCE": f"{SOURCE}/24", "EGRESS_GATEWAY": "198.18.0.1", **mode_env}
    return subprocess.run(["nsenter", f"--net={netns.netns_path(topo.prefix + 'pod-router')}", "--",
                           sys.executable, "-m", "osdn", "egress-router", *args], env=env, capture_output=True,
                          text=True, timeout=30)


def fetch(topo, url: str, proxy: str | None = None) -> str:
    def get() -> str:
        handlers = [urllib.request.ProxyHandler({"http": proxy} if proxy else {})]
        with urllib.request.build_opener(*handlers).open(url, timeout=4) as r:
            return r.read().decode()
    return netns.run_in_netns(topo.prefix + "pod-client", get)


def test_macvlan_needs_privilege_and_a_real_parent(lab):
    node, pod_ns = lab.nodes[0], lab.prefix + "pod-router"
    with pytest.raises(CniError, match="annotation but is not privileged"):
        attach_macvlan(node.netns, router_pod(privileged=False), pod_ns)
    with pytest.raises(CniError, match="neither 'true' nor the name of a local network interface"):
        attach_macvlan(node.netns, router_pod("eth7"), pod_ns)
    assert not attach_macvlan(node.netns, router_pod(None), pod_ns)
    assert not attach_macvlan(node.netns, router_pod("false"), pod_ns)


def test_redirect_init_mode_leaves_with_egress_source(lab):
    node = lab.nodes[0]
    assert attach_macvlan(node.netns, router_pod(), lab.prefix + "pod-router")
    state = links.with_netlink(lab.prefix + "pod-router", lambda nl: links.observe_link(nl, "macvlan0"))
    assert state is not None and state.kind == "macvlan" and state.mtu == 1500
    done = egress(lab, {"EGRESS_ROUTER_MODE": "init",
                        "EGRESS_DESTINATION": "8080 tcp 203.0.113.81 80\n# comment\n203.0.113.80\n"})
    assert done.returncode == 0, done.stderr
    assert fetch(lab, "http://10.128.0.11/").startswith(f"you are {SOURCE}:")
    assert fetch(lab, "http://10.128.0.11:8080/").startswith(f"you are {SOURCE}:")  # to .81 port 80
    again = egress(lab, {"EGRESS_ROUTER_MODE": "init", "EGRESS_DESTINATION": "80 tcp 203.0.113.81"})
    assert again.returncode == 0, again.stderr  # a restarted init container: network kept, rules replaced
    assert fetch(lab, "http://10.128.0.11/").startswith(f"you are {SOURCE}:")
    with pytest.raises(OSError):
        fetch(lab, "http://10.128.0.11:8080/")  # no fallback any more: nothing answers


def test_bad_destination_changes_nothing(lab):
    done = egress(lab, {"EGRESS_ROUTER_MODE": "init", "EGRESS_DESTINATION": "80 tcp 203.0.113.81\nbogus"})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "EGRESS_DESTINATION value 'bogus' is invalid"
    assert fetch(lab, "http://10.128.0.11/").startswith(f"you are {SOURCE}:")


def test_http_proxy_from_the_router_pod(lab):
    env = {"PATH": os.environ["PATH"], "EGRESS_HTTP_PROXY_DESTINATION": "!203.0.113.81\n203.0.113.0/24\n"}
    proc = subprocess.Popen(["nsenter", f"--net={netns.netns_path(lab.prefix + 'pod-router')}", "--",
                             sys.executable, "-m", "osdn", "egress-router", "http-proxy"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 10
        proxy = "http://10.128.0.11:8080"
        while True:
            try:
                assert fetch(lab, "http://203.0.113.80/", proxy).startswith(f"you are {SOURCE}:")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with pytest.raises(urllib.error.HTTPError, match="403"):
            fetch(lab, "http://203.0.113.81/", proxy)
    finally:
        proc.terminate()
        proc.wait(5)
