"""ReplicationController decisions (pure): how many pods to create, which to delete, the new pod."""

from __future__ import annotations

import pytest

from osdn.errors import NotFoundError
from osdn.master.replicas import RS, active, controller_of, plan_replicas, pod_from_template
from tests.unit.master.informer_fakes import FakeInformers


def pod(name: str, created: str, **status: str) -> dict:
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def test_plan_creates_the_missing_and_counts_pending_creates() -> None:
    assert plan_replicas(1, [], 0).create == 1
    assert plan_replicas(1, [], 1).create == 0  # created, not yet seen by the informer
    assert plan_replicas(3, [pod("a", "1")], 0).create == 2


def test_plan_deletes_the_newest_extras() -> None:
    pods = [pod("a", "2026-01-01T00:00:01Z"), pod("b", "2026-01-01T00:00:03Z"), pod("c", "2026-01-01T00:00:02Z")]
    assert plan_replicas(1, pods, 0).delete == ("b", "c")
    assert plan_replicas(0, pods, 0).delete == ("b", "c", "a")
    assert plan_replicas(3, pods, 0) == plan_replicas(3, pods, 0)
    assert plan_replicas(3, pods, 0).delete == () and plan_replicas(3, pods, 0).create == 0


def test_new_pod_from_the_seed_template() -> None:
    rc = {"metadata": {"name": "egress-demo-controller", "namespace": "p", "uid": "u1"},
          "spec": {"replicas": 1, "selector": {"name": "egress-demo"},
                   "template": {"metadata": {"name": "egress-demo", "labels": {"name": "egress-demo"},
                                             "annotations": {"pod.network.openshift.io/assign-macvlan": "true"}},
                                "spec": {"containers": [{"name": "c", "image": "openshift/origin-egress-router"}],
                                         "nodeSelector": {"site": "springfield-1"}}}}}
    p = pod_from_template(rc)
    assert p["metadata"]["generateName"] == "egress-demo-controller-"
    assert p["metadata"]["labels"] == {"name": "egress-demo"}
    assert p["metadata"]["annotations"] == {"pod.network.openshift.io/assign-macvlan": "true"}
    assert p["spec"]["nodeSelector"] == {"site": "springfield-1"}
    assert controller_of(p) == "egress-demo-controller"
    assert p["metadata"]["ownerReferences"][0]["uid"] == "u1"


def test_finished_and_terminating_pods_do_not_count() -> None:
    assert active(pod("a", "1", phase="Running"))
    assert not active(pod("a", "1", phase="Failed"))
    assert not active({"metadata": {"name": "a", "deletionTimestamp": "x"}})
    assert controller_of({"metadata": {"ownerReferences": [{"kind": "ReplicationController", "name": "r"}]}}) is None


class _Client:
    """Creates pods; reads objects as the informers hold them (the store as the cache shows it)."""

    def __init__(self, informers: FakeInformers) -> None:
        self.created: list[str] = []
        self.informers = informers

    def get(self, kind: str, name: str, namespace: str = "") -> dict:
        if name not in self.informers.by_kind[kind].objs:
            raise NotFoundError(f'{kind} "{name}" not found')
        return self.informers.by_kind[kind].objs[name]

    def create(self, obj: dict, namespace: str) -> dict:
        name = f"{obj['metadata']['generateName']}{len(self.created)}"
        self.created.append(name)
        return {**obj, "metadata": {**obj["metadata"], "name": name}}

    def patch(self, *args: object, **kwargs: object) -> None:
        pass


def test_a_pod_created_and_deleted_between_reconciles_is_replaced_at_once() -> None:
    """The watch delivered the pod's ADDED and DELETED before any reconcile saw it live: the
    creation was observed, so it is not still counted as pending (which held the replacement back
    for the expectation TTL)."""
    from osdn.master.replication import ReplicationController
    informers = FakeInformers()
    client = _Client(informers)
    rcs, pods = informers.by_kind["ReplicationController"], informers.by_kind["Pod"]
    rcs.objs["rc"] = {"metadata": {"name": "rc", "namespace": "p", "uid": "u"},
                      "spec": {"replicas": 1, "template": {"metadata": {"labels": {"a": "b"}}}}}
    controller = ReplicationController(client, informers, clock=lambda: 100.0)  # type: ignore[arg-type]
    controller.reconcile("p/rc")
    assert client.created == ["rc-0"]
    pod0 = {"metadata": {"name": "rc-0", "namespace": "p",
                         "ownerReferences": [{"kind": "ReplicationController", "name": "rc", "controller": True}]}}
    for handler in pods.handlers:
        handler("ADDED", pod0, None)
        handler("DELETED", None, pod0)
    controller.reconcile("p/rc")
    assert client.created == ["rc-0", "rc-1"]
    controller.reconcile("p/rc")  # rc-1 is not seen yet: still pending, no third pod
    assert client.created == ["rc-0", "rc-1"]


class _DeletingClient(_Client):
    def __init__(self, informers: FakeInformers) -> None:
        super().__init__(informers)
        self.deleted: list[str] = []

    def delete(self, kind: str, name: str, namespace: str = "") -> dict:
        self.deleted.append(name)
        return {}


