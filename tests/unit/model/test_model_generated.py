"""Cyclonus-style generated policies checked against a naive reference, plus Hypothesis properties.

The reference below is written straight from the NetworkPolicy v1 API documentation, pair by pair,
on the raw dicts, sharing no code with osdn.model (not even the label selector parser).
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_builders import cluster_network, namespace, pod, policy
from netpol_world import NAMESPACES, PODS, PROTOS

from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_impact, compute_matrix
from osdn.model.oracle import compute_verdict, pod_endpoint
from osdn.model.verdict import Connection

KEYS = tuple(f"{n}/{p}" for n in NAMESPACES for p in PODS)
PROBES = [("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81), ("SCTP", 80)]
NS_LABELS = {"x": {"ns": "x", "tier": "front"}, "y": {"ns": "y", "tier": "back"}, "z": {"ns": "z"}}


def ip_of(key: str) -> str:
    ns, p = key.split("/")
    return f"10.128.{NAMESPACES.index(ns)}.{10 + PODS.index(p)}"


def pod_labels(key: str) -> dict[str, str]:
    ns, p = key.split("/")
    labels = {"pod": p}
    if p != "c":
        labels["app"] = "web" if ns != "z" else "db"
    return labels


def pod_ports(key: str) -> tuple[tuple[str, int, str], ...]:
    # heterogeneous on purpose: named ports must resolve per destination pod
    ports = [("serve-80-tcp", 80, "TCP"), ("serve-80-udp", 80, "UDP"), ("serve-80-sctp", 80, "SCTP")]
    if key not in ("x/c", "z/b"):
        ports += [("serve-81-tcp", 81, "TCP"), ("serve-81-udp", 81, "UDP")]
    if key == "y/a":
        ports += [("web", 81, "TCP")]
    elif key != "x/c":
        ports += [("web", 80, "TCP")]
    return tuple(ports)


def base_objects() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [cluster_network("networkpolicy")]
    objs += [namespace(n, **NS_LABELS[n]) for n in NAMESPACES]
    objs += [pod(k.split("/")[0], k.split("/")[1], ip_of(k), pod_labels(k), ports=pod_ports(k)) for k in KEYS]
    return objs


# --- strategies ----------------------------------------------------------------------------------
def label_selectors(keys: list[str], values: list[str]) -> st.SearchStrategy[dict]:
    match_labels = st.dictionaries(st.sampled_from(keys), st.sampled_from(values), max_size=1)
    expr = st.one_of(
        st.builds(lambda k, op, v: {"key": k, "operator": op, "values": v}, st.sampled_from(keys),
                  st.sampled_from(["In", "NotIn"]), st.lists(st.sampled_from(values), min_size=1, max_size=2)),
        st.builds(lambda k, op: {"key": k, "operator": op}, st.sampled_from(keys),
                  st.sampled_from(["Exists", "DoesNotExist"])))
    return st.builds(lambda ml, ex: {**({"matchLabels": ml} if ml else {}), **({"matchExpressions": ex} if ex else {})},
                     match_labels, st.lists(expr, max_size=1))


POD_SEL = label_selectors(["pod", "app"], ["a", "b", "c", "web", "db"])
NS_SEL = label_selectors(["ns", "tier", "kubernetes.io/metadata.name"], ["x", "y", "z", "front", "back"])
CIDRS = ["10.128.0.0/16", "10.128.1.0/24", "10.128.0.10/32", "10.128.2.11/32", "0.0.0.0/0"]
IP_BLOCK = st.builds(lambda c, ex: {"ipBlock": {"cidr": c, **({"except": ex} if ex else {})}},
                     st.sampled_from(CIDRS), st.lists(st.sampled_from(["10.128.1.11/32", "10.128.0.0/24"]),
                                                      max_size=1))
PEER = st.one_of(st.builds(lambda p: {"podSelector": p}, POD_SEL),
                 st.builds(lambda n: {"namespaceSelector": n}, NS_SEL),
                 st.builds(lambda p, n: {"podSelector": p, "namespaceSelector": n}, POD_SEL, NS_SEL), IP_BLOCK)
PORT = st.sampled_from([
    {"port": 80}, {"port": 81, "protocol": "UDP"}, {"protocol": "SCTP"}, {"protocol": "UDP"},
    {"port": "serve-80-tcp"}, {"port": "serve-81-udp", "protocol": "UDP"}, {"port": "web"},
    {"port": 80, "endPort": 81}, {"port": 81, "endPort": 85, "protocol": "UDP"}, {"port": "missing"},
])


def rules(key: str) -> st.SearchStrategy[list[dict]]:
    rule = st.builds(lambda peers, ports: {**({key: peers} if peers is not None else {}),
                                           **({"ports": ports} if ports is not None else {})},
                     st.none() | st.lists(PEER, max_size=2), st.none() | st.lists(PORT, max_size=2))
    return st.lists(rule, max_size=2)


SPEC = st.builds(
    lambda sel, types, ing, egr: {"podSelector": sel, **({"policyTypes": types} if types else {}),
                                  **({"ingress": ing} if ing is not None else {}),
                                  **({"egress": egr} if egr is not None else {})},
    st.none() | POD_SEL, st.none() | st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]),
    st.none() | rules("from"), st.none() | rules("to"))
POLICIES = st.lists(st.tuples(st.sampled_from(NAMESPACES), SPEC), max_size=4).map(
    lambda ps: [policy(ns, f"p{i}", spec) for i, (ns, spec) in enumerate(ps)])


# --- the naive reference ---------------------------------------------------------------------------
def ref_selects(sel: dict | None, labels: dict[str, str]) -> bool:
    if sel is None:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def ns_labels(ns: str) -> dict[str, str]:
    return {**NS_LABELS[ns], "kubernetes.io/metadata.name": ns}


def ref_peer(peer: dict, pol_ns: str, other: str) -> bool:
    if "ipBlock" in peer:
        ip = ipaddress.ip_address(ip_of(other))
        blk = peer["ipBlock"]
        return ip in ipaddress.ip_network(blk["cidr"]) and not any(ip in ipaddress.ip_network(e)
                                                                   for e in blk.get("except") or [])
    ns = other.split("/")[0]
    if "namespaceSelector" in peer:
        if not ref_selects(peer["namespaceSelector"], ns_labels(ns)):
            return False
    elif ns != pol_ns:
        return False
    return "podSelector" not in peer or ref_selects(peer["podSelector"], pod_labels(other))


def ref_port(entry: dict, proto: str, port: int, dst: str) -> bool:
    if entry.get("protocol", "TCP") != proto:
        return False
    p = entry.get("port")
    if p is None:
        return True
    if isinstance(p, str):
        return any(n == p and pr == proto and num == port for n, num, pr in pod_ports(dst))
    return p <= port <= entry.get("endPort", p)


def ref_direction(policies: list[dict], me: str, other: str, dst: str, proto: str, port: int, kind: str) -> bool:
    ns = me.split("/")[0]
    key = "ingress" if kind == "Ingress" else "egress"
    peer_key = "from" if kind == "Ingress" else "to"
    mine = []
    for pol in policies:
        spec = pol["spec"]
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if spec.get("egress") else []))
        if pol["metadata"]["namespace"] == ns and kind in types and ref_selects(spec.get("podSelector"), pod_labels(me)):
            mine.append(pol)
    if not mine:
        return True
    for pol in mine:
        for rule in pol["spec"].get(key) or []:
            peers_ok = not rule.get(peer_key) or any(ref_peer(p, ns, other) for p in rule[peer_key])
            ports_ok = not rule.get("ports") or any(ref_port(e, proto, port, dst) for e in rule["ports"])
            if peers_ok and ports_ok:
                return True
    return False


def ref_allowed(policies: list[dict], src: str, dst: str, proto: str, port: int) -> bool:
    return (ref_direction(policies, src, dst, dst, proto, port, "Egress")
            and ref_direction(policies, dst, src, dst, proto, port, "Ingress"))


def matrix_map(state: ClusterState, proto: str, port: int) -> dict[tuple[str, str], bool]:
    return {(c.src, c.dst): c.allowed for c in compute_matrix(state, proto, port).cells()}


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REFERENCE = settings(SETTINGS, max_examples=150)


@REFERENCE
@given(POLICIES)
def test_model_matches_reference(policies: list[dict]) -> None:
    state = ClusterState.from_objects(base_objects() + policies)
    for proto, port in PROBES:
        got = matrix_map(state, proto, port)
        for (s, d), ok in got.items():
            assert ok == ref_allowed(policies, s, d, proto, port), (s, d, proto, port)
            conn = Connection(pod_endpoint(state, state.pod_index[s]), pod_endpoint(state, state.pod_index[d]),
                              proto, port)
            assert compute_verdict(state, conn).allowed == ok, (s, d, proto, port)


@SETTINGS
@given(POLICIES, st.tuples(st.sampled_from(NAMESPACES), SPEC))
def test_new_policy_only_closes_connections_of_pods_it_selects(policies: list[dict], new: tuple[str, dict]) -> None:
    before = ClusterState.from_objects(base_objects() + policies)
    added = policy(new[0], "new", new[1])
    after = ClusterState.from_objects(base_objects() + policies + [added])
    pol = next(p for p in after.policies if p.name == "new")
    keys = {after.pods[i].key for i in pol.selected}
    for proto, port in PROBES[:3]:
        _, closed = compute_impact(before, after, [(proto, port)])
        for c in closed:
            assert (c.dst in keys and pol.ingress is not None) or (c.src in keys and pol.egress is not None), c
        was_isolated_in = all(any(i in p.selected and p.ingress is not None for p in before.policies) for i in pol.selected)
        was_isolated_out = all(any(i in p.selected and p.egress is not None for p in before.policies)
                               for i in pol.selected)
        if (pol.ingress is None or was_isolated_in) and (pol.egress is None or was_isolated_out):
            assert closed == [], "an allow-only addition to already isolated pods closed something"


@SETTINGS
@given(POLICIES, st.sampled_from(NAMESPACES), SPEC)
def test_policy_selecting_no_pods_changes_nothing(policies: list[dict], ns: str, spec: dict) -> None:
    spec = {**spec, "podSelector": {"matchLabels": {"pod": "nobody"}}}
    before = ClusterState.from_objects(base_objects() + policies)
    after = ClusterState.from_objects(base_objects() + policies + [policy(ns, "none", spec)])
    assert compute_impact(before, after, PROBES) == ([], [])


@SETTINGS
@given(POLICIES, st.randoms(use_true_random=False))
def test_verdicts_do_not_depend_on_object_order(policies: list[dict], rnd: random.Random) -> None:
    objs = base_objects() + policies
    shuffled = list(objs)
    rnd.shuffle(shuffled)
    a, b = ClusterState.from_objects(objs), ClusterState.from_objects(shuffled)
    for proto, port in PROBES[:2]:
        ma, mb = compute_matrix(a, proto, port), compute_matrix(b, proto, port)
        assert [(c.src, c.dst, c.allowed, c.reason) for c in ma.cells()] == \
               [(c.src, c.dst, c.allowed, c.reason) for c in mb.cells()]


def test_reference_sanity() -> None:
    """The reference itself must be able to deny (a test that cannot fail is a defect)."""
    deny = [policy("x", "d", {"podSelector": {}, "ingress": []})]
    assert not ref_allowed(deny, "y/a", "x/a", "TCP", 80)
    assert ref_allowed(deny, "x/a", "y/a", "TCP", 80)
    assert PROTOS == ("TCP", "UDP", "SCTP")
