"""The model (what `osdn adm trace` shows) for a node's address on a Service's node port: DNAT to the
endpoints as the nodes do it (Cluster: all, masqueraded for clients that are not pods of that node;
Local: that node's endpoints only, dropped without any), policy judged on each endpoint."""

from __future__ import annotations

from osdn.model.cluster import ClusterState
from osdn.model.trace import render_trace
from tests.unit.model.model_builders import (
    cluster_network,
    hostsubnet,
    namespace,
    pod,
    policy,
    service,
    verdict,
)

N1, N2 = "192.168.0.1", "192.168.0.2"
OUTSIDE = "203.0.113.7"


def node_port_service(name: str, node_port: int, traffic: str = "Cluster") -> dict:
    svc = service("p", name, f"172.30.0.{node_port - 30000}", {"app": "web"}, (("http", 80, "TCP", 8080),))
    svc["spec"].update(type="NodePort", externalTrafficPolicy=traffic)
    svc["spec"]["ports"][0]["nodePort"] = node_port
    return svc


def cluster(*extra: dict) -> ClusterState:
    return ClusterState.from_objects([
        cluster_network("networkpolicy"), namespace("p"),
        hostsubnet("n1", N1, "10.128.0.0/23"), hostsubnet("n2", N2, "10.128.2.0/23"),
        pod("p", "web", "10.128.2.10", {"app": "web"}, node="n2"), pod("p", "client", "10.128.0.5", node="n1"),
        node_port_service("web", 30080), node_port_service("local", 30081, "Local"), *extra])


def test_trace_to_a_node_port_shows_the_dnat_and_the_masquerade() -> None:
    v = verdict(cluster(), OUTSIDE, N1, 30080)
    text = render_trace(v)
    assert v.allowed, text
    assert "node n1 nodePort 30080/TCP -> p/web:8080 (externalTrafficPolicy Cluster)" in text
    assert "masqueraded to the node's address 10.128.0.1" in text
    assert v.backends[0].connection.src.node == "n1"   # the endpoint on n2 sees node n1
    assert "delivered to p/web:8080 with source 10.128.0.1" in text


def test_a_pod_of_the_node_keeps_its_address_and_local_policy_needs_a_local_endpoint() -> None:
    v = verdict(cluster(), "p/client", N1, 30080)
    assert v.allowed and v.source_ip is not None and str(v.source_ip) == "10.128.0.5"
    local = verdict(cluster(), OUTSIDE, N2, 30081)
    assert local.allowed and str(local.source_ip) == OUTSIDE   # Local: the real client
    dropped = verdict(cluster(), OUTSIDE, N1, 30081)
    assert not dropped.allowed
    assert "Local: node n1 has no endpoint of this service; dropped" in render_trace(dropped)
    own = verdict(cluster(), "p/client", N1, 30081)   # a pod of n1: every endpoint, as kube-proxy's short-circuit
    assert own.allowed and str(own.source_ip) == "10.128.0.5"
    assert "Local, but the client is on the node: every endpoint" in render_trace(own)
    assert verdict(cluster(), "node/n1", N1, 30081).allowed   # the node itself too


def test_policy_judges_the_endpoint_with_the_source_it_sees() -> None:
    deny_all = policy("p", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not verdict(cluster(deny_all), OUTSIDE, N1, 30080).allowed
    from_n1 = policy("p", "n1", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.128.0.1/32"}}]}]})
    assert verdict(cluster(from_n1), OUTSIDE, N1, 30080).allowed   # masqueraded to n1's gateway
    assert not verdict(cluster(from_n1), OUTSIDE, N2, 30081).allowed   # Local: the outside address


def test_a_node_port_nobody_holds_is_the_node_itself() -> None:
    v = verdict(cluster(), "p/client", N1, 30099)
    assert "nodePort" not in render_trace(v) and v.backends == ()
