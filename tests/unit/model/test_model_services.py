"""Services (ClusterIP and DNS name to endpoints, policy on the endpoint pod) and egress routers."""

from __future__ import annotations

from model_builders import allowed, cluster_network, namespace, pod, policy, service, verdict

from osdn.model.cluster import ClusterState

ROUTER_ENV = {"EGRESS_SOURCE": "192.168.12.99/24", "EGRESS_GATEWAY": "192.168.12.1",
              "EGRESS_DESTINATION": "# rules\n80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80\n\n# 8443 tcp 10.7.8.9 443\n10.1.2.3\n"}


def state(*extra: dict) -> ClusterState:
    objs = [cluster_network("networkpolicy"), namespace("p1"), namespace("p2"),
            pod("p1", "web1", "10.128.0.10", {"app": "web"}, ports=(("http", 8080, "TCP"),)),
            pod("p1", "web2", "10.128.0.11", {"app": "web"}, ports=(("http", 8081, "TCP"),)),
            pod("p2", "client", "10.128.0.12"),
            pod("p2", "egress", "10.128.0.13", {"app": "egress"}, env=ROUTER_ENV),
            service("p1", "web", "172.30.0.10", {"app": "web"}, (("web", 80, "TCP", "http"),)),
            service("p1", "empty", "172.30.0.11", {"app": "none"}, (("web", 80, "TCP", 8080),)),
            service("p2", "egress", "172.30.0.12", {"app": "egress"}, (("a", 80, "TCP", 80), ("b", 8080, "TCP", 8080)))]
    return ClusterState.from_objects(objs + list(extra))


def test_cluster_ip_and_dns_name_reach_endpoints_on_named_target_port() -> None:
    s = state()
    for dst in ("172.30.0.10", "web.p1.svc.cluster.local", "web.p1", "p1/web"):
        v = verdict(s, "p2/client", dst)
        assert v.allowed
        assert sorted(b.target for b in v.backends) == ["p1/web1:8080", "p1/web2:8081"]


def test_policy_applies_to_endpoint_pod_on_target_port() -> None:
    only_8080 = policy("p1", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]})
    v = verdict(state(only_8080), "p2/client", "172.30.0.10")
    assert v.allowed and [b.allowed for b in v.backends] == [True, False]
    only_80 = policy("p1", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})
    assert not allowed(state(only_80), "p2/client", "172.30.0.10")
    by_name = policy("p1", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]})
    assert all(b.allowed for b in verdict(state(by_name), "p2/client", "172.30.0.10").backends)


def test_egress_policy_is_checked_against_the_endpoint() -> None:
    out = policy("p2", "out", {"podSelector": {}, "policyTypes": ["Egress"],
                               "egress": [{"to": [{"ipBlock": {"cidr": "172.30.0.0/16"}}]}]})
    assert not allowed(state(out), "p2/client", "172.30.0.10")
    out_ns = policy("p2", "out", {"podSelector": {}, "policyTypes": ["Egress"],
                                  "egress": [{"to": [{"namespaceSelector": {}}]}]})
    assert allowed(state(out_ns), "p2/client", "172.30.0.10")


def test_service_without_endpoints_or_port_is_denied() -> None:
    v = verdict(state(), "p2/client", "172.30.0.11")
    assert not v.allowed and "no endpoints" in v.reason
    assert not allowed(state(), "p2/client", "172.30.0.10", 81)
    assert not allowed(state(), "p2/client", "172.30.0.10", 80, "UDP")


def test_endpoints_object_is_used_when_present() -> None:
    eps = {"kind": "Endpoints", "metadata": {"namespace": "p1", "name": "web"},
           "subsets": [{"addresses": [{"ip": "10.128.0.10"}], "ports": [{"name": "web", "port": 9090}]}]}
    v = verdict(state(eps), "p2/client", "172.30.0.10")
    assert [b.target for b in v.backends] == ["p1/web1:9090"]


def test_egress_router_redirects_with_its_source_ip() -> None:
    s = state()
    cases = {80: "10.4.5.6:80", 8080: "10.7.8.9:80", 8443: "10.1.2.3:8443"}
    for port, target in cases.items():
        v = verdict(s, "p2/client", "p2/egress", port)
        assert v.allowed and v.target == target and str(v.source_ip) == "192.168.12.99"
    v = verdict(s, "p2/client", "egress.p2.svc.cluster.local", 8080)
    assert v.target == "10.7.8.9:80"
    assert any(st.stage == "egress-router" and "line 3" in st.rule for st in v.backends[0].steps)


def test_egress_router_unreachable_when_policy_denies() -> None:
    deny = policy("p2", "deny", {"podSelector": {"matchLabels": {"app": "egress"}}, "ingress": []})
    assert not allowed(state(deny), "p1/web1", "p2/egress", 80)
