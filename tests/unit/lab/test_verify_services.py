"""`adm verify` for services, without a kernel: which (pod, service port) pairs are probed, what the
model expects (reached, refused for no endpoints, blocked), the comparison and the matrix."""

from __future__ import annotations

from osdn.lab.observe import CONNECTED, REFUSED, TIMEOUT, ProbeResult
from osdn.lab.verify import Check, VerifyOptions, VerifyPod
from osdn.lab.verify_services import (
    compute_service_pairs,
    compute_service_targets,
    probe_services,
    render_service_matrix,
)
from osdn.model.cluster import ClusterState
from tests.unit.model.model_builders import cluster_network, namespace, pod, policy, service


def state() -> ClusterState:
    return ClusterState.from_objects([
        cluster_network("networkpolicy"), namespace("p"), namespace("q"),
        pod("p", "a", "10.128.0.2", {"app": "a"}), pod("p", "b", "10.128.0.3", {"app": "b"}),
        pod("p", "e", "10.128.0.5", {"app": "e", "tier": "x"}), pod("p", "f", "10.128.0.6", {"app": "f", "tier": "x"}),
        pod("q", "c", "10.128.0.4", {"app": "c"}),
        service("p", "svc-a", "172.30.0.20", {"app": "a"}, (("h", 80, "TCP", 80), ("u", 53, "UDP", 53))),
        service("p", "empty", "172.30.0.21", {"app": "zzz"}, (("h", 80, "TCP", 80),)),
        service("p", "both", "172.30.0.22", {"tier": "x"}, (("h", 80, "TCP", 80),)),
        policy("p", "only-p", {"podSelector": {"matchLabels": {"app": "a"}}, "ingress": [{"from": [{"podSelector": {}}]}]}),
        policy("p", "only-p-e", {"podSelector": {"matchLabels": {"app": "e"}}, "ingress": [{"from": [{"podSelector": {}}]}]}),
    ])


PODS = [VerifyPod("p/a", "10.128.0.2", "ns-a", "n1"), VerifyPod("p/b", "10.128.0.3", "ns-b", "n1"),
        VerifyPod("q/c", "10.128.0.4", "ns-c", "n1")]


def test_targets_are_tcp_cluster_ip_ports() -> None:
    got = [(t.key, t.ip, t.port) for t in compute_service_targets(state())]
    assert got == [("svc/p/both", "172.30.0.22", 80), ("svc/p/empty", "172.30.0.21", 80),
                   ("svc/p/svc-a", "172.30.0.20", 80)]


def test_expectations_reached_refused_blocked() -> None:
    pairs, models, skipped = compute_service_pairs(state(), PODS, {p.key for p in PODS}, VerifyOptions())
    want = {(p.src.key, p.dst.key): (m.allowed, m.refused) for p, m in zip(pairs, models, strict=True)}
    assert want[("p/b", "svc/p/svc-a")] == (True, False)
    assert want[("q/c", "svc/p/svc-a")] == (False, False)  # the endpoint's policy refuses q
    assert want[("q/c", "svc/p/empty")] == (False, True)  # no endpoints: refused
    assert [s.key for s in skipped] == ["q/c -> svc/p/both:80"]  # e refuses q, f admits it: no single answer
    assert want[("p/b", "svc/p/both")] == (True, False)


def test_a_refused_probe_agrees_only_where_the_model_expects_refusal() -> None:
    refused, timeout = ProbeResult(REFUSED), ProbeResult(TIMEOUT)
    assert Check("p/a", "svc/p/empty", 80, False, "", refused, refused_expected=True).agrees
    assert not Check("p/a", "svc/p/empty", 80, False, "", timeout, refused_expected=True).agrees
    assert not Check("p/a", "svc/p/x", 80, False, "", refused).agrees  # a refusal reached the endpoint


def test_probe_and_matrix() -> None:
    s = state()
    pairs, models, _ = compute_service_pairs(s, PODS, {"q/c"}, VerifyOptions())
    answers = {"172.30.0.20": TIMEOUT, "172.30.0.21": REFUSED}
    checks = probe_services(pairs, models, VerifyOptions(settle=0), lambda ns, ip, port, t: ProbeResult(answers[ip]),
                            lambda _: None)
    assert {c.src for c in checks} == {"q/c"} and all(c.agrees for c in checks)
    lines = render_service_matrix(PODS, checks)
    assert lines[2].startswith("svc/p/empty:80") and lines[2].split()[1:] == ["-", "-", "r"]
    assert lines[3].split()[1:] == ["-", "-", "x"]
    bad = probe_services(pairs, models, VerifyOptions(settle=0), lambda *a: ProbeResult(CONNECTED), lambda _: None)
    assert [c.dst for c in bad if not c.agrees] == ["svc/p/empty", "svc/p/svc-a"]
