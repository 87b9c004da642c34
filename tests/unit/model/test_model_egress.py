"""Traffic leaving the cluster: EgressNetworkPolicy (seed example, both orders), DNS to the node,
restrictions on global/shared projects, and the source address (node IP, egress IP, dropped)."""

from __future__ import annotations

import pytest
from model_builders import (
    allowed,
    cluster_network,
    firewall,
    hostsubnet,
    namespace,
    netns,
    pod,
    policy,
    verdict,
)

from osdn.model.cluster import ClusterState

SEED = (("Allow", "1.2.3.0/24"), ("Allow", "www.foo.com"), ("Deny", "0.0.0.0/0"))
DNS = {"www.foo.com": ["5.6.7.8"]}


def state(*extra: dict, mode: str = "multitenant", egress_ips: tuple[str, ...] = (),
          offline: tuple[str, ...] = (), dns: dict | None = None) -> ClusterState:
    objs = [cluster_network(mode), netns("default", 0), netns("p1", 11, egress_ips), netns("p2", 12),
            hostsubnet("n1", "192.168.1.10", "10.128.0.0/23", ("192.168.1.100",)),
            hostsubnet("n2", "192.168.1.11", "10.128.2.0/23", ("192.168.1.101",)),
            namespace("default"), namespace("p1"), namespace("p2"),
            pod("p1", "a", "10.128.0.10", node="n1"), pod("p1", "b", "10.128.2.10", node="n2"),
            pod("p2", "c", "10.128.0.11", node="n1"), pod("default", "d", "10.128.0.12", node="n1")]
    return ClusterState.from_objects(objs + list(extra), DNS if dns is None else dns, offline)


CASES = [
    ("seed-cidr-allowed", SEED, "1.2.3.4", True),
    ("seed-dns-allowed", SEED, "5.6.7.8", True),
    ("seed-other-denied", SEED, "8.8.8.8", False),
    ("reversed-cidr-denied", tuple(reversed(SEED)), "1.2.3.4", False),
    ("reversed-dns-denied", tuple(reversed(SEED)), "5.6.7.8", False),
    ("reversed-other-denied", tuple(reversed(SEED)), "8.8.8.8", False),
    ("unmatched-allowed", (("Deny", "9.9.9.0/24"),), "8.8.8.8", True),
    ("deny-first-match", (("Deny", "1.2.3.4/32"), ("Allow", "1.2.3.0/24")), "1.2.3.4", False),
    ("deny-first-match-neighbour", (("Deny", "1.2.3.4/32"), ("Allow", "1.2.3.0/24")), "1.2.3.5", True),
    ("zero-slash-32-means-all", (("Deny", "0.0.0.0/32"),), "8.8.8.8", False),
]


