"""The NetworkPolicy examples of the seeds, applied verbatim, and node-to-pod traffic."""

from __future__ import annotations

import pytest
import yaml
from model_builders import allowed, cluster_network, hostsubnet, namespace, pod, verdict

from osdn.model.cluster import ClusterState

DENY_BY_DEFAULT = """
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: deny-by-default
spec:
  podSelector:
  ingress: []
"""
ALLOW_SAME_NAMESPACE = """
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-same-namespace
spec:
  podSelector:
  ingress:
  - from:
    - podSelector: {}
"""
ALLOW_HTTP_AND_HTTPS = """
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-http-and-https
spec:
  podSelector:
    matchLabels:
      role: frontend
  ingress:
  - ports:
    - protocol: TCP
      port: 80
    - protocol: TCP
      port: 443
"""
ALLOW_TO_DATABASE = """
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-to-database-service
spec:
  podSelector:
    matchLabels:
      role: database
  ingress:
  - ports:
    - protocol: TCP
      port: 5432
"""
ALLOW_FROM_DEFAULT = """
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata:
  name: allow-from-default-namespace
spec:
  podSelector:
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          name: default
"""


def in_ns(text: str, ns: str) -> dict:
    obj = yaml.safe_load(text)
    obj["metadata"]["namespace"] = ns
    return obj


def state(*policies: str, default_labelled: bool = True) -> ClusterState:
    objs = [cluster_network("networkpolicy"), namespace("default", **({"name": "default"} if default_labelled else {})),
            namespace("p1"), namespace("p2"), hostsubnet("n1", "192.168.1.10", "10.128.0.0/23"),
            hostsubnet("n2", "192.168.1.11", "10.128.2.0/23"),
            pod("default", "router", "10.128.0.2"), pod("p1", "web", "10.128.0.3", {"role": "frontend"}),
            pod("p1", "db", "10.128.0.4", {"role": "database"}), pod("p1", "worker", "10.128.0.5"),
            pod("p2", "client", "10.128.0.6")]
    return ClusterState.from_objects(objs + [in_ns(p, "p1") for p in policies])


# (id, policies in p1, src, dst, port, expected)
CASES = [
    ("no-policy-open", (), "p2/client", "p1/worker", 8080, True),
    ("deny-by-default-blocks-other-ns", (DENY_BY_DEFAULT,), "p2/client", "p1/web", 80, False),
    ("deny-by-default-blocks-same-ns", (DENY_BY_DEFAULT,), "p1/worker", "p1/web", 80, False),
    ("deny-by-default-egress-untouched", (DENY_BY_DEFAULT,), "p1/web", "p2/client", 80, True),
    ("same-namespace-allowed", (ALLOW_SAME_NAMESPACE,), "p1/worker", "p1/web", 9999, True),
    ("same-namespace-other-ns-denied", (ALLOW_SAME_NAMESPACE,), "p2/client", "p1/web", 80, False),
    ("http-https-80", (ALLOW_HTTP_AND_HTTPS,), "p2/client", "p1/web", 80, True),
    ("http-https-443", (ALLOW_HTTP_AND_HTTPS,), "p2/client", "p1/web", 443, True),
    ("http-https-8080-denied", (ALLOW_HTTP_AND_HTTPS,), "p2/client", "p1/web", 8080, False),
    ("http-https-unselected-open", (ALLOW_HTTP_AND_HTTPS,), "p2/client", "p1/worker", 8080, True),
    ("additive-same-ns-any-port", (ALLOW_SAME_NAMESPACE, ALLOW_HTTP_AND_HTTPS), "p1/worker", "p1/web", 8080, True),
    ("additive-other-ns-443", (ALLOW_SAME_NAMESPACE, ALLOW_HTTP_AND_HTTPS), "p2/client", "p1/web", 443, True),
    ("additive-other-ns-8080-denied", (ALLOW_SAME_NAMESPACE, ALLOW_HTTP_AND_HTTPS), "p2/client", "p1/web", 8080,
     False),
    ("database-5432-from-router", (DENY_BY_DEFAULT, ALLOW_TO_DATABASE), "default/router", "p1/db", 5432, True),
    ("database-5432-from-anyone", (DENY_BY_DEFAULT, ALLOW_TO_DATABASE), "p2/client", "p1/db", 5432, True),
    ("database-other-port-denied", (DENY_BY_DEFAULT, ALLOW_TO_DATABASE), "p2/client", "p1/db", 22, False),
    ("from-default-allowed", (DENY_BY_DEFAULT, ALLOW_FROM_DEFAULT), "default/router", "p1/web", 80, True),
    ("from-default-other-denied", (DENY_BY_DEFAULT, ALLOW_FROM_DEFAULT), "p2/client", "p1/web", 80, False),
]


