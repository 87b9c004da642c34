"""`osdn adm verify` without a kernel: which pods and ports are probed, how a probe compares with the
model, the second probe of disagreements, and the report. Probes come from a fake kernel built from
the model itself (optionally with a deliberate fault), so the comparison is checked both ways."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

import pytest

from osdn.lab.observe import (
    CONNECTED,
    ERROR,
    REFUSED,
    TIMEOUT,
    UNREACHABLE,
    ProbeResult,
    classify_connect_error,
    compute_counter_deltas,
    parse_counters,
)
from osdn.lab.verify import (
    Check,
    VerifyOptions,
    VerifyPod,
    VerifyReport,
    compute_checks,
    compute_default_ports,
    compute_pairs,
    compute_selection,
    compute_targets,
    probe_pairs,
    render_verify_report,
    verify_report_to_dict,
)
from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_matrix

Obj = dict[str, Any]
NETNS = "lab.osdn.io/netns"


def pod(ns: str, name: str, ip: str | None = "10.128.0.2", node: str = "node1", netns: str | None = "",
        phase: str = "Running", labels: dict[str, str] | None = None, ports: tuple[int, ...] = (80,),
        **spec: Any) -> Obj:
    ann = {NETNS: netns if netns != "" else f"osdn-t-pod-{ns}-{name}"} if netns is not None else {}
    status: Obj = {"phase": phase}
    if ip:
        status["podIP"] = ip
    return {"kind": "Pod", "metadata": {"namespace": ns, "name": name, "labels": labels or {}, "annotations": ann},
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": [
                {"containerPort": p, "protocol": "TCP"} for p in ports]}], **spec},
            "status": status}


def deny_all(ns: str) -> Obj:
    return {"kind": "NetworkPolicy", "metadata": {"namespace": ns, "name": "deny-by-default"},
            "spec": {"podSelector": None, "ingress": []}}


def allow_same_ns(ns: str) -> Obj:
    return {"kind": "NetworkPolicy", "metadata": {"namespace": ns, "name": "allow-same-namespace"},
            "spec": {"podSelector": None, "ingress": [{"from": [{"podSelector": {}}]}]}}


# a: two pods open to all; b: two pods isolated to their own namespace
CLUSTER = [
    pod("a", "a1", "10.128.0.2", "node1"), pod("a", "a2", "10.128.2.2", "node2", ports=(8080,)),
    pod("b", "b1", "10.128.0.3", "node1", labels={"app": "db"}), pod("b", "b2", "10.128.2.3", "node2"),
    deny_all("b"), allow_same_ns("b"),
]


def all_exist(_: str) -> bool:
    return True


def setup(objs: list[Obj] = CLUSTER, ports: tuple[int, ...] = (80,)):  # type: ignore[no-untyped-def]
    state = ClusterState.from_objects(objs)
    targets, skipped = compute_targets([o for o in objs if o["kind"] == "Pod"], all_exist)
    pairs = compute_pairs(targets, ports, {t.key for t in targets})
    return state, targets, pairs, {p: compute_matrix(state, "TCP", p) for p in ports}


def model_kernel(state: ClusterState, fault: Callable[[str, str, int], ProbeResult | None] = lambda *_: None,
                 listening: dict[str, set[int]] | None = None):  # type: ignore[no-untyped-def]
    """A fake kernel that does what the model says (refused where nothing listens), except `fault`."""
    by_ip = {str(p.ip): p.key for p in state.pods if p.ip}
    by_netns = {f"osdn-t-pod-{p.namespace}-{p.name}": p.key for p in state.pods}
    calls: list[tuple[str, str, int, float]] = []

    def probe(ns: str, ip: str, port: int, timeout: float) -> ProbeResult:
        calls.append((ns, ip, port, timeout))
        src, dst = by_netns[ns], by_ip[ip]
        forced = fault(src, dst, port)
        if forced is not None:
            return forced
        if not compute_matrix(state, "TCP", port).is_allowed(src, dst):
            return ProbeResult(TIMEOUT)
        return ProbeResult(CONNECTED if port in (listening or {}).get(dst, {80}) else REFUSED)

    probe.calls = calls  # type: ignore[attr-defined]
    return probe


# -- targets, ports, pairs ------------------------------------------------------------------------

@pytest.mark.parametrize(("obj", "why"), [
    (pod("x", "p", phase="Pending"), "not running (phase Pending)"),
    (pod("x", "p", ip=None), "no pod IP"),
    (pod("x", "p", netns=None), "no lab.osdn.io/netns annotation (not run by a local osdn lab)"),
    (pod("x", "p", netns="elsewhere"), "its network namespace 'elsewhere' is not on this machine"),
    (pod("x", "p", hostNetwork=True), "host-network pod (it is its node, not in the pod matrix)"),
], ids=["pending", "no-ip", "no-annotation", "netns-missing", "host-network"])
def test_pods_that_cannot_be_probed_are_skipped_with_the_reason(obj: Obj, why: str) -> None:
    ok, skipped = compute_targets([obj, pod("x", "good", netns="here")], lambda ns: ns == "here")
    assert [p.key for p in ok] == ["x/good"]
    assert [(s.key, s.why) for s in skipped] == [("x/p", why)]


def test_default_ports_are_the_declared_tcp_ports_plus_80() -> None:
    udp = pod("x", "u")
    udp["spec"]["containers"][0]["ports"].append({"containerPort": 53, "protocol": "UDP"})
    assert compute_default_ports([pod("x", "a", ports=(8080, 5432)), udp]) == (80, 5432, 8080)
    assert compute_default_ports([]) == (80,)


def test_pairs_cover_every_ordered_pair_once_per_port_and_spread_destinations() -> None:
    targets = [VerifyPod(f"n/p{i}", f"10.0.0.{i}", f"ns{i}", "node1") for i in range(5)]
    pairs = compute_pairs(targets, (80, 81), {t.key for t in targets})
    keys = [(p.src.key, p.dst.key, p.port) for p in pairs]
    assert len(keys) == len(set(keys)) == 5 * 4 * 2
    assert all(s != d for s, d, _ in keys)
    for start in range(0, len(pairs), 5):  # any 5 consecutive probes of a port go to 5 different pods
        assert len({p.dst.key for p in pairs[start:start + 5]}) == 5


def test_selection_keeps_pairs_with_one_selected_end() -> None:
    _, targets, _, _ = setup()
    assert compute_selection(targets, ("b",), "") == {"b/b1", "b/b2"}
    assert compute_selection(targets, (), "app=db") == {"b/b1"}
    assert compute_selection(targets, ("a",), "app=db") == set()
    pairs = compute_pairs(targets, (80,), {"b/b1"})
    assert sorted((p.src.key, p.dst.key) for p in pairs) == sorted(
        [("b/b1", k) for k in ("a/a1", "a/a2", "b/b2")] + [(k, "b/b1") for k in ("a/a1", "a/a2", "b/b2")])


# -- comparison -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("model_allowed", "outcome", "agrees", "failed"), [
    (True, CONNECTED, True, False), (True, REFUSED, True, False), (True, TIMEOUT, False, False),
    (False, TIMEOUT, True, False), (False, UNREACHABLE, True, False), (False, CONNECTED, False, False),
    (False, REFUSED, False, False), (True, ERROR, False, True),
], ids=["allow-connected", "allow-refused", "allow-timeout", "deny-timeout", "deny-unreachable",
        "deny-connected", "deny-refused", "error"])
def test_a_probe_agrees_when_reached_equals_allowed(model_allowed: bool, outcome: str, agrees: bool,
                                                    failed: bool) -> None:
    check = Check("a/x", "b/y", 80, model_allowed, "why", ProbeResult(outcome))
    assert (check.agrees, check.failed) == (agrees, failed)


def test_checks_carry_the_models_verdict_and_reason_for_each_pair() -> None:
    state, _, pairs, matrices = setup()
    checks = compute_checks(matrices, pairs, [ProbeResult(TIMEOUT)] * len(pairs))
    by = {(c.src, c.dst): c for c in checks}
    assert by[("a/a1", "b/b1")].model_allowed is False
    assert "NetworkPolicy b/deny-by-default" in by[("a/a1", "b/b1")].reason
    assert by[("b/b2", "b/b1")].model_allowed is True
    assert "allow-same-namespace" in by[("b/b2", "b/b1")].reason
    assert by[("b/b1", "a/a1")].model_allowed is True


def test_a_kernel_that_follows_the_model_agrees_everywhere() -> None:
    state, _, pairs, matrices = setup(ports=(80, 8080))
    probe = model_kernel(state, listening={"a/a2": {8080}})
    checks = probe_pairs(pairs, matrices, VerifyOptions(settle=0.01), probe)
    assert all(c.agrees for c in checks) and not any(c.retried for c in checks)
    assert {c.kernel.outcome for c in checks} == {CONNECTED, REFUSED, TIMEOUT}
    assert len(probe.calls) == len(pairs) == 4 * 3 * 2  # type: ignore[attr-defined]


def test_a_real_disagreement_is_probed_again_and_reported() -> None:
    state, _, pairs, matrices = setup()
    def fault(src: str, dst: str, port: int) -> ProbeResult | None:  # a kernel that blocks a1 -> a2
        return ProbeResult(TIMEOUT) if (src, dst) == ("a/a1", "a/a2") else None
    probe = model_kernel(state, fault)
    checks = probe_pairs(pairs, matrices, VerifyOptions(timeout=0.5, settle=0.01), probe)
    bad = [c for c in checks if not c.agrees]
    assert [(c.src, c.dst, c.model_allowed, c.retried) for c in bad] == [("a/a1", "a/a2", True, True)]
    assert len(probe.calls) == len(pairs) + 1  # type: ignore[attr-defined]
    assert probe.calls[-1][3] == 1.0  # the second probe waits twice as long  # type: ignore[attr-defined]


def test_a_disagreement_that_goes_away_on_the_second_probe_is_not_reported() -> None:
    state, _, pairs, matrices = setup()
    seen: set[tuple[str, str]] = set()
    def late_policy(src: str, dst: str, port: int) -> ProbeResult | None:  # b's policy not there yet
        if dst.startswith("b/") and not src.startswith("b/") and (src, dst) not in seen:
            seen.add((src, dst))
            return ProbeResult(CONNECTED)
        return None
    checks = probe_pairs(pairs, matrices, VerifyOptions(settle=0.01), model_kernel(state, late_policy))
    assert all(c.agrees for c in checks)
    assert sum(c.retried for c in checks) == 4  # a1, a2 -> b1, b2


def test_no_second_probe_with_settle_zero() -> None:
    state, _, pairs, matrices = setup()
    checks = probe_pairs(pairs, matrices, VerifyOptions(settle=0),
                         model_kernel(state, lambda *_: ProbeResult(ERROR, "gone")))
    assert all(c.failed and not c.retried for c in checks)


# -- report ---------------------------------------------------------------------------------------

def report_for(fault: Callable[[str, str, int], ProbeResult | None] = lambda *_: None,
               extra: list[Obj] = ()) -> VerifyReport:  # type: ignore[assignment]
    objs = [*CLUSTER, *extra]
    state = ClusterState.from_objects(objs)
    targets, skipped = compute_targets([o for o in objs if o["kind"] == "Pod"],
                                       lambda ns: not ns.endswith("gone"))
    pairs = compute_pairs(targets, (80,), {t.key for t in targets})
    opts = VerifyOptions(settle=0)
    checks = probe_pairs(pairs, {80: compute_matrix(state, "TCP", 80)}, opts, model_kernel(state, fault))
    return VerifyReport(state.mode, "TCP", (80,), tuple(targets), tuple(checks), tuple(skipped), opts)


def test_report_when_everything_agrees() -> None:
    report = report_for(extra=[pod("c", "gone", "10.128.0.9", netns="x-gone")])
    text = render_verify_report(report)
    assert report.ok
    assert "12 probes: 12 agree (8 allowed and reached, 4 denied and blocked), 0 disagree, 0 failed" in text
    assert "OK: the kernel agrees with the model on all 12 probes" in text
    assert "c/gone: its network namespace 'x-gone' is not on this machine" in text
    rows = [line for line in text.splitlines() if line.startswith(("1  ", "3  "))]
    assert rows == ["1  a/a1 - . x x", "3  b/b1 . . - ."]


def test_report_names_each_disagreement_with_the_models_reason() -> None:
    report = report_for(lambda s, d, p: ProbeResult(CONNECTED) if (s, d) == ("a/a2", "b/b2") else None)
    text = render_verify_report(report, matrices=False)
    assert not report.ok and len(report.disagreements) == 1
    assert "DISAGREE a/a2 -> b/b2 TCP/80: model DENIED, kernel connected" in text
    assert "    model: egress: a/a2 not isolated for egress; ingress: b/b2 isolated for ingress by " \
           "NetworkPolicy b/allow-same-namespace, NetworkPolicy b/deny-by-default; no rule allows it" in text
    assert text.endswith("FAIL: 1 disagreement(s), 0 failed probe(s) of 12")
    assert "legend" not in text
    doc = verify_report_to_dict(report)
    assert doc["summary"] == {"probes": 12, "agree": 11, "disagree": 1, "failed": 0, "allowed": 8, "denied": 3,
                              "retried": 0, "ok": False}
    bad = [r for r in doc["results"] if not r["agrees"]]
    assert bad == [{"from": "a/a2", "to": "b/b2", "port": 80, "model": {"allowed": False, "reason": bad[0]["model"]["reason"]},
                    "kernel": {"outcome": "connected", "reached": True, "detail": "", "retried": False},
                    "agrees": False}]


def test_an_empty_verify_is_not_ok() -> None:
    opts = VerifyOptions()
    report = VerifyReport("networkpolicy", "TCP", (80,), (), (), (), opts)
    assert not report.ok
    assert render_verify_report(report).endswith("FAIL: nothing to probe (no pair of running local lab pods selected)")


# -- kernel reads (pure parts) --------------------------------------------------------------------

@pytest.mark.parametrize(("exc", "outcome"), [
    (TimeoutError("timed out"), TIMEOUT), (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), REFUSED),
    (OSError(errno.EHOSTUNREACH, "No route to host"), UNREACHABLE),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), UNREACHABLE),
    (OSError(errno.EAGAIN, "again"), TIMEOUT), (OSError(errno.EPERM, "Operation not permitted"), ERROR),
], ids=["timeout", "refused", "hostunreach", "netunreach", "eagain", "eperm"])
def test_connect_errors_are_classified(exc: OSError, outcome: str) -> None:
    assert classify_connect_error(exc).outcome == outcome


def test_counters_parse_and_only_moved_ones_count() -> None:
    doc = {"nftables": [{"metainfo": {}},
                        {"counter": {"family": "inet", "name": "drop_np_ingress", "table": "osdn", "packets": 3}},
                        {"counter": {"family": "bridge", "name": "drop_spoof", "table": "osdn", "packets": 7}}]}
    before = parse_counters(doc)
    assert before == {("inet", "drop_np_ingress"): 3, ("bridge", "drop_spoof"): 7}
    after = {**before, ("inet", "drop_np_ingress"): 5, ("inet", "drop_invalid"): 1}
    assert compute_counter_deltas(before, after) == {("inet", "drop_invalid"): 1, ("inet", "drop_np_ingress"): 2}
    assert compute_counter_deltas(before, before) == {}
