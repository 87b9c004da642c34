"""The oracle agrees with openshift-sdn's node on EgressNetworkPolicies without rules: they count as
none (the reference never adds a policy whose `spec.egress` is empty), so they neither make a joined
NetID drop everything nor make a second policy "multiple"."""

from __future__ import annotations

from model_builders import allowed, cluster_network, firewall, hostsubnet, namespace, netns, pod

from osdn.model.cluster import ClusterState


def state(*extra: dict) -> ClusterState:
    objs = [cluster_network("multitenant"), netns("p1", 11), hostsubnet("n1", "192.168.1.10", "10.128.0.0/23"),
            namespace("p1"), pod("p1", "a", "10.128.0.10", node="n1")]
    return ClusterState.from_objects(objs + list(extra), {}, ())


def test_empty_policy_in_joined_project_drops_nothing() -> None:
    assert allowed(state(firewall("p1", "default"), netns("p3", 11)), "p1/a", "8.8.8.8")


def test_empty_second_policy_is_not_multiple() -> None:
    s = state(firewall("p1", "a", ("Deny", "8.8.8.0/24")), firewall("p1", "b"))
    assert not allowed(s, "p1/a", "8.8.8.8")
    assert allowed(s, "p1/a", "9.9.9.9")
