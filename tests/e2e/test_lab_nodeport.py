"""NodePort Services in a real lab, real packets: from the outside world (the lab's web namespace,
through the lab router) to node1's address on the node port reaches the endpoint pod on node2,
masqueraded to node1 (externalTrafficPolicy Cluster), and NetworkPolicy on the endpoint still
applies; from a pod on node1 to its node's address with the pod's own address; with
externalTrafficPolicy Local only the endpoint's node forwards outside clients, and the endpoint sees
the real client, while a node's own pods and the node itself reach it from any node (kube-proxy's
short-circuit); deleting the Service stops it."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent
from polling import wait_for

from osdn.errors import OsdnError
from osdn.lab.pods import http_get
from osdn.lab.topology import plan_lab

pytestmark = [pytest.mark.e2e, needs_agent]
CLUSTER_PORT, LOCAL_PORT = 30080, 30081
DENY_INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("np", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    spots = {"web1": ("node2", {"app": "web"}), "c1": ("node1", {})}
    return {name: lab.pod(name, "shop", node, labels) for name, (node, labels) in spots.items()}


def node_port_service(name: str, node_port: int, policy: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "externalTrafficPolicy": policy,
                     "ports": [{"name": "http", "port": 80, "nodePort": node_port}]}}


def answer(ns: str, ip: str, port: int) -> str:
    return http_get(ns, ip, port, timeout=1.0)


def test_cluster_policy_from_outside_and_from_a_pod_then_delete(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    web = plan_lab(lab.info.name, 2).web_netns
    node1 = lab.node("node1")
    got = lab.client.create(node_port_service("web", CLUSTER_PORT, "Cluster"), "shop")
    assert got["spec"]["ports"][0]["nodePort"] == CLUSTER_PORT
    with pytest.raises(OsdnError, match="spec.ports.0..nodePort: Invalid value: 30080: provided port is already "
                                        "allocated"):
        lab.client.create(node_port_service("again", CLUSTER_PORT, "Cluster"), "shop")
    body = wait_for(lambda: answer(web, node1.ip, CLUSTER_PORT), timeout=60, what="outside -> node1:30080")
    gateway = ipaddress.ip_network(lab.client.get("HostSubnet", "node1")["subnet"]).network_address + 1
    assert body.startswith("shop/web1 ") and f"you are {gateway}:" in body, body   # masqueraded to node1
    body = wait_for(lambda: answer(pods["c1"][1], node1.ip, CLUSTER_PORT), timeout=30, what="pod -> its node")
    assert body.startswith("shop/web1 ") and f"you are {pods['c1'][0]}:" in body, body   # a pod keeps its address
    lab.client.create(DENY_INGRESS, "shop")   # policy judges the endpoint after DNAT
    try:
        assert wait_for(lambda: answer(web, node1.ip, CLUSTER_PORT) == "", timeout=60, what="the policy blocks it")
    finally:
        lab.client.delete("NetworkPolicy", "deny", "shop")
    assert wait_for(lambda: answer(web, node1.ip, CLUSTER_PORT), timeout=60, what="open again")
    lab.client.delete("Service", "web", "shop")
    assert wait_for(lambda: answer(web, node1.ip, CLUSTER_PORT) == "", timeout=60, what="forwarding stops")


def test_local_policy_only_on_the_endpoints_node_with_the_real_client(lab: Lab,
                                                                     pods: dict[str, tuple[str, str]]) -> None:
    topo = plan_lab(lab.info.name, 2)
    node1, node2 = lab.node("node1"), lab.node("node2")
    lab.client.create(node_port_service("local", LOCAL_PORT, "Local"), "shop")
    try:
        body = wait_for(lambda: answer(topo.web_netns, node2.ip, LOCAL_PORT), timeout=60, what="outside -> node2")
        assert body.startswith("shop/web1 ") and any(f"you are {ip}:" in body for ip in topo.web_ips), body
        assert answer(topo.web_netns, node1.ip, LOCAL_PORT) == ""   # node1 has no endpoint: dropped
        body = wait_for(lambda: answer(pods["c1"][1], node1.ip, LOCAL_PORT), timeout=30, what="a pod of node1")
        assert body.startswith("shop/web1 ") and f"you are {pods['c1'][0]}:" in body, body   # short-circuit
        body = wait_for(lambda: answer(node1.netns, node1.ip, LOCAL_PORT), timeout=30, what="node1 itself")
        assert body.startswith("shop/web1 ") and f"you are {node1.ip}:" in body, body
    finally:
        lab.client.delete("Service", "local", "shop")
