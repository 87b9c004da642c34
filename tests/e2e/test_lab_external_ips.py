"""Service externalIPs in a real lab: refused until `Network cluster` allows them, then forwarded by
every node like the ClusterIP, real packets: from a pod on the same node and across nodes, from the
node itself and from the outside world through the lab router (masqueraded to the node)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent
from polling import wait_for
from test_lab_services import who

from osdn.errors import OsdnError
from osdn.kernel import netns
from osdn.lab.pods import http_get
from osdn.lab.topology import plan_lab

pytestmark = [pytest.mark.e2e, needs_agent]
EXTERNAL = "192.0.2.10"  # TEST-NET-1: nobody else's


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("eip", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    spots = {"web1": ("node2", {"app": "web"}), "c1": ("node1", {}), "c2": ("node2", {})}
    return {name: lab.pod(name, "shop", node, labels) for name, (node, labels) in spots.items()}


def web_service(*ips: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}], "externalIPs": list(ips)}}


def test_external_ip_refused_then_forwarded_from_pods_node_and_outside(lab: Lab,
                                                                         pods: dict[str, tuple[str, str]]) -> None:
    with pytest.raises(OsdnError, match="spec.externalIPs: Forbidden: externalIPs have been disabled"):
        lab.client.create(web_service(EXTERNAL), "shop")
    lab.client.patch("Network", "cluster", {"spec": {"externalIP": {"policy": {"allowedCIDRs": ["192.0.2.0/24"]}}}})
    lab.client.create(web_service(EXTERNAL), "shop")
    for client in ("c1", "c2"):  # across nodes and on the endpoint's node; the endpoint sees the pod
        assert wait_for(lambda c=client: who(lab, pods[c][1], EXTERNAL) == "shop/web1", what=f"{client} via EIP")
        assert f"you are {pods[client][0]}:" in lab.get(pods[client][1], EXTERNAL)
    node1 = lab.node("node1")
    assert wait_for(lambda: http_get(node1.netns, EXTERNAL).startswith("shop/web1 "), what="node1 itself")
    topo = plan_lab(lab.info.name, 2)
    netns.run_cmd(topo.router_netns, ["ip", "route", "add", f"{EXTERNAL}/32", "via", node1.ip])  # routed to node1
    body = wait_for(lambda: http_get(topo.web_netns, EXTERNAL), what="the outside world via node1")
    gateway = ipaddress.ip_network(lab.client.get("HostSubnet", "node1")["subnet"]).network_address + 1
    assert body.startswith("shop/web1 ") and f"you are {gateway}:" in body, body  # masqueraded to node1's bridge