def test_replicaset_pods_name_their_owner_and_a_previous_incarnations_pods_are_collected() -> None:
    """The RS adapter of the same core: apps/v1 owner references; a pod whose controller reference
    names the same RS name with another uid (deleted and created again) is garbage."""
    from osdn.master.replicasets import ReplicaSetController
    informers = FakeInformers()
    client = _DeletingClient(informers)
    informers.by_kind["ReplicaSet"].objs["rs"] = {"metadata": {"name": "rs", "namespace": "p", "uid": "new"},
                                                  "spec": {"replicas": 1, "template": {}}}
    stale = {"metadata": {"name": "rs-old", "namespace": "p", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "old", "controller": True}]}}
    informers.by_kind["Pod"].objs["rs-old"] = stale
    controller = ReplicaSetController(client, informers, clock=lambda: 100.0)  # type: ignore[arg-type]
    controller.reconcile("p/rs")
    assert client.deleted == ["rs-old"] and client.created == ["rs-0"]
    assert pod_from_template(informers.by_kind["ReplicaSet"].objs["rs"], RS)["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "new", "controller": True,
         "blockOwnerDeletion": True}]
    del informers.by_kind["ReplicaSet"].objs["rs"], informers.by_kind["Pod"].objs["rs-old"]
    informers.by_kind["Pod"].objs["rs-0"] = {"metadata": {"name": "rs-0", "namespace": "p", "ownerReferences": [
        {"kind": "ReplicaSet", "name": "rs", "uid": "new", "controller": True}]}}
    controller.reconcile("p/rs")
    assert client.deleted == ["rs-old", "rs-0"]   # the RS is gone: its pods go too


def test_pods_of_an_owner_deleted_while_the_master_was_down_are_collected_after_a_restart() -> None:
    from osdn.master.replication import ReplicationController
    informers = FakeInformers()
    client = _DeletingClient(informers)
    informers.by_kind["Pod"].objs["gone-1"] = {"metadata": {"name": "gone-1", "namespace": "p", "ownerReferences": [
        {"kind": "ReplicationController", "name": "gone", "uid": "u", "controller": True}]}}
    controller = ReplicationController(client, informers, clock=lambda: 100.0)  # type: ignore[arg-type]
    controller.prepare()
    key = controller.queue.get(timeout=1.0)
    assert key == "p/gone"
    controller.reconcile(key)
    assert client.deleted == ["gone-1"] and client.created == []


def test_available_means_ready_for_min_ready_seconds() -> None:
    from osdn.api.timestamps import format_time
    from osdn.master.replicas import available_in, replica_status

    def ready_pod(name: str, since: float | None) -> dict:
        cond = {"type": "Ready", "status": "True", **({"lastTransitionTime": format_time(since)} if since else {})}
        return {"metadata": {"name": name}, "status": {"phase": "Running", "conditions": [cond]}}
    t0 = 1_780_000_000.0
    old, fresh, unknown = ready_pod("a", t0 - 20), ready_pod("b", t0 - 3), ready_pod("c", None)
    assert available_in(fresh, 0, t0) == 0 and available_in(fresh, 10, t0) == 7
    assert available_in(old, 10, t0) == 0 and available_in(unknown, 10, t0) is None
    assert available_in(pod("d", "1", phase="Running"), 0, t0) is None
    owner = {"metadata": {"generation": 3}, "spec": {"minReadySeconds": 10}}
    assert replica_status(owner, [old, fresh, unknown], t0) == {
        "replicas": 3, "readyReplicas": 3, "availableReplicas": 1, "observedGeneration": 3}
    assert replica_status(owner, [old, fresh, unknown], t0 + 8)["availableReplicas"] == 2


def test_at_most_burst_replicas_pods_are_created_per_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    from osdn.master import replicas
    from osdn.master.replication import ReplicationController
    monkeypatch.setattr(replicas, "BURST_REPLICAS", 3)
    informers = FakeInformers()
    client = _Client(informers)
    informers.by_kind["ReplicationController"].objs["rc"] = {"metadata": {"name": "rc", "namespace": "p", "uid": "u"},
                                                             "spec": {"replicas": 5, "template": {}}}
    controller = ReplicationController(client, informers, clock=lambda: 100.0)  # type: ignore[arg-type]
    controller.reconcile("p/rc")
    assert len(client.created) == 3
    controller.reconcile("p/rc")   # the three are pending (not seen yet): two more
    assert len(client.created) == 5


def test_no_pods_are_made_for_an_owner_being_deleted_that_the_cache_shows_alive() -> None:
    """An Orphan delete marks the RS and releases its pods before deleting it; the pod informer may
    show the release before the RS informer shows the mark: the fresh read keeps the RS from replacing
    the pods it just let go."""
    from osdn.master.replicasets import ReplicaSetController
    informers = FakeInformers()
    cached = {"metadata": {"name": "rs", "namespace": "p", "uid": "u"}, "spec": {"replicas": 2, "template": {}}}
    informers.by_kind["ReplicaSet"].objs["rs"] = cached
    client = _Client(informers)
    client.get = lambda kind, name, namespace="": {**cached, "metadata": {  # type: ignore[method-assign]
        **cached["metadata"], "deletionTimestamp": "2026-12-04T00:00:00Z"}}
    ReplicaSetController(client, informers, clock=lambda: 100.0).reconcile("p/rs")  # type: ignore[arg-type]
    assert client.created == []
