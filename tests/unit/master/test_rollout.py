"""Deployment rollout decisions (pure): fenceposts, template hash, rolling and Recreate steps,
status and conditions with given times, history cleanup, the new ReplicaSet."""

from __future__ import annotations

from dataclasses import replace

import pytest

from osdn.api.timestamps import format_time
from osdn.master.deployments import new_replicaset, split_new
from osdn.master.rollout import (
    RSView,
    Strategy,
    cleanup,
    deployment_status,
    plan,
    scaled_value,
    strategy_of,
    template_hash,
)

T0 = 1_780_000_000.0
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "web:1"}]}}


def dep(replicas: int = 3, strategy: dict | None = None, status: dict | None = None, **spec: object) -> dict:
    return {"metadata": {"name": "web", "namespace": "p", "uid": "d1", "generation": 2},
            "spec": {"replicas": replicas, "strategy": strategy or {"type": "RollingUpdate"},
                     "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE, **spec},
            "status": status or {}}


@pytest.mark.parametrize(("replicas", "rolling", "want"), [
    (4, {}, (1, 1)),                                      # 25 % / 25 %: surge rounds up, unavailable down
    (1, {}, (1, 0)),
    (10, {"maxSurge": 0, "maxUnavailable": 0}, (0, 1)),   # never both 0
    (3, {"maxSurge": "50%", "maxUnavailable": 5}, (2, 3)),  # unavailable at most replicas
    (0, {}, (0, 0)),
])
def test_fenceposts(replicas: int, rolling: dict, want: tuple[int, int]) -> None:
    s = strategy_of(dep(replicas, {"type": "RollingUpdate", "rollingUpdate": rolling}))
    assert (s.max_surge, s.max_unavailable) == want
    assert strategy_of(dep(replicas, {"type": "Recreate"})) == Strategy("Recreate", replicas, 0, 0)


def test_scaled_value_rounds_as_intstr() -> None:
    assert scaled_value("25%", 10, True) == 3 and scaled_value("25%", 10, False) == 2
    assert scaled_value("100%", 7, True) == 7 and scaled_value(2, 7, False) == 2 and scaled_value(None, 7, True) == 0


def test_template_hash_ignores_its_own_label_and_changes_with_the_template_or_collisions() -> None:
    h = template_hash(TEMPLATE)
    labelled = {**TEMPLATE, "metadata": {"labels": {"app": "web", "pod-template-hash": h}}}
    assert template_hash(labelled) == h and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    undone = {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}},   # kubectl rollout undo's copy
              "spec": {"containers": [{"name": "c", "image": "web:1", "resources": {}, "args": []}]}}
    assert template_hash(undone) == h
    other = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "web:2"}]}}
    assert template_hash(other) != h and template_hash(TEMPLATE, 1) != h


def simulate(s: Strategy, new: RSView, old: list[RSView], ready_each_step: bool = True) -> list[dict[str, int]]:
    """Drive a rollout to its end: each step's targets applied, then every pod made available."""
    sets = {r.name: r for r in [new, *old]}
    steps = []
    for _ in range(50):
        targets = plan(s, sets[new.name], [sets[r.name] for r in old])
        if not targets:
            return steps
        steps.append(targets)
        for name, n in targets.items():
            sets[name] = replace(sets[name], replicas=n, current=n, available=min(sets[name].available, n))
        total = sum(r.replicas for r in sets.values())
        avail = sum(r.available for r in sets.values())
        assert total <= s.replicas + s.max_surge and avail >= min(s.replicas - s.max_unavailable, avail)
        if ready_each_step:
            sets = {k: replace(r, available=r.replicas, ready=r.replicas) for k, r in sets.items()}
    raise AssertionError("the rollout did not finish")


def test_rolling_update_moves_every_replica_within_surge_and_unavailability() -> None:
    s = strategy_of(dep(4))   # surge 1, unavailable 1
    old = RSView("web-old", 4, available=4, ready=4, current=4)
    steps = simulate(s, RSView("web-new", 0), [old])
    assert steps[0] == {"web-new": 1}          # one surge pod first
    assert steps[-1] in ({"web-old": 0}, {"web-new": 4})
    final = {}
    for step in steps:
        final.update(step)
    assert final == {"web-new": 4, "web-old": 0}


def test_rolling_update_waits_for_new_pods_when_nothing_may_be_unavailable() -> None:
    s = strategy_of(dep(1))   # surge 1, unavailable 0
    new, old = RSView("web-new", 1, available=0), RSView("web-old", 1, available=1, current=1)
    assert plan(s, new, [old]) == {}           # the new pod is not available yet: keep the old one
    assert plan(s, replace(new, available=1), [old]) == {"web-old": 0}


def test_unhealthy_old_replicas_are_removed_first() -> None:
    s = strategy_of(dep(4))
    new = RSView("web-new", 1, available=0, created="3")
    old = [RSView("a", 2, available=2, created="1"), RSView("b", 2, available=0, created="2")]
    assert plan(s, new, old) == {"b": 1}    # 5 pods, 3 must stay available, the new one is not: 1 may go
    assert plan(s, replace(new, available=1), old) == {"b": 0}
    assert plan(s, replace(new, available=1), [old[0], replace(old[1], available=2)]) == {"a": 0}


