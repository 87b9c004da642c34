"""Leader election decisions (osdn.model.leaderelection, pure) and the elector's terms and fences
(osdn.master.leader) against an in-memory Lease with resourceVersion checks; time is injected."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from osdn.errors import ConflictError, NotFoundError
from osdn.master.leader import LeaderElector
from osdn.model.leaderelection import (
    ElectionConfig,
    decide,
    observe,
    release_spec,
    still_leading,
)

CFG = ElectionConfig(lease_duration=4, renew_deadline=3.0, retry_period=1.0)
Obj = dict[str, Any]


def lease(holder: str, rv: int, transitions: int = 0, acquired: str = "t0") -> Obj:
    return {"metadata": {"name": "osdn-master", "namespace": "kube-system", "resourceVersion": str(rv)},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 4, "acquireTime": acquired,
                     "renewTime": acquired, "leaseTransitions": transitions}}


def test_no_lease_is_created_with_us_as_holder() -> None:
    d = decide(None, "a", 100.0, "T", CFG)
    assert (d.action, d.spec) == ("create", {"holderIdentity": "a", "leaseDurationSeconds": 4,
                                             "acquireTime": "T", "renewTime": "T", "leaseTransitions": 0})


def test_a_held_lease_is_left_alone_until_it_went_unchanged_for_its_duration_by_our_clock() -> None:
    obs = observe(None, lease("b", 7), now=100.0)
    assert decide(obs, "a", 103.9, "T", CFG).action == "wait"
    obs = observe(obs, lease("b", 7), now=103.9)          # same revision: still first seen at 100
    assert obs.at == 100.0
    d = decide(obs, "a", 104.0, "T", CFG)
    assert d.action == "update" and d.spec is not None
    assert (d.spec["holderIdentity"], d.spec["acquireTime"], d.spec["leaseTransitions"]) == ("a", "T", 1)


def test_a_renewal_seen_resets_the_expiry_whatever_its_timestamps_say() -> None:
    obs = observe(None, lease("b", 7), now=100.0)
    obs = observe(obs, lease("b", 9, acquired="1999-01-01T00:00:00.000000Z"), now=103.0)  # renewed, old clock
    assert decide(obs, "a", 106.9, "T", CFG).action == "wait"
    assert decide(obs, "a", 107.0, "T", CFG).action == "update"


def test_the_holder_renews_keeping_acquire_time_and_transitions() -> None:
    obs = observe(None, lease("a", 7, transitions=3, acquired="A"), now=100.0)
    d = decide(obs, "a", 100.5, "R", CFG)
    assert d.action == "update" and d.spec is not None
    assert (d.spec["acquireTime"], d.spec["renewTime"], d.spec["leaseTransitions"]) == ("A", "R", 3)


def test_a_released_lease_is_taken_at_once() -> None:
    obs = observe(None, lease("b", 7), now=100.0)
    released = {**lease("b", 8), "spec": release_spec(obs, "R")}
    assert released["spec"]["holderIdentity"] == ""
    d = decide(observe(obs, released, now=100.1), "a", 100.1, "T", CFG)
    assert d.action == "update" and d.spec is not None and d.spec["holderIdentity"] == "a"


def test_a_leader_stops_acting_at_the_renew_deadline_before_the_lease_can_expire() -> None:
    assert still_leading(100.0, 102.99, CFG)
    assert not still_leading(100.0, 103.0, CFG)
    assert CFG.renew_deadline < CFG.lease_duration


@pytest.mark.parametrize("cfg, problem", [
    (ElectionConfig(3, 3.0, 1.0), "lease-duration (3s) must be greater than --leader-elect-renew-deadline (3.0s)"),
    (ElectionConfig(4, 1.1, 1.0), "renew-deadline (1.1s) must be greater than 1.2 x"),
], ids=["deadline-not-below-duration", "retry-too-close-to-deadline"])
def test_unsafe_configurations_are_named(cfg: ElectionConfig, problem: str) -> None:
    assert problem in (cfg.problem() or "")
    assert CFG.problem() is None


# ---- the elector against an in-memory Lease -------------------------------------------------------

class FakeLeases:
    """One Lease with resourceVersions: create refuses an existing one, update a stale rv (as the API)."""

    def __init__(self) -> None:
        self.obj: Obj | None = None
        self.rv = 0
        self.down = False

    def get(self, kind: str, name: str, namespace: str = "") -> Obj:
        if self.obj is None:
            raise NotFoundError("not found")
        return copy.deepcopy(self.obj)

    def _store(self, obj: Obj) -> Obj:
        self.rv += 1
        self.obj = copy.deepcopy(obj)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.obj)

    def create(self, obj: Obj) -> Obj:
        if self.obj is not None:
            raise ConflictError("exists")
        return self._store(obj)

    def update(self, obj: Obj) -> Obj:
        assert self.obj is not None
        if obj["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise ConflictError("stale")
        return self._store(obj)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def electors(n: int) -> tuple[FakeLeases, Clock, list[LeaderElector]]:
    leases, clock = FakeLeases(), Clock()
    return leases, clock, [LeaderElector(leases, f"s{i}", CFG, clock=clock, wall=clock)
                           for i in range(n)]


def test_one_elector_leads_the_others_wait_then_one_takes_over_after_expiry() -> None:
    leases, clock, (a, b, c) = electors(3)
    assert a.try_acquire_or_renew() and a.leading() == 1
    assert not b.try_acquire_or_renew() and not c.try_acquire_or_renew()
    for _ in range(5):                    # a renews every second: b and c never take over
        clock.t += 1.0
        assert a.try_acquire_or_renew() and not b.try_acquire_or_renew() and not c.try_acquire_or_renew()
    assert [e.leading() for e in (a, b, c)] == [1, 0, 0]
    clock.t += 3.0                        # a stopped renewing: it stops acting first ...
    assert a.leading() == 0
    assert not b.try_acquire_or_renew()   # ... and b may not take over before 4 s unchanged
    clock.t += 1.0
    assert b.try_acquire_or_renew() and b.leading() == 1
    assert not c.try_acquire_or_renew()
    assert leases.obj is not None and leases.obj["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew() and a.leading() == 0   # a comes back: b holds it


def test_each_term_fences_with_its_latest_revision_and_an_ended_term_stays_stale() -> None:
    leases, clock, (a, b) = electors(2)
    a.try_acquire_or_renew()
    assert a.fence(1) == f"kube-system/osdn-master/{leases.rv}"
    clock.t += 1.0
    a.try_acquire_or_renew()
    assert a.fence(1) == f"kube-system/osdn-master/{leases.rv}"   # renewed: the fence follows
    while not b.try_acquire_or_renew():   # a stops renewing; b, polling every second, takes over
        clock.t += 1.0
    clock.t += 0.5
    assert not a.try_acquire_or_renew()
    assert a.fence(1) != f"kube-system/osdn-master/{leases.rv}"   # never the revision b wrote
    clock.t += 5.0
    assert a.try_acquire_or_renew() and a.leading() == 2          # a new term, with its own fence
    assert a.fence(2) == f"kube-system/osdn-master/{leases.rv}" and a.fence(1).endswith("/0")


def test_a_release_lets_another_take_over_at_once() -> None:
    leases, clock, (a, b) = electors(2)
    a.try_acquire_or_renew()
    a.release()
    assert a.leading() == 0
    clock.t += 0.1
    assert b.try_acquire_or_renew() and b.leading() == 1