@pytest.mark.parametrize(("rules", "dst", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("mode", ["multitenant", "networkpolicy"])
def test_egress_firewall(rules: tuple, dst: str, expected: bool, mode: str) -> None:
    assert allowed(state(firewall("p1", "default", *rules), mode=mode), "p1/a", dst) is expected


def test_explanation_names_the_rule() -> None:
    v = verdict(state(firewall("p1", "default", *SEED)), "p1/a", "8.8.8.8")
    assert "EgressNetworkPolicy p1/default spec.egress[2] Deny 0.0.0.0/0" in v.reason


def test_unresolved_dns_name_matches_nothing() -> None:
    s = state(firewall("p1", "default", *SEED), dns={})
    assert not allowed(s, "p1/a", "5.6.7.8")
    assert "no addresses" in " ".join(st.detail for st in verdict(s, "p1/a", "5.6.7.8").steps)


def test_firewall_does_not_affect_pods_services_or_other_projects() -> None:
    s = state(firewall("p1", "default", ("Deny", "0.0.0.0/0")))
    assert allowed(s, "p1/a", "p1/b") and allowed(s, "p1/a", "default/d")
    assert allowed(s, "p2/c", "8.8.8.8")


@pytest.mark.parametrize("proto", ["TCP", "UDP"])
def test_dns_to_own_node_always_allowed(proto: str) -> None:
    s = state(firewall("p1", "default", ("Deny", "0.0.0.0/0")))
    assert allowed(s, "p1/a", "192.168.1.10", 53, proto)
    assert not allowed(s, "p1/a", "192.168.1.11", 53, proto)  # another node's IP
    assert not allowed(s, "p1/a", "192.168.1.10", 80, proto)


def test_global_project_firewall_is_ignored() -> None:
    assert allowed(state(firewall("default", "default", ("Deny", "0.0.0.0/0"))), "default/d", "8.8.8.8")


def test_shared_netid_firewall_drops_everything() -> None:
    s = state(firewall("p1", "default", ("Allow", "0.0.0.0/0")), netns("p3", 11))
    assert not allowed(s, "p1/a", "8.8.8.8")
    assert "shared NetNamespace" in verdict(s, "p1/a", "8.8.8.8").reason


def test_two_firewalls_drop_everything() -> None:
    s = state(firewall("p1", "a", ("Allow", "0.0.0.0/0")), firewall("p1", "b", ("Allow", "0.0.0.0/0")))
    assert not allowed(s, "p1/a", "8.8.8.8")


def test_subnet_mode_has_no_firewall_and_uses_node_ip() -> None:
    v = verdict(state(firewall("p1", "default", ("Deny", "0.0.0.0/0")), mode="subnet"), "p1/a", "8.8.8.8")
    assert v.allowed and str(v.source_ip) == "192.168.1.10"


def test_networkpolicy_egress_applies_to_external_ips() -> None:
    pol = policy("p1", "out", {"podSelector": {}, "policyTypes": ["Egress"],
                               "egress": [{"to": [{"ipBlock": {"cidr": "1.2.3.0/24"}}]}]})
    s = state(pol, mode="networkpolicy")
    assert allowed(s, "p1/a", "1.2.3.4") and not allowed(s, "p1/a", "8.8.8.8")
    assert allowed(s, "p1/a", "192.168.1.10", 53, "UDP")


# --- source address ----------------------------------------------------------------------------
SOURCES = [
    ("no-egress-ip-node-ip", (), (), "p1/a", "192.168.1.10"),
    ("no-egress-ip-node-ip-other-node", (), (), "p1/b", "192.168.1.11"),
    ("first-egress-ip", ("192.168.1.100", "192.168.1.101"), (), "p1/a", "192.168.1.100"),
    ("same-from-any-node", ("192.168.1.100", "192.168.1.101"), (), "p1/b", "192.168.1.100"),
    ("failover-to-second", ("192.168.1.100", "192.168.1.101"), ("n1",), "p1/a", "192.168.1.101"),
    ("all-offline-dropped", ("192.168.1.100", "192.168.1.101"), ("n1", "n2"), "p1/a", None),
    ("unassigned-dropped", ("192.168.1.200",), (), "p1/a", None),
]


@pytest.mark.parametrize(("ips", "offline", "src", "expected"), [c[1:] for c in SOURCES], ids=[c[0] for c in SOURCES])
def test_source_address(ips: tuple, offline: tuple, src: str, expected: str | None) -> None:
    v = verdict(state(egress_ips=ips, offline=offline), src, "8.8.8.8")
    assert v.allowed is (expected is not None)
    assert (str(v.source_ip) if v.source_ip else None) == expected


def test_egress_ip_claimed_twice_drops_every_claimant() -> None:
    """openshift-sdn: "Multiple namespaces claiming EgressIP": all of them are dropped (not failed over
    to another IP), as the master decides and the nodes enforce."""
    s = state(netns("p3", 13, ("192.168.1.100",)), egress_ips=("192.168.1.100", "192.168.1.101"))
    for src in ("p1/a", "p1/b"):
        v = verdict(s, src, "8.8.8.8")
        assert not v.allowed and v.source_ip is None
        assert any("Multiple namespaces (11, 13) claiming EgressIP 192.168.1.100" in st.detail for st in v.steps)


def test_trace_says_through_which_node_the_connection_leaves() -> None:
    s = state(egress_ips=("192.168.1.100",))
    local, remote = verdict(s, "p1/a", "8.8.8.8"), verdict(s, "p1/b", "8.8.8.8")
    assert str(local.source_ip) == str(remote.source_ip) == "192.168.1.100"
    assert "held by node n1 (SNAT on node n1)" in local.steps[-1].detail
    assert "steered over VXLAN from node n2 to node n1, SNAT there" in remote.steps[-1].detail


def test_egress_ip_held_by_two_nodes_is_unusable() -> None:
    s = state(hostsubnet("n3", "192.168.1.12", "10.128.4.0/23", ("192.168.1.100",)), egress_ips=("192.168.1.100",))
    assert not allowed(s, "p1/a", "8.8.8.8")


def test_firewall_deny_wins_over_egress_ip() -> None:
    s = state(firewall("p1", "default", ("Deny", "0.0.0.0/0")), egress_ips=("192.168.1.100",))
    assert not allowed(s, "p1/a", "8.8.8.8")


def test_cluster_network_addresses_without_pod_are_dropped() -> None:
    assert not allowed(state(), "p1/a", "10.128.9.9")
    assert not allowed(state(), "p1/a", "172.30.9.9")
