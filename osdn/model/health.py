"""Node reachability for egress IP failover: a pure probe scheduler and online/offline state machine.

Pure: no I/O, no clock (every call takes `now`, seconds on a monotonic clock), no randomness. The
driver (master or node) sends the probes - openshift-sdn's TCP connect to <node SDN IP>:9, where
"connection refused" means online and a timeout or EHOSTUNREACH means offline - and reports each
result with `observe`.

openshift-sdn probes every 5 s, re-checks failing nodes every 1 s and declares a node offline after
3 failures: 7-8 s typical, up to ~13 s. Here, with the defaults of `HealthParams`:

- probe every `interval` = 0.2 s while healthy, every `suspect_interval` = 0.1 s after a failure,
  probe timeout `timeout` = 0.15 s (the driver's connect timeout; LAN/lab RTTs are << 1 ms);
- OFFLINE after `fail_count` = 5 consecutive failures whose observations span >= `fail_span` = 0.8 s.
  Both conditions: a count alone lets a burst of fast EHOSTUNREACH errors (an ARP re-resolution, a
  link flap) take a node down; a span alone lets two slow failures do it. One lost probe (or four)
  never causes a transition; a success resets the count.
- worst-case detection of a hard-down node (`HealthParams.worst_case_detection`):
  interval + timeout + max(fail_span + suspect_interval + timeout, (fail_count-1) * (suspect_interval
  + timeout)) = 0.2 + 0.15 + max(1.05, 1.0) = 1.40 s; typical 1.0-1.35 s.
- ONLINE again after `recover_count` = 3 consecutive successes, and not before `hold_down` = 2 s
  after going offline. Hysteresis with damping: a node that goes offline again within `flap_window`
  = 30 s of coming back has its hold-down doubled (capped at `max_hold_down` = 30 s), so a flapping
  node changes state at most once per ~(hold + fail_span) seconds, and less often the more it flaps.
- nodes start ONLINE (as in openshift-sdn): an unknown node is not failed over before evidence.

Invariants: `observe` returns at most one transition, and only a real state change; no transition to
ONLINE happens less than the current hold-down after the transition to OFFLINE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HealthParams:
    interval: float = 0.2
    suspect_interval: float = 0.1
    timeout: float = 0.15
    fail_count: int = 5
    fail_span: float = 0.8
    recover_count: int = 3
    hold_down: float = 2.0
    max_hold_down: float = 30.0
    flap_window: float = 30.0

    def worst_case_detection(self) -> float:
        """Upper bound on hard-down -> OFFLINE when the driver probes on schedule."""
        cadence = self.suspect_interval + self.timeout
        rest = max(self.fail_span + cadence, (self.fail_count - 1) * cadence)
        return self.interval + self.timeout + rest


@dataclass(frozen=True)
class Transition:
    node: str
    online: bool
    at: float
    reason: str


@dataclass
class _NodeState:
    due: float
    online: bool = True
    fails: int = 0
    first_fail_at: float = 0.0
    oks: int = 0
    offline_at: float = -math.inf
    online_at: float = -math.inf
    flaps: int = 0
    hold: float = 0.0


@dataclass
class HealthTracker:
    params: HealthParams = field(default_factory=HealthParams)
    nodes: dict[str, _NodeState] = field(default_factory=dict)

    def set_nodes(self, names: Iterable[str], now: float) -> None:
        """Monitor exactly `names`: new ones start ONLINE with a probe due now; others are forgotten."""
        wanted = set(names)
        for name in list(self.nodes):
            if name not in wanted:
                del self.nodes[name]
        for name in wanted:
            self.nodes.setdefault(name, _NodeState(due=now))

    def is_online(self, node: str) -> bool:
        state = self.nodes.get(node)
        return state is None or state.online

    def offline(self) -> set[str]:
        return {name for name, st in self.nodes.items() if not st.online}

    def next_probe_due(self, now: float) -> float | None:
        """Earliest time a probe is due (<= now: overdue); None when nothing is monitored."""
        return min((st.due for st in self.nodes.values()), default=None)

    def due_nodes(self, now: float) -> list[str]:
        return sorted(name for name, st in self.nodes.items() if st.due <= now)

    def probe_started(self, node: str, now: float) -> None:
        """The driver sent a probe: not due again until it is reported (or surely timed out)."""
        self.nodes[node].due = now + self.params.timeout + self.params.interval

    def observe(self, node: str, ok: bool, now: float) -> list[Transition]:
        """Record one probe result at `now`; returns the resulting state change, if any."""
        state = self.nodes.setdefault(node, _NodeState(due=now))
        transition = self._on_ok(node, state, now) if ok else self._on_fail(node, state, now)
        suspect = state.fails > 0 or (not state.online and state.oks > 0)
        state.due = now + (self.params.suspect_interval if suspect else self.params.interval)
        return [transition] if transition else []

    def _on_fail(self, node: str, st: _NodeState, now: float) -> Transition | None:
        st.oks = 0
        if st.fails == 0:
            st.first_fail_at = now
        st.fails += 1
        span = now - st.first_fail_at
        p = self.params
        if not st.online or st.fails < p.fail_count or span < p.fail_span:
            return None
        st.flaps = st.flaps + 1 if now - st.online_at < p.flap_window else 0
        st.hold = min(p.hold_down * (2 ** st.flaps), p.max_hold_down)
        st.online, st.offline_at = False, now
        return Transition(node, False, now, f"{st.fails} consecutive probes failed over {span:.2f}s")

    def _on_ok(self, node: str, st: _NodeState, now: float) -> Transition | None:
        st.fails = 0
        st.oks += 1
        if st.online or st.oks < self.params.recover_count or now - st.offline_at < st.hold:
            return None
        st.online, st.online_at = True, now
        return Transition(node, True, now, f"{st.oks} consecutive probes succeeded "
                          f"after {now - st.offline_at:.2f}s offline (hold-down {st.hold:.1f}s)")
