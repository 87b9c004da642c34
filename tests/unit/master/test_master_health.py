"""Node reachability state machine driven by synthetic timelines."""

import pytest

from osdn.model.health import HealthParams, HealthTracker


class Sim:
    """Drives a HealthTracker like a prober would: probes when due, result after latency/timeout."""

    def __init__(self, nodes=("n1",), params=None, fast_fail=False):
        self.t = 0.0
        self.h = HealthTracker(params or HealthParams())
        self.h.set_nodes(nodes, self.t)
        self.fast_fail = fast_fail         # EHOSTUNREACH: failure reported at once instead of timeout
        self.transitions = []

    def run(self, until, up, dt=0.005):
        """`up(node, t)` says whether a probe sent at t would be answered."""
        inflight = {}
        while self.t < until:
            for node in self.h.due_nodes(self.t):
                if node in inflight:
                    continue
                ok = up(node, self.t)
                delay = 0.001 if ok or self.fast_fail else self.h.params.timeout
                inflight[node] = (self.t + delay, ok)
                self.h.probe_started(node, self.t)
            for node, (at, ok) in list(inflight.items()):
                if at <= self.t:
                    del inflight[node]
                    self.transitions += self.h.observe(node, ok, self.t)
            self.t = round(self.t + dt, 6)
        return self.transitions


def test_healthy_node_never_transitions():
    assert Sim().run(30, lambda n, t: True) == []


def losing(count, after=10):
    """Probe outcome: the `count` probes after the first `after` are lost."""
    sent = []

    def up(node, t):
        sent.append(t)
        return not (after < len(sent) <= after + count)
    return up


@pytest.mark.parametrize("lost", [1, 2, 3, 4])
def test_up_to_four_consecutive_lost_probes_are_ignored(lost):
    assert Sim().run(10, losing(lost)) == []


def test_five_consecutive_lost_probes_are_an_outage():
    assert [x.online for x in Sim().run(10, losing(5))] == [False, True]


@pytest.mark.parametrize("fast_fail", [False, True], ids=["timeouts", "ehostunreach"])
@pytest.mark.parametrize("death", [3.0, 3.07, 3.13, 3.19])
def test_hard_down_goes_offline_within_two_seconds(death, fast_fail):
    sim = Sim(fast_fail=fast_fail)
    trans = sim.run(10, lambda n, t: t < death)
    assert len(trans) == 1 and not trans[0].online
    took = trans[0].at - death
    assert 0.8 <= took <= sim.h.params.worst_case_detection() + 0.02
    assert took < 2.0


def test_worst_case_bound_is_under_two_seconds():
    p = HealthParams()
    assert p.worst_case_detection() == pytest.approx(1.4)


def test_outage_shorter_than_fail_span_is_ignored_even_with_fast_failures():
    sim = Sim(fast_fail=True)
    assert sim.run(10, lambda n, t: not (3.0 <= t < 3.6)) == []


def test_recovery_needs_hold_down_and_successes():
    sim = Sim()
    trans = sim.run(10, lambda n, t: not (1.0 <= t < 3.5))
    assert [x.online for x in trans] == [False, True]
    down, back = trans
    assert back.at - down.at >= sim.h.params.hold_down
    assert back.at >= 3.5 and back.at - 3.5 < 1.0


def test_flapping_is_damped():
    """Up 0.5 s / down 1.5 s forever: transitions get rarer as the hold-down doubles."""
    sim = Sim()
    trans = sim.run(120, lambda n, t: (t % 2.0) < 0.5)
    offline_times = [x.at for x in trans if not x.online]
    online_times = [x.at for x in trans if x.online]
    assert offline_times and len(trans) < 40
    gaps = [b - a for a, b in zip(offline_times, offline_times[1:], strict=False)]
    assert all(g >= 2.8 for g in gaps)                  # never faster than hold-down + fail span
    assert gaps[-1] > gaps[0]                           # and slower the longer it flaps
    for off, on in zip(offline_times, online_times, strict=False):
        assert on - off >= 2.0


def test_transitions_alternate_and_are_per_node():
    sim = Sim(nodes=("a", "b"))
    trans = sim.run(12, lambda n, t: n == "a" or not (2 <= t < 6))
    assert [(x.node, x.online) for x in trans] == [("b", False), ("b", True)]
    assert sim.h.offline() == set() and sim.h.is_online("a")


def test_schedule_and_membership():
    h = HealthTracker()
    assert h.next_probe_due(0.0) is None
    h.set_nodes(["a", "b"], 5.0)
    assert h.due_nodes(5.0) == ["a", "b"] and h.next_probe_due(5.0) == 5.0
    h.probe_started("a", 5.0)
    assert h.due_nodes(5.0) == ["b"]
    h.observe("a", True, 5.001)
    assert h.nodes["a"].due == pytest.approx(5.201)
    h.observe("b", False, 5.15)
    assert h.nodes["b"].due == pytest.approx(5.25)       # suspect: re-probe faster
    h.set_nodes(["b"], 6.0)
    assert list(h.nodes) == ["b"]
