"""Truth tables modelled on the upstream Kubernetes NetworkPolicy e2e suite (KEP-1611).

World: namespaces x, y, z (label ns=<name>), pods a, b, c (label pod=<name>), serving 80/81 on TCP,
UDP and SCTP. Each case gives the policies and, per probe, the expected matrix; both the full matrix
and the single-connection oracle must agree with it on every ordered pair.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from model_builders import allowed, policy
from netpol_world import KEYS, Reachability, ip_of, world

from osdn.model.matrix import compute_matrix

X, Y, Z = ("x/a", "x/b", "x/c"), ("y/a", "y/b", "y/c"), ("z/a", "z/b", "z/c")
ALL_PEERS = {"podSelector": {}}
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


def only_port(expected: Reachability, port: int, proto: str = "TCP") -> Expect:
    return lambda pr, p: expected if (pr, p) == (proto, port) else Reachability()


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
]
PROBES = [("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81), ("SCTP", 80), ("SCTP", 81)]


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
