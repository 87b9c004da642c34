"""The oracle and openshift-sdn's vectors: EgressNetworkPolicies without rules count as none (the
reference's node never adds a policy whose `spec.egress` is empty), so they neither make a joined
NetID drop everything nor make a second policy "multiple"; and origin's EgressFirewall e2e
(`test/extended/networking/egress_firewall.go` with `sdn-egressnetworkpolicy-test.yaml`)."""

from __future__ import annotations

from model_builders import allowed, cluster_network, firewall, hostsubnet, namespace, netns, pod

from osdn.model.cluster import ClusterState


def state(*extra: dict, dns: dict[str, list[str]] | None = None) -> ClusterState:
    objs = [cluster_network("multitenant"), netns("p1", 11), hostsubnet("n1", "192.168.1.10", "10.128.0.0/23"),
            namespace("p1"), pod("p1", "a", "10.128.0.10", node="n1")]
    return ClusterState.from_objects(objs + list(extra), dns or {}, ())


def test_empty_policy_in_joined_project_drops_nothing() -> None:
    assert allowed(state(firewall("p1", "default"), netns("p3", 11)), "p1/a", "8.8.8.8")


def test_empty_second_policy_is_not_multiple() -> None:
    s = state(firewall("p1", "a", ("Deny", "8.8.8.0/24")), firewall("p1", "b"))
    assert not allowed(s, "p1/a", "8.8.8.8")
    assert allowed(s, "p1/a", "9.9.9.9")


ORIGIN_E2E = (("Allow", "docs.openshift.com"), ("Allow", "8.8.8.8/32"), ("Deny", "0.0.0.0/0"))
E2E_DNS = {"docs.openshift.com": ["104.18.0.10"], "www.google.com": ["142.250.0.4"]}


def test_origin_egress_firewall_e2e() -> None:
    s = state(firewall("p1", "default", *ORIGIN_E2E), netns("p2", 12), namespace("p2"),
              pod("p2", "b", "10.128.0.11", node="n1"), dns=E2E_DNS)
    assert allowed(s, "p1/a", "8.8.8.8", 53, "UDP")           # matches the allow cidr rule
    assert not allowed(s, "p1/a", "1.1.1.1", 53, "UDP")       # no allow rule matches
    assert allowed(s, "p1/a", "104.18.0.10", 443)              # docs.openshift.com: the allow dns rule
    assert not allowed(s, "p1/a", "142.250.0.4", 80)           # www.google.com: denied
    for dst, port in (("8.8.8.8", 53), ("1.1.1.1", 53), ("104.18.0.10", 443), ("142.250.0.4", 80)):
        assert allowed(s, "p2/b", dst, port, "UDP" if port == 53 else "TCP")   # no policy in p2