def test_scaling_without_a_new_template_scales_the_one_replicaset() -> None:
    rs = RSView("web-1", 3, available=3)
    assert plan(strategy_of(dep(5)), rs, []) == {"web-1": 5}
    assert plan(strategy_of(dep(1)), rs, []) == {"web-1": 1}


def test_recreate_scales_old_down_waits_for_its_pods_then_brings_up_the_new() -> None:
    s = strategy_of(dep(2, {"type": "Recreate"}))
    new = RSView("web-new", 0)
    assert plan(s, new, [RSView("web-old", 2, current=2)]) == {"web-old": 0}
    assert plan(s, new, [RSView("web-old", 0, current=1)]) == {}     # old pods still there
    assert plan(s, new, [RSView("web-old", 0, current=0)]) == {"web-new": 2}


def test_cleanup_keeps_the_newest_revisions_and_never_a_busy_one() -> None:
    old = [RSView("r1", 0, revision=1), RSView("r2", 1, current=1, revision=2), RSView("r3", 0, revision=3),
           RSView("r4", 0, revision=4)]
    assert cleanup(old, 1) == ["r1", "r3"]
    assert cleanup(old, 10) == []


def test_status_counts_and_conditions_of_a_complete_rollout() -> None:
    s = strategy_of(dep(2))
    new = RSView("web-abc", 2, available=2, ready=2, current=2)
    st = deployment_status(dep(2), s, new, [RSView("web-old", 0)], T0)
    assert {k: st[k] for k in ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                               "availableReplicas", "unavailableReplicas")} == {
        "observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
        "unavailableReplicas": 0}
    conds = {c["type"]: c for c in st["conditions"]}
    assert (conds["Available"]["status"], conds["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == 'ReplicaSet "web-abc" has successfully progressed.'


def test_no_progress_past_the_deadline_is_progress_deadline_exceeded() -> None:
    s = strategy_of(dep(2))
    stuck = RSView("web-abc", 2, available=0, current=2)
    before = {"updatedReplicas": 2, "replicas": 2, "conditions": [
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "lastUpdateTime": format_time(T0),
         "lastTransitionTime": format_time(T0), "message": 'ReplicaSet "web-abc" is progressing.'}]}
    d = dep(2, status=before, progressDeadlineSeconds=60)
    early = {c["type"]: c for c in deployment_status(d, s, stuck, [], T0 + 59)["conditions"]}
    assert early["Progressing"] == before["conditions"][0]
    assert early["Available"]["status"] == "False"
    late = {c["type"]: c for c in deployment_status(d, s, stuck, [], T0 + 61)["conditions"]}
    assert (late["Progressing"]["status"], late["Progressing"]["reason"]) == ("False", "ProgressDeadlineExceeded")
    moving = deployment_status(d, s, replace(stuck, available=1, ready=1), [], T0 + 61)["conditions"]
    assert next(c for c in moving if c["type"] == "Progressing")["lastUpdateTime"] == format_time(T0 + 61)


def test_new_replicaset_carries_the_hash_the_revision_and_the_owner() -> None:
    rs = new_replicaset(dep(3), "5d9f", 1, 4)
    assert rs["metadata"]["name"] == "web-5d9f"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": "5d9f"}
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": "5d9f"}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "5d9f"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Deployment", "d1", True)
    assert TEMPLATE["metadata"]["labels"] == {"app": "web"}   # the Deployment's template is not touched
    new, old = split_new(dep(3), [rs, {**rs, "metadata": {"name": "web-x"}, "spec": {"template": {}}}])
    assert new is rs and [o["metadata"]["name"] for o in old] == ["web-x"]


def test_a_paused_deployment_scales_its_one_active_or_newest_replicaset() -> None:
    from osdn.master.rollout import plan_scale
    s3 = strategy_of(dep(3))
    old, new = RSView("a", 2, created="1"), RSView("b", 0, created="2")
    assert plan_scale(s3, 2, new, [old]) == {"a": 3}
    assert plan_scale(s3, 0, replace(new, replicas=0), [replace(old, replicas=0)]) == {"b": 3}
    assert plan_scale(s3, 2, None, [old]) == {"a": 3}
    assert plan_scale(strategy_of(dep(2)), 2, new, [replace(old, replicas=2)]) == {"a": 2}


def test_pause_and_resume_conditions() -> None:
    s = strategy_of(dep(2))
    rs = RSView("web-abc", 2, available=2, ready=2, current=2)
    paused = dep(2, paused=True, status={"conditions": [{"type": "Progressing", "status": "True",
                                                          "reason": "NewReplicaSetAvailable"}]})
    cond = next(c for c in deployment_status(paused, s, rs, [], T0)["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    resumed = dep(2, status={"conditions": [cond]})
    cond = next(c for c in deployment_status(resumed, s, rs, [], T0)["conditions"] if c["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentResumed")
