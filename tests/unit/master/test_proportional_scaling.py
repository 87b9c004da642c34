"""Proportional scaling of a Deployment with several active ReplicaSets (pure): kube's sync.go
`scale()` and util's GetProportion, with the vectors of kube's TestScale (sync_test.go) and more.

Each upstream case names the Deployment before (`was`: replicas, maxSurge) and after the scale, the
RSs (name, spec.replicas, age) and the sizes kube's fake client ends with. As upstream's test does,
every RS starts annotated with the old Deployment's size (desired-replicas) and size + surge
(max-replicas), unless the case gives another desired-replicas."""

from __future__ import annotations

from dataclasses import replace

import pytest

from osdn.master.deployments import new_replicaset
from osdn.master.rollout import (
    DESIRED,
    MAX_REPLICAS,
    RSView,
    Strategy,
    is_scaling_event,
    plan_scale,
    proportion,
    strategy_of,
)

NEW, OLD, OLDER = "2016-05-20T02:00:00Z", "2016-05-20T01:00:00Z", "2016-05-20T00:00:00Z"


def strategy(replicas: int, surge: int = 0, unavailable: int = 0) -> Strategy:
    """Upstream's newDeployment: RollingUpdate with maxSurge and maxUnavailable 0 unless given."""
    return strategy_of({"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": surge, "maxUnavailable": unavailable}}}})


def sized(rs: RSView, was: Strategy, desired: int | None = None) -> RSView:
    want = was.replicas if desired is None else desired
    return replace(rs, desired=want, max_replicas=want + was.max_surge)


def final_sizes(now: Strategy, was: Strategy, new: RSView | None, old: list[RSView],
                desired: dict[str, int] | None = None) -> dict[str, int]:
    desired = desired or {}
    new = sized(new, was, desired.get(new.name)) if new else None
    old = [sized(r, was, desired.get(r.name)) for r in old]
    targets = plan_scale(now, 0, new, old)
    return {r.name: targets.get(r.name, r.replicas) for r in ([new] if new else []) + old}


def rs(name: str, replicas: int, created: str, available: int = 0) -> RSView:
    return RSView(name, replicas, available=available, created=created)


# (id, now, was, new RS, old RSs, {name: desired-replicas}, expected sizes): sync_test.go TestScale
UPSTREAM = [
    ("normal scaling event: 10 -> 12", strategy(12), strategy(10), rs("foo-v1", 10, NEW), [], None,
     {"foo-v1": 12}),
    ("normal scaling event: 10 -> 5", strategy(5), strategy(10), rs("foo-v1", 10, NEW), [], None,
     {"foo-v1": 5}),
    ("proportional scaling: 5 -> 10", strategy(10), strategy(5), rs("foo-v2", 2, NEW), [rs("foo-v1", 3, OLD)],
     None, {"foo-v2": 4, "foo-v1": 6}),
    ("proportional scaling: 5 -> 3", strategy(3), strategy(5), rs("foo-v2", 2, NEW), [rs("foo-v1", 3, OLD)],
     None, {"foo-v2": 1, "foo-v1": 2}),
    ("proportional scaling: 9 -> 4", strategy(4), strategy(9), rs("foo-v2", 8, NEW), [rs("foo-v1", 1, OLD)],
     None, {"foo-v2": 4, "foo-v1": 0}),
    ("proportional scaling: 7 -> 10", strategy(10), strategy(7), rs("foo-v3", 2, NEW),
     [rs("foo-v2", 3, OLD), rs("foo-v1", 2, OLDER)], None, {"foo-v3": 3, "foo-v2": 4, "foo-v1": 3}),
    ("proportional scaling: 13 -> 8", strategy(8), strategy(13), rs("foo-v3", 2, NEW),
     [rs("foo-v2", 8, OLD), rs("foo-v1", 3, OLDER)], None, {"foo-v3": 1, "foo-v2": 5, "foo-v1": 2}),
    ("leftover distribution: 3 -> 4", strategy(4), strategy(3), rs("foo-v3", 1, NEW),
     [rs("foo-v2", 1, OLD), rs("foo-v1", 1, OLDER)], None, {"foo-v3": 2, "foo-v2": 1, "foo-v1": 1}),
    ("leftover distribution: 3 -> 2", strategy(2), strategy(3), rs("foo-v3", 1, NEW),
     [rs("foo-v2", 1, OLD), rs("foo-v1", 1, OLDER)], None, {"foo-v3": 1, "foo-v2": 1, "foo-v1": 0}),
    ("proportional scaling (no new rs): 4 -> 5", strategy(5), strategy(4), None,
     [rs("foo-v2", 2, OLD), rs("foo-v1", 2, OLDER)], None, {"foo-v2": 3, "foo-v1": 2}),
    ("proportional scaling: 6 -> 0", strategy(0), strategy(6), rs("foo-v3", 3, NEW),
     [rs("foo-v2", 2, OLD), rs("foo-v1", 1, OLDER)], None, {"foo-v3": 0, "foo-v2": 0, "foo-v1": 0}),
    ("proportional scaling: 0 -> 6", strategy(6), strategy(6), rs("foo-v3", 0, NEW),
     [rs("foo-v2", 0, OLD), rs("foo-v1", 0, OLDER)], None, {"foo-v3": 6, "foo-v2": 0, "foo-v1": 0}),
    ("failed rs update", strategy(5), strategy(5), rs("foo-v3", 2, NEW),
     [rs("foo-v2", 1, OLD), rs("foo-v1", 1, OLDER)], {"foo-v2": 3}, {"foo-v3": 2, "foo-v2": 2, "foo-v1": 1}),
    ("deployment with surge pods", strategy(20, surge=2), strategy(10, surge=2), rs("foo-v2", 6, NEW),
     [rs("foo-v1", 6, OLD)], None, {"foo-v2": 11, "foo-v1": 11}),
    ("change both surge and size", strategy(50, surge=6), strategy(10, surge=3), rs("foo-v2", 5, NEW),
     [rs("foo-v1", 8, OLD)], None, {"foo-v2": 22, "foo-v1": 34}),
    ("change both size and template", strategy(14), strategy(10), None,
     [rs("foo-v2", 7, NEW), rs("foo-v1", 3, OLD)], None, {"foo-v2": 10, "foo-v1": 4}),
    ("saturated but broken new replica set does not affect old pods", strategy(2, 1, 1), strategy(2, 1, 1),
     rs("foo-v2", 2, NEW, available=0), [rs("foo-v1", 1, OLD)], None, {"foo-v2": 2, "foo-v1": 1}),
]


