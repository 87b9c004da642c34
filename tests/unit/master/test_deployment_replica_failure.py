"""A ReplicaSet's ReplicaFailure condition (pod creates refused, e.g. by ResourceQuota) is mirrored into
its Deployment's conditions, as kube's syncRolloutStatus/getReplicaFailures do, and removed when no RS
has one; a scaling-only sync keeps it as it was."""

from __future__ import annotations

from typing import Any

from osdn.master.rollout import replica_failure, template_hash
from tests.unit.master.informer_fakes import FakeInformers
from tests.unit.master.test_deployment_controller import TEMPLATE, _Client, controller, deployment

REFUSED = 'pods "web-1-" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'
RS = f"web-{template_hash(TEMPLATE)}"
FAILURE = {"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "2026-12-04T10:00:00Z",
           "reason": "FailedCreate", "message": REFUSED}


def _rs(name: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"conditions": list(conditions)}}


def _with(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return deployment({"conditions": conditions})


def test_the_new_replicasets_failure_becomes_the_deployments_condition() -> None:
    got = replica_failure(deployment(), _rs("web-1", FAILURE), [], rollout=True)
    assert got == {"type": "ReplicaFailure", "status": "True", "lastUpdateTime": "2026-12-04T10:00:00Z",
                   "lastTransitionTime": "2026-12-04T10:00:00Z", "reason": "FailedCreate", "message": REFUSED}


def test_the_new_replicasets_failure_comes_before_an_old_ones() -> None:
    old = {**FAILURE, "message": "old one"}
    assert replica_failure(deployment(), _rs("web-2", FAILURE), [_rs("web-1", old)], rollout=True)["message"] == REFUSED
    assert replica_failure(deployment(), _rs("web-2"), [_rs("web-1", old)], rollout=True)["message"] == "old one"
    assert replica_failure(deployment(), None, [_rs("web-1", old)], rollout=True)["message"] == "old one"


def test_an_unchanged_failure_is_kept_and_a_changed_reason_keeps_the_transition_time() -> None:
    prev = {**FAILURE, "lastUpdateTime": "2026-12-04T09:00:00Z", "lastTransitionTime": "2026-12-04T09:00:00Z",
            "message": "earlier words"}
    assert replica_failure(_with([prev]), _rs("web-1", FAILURE), [], rollout=True) == prev  # SetDeploymentCondition
    other = {**FAILURE, "reason": "Other"}
    got = replica_failure(_with([prev]), _rs("web-1", other), [], rollout=True)
    assert got is not None and got["reason"] == "Other" and got["lastTransitionTime"] == "2026-12-04T09:00:00Z"


def test_the_failure_goes_when_no_replicaset_has_one_but_a_scaling_sync_keeps_it() -> None:
    prev = {**FAILURE, "lastUpdateTime": FAILURE["lastTransitionTime"]}
    assert replica_failure(_with([prev]), _rs("web-1"), [], rollout=True) is None
    assert replica_failure(_with([prev]), _rs("web-1"), [], rollout=False) == prev
    assert replica_failure(deployment(), _rs("web-1", FAILURE), [], rollout=False) is None


def _owned(status: dict[str, Any]) -> dict[str, Any]:
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": True}
    return {"metadata": {"name": RS, "namespace": "p", "resourceVersion": "3", "generation": 1,
                         "ownerReferences": [ref], "annotations": {
                             "deployment.kubernetes.io/revision": "1",
                             "deployment.kubernetes.io/desired-replicas": "2",
                             "deployment.kubernetes.io/max-replicas": "3"}},
            "spec": {"replicas": 2, "template": TEMPLATE}, "status": status}


def _written_conditions(informers: FakeInformers) -> list[dict[str, Any]]:
    client = _Client(stored=informers.by_kind["ReplicaSet"].objs)
    client.fresh = informers.by_kind["Deployment"].objs["web"]
    controller(client, informers).reconcile("p/web")
    patches = [c for c in client.calls if c[0] == "patch"]
    writes = [b for c, b in zip(patches, client.bodies, strict=True) if c == ("patch", "Deployment", "web", "status")]
    assert len(writes) == 1
    return list(writes[0]["status"]["conditions"])


def test_the_controller_writes_and_then_removes_the_mirrored_condition() -> None:
    informers = FakeInformers()
    informers.by_kind["Deployment"].objs["web"] = deployment({"replicas": 1})
    informers.by_kind["ReplicaSet"].objs[RS] = _owned({"replicas": 1, "observedGeneration": 1,
                                                         "conditions": [FAILURE]})
    written = _written_conditions(informers)
    assert [c["type"] for c in written] == ["Available", "Progressing", "ReplicaFailure"]
    assert written[-1]["message"] == REFUSED and written[-1]["reason"] == "FailedCreate"
    informers.by_kind["Deployment"].objs["web"] = deployment({"replicas": 1, "conditions": written})
    informers.by_kind["ReplicaSet"].objs[RS] = _owned({"replicas": 2, "observedGeneration": 1})
    assert [c["type"] for c in _written_conditions(informers)] == ["Available", "Progressing"]