@pytest.mark.parametrize(("policies", "src", "dst", "port", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_seed_policy(policies: tuple[str, ...], src: str, dst: str, port: int, expected: bool) -> None:
    assert allowed(state(*policies), src, dst, port) is expected


def test_allow_from_default_needs_the_label() -> None:
    s = state(DENY_BY_DEFAULT, ALLOW_FROM_DEFAULT, default_labelled=False)
    assert not allowed(s, "default/router", "p1/web")


def test_explanation_names_policy_and_rule() -> None:
    v = verdict(state(DENY_BY_DEFAULT, ALLOW_FROM_DEFAULT), "default/router", "p1/web")
    assert any(s.ref == "NetworkPolicy p1/allow-from-default-namespace" and s.rule == "spec.ingress[0].from[0]"
               for s in v.steps)
    v = verdict(state(DENY_BY_DEFAULT), "p2/client", "p1/web")
    assert "NetworkPolicy p1/deny-by-default" in v.reason and not v.allowed


def test_node_to_pod_is_subject_to_ingress_in_networkpolicy_mode() -> None:
    s = state(ALLOW_SAME_NAMESPACE)
    v = verdict(s, "node/n2", "p1/web")  # web runs on n1
    assert not v.allowed and any("only ipBlock" in st.detail for st in v.steps)
    assert allowed(state(), "node/n2", "p1/web")
    ipb = in_ns("""
kind: NetworkPolicy
metadata: {name: from-nodes}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 192.168.1.0/24}}]}]
""", "p1")
    s2 = ClusterState.from_objects([*_objs(s), ipb])
    assert allowed(s2, "node/n2", "p1/web") and allowed(s2, "192.168.1.11", "p1/web")
    assert not allowed(s2, "p2/client", "p1/web")


@pytest.mark.parametrize("policies", [(DENY_BY_DEFAULT,), (ALLOW_SAME_NAMESPACE,), ()], ids=["deny", "same-ns", "none"])
def test_a_pods_own_node_always_reaches_it(policies: tuple[str, ...]) -> None:
    """Upstream: traffic from the node where a pod runs is always allowed (kubelet probes); the data
    plane never polices it (`osdn adm verify`/`trace` from the node namespace found the model did)."""
    s = state(*policies)
    v = verdict(s, "node/n1", "p1/web")
    assert v.allowed and any("own node is always allowed" in st.detail for st in v.steps)
    assert allowed(s, "192.168.1.10", "p1/web")  # the node's IP is the node
    assert allowed(s, "node/n2", "p1/web") is (not policies)


def test_a_pod_always_reaches_its_own_node_despite_egress_policy() -> None:
    """The other half of "to and from the node": an egress lockdown still lets a pod reach its own
    node (the kernel delivers it locally, no forward hook), but not another node."""
    lockdown = in_ns("""
kind: NetworkPolicy
metadata: {name: no-egress}
spec: {podSelector: {}, policyTypes: [Egress]}
""", "p1")
    s = ClusterState.from_objects([*_objs(state()), lockdown])
    v = verdict(s, "p1/web", "192.168.1.10", port=8080)
    assert v.allowed and any("own node" in st.detail for st in v.steps)
    assert not allowed(s, "p1/web", "192.168.1.11")


def _objs(s: ClusterState) -> list[dict]:
    objs = [cluster_network("networkpolicy"), hostsubnet("n1", "192.168.1.10", "10.128.0.0/23"),
            hostsubnet("n2", "192.168.1.11", "10.128.2.0/23")]
    objs += [namespace(n) for n in s.namespaces]
    objs += [pod(p.namespace, p.name, str(p.ip), dict(p.labels)) for p in s.pods]
    return objs


def test_invalid_selector_operator_fails_closed_naming_the_policy() -> None:
    """A stored policy the API would refuse is not enforced: it isolates its namespace, allows nothing."""
    bad = in_ns("""
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {matchExpressions: [{key: a, operator: Near}]}
""", "p1")
    (pol,) = ClusterState.from_objects([bad]).policies
    assert (pol.ingress, pol.egress) == ((), ())
    assert pol.ref == 'NetworkPolicy p1/bad (not enforced, it allows nothing: invalid label selector operator "Near")'
