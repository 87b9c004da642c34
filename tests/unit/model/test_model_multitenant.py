"""Multitenant isolation (joined, isolated, global projects), subnet mode, and multicast in both modes."""

from __future__ import annotations

import pytest
from model_builders import allowed, cluster_network, namespace, netns, pod, policy, verdict

from osdn.model.cluster import ClusterState
from osdn.model.multicast import compute_multicast_receivers

# p1 and p2 joined (11), p3 isolated (12), default and g1 global (0)
NETIDS = {"default": 0, "g1": 0, "p1": 11, "p2": 11, "p3": 12}


def state(mode: str = "multitenant", multicast: tuple[str, ...] = (), extra: tuple[dict, ...] = (),
          with_netns: bool = True) -> ClusterState:
    objs = [cluster_network(mode)]
    if with_netns:
        objs += [netns(n, v, multicast=n in multicast) for n, v in NETIDS.items()]
    for i, n in enumerate(NETIDS):
        objs += [namespace(n), pod(n, "a", f"10.128.0.{10 + 2 * i}"), pod(n, "b", f"10.128.0.{11 + 2 * i}")]
    return ClusterState.from_objects(objs + list(extra))


CASES = [
    ("same-project", "p1/a", "p1/b", True),
    ("joined-projects", "p1/a", "p2/b", True),
    ("joined-projects-reverse", "p2/a", "p1/a", True),
    ("isolated-to-joined", "p3/a", "p1/a", False),
    ("joined-to-isolated", "p1/a", "p3/a", False),
    ("global-to-isolated", "g1/a", "p3/a", True),
    ("isolated-to-global", "p3/a", "g1/a", True),
    ("default-to-any", "default/a", "p2/a", True),
    ("global-to-global", "g1/a", "default/b", True),
]


@pytest.mark.parametrize(("src", "dst", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_multitenant(src: str, dst: str, expected: bool) -> None:
    assert allowed(state(), src, dst) is expected


def test_multitenant_explanation_names_netids() -> None:
    v = verdict(state(), "p3/a", "p1/a")
    assert "NetNamespace p3 (netid 12)" in v.reason and "neither is global" in v.reason


def test_networkpolicy_objects_do_not_apply_in_multitenant_mode() -> None:
    deny = policy("p1", "deny", {"podSelector": {}, "ingress": []})
    assert allowed(state(extra=(deny,)), "p2/a", "p1/a")


def test_host_reaches_every_pod_in_multitenant_mode() -> None:
    s = state(extra=({"kind": "HostSubnet", "metadata": {"name": "n1"}, "host": "n1", "hostIP": "192.168.1.10",
                      "subnet": "10.128.0.0/23"},))
    assert allowed(s, "node/n1", "p3/a")


def test_without_netnamespaces_default_is_global_and_others_isolated() -> None:
    s = state(with_netns=False)
    assert s.netid("default") == 0
    assert allowed(s, "default/a", "p3/a") and allowed(s, "p1/a", "default/a")
    assert not allowed(s, "p1/a", "p2/a")


def test_subnet_mode_allows_everything() -> None:
    s = state("subnet", extra=(policy("p1", "deny", {"podSelector": {}, "ingress": []}),))
    assert all(allowed(s, a, b) for a in ("p1/a", "p3/a", "g1/a") for b in ("p1/b", "p2/a", "p3/b"))


# --- multicast ---------------------------------------------------------------------------------
MCAST = [
    ("isolated-enabled", "multitenant", ("p3",), "p3/a", ["p3/b"]),
    ("isolated-disabled", "multitenant", (), "p3/a", []),
    ("joined-needs-every-project", "multitenant", ("p1",), "p1/a", []),
    ("joined-both-enabled", "multitenant", ("p1", "p2"), "p1/a", ["p1/b", "p2/a", "p2/b"]),
    ("joined-receiver-side", "multitenant", ("p1", "p2"), "p2/b", ["p1/a", "p1/b", "p2/a"]),
    ("global-only-among-global", "multitenant", ("default", "g1"), "g1/a", ["default/a", "default/b", "g1/b"]),
    ("default-needs-globals-enabled", "multitenant", ("default",), "default/a", []),
    ("networkpolicy-project-local", "networkpolicy", ("p1", "p2"), "p1/a", ["p1/b"]),
    ("networkpolicy-disabled", "networkpolicy", ("p2",), "p1/a", []),
    ("subnet-none", "subnet", ("p1", "p2"), "p1/a", []),
]


@pytest.mark.parametrize(("mode", "enabled", "sender", "expected"), [c[1:] for c in MCAST], ids=[c[0] for c in MCAST])
def test_multicast_receivers(mode: str, enabled: tuple[str, ...], sender: str, expected: list[str]) -> None:
    assert list(compute_multicast_receivers(state(mode, enabled), sender).receivers) == expected


def test_multicast_ignores_networkpolicy() -> None:
    deny = policy("p1", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    s = state("networkpolicy", ("p1",), (deny,))
    assert not allowed(s, "p1/a", "p1/b")
    assert compute_multicast_receivers(s, "p1/a").receivers == ("p1/b",)


def test_multicast_explains_which_netnamespace_is_not_enabled() -> None:
    r = compute_multicast_receivers(state("multitenant", ("p1",)), "p1/a")
    assert "NetNamespace p2" in str(r.steps[0])