@pytest.mark.parametrize(("now", "was", "new", "old", "desired", "want"), [c[1:] for c in UPSTREAM],
                         ids=[c[0] for c in UPSTREAM])
def test_upstream_scale_vectors(now: Strategy, was: Strategy, new: RSView | None, old: list[RSView],
                                desired: dict[str, int] | None, want: dict[str, int]) -> None:
    assert final_sizes(now, was, new, old, desired) == want


def test_scaling_up_during_a_rollout_keeps_the_new_to_old_ratio() -> None:
    """The case of the kubectl test: 4 replicas, maxSurge 1, mid-rollout 3 new + 2 old, scaled to 9
    (max 5 -> 10: each RS doubles)."""
    was = strategy(4, surge=1, unavailable=1)
    assert final_sizes(strategy(9, surge=1, unavailable=1), was, rs("w-new", 3, NEW), [rs("w-old", 2, OLD)]) \
        == {"w-new": 6, "w-old": 4}


def test_equal_sizes_scale_the_newest_up_and_the_oldest_down_first() -> None:
    was = strategy(2)
    pair = rs("w-new", 1, NEW), [rs("w-old", 1, OLD)]
    assert final_sizes(strategy(3), was, *pair) == {"w-new": 2, "w-old": 1}
    assert final_sizes(strategy(1), was, *pair) == {"w-new": 1, "w-old": 0}


def test_without_max_replicas_the_share_is_of_the_deployments_status_replicas() -> None:
    s = strategy(8)
    bare = rs("a", 2, OLD)   # an RS someone stripped of its annotations
    assert proportion(bare, s, 4, 4, 0) == 2       # 2 * 8 / 4 - 2
    assert proportion(bare, s, 0, 4, 0) == 0       # nothing to divide by: no share
    assert proportion(replace(bare, max_replicas=0), s, 4, 4, 0) == 2
    assert proportion(bare, s, 4, 4, 3) == 1       # never more than what is left to add
    assert proportion(bare, strategy(0), 4, -6, 0) == -2   # to zero: all of it


def test_rounding_is_half_away_from_zero_as_go_math_round() -> None:
    s = strategy(5)
    assert proportion(replace(rs("a", 1, OLD), max_replicas=2), s, 0, 9, 0) == 2   # 1 * 5 / 2 = 2.5 -> 3
    assert proportion(replace(rs("a", 3, OLD), max_replicas=2), strategy(3), 0, 9, 0) == 2   # 4.5 -> 5


def test_a_scaling_event_is_an_active_replicaset_sized_for_another_replicas() -> None:
    s = strategy(5)
    annotated = replace(rs("a", 2, OLD), desired=5)
    assert not is_scaling_event(s, annotated, [])
    assert is_scaling_event(s, replace(annotated, desired=4), [])
    assert is_scaling_event(s, None, [replace(annotated, desired=4)])
    assert not is_scaling_event(s, replace(annotated, desired=4, replicas=0), [])   # not active
    assert not is_scaling_event(s, rs("a", 2, OLD), [])   # no annotation (made before it existed)


@pytest.mark.parametrize("value", ["x", "", "1.5", "99999999999", "٣"])
def test_an_unreadable_annotation_is_no_annotation(value: str) -> None:
    view = RSView.of({"metadata": {"name": "a", "annotations": {DESIRED: value, MAX_REPLICAS: value}},
                      "spec": {"replicas": 2}})
    assert (view.desired, view.max_replicas) == (None, None)
    assert RSView.of({"metadata": {"name": "a", "annotations": {DESIRED: "+3"}}}).desired == 3


def test_recreate_with_several_active_replicasets_is_not_spread() -> None:
    s = strategy_of({"spec": {"replicas": 6, "strategy": {"type": "Recreate"}}})
    assert plan_scale(s, 4, rs("n", 2, NEW), [rs("o", 2, OLD)]) == {}


def test_a_saturated_new_replicaset_scales_the_old_ones_to_zero() -> None:
    s = strategy(3)
    new = replace(rs("n", 3, NEW, available=3), desired=3)
    assert plan_scale(s, 4, new, [rs("o", 1, OLD), rs("z", 0, OLDER)]) == {"o": 0}


def test_a_new_replicaset_is_born_with_the_replicas_annotations() -> None:
    deployment = {"metadata": {"name": "web", "namespace": "p", "uid": "d1"},
                  "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}}}}
    notes = new_replicaset(deployment, "abc", 2, 1)["metadata"]["annotations"]
    assert (notes[DESIRED], notes[MAX_REPLICAS]) == ("4", "5")   # maxSurge 25 % of 4, rounded up


def test_a_paused_deployment_without_replicasets_scales_nothing() -> None:
    assert plan_scale(strategy(3), 0, None, []) == {}
