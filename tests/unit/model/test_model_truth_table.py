"""Truth tables modelled on the upstream Kubernetes NetworkPolicy e2e suite (KEP-1611).

World: namespaces x, y, z (label ns=<name>), pods a, b, c (label pod=<name>), serving 80/81 on TCP,
UDP and SCTP. Each case gives the policies and, per probe, the expected matrix; both the full matrix
and the single-connection oracle must agree with it on every ordered pair.

Coverage: every `It` of test/e2e/network/netpol/network_policy.go (TCP, UDP and SCTP contexts) is
here, most with upstream's exact policies (`kubernetes.io/metadata.name` namespace selectors); the
cases that update a policy, relabel a pod or namespace, add a policy or delete them mid-test are
`SEQUENCES` of states, each with its matrix. Beyond upstream: endPort ranges, named ports declared
in a second container, ports without protocol, policyTypes defaulting, ipBlock except on ingress.
The same kinds of rules run against the kernel in tests/e2e/test_lab_netpol_truth.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from model_builders import allowed, policy
from netpol_world import KEYS, Labels, Reachability, ip_of, world, world_objects

from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_matrix

X, Y, Z = ("x/a", "x/b", "x/c"), ("y/a", "y/b", "y/c"), ("z/a", "z/b", "z/c")
ALL_PEERS = {"podSelector": {}}
NS_NAME = "kubernetes.io/metadata.name"
ONLY_A_SEL = {"podSelector": {"matchLabels": {"pod": "a"}}}
Expect = Callable[[str, int], Reachability]


def deny_ingress_to(*dsts: str, allow_from: tuple[str, ...] = ()) -> Reachability:
    r = Reachability()
    for d in dsts:
        r.ingress(d, False)
        for s in allow_from:
            r.expect(s, d, True)
    return r


def deny_egress_from(*srcs: str, allow_to: tuple[str, ...] = ()) -> Reachability:
    r = Reachability()
    for s in srcs:
        r.egress(s, False)
        for d in allow_to:
            r.expect(s, d, True)
    return r


def both(ingress_ok: Callable[[str, str], bool], egress_ok: Callable[[str, str], bool]) -> Reachability:
    r = Reachability()
    for s in KEYS:
        for d in KEYS:
            r.expect(s, d, ingress_ok(s, d) and egress_ok(s, d))
    return r


def ns_sel(**labels: str) -> dict:
    return {"namespaceSelector": {"matchLabels": labels}}


def pod_sel(**labels: str) -> dict:
    return {"podSelector": {"matchLabels": labels}}


def expr(key: str, op: str, *values: str) -> dict:
    return {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}] if values
            else [{"key": key, "operator": op}]}


def X_A_PEER(ns: str) -> dict:  # noqa: N802 - reads as a constant in the case table
    return {"namespaceSelector": {"matchLabels": {NS_NAME: ns}}, "podSelector": {"matchLabels": {"pod": "a"}}}


CASES: list[tuple[str, list[dict], Expect]] = [
    ("default-deny-ingress", [policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})],
     lambda pr, p: deny_ingress_to(*X)),
    ("default-deny-ingress-no-types", [policy("x", "deny", {"podSelector": {}, "ingress": []})],
     lambda pr, p: deny_ingress_to(*X)),
    ("default-deny-all", [policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})],
     lambda pr, p: both(lambda s, d: not d.startswith("x/"), lambda s, d: not s.startswith("x/"))),
    ("allow-from-podselector-in-server-ns", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [pod_sel(pod="b")]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("x/b",))),
    ("allow-only-from-other-ns-by-nsselector", [policy("x", "p", {
        "podSelector": {}, "ingress": [{"from": [ns_sel(ns="y")]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=Y)),
    ("podselector-matchexpressions", [policy("x", "p", {
        "podSelector": {}, "ingress": [{"from": [{"podSelector": expr("pod", "In", "b")}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=("x/b",))),
    ("nsselector-matchexpressions", [policy("x", "p", {
        "podSelector": {}, "ingress": [{"from": [{"namespaceSelector": expr("ns", "In", "y")}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=Y)),
    ("podselector-or-nsselector", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [{"namespaceSelector": expr("ns", "NotIn", "x")}, pod_sel(pod="b")]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y + Z + ("x/b",))),
    ("podselector-and-nsselector", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [{"namespaceSelector": expr("ns", "NotIn", "x"),
                               "podSelector": {"matchLabels": {"pod": "b"}}}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("y/b", "z/b"))),
    ("multiple-podselectors-and-nsselectors", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [{"namespaceSelector": expr("ns", "NotIn", "x"),
                               "podSelector": expr("pod", "In", "b", "c")}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("y/b", "y/c", "z/b", "z/c"))),
    ("any-podselectors", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [pod_sel(pod="b"), pod_sel(pod="c")]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("x/b", "x/c"))),
    ("pod-in-other-ns-by-ns-and-pod", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
                               "podSelector": {"matchLabels": {"pod": "a"}}}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("y/a",))),
    ("ports", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [ns_sel(ns="y")], "ports": [{"port": 81, "protocol": "TCP"}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y if (pr, p) == ("TCP", 81) else ())),
    ("stacked-overlapping-policies", [
        policy("x", "p80", {"podSelector": {"matchLabels": {"pod": "a"}},
                            "ingress": [{"from": [ns_sel(ns="y")], "ports": [{"port": 80}]}]}),
        policy("x", "p81", {"podSelector": {"matchLabels": {"pod": "a"}},
                            "ingress": [{"from": [ns_sel(ns="y")], "ports": [{"port": 81}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y if pr == "TCP" else ())),
    ("allow-all", [policy("x", "p", {"podSelector": {}, "ingress": [{}]})], lambda pr, p: Reachability()),
    ("named-port-ingress", [policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=KEYS if (pr, p) == ("TCP", 81) else ())),
    ("named-port-from-ns", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"from": [ns_sel(ns="y")], "ports": [{"port": "serve-80-tcp"}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=Y if (pr, p) == ("TCP", 80) else ())),
    ("named-port-udp", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=KEYS if (pr, p) == ("UDP", 81) else ())),
    ("named-port-wrong-protocol-matches-nothing", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"ports": [{"port": "serve-81-udp", "protocol": "TCP"}]}]})],
     lambda pr, p: deny_ingress_to(*X)),
    ("named-port-egress", [policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                             "egress": [{"ports": [{"port": "serve-80-tcp"}]}]})],
     lambda pr, p: deny_egress_from(*X, allow_to=KEYS if (pr, p) == ("TCP", 80) else ())),
    ("deny-from-other-namespaces", [policy("x", "p", {"podSelector": {}, "ingress": [{"from": [ALL_PEERS]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=X)),
    ("deny-egress-podselector", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}},
                                                   "policyTypes": ["Egress"]})],
     lambda pr, p: deny_egress_from("x/a")),
    ("deny-egress-all-in-ns", [policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"]})],
     lambda pr, p: deny_egress_from(*X)),
    ("egress-rules-without-types-isolate-both-ways", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{"to": [ns_sel(ns="y")]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=Y).ingress("x/a", False)),
    ("client-side-egress-deny-wins", [
        policy("x", "out", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                            "egress": [{"to": [ns_sel(ns="z")]}]}),
        policy("y", "in", {"podSelector": {"matchLabels": {"pod": "a"}},
                           "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}},
                                                  "podSelector": {"matchLabels": {"pod": "a"}}}]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=Z).ingress("y/a", False)),
    ("egress-to-pod-in-other-ns", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
                            "podSelector": {"matchLabels": {"pod": "a"}}}]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=("y/a",))),
    ("any-port-one-protocol", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}},
                                                 "ingress": [{"ports": [{"protocol": "TCP"}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=KEYS if pr == "TCP" else ())),
    ("ingress-allow-all-takes-precedence", [
        policy("x", "p81", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 81}]}]}),
        policy("x", "all", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{}]})],
     lambda pr, p: Reachability()),
    ("egress-allow-all-takes-precedence", [
        policy("x", "p81", {"podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{"ports": [{"port": 81}]}],
                            "policyTypes": ["Egress"]}),
        policy("x", "all", {"podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{}], "policyTypes": ["Egress"]})],
     lambda pr, p: Reachability()),
    ("egress-cidr", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                                       "egress": [{"to": [{"ipBlock": {"cidr": f"{ip_of('y/b')}/32"}}]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=("y/b",))),
    ("egress-cidr-except", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                                              "egress": [{"to": [{"ipBlock": {"cidr": "10.128.0.0/14",
                                                                              "except": [f"{ip_of('y/b')}/32"]}}]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=tuple(k for k in KEYS if k != "y/b"))),
    ("ip-in-cidr-and-except-allowed-by-other-policy", [
        policy("x", "p1", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                           "egress": [{"to": [{"ipBlock": {"cidr": "10.128.0.0/14", "except": [f"{ip_of('y/b')}/32"]}}]}]}),
        policy("x", "p2", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                           "egress": [{"to": [{"ipBlock": {"cidr": f"{ip_of('y/b')}/32"}}]}]})],
     lambda pr, p: Reachability()),
    ("ingress-ipblock", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}},
                                           "ingress": [{"from": [{"ipBlock": {"cidr": "10.128.1.0/24"}}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y)),
    ("sctp-is-not-tcp", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}},
                                           "ingress": [{"ports": [{"protocol": "SCTP", "port": 80}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=KEYS if (pr, p) == ("SCTP", 80) else ())),
    ("udp-is-not-tcp", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}},
                                          "ingress": [{"ports": [{"protocol": "UDP", "port": 81}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=KEYS if (pr, p) == ("UDP", 81) else ())),
    ("default-ns-label", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=Y)),
    ("default-ns-label-notin-egress", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}},
        "policyTypes": ["Egress"], "egress": [
        {"to": [{"namespaceSelector": expr("kubernetes.io/metadata.name", "NotIn", "y")}]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=X + Z)),
    ("port-range", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"from": [ns_sel(ns="y")], "ports": [{"port": 80, "endPort": 81, "protocol": "TCP"}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=Y if pr == "TCP" else ())),
    ("port-range-and-port", [policy("x", "p", {"podSelector": {}, "ingress": [
        {"from": [ns_sel(ns="y")], "ports": [{"port": 70, "endPort": 80}, {"port": 81, "protocol": "UDP"}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=Y if (pr, p) in (("TCP", 80), ("UDP", 81)) else ())),
    ("egress-port-range", [policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"ports": [{"port": 81, "endPort": 90}]}]})],
     lambda pr, p: deny_egress_from(*X, allow_to=KEYS if (pr, p) == ("TCP", 81) else ())),
    ("ingress-and-egress-independent", [
        policy("x", "in", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [pod_sel(pod="b")]}],
                           "egress": [{"to": [ns_sel(ns="y")]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("x/b",)).egress("x/a", False)
     .expect("x/a", "y/a", True).expect("x/a", "y/b", True).expect("x/a", "y/c", True)),
    ("empty-from-list-is-all", [policy("x", "p", {"podSelector": {}, "ingress": [{"from": [], "ports": []}]})],
     lambda pr, p: Reachability()),
    ("policy-selecting-nothing", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "nope"}}, "ingress": []})],
     lambda pr, p: Reachability()),
    ("egress-empty-list-defaults-to-ingress-only", [policy("x", "p", {"podSelector": {}, "egress": []})],
     lambda pr, p: deny_ingress_to(*X)),
    # upstream cases with their exact policies (the ones above are the same rules in other shapes)
    ("allow-ingress-for-a-target", [
        policy("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy("x", "allow-all-to-a", {"podSelector": {"matchLabels": {"pod": "a"}},
                                       "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {}}]}]})],
     lambda pr, p: deny_ingress_to("x/b", "x/c")),
    ("allow-ingress-from-all-namespaces", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})],
     lambda pr, p: Reachability()),
    ("only-from-other-ns-by-ns-name-label", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [ns_sel(**{NS_NAME: "y"})]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y)),
    ("ns-and-pod-in-one-peer-vs-two-peers", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [{"from": [ns_sel(**{NS_NAME: "y"}), pod_sel(pod="a")]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y)),
    ("ports-udp", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [
        {"from": [ns_sel(**{NS_NAME: "y"})], "ports": [{"port": 81, "protocol": "UDP"}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y if (pr, p) == ("UDP", 81) else ())),
    ("ports-sctp", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [
        {"from": [ns_sel(**{NS_NAME: "y"})], "ports": [{"port": 81, "protocol": "SCTP"}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y if (pr, p) == ("SCTP", 81) else ())),
    ("port-without-protocol-is-tcp", [policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=KEYS if (pr, p) == ("TCP", 80) else ())),
    ("ingress-and-egress-together", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress", "Ingress"],
        "ingress": [{"from": [pod_sel(pod="b")]}], "egress": [{"ports": [{"port": 80}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=("x/b",)) if (pr, p) == ("TCP", 80)
     else deny_ingress_to("x/a", allow_from=("x/b",)).egress("x/a", False)),
    ("client-side-egress-deny-though-server-allows", [
        policy("x", "allow-to-ns-y-pod-a", {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                                            "egress": [{"to": [X_A_PEER("y")]}]}),
        policy("y", "allow-from-xa-on-ya", {"podSelector": {"matchLabels": {"pod": "a"}},
                                            "ingress": [{"from": [X_A_PEER("x")]}]}),
        policy("y", "allow-from-xa-on-yb", {"podSelector": {"matchLabels": {"pod": "b"}},
                                            "ingress": [{"from": [X_A_PEER("x")]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=("y/a",)).ingress("y/a", False).ingress("y/b", False)
     .expect("x/a", "y/a", True)),
    ("except-around-pod-in-large-cidr", [policy("x", "p", {
        "podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/4", "except": [f"{ip_of('x/b')}/32"]}}]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=tuple(k for k in KEYS if k != "x/b"))),
    ("ingress-ipblock-except", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [
        {"from": [{"ipBlock": {"cidr": "10.128.0.0/16", "except": ["10.128.1.0/24"]}}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=X + Z)),
    ("egress-ipblock-everything", [policy("x", "p", {"podSelector": {}, "policyTypes": ["Egress"],
                                                     "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})],
     lambda pr, p: Reachability()),
    ("sctp-allow-does-not-open-tcp", [
        policy("x", "deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy("x", "allow-only-sctp-81", {"podSelector": {"matchLabels": {"pod": "a"}},
                                           "ingress": [{"ports": [{"port": 81, "protocol": "SCTP"}]}]})],
     lambda pr, p: deny_ingress_to("x/b", "x/c") if (pr, p) == ("SCTP", 81) else deny_ingress_to(*X)),
    ("ns-label-notin-ingress", [policy("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [
        {"from": [{"namespaceSelector": expr(NS_NAME, "NotIn", "x")}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=Y + Z)),
    ("empty-port-entry-is-every-tcp-port", [policy("x", "p", {**ONLY_A_SEL, "ingress": [{"ports": [{}]}]})],
     lambda pr, p: deny_ingress_to("x/a", allow_from=KEYS if pr == "TCP" else ())),
    ("ingress-rules-ignored-without-ingress-type", [policy("x", "p", {**ONLY_A_SEL, "policyTypes": ["Egress"],
        "ingress": [{"from": [pod_sel(pod="b")]}], "egress": [{"to": [ns_sel(ns="y")]}]})],
     lambda pr, p: deny_egress_from("x/a", allow_to=Y)),
    ("podselector-exists-doesnotexist", [policy("x", "p", {"podSelector": expr("pod", "Exists"), "ingress": [
        {"from": [{"podSelector": expr("nope", "DoesNotExist"), "namespaceSelector": expr("ns", "Exists")}]}]})],
     lambda pr, p: Reachability()),
]
PROBES = [("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81), ("SCTP", 80), ("SCTP", 81)]


@dataclass(frozen=True)
class Step:
    """One state of an upstream case that changes policies or labels mid-test, and its expectation."""

    policies: tuple[dict, ...]
    expect: Expect
    ns_labels: Labels = field(default_factory=dict)
    pod_labels: Labels = field(default_factory=dict)


ALL_X = {"podSelector": {}}
ONLY_A = {"podSelector": {"matchLabels": {"pod": "a"}}}
P81_FROM_Y = policy("x", "allow-81", {**ONLY_A, "ingress": [
    {"from": [ns_sel(**{NS_NAME: "y"})], "ports": [{"port": 81, "protocol": "TCP"}]}]})
P80_FROM_Y = policy("x", "allow-80", {**ONLY_A, "ingress": [
    {"from": [ns_sel(**{NS_NAME: "y"})], "ports": [{"port": 80, "protocol": "TCP"}]}]})
WIDE_EXCEPT_XB = policy("x", "allow-cidr", {**ONLY_A, "policyTypes": ["Egress"], "egress": [
    {"to": [{"ipBlock": {"cidr": "0.0.0.0/4", "except": [f"{ip_of('x/b')}/32"]}}]}]})
ONLY_XB = policy("x", "allow-cidr", {**ONLY_A, "policyTypes": ["Egress"], "egress": [
    {"to": [{"ipBlock": {"cidr": f"{ip_of('x/b')}/32"}}]}]})
DENY_ALL_X = policy("x", "deny-all", {**ALL_X, "policyTypes": ["Ingress", "Egress"]})
NOT_X = (*Y, *Z)

SEQUENCES: list[tuple[str, list[Step]]] = [
    ("stacked-policies-added-one-by-one", [
        Step((P81_FROM_Y,), lambda pr, p: deny_ingress_to("x/a", allow_from=Y if (pr, p) == ("TCP", 81) else ())),
        Step((P81_FROM_Y, P80_FROM_Y),
             lambda pr, p: deny_ingress_to("x/a", allow_from=Y if pr == "TCP" else ()))]),
    ("updated-policy-allow-all-to-deny-all", [
        Step((policy("x", "mutate", {**ALL_X, "ingress": [{}]}),), lambda pr, p: Reachability()),
        Step((policy("x", "mutate", {**ALL_X, "ingress": []}),), lambda pr, p: deny_ingress_to(*X))]),
    ("ingress-from-updated-namespace", [
        Step((policy("x", "p", {**ONLY_A, "ingress": [{"from": [ns_sel(ns2="updated")]}]}),),
             lambda pr, p: deny_ingress_to("x/a")),
        Step((policy("x", "p", {**ONLY_A, "ingress": [{"from": [ns_sel(ns2="updated")]}]}),),
             lambda pr, p: deny_ingress_to("x/a", allow_from=Y), ns_labels={"y": {"ns2": "updated"}}),
        Step((policy("x", "p", {**ONLY_A, "ingress": [{"from": [ns_sel(ns2="updated")]}]}),),
             lambda pr, p: deny_ingress_to("x/a"))]),
    ("ingress-from-updated-pod", [
        Step((policy("x", "p", {**ONLY_A, "ingress": [{"from": [pod_sel(pod="b", pod2="updated")]}]}),),
             lambda pr, p: deny_ingress_to("x/a")),
        Step((policy("x", "p", {**ONLY_A, "ingress": [{"from": [pod_sel(pod="b", pod2="updated")]}]}),),
             lambda pr, p: deny_ingress_to("x/a", allow_from=("x/b",)), pod_labels={"x/b": {"pod2": "updated"}})]),
    ("deny-ingress-to-updated-pod", [
        Step((policy("x", "p", {"podSelector": {"matchLabels": {"target": "isolated"}}, "policyTypes": ["Ingress"]}),),
             lambda pr, p: Reachability()),
        Step((policy("x", "p", {"podSelector": {"matchLabels": {"target": "isolated"}}, "policyTypes": ["Ingress"]}),),
             lambda pr, p: deny_ingress_to("x/a"), pod_labels={"x/a": {"target": "isolated"}})]),
    ("ingress-allow-all-added-takes-precedence", [
        Step((policy("x", "port-80", {**ALL_X, "ingress": [{"ports": [{"port": 80}]}]}),),
             lambda pr, p: deny_ingress_to(*X, allow_from=KEYS if (pr, p) == ("TCP", 80) else ())),
        Step((policy("x", "port-80", {**ALL_X, "ingress": [{"ports": [{"port": 80}]}]}),
              policy("x", "all", {**ALL_X, "ingress": [{}]})), lambda pr, p: Reachability())]),
    ("egress-allow-all-added-takes-precedence", [  # step 0: without policyTypes, egress rules isolate both ways
        Step((policy("x", "port-80", {**ALL_X, "egress": [{"ports": [{"port": 80}]}]}),),
             lambda pr, p: deny_egress_from(*X, allow_to=KEYS if (pr, p) == ("TCP", 80) else ()).ingress("x/a", False)
             .ingress("x/b", False).ingress("x/c", False)),
        Step((policy("x", "port-80", {**ALL_X, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 80}]}]}),),
             lambda pr, p: deny_egress_from(*X, allow_to=KEYS if (pr, p) == ("TCP", 80) else ())),
        Step((policy("x", "port-80", {**ALL_X, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 80}]}]}),
              policy("x", "all", {**ALL_X, "policyTypes": ["Egress"], "egress": [{}]})), lambda pr, p: Reachability())]),
    ("policies-deleted-stop-enforcing", [
        Step((DENY_ALL_X,), lambda pr, p: both(lambda s, d: not d.startswith("x/"), lambda s, d: not s.startswith("x/"))),
        Step((), lambda pr, p: Reachability())]),
    ("cidr-and-except-then-updated-to-the-excepted-ip", [
        Step((WIDE_EXCEPT_XB,), lambda pr, p: deny_egress_from("x/a", allow_to=tuple(k for k in KEYS if k != "x/b"))),
        Step((ONLY_XB,), lambda pr, p: deny_egress_from("x/a", allow_to=("x/b",)))]),
    ("ingress-and-egress-controlled-independently", [
        Step((policy("x", "allow-egress", {**ONLY_A, "policyTypes": ["Egress"], "egress": [{}]}),),
             lambda pr, p: Reachability()),
        Step((policy("x", "allow-egress", {**ONLY_A, "policyTypes": ["Egress"], "egress": [{}]}),
              policy("x", "deny-ingress", {**ONLY_A, "policyTypes": ["Ingress"]})),
             lambda pr, p: deny_ingress_to("x/a"))]),
    ("namespace-label-removed-closes-again", [
        Step((policy("x", "p", {**ALL_X, "ingress": [{"from": [ns_sel(team="blue")]}]}),),
             lambda pr, p: deny_ingress_to(*X, allow_from=NOT_X), ns_labels={"y": {"team": "blue"}, "z": {"team": "blue"}}),
        Step((policy("x", "p", {**ALL_X, "ingress": [{"from": [ns_sel(team="blue")]}]}),),
             lambda pr, p: deny_ingress_to(*X, allow_from=Z), ns_labels={"z": {"team": "blue"}})]),
]


@pytest.mark.parametrize(("policies", "expect"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize(("proto", "port"), PROBES, ids=[f"{a}{b}" for a, b in PROBES])
def test_truth_table(policies: list[dict], expect: Expect, proto: str, port: int) -> None:
    state = world(*policies)
    want = expect(proto, port).m
    matrix = compute_matrix(state, proto, port)
    got = {(c.src, c.dst): c.allowed for c in matrix.cells()}
    wrong = sorted(k for k in want if got[k] != want[k])
    assert not wrong, f"matrix disagrees on {len(wrong)} pairs, e.g. {wrong[:5]}"
    single = {k: allowed(state, k[0], k[1], port, proto) for k in want}
    wrong = sorted(k for k in want if single[k] != want[k])
    assert not wrong, f"oracle disagrees on {len(wrong)} pairs, e.g. {wrong[:5]}"


def test_loopback_is_always_allowed() -> None:
    state = world(policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    assert allowed(state, "x/a", "x/a")


def assert_matrix(state: ClusterState, want: dict[tuple[str, str], bool], proto: str, port: int) -> None:
    matrix = compute_matrix(state, proto, port)
    got = {(c.src, c.dst): c.allowed for c in matrix.cells()}
    wrong = sorted(k for k in want if got[k] != want[k])
    assert not wrong, f"matrix disagrees on {len(wrong)} pairs, e.g. {wrong[:5]}"
    single = {k: allowed(state, k[0], k[1], port, proto) for k in want}
    wrong = sorted(k for k in want if single[k] != want[k])
    assert not wrong, f"oracle disagrees on {len(wrong)} pairs, e.g. {wrong[:5]}"


@pytest.mark.parametrize("steps", [c[1] for c in SEQUENCES], ids=[c[0] for c in SEQUENCES])
@pytest.mark.parametrize(("proto", "port"), PROBES, ids=[f"{a}{b}" for a, b in PROBES])
def test_truth_table_sequence(steps: list[Step], proto: str, port: int) -> None:
    """Upstream cases that update a policy or relabel a pod/namespace mid-test: every state in turn."""
    for n, step in enumerate(steps):
        state = world(*step.policies, ns_labels=step.ns_labels, pod_labels=step.pod_labels)
        try:
            assert_matrix(state, step.expect(proto, port).m, proto, port)
        except AssertionError as e:
            raise AssertionError(f"step {n}: {e}") from None


NAMED_IN_SIDECAR: list[tuple[str, list[dict], Expect]] = [
    ("named-port-of-second-container-ingress", [policy("x", "p", {**ALL_X, "ingress": [
        {"ports": [{"port": "serve-81-tcp"}]}]})],
     lambda pr, p: deny_ingress_to(*X, allow_from=KEYS if (pr, p) == ("TCP", 81) else ())),
    ("named-port-of-second-container-egress", [policy("x", "p", {**ALL_X, "policyTypes": ["Egress"], "egress": [
        {"ports": [{"port": "serve-81-udp", "protocol": "UDP"}, {"port": "serve-80-tcp"}]}]})],
     lambda pr, p: deny_egress_from(*X, allow_to=KEYS if (pr, p) in (("UDP", 81), ("TCP", 80)) else ())),
]


@pytest.mark.parametrize(("policies", "expect"), [(c[1], c[2]) for c in NAMED_IN_SIDECAR],
                         ids=[c[0] for c in NAMED_IN_SIDECAR])
@pytest.mark.parametrize(("proto", "port"), PROBES, ids=[f"{a}{b}" for a, b in PROBES])
def test_named_port_in_another_container(policies: list[dict], expect: Expect, proto: str, port: int) -> None:
    """The pods declare port 81 in a second container: a named port resolves across all containers."""
    assert_matrix(world(*policies, sidecar=True), expect(proto, port).m, proto, port)


def _with_init_port(restart_policy: str | None, name: str) -> ClusterState:
    """The world, x/a also declaring `name` -> 81/TCP in an init container, and a policy opening x/a's
    named port `name` only."""
    objs = world_objects()
    xa = next(o for o in objs if o["kind"] == "Pod" and o["metadata"] == {**o["metadata"], "namespace": "x",
                                                                          "name": "a"})
    init: dict = {"name": "init", "image": "x", "ports": [{"name": name, "containerPort": 81, "protocol": "TCP"}]}
    if restart_policy:
        init["restartPolicy"] = restart_policy
    xa["spec"]["initContainers"] = [init]
    return ClusterState.from_objects([*objs, policy("x", "p", {**ONLY_A_SEL, "ingress": [{"ports": [{"port": name}]}]})])


@pytest.mark.parametrize(("restart_policy", "name", "open_port"), [
    (None, "web", None), ("OnFailure", "web", None), ("Always", "web", 81), ("Always", "serve-80-tcp", 80)],
    ids=["init-container", "init-container-onfailure", "sidecar", "container-wins-over-sidecar"])
def test_named_port_resolves_like_upstream_findport(restart_policy: str | None, name: str,
                                                     open_port: int | None) -> None:
    """Upstream's FindPort: the pod's containers first, then sidecars (init containers with
    restartPolicy Always); an ordinary init container's ports are never a pod's named ports."""
    state = _with_init_port(restart_policy, name)
    for port in (80, 81):
        assert allowed(state, "y/a", "x/a", port) == (port == open_port), f"port {port}"


def test_namespace_name_label_cannot_be_borrowed() -> None:
    """The apiserver sets `kubernetes.io/metadata.name` to the namespace's name on every write, so
    a namespace labelled with another's name is still itself to a namespaceSelector."""
    only_x = policy("x", "p", {**ONLY_A_SEL, "ingress": [{"from": [ns_sel(**{NS_NAME: "x"})]}]})
    state = world(only_x, ns_labels={"y": {NS_NAME: "x"}})
    want = deny_ingress_to("x/a", allow_from=X).m
    for proto, port in PROBES:
        assert_matrix(state, want, proto, port)
