"""The Deployment controller's writes, with fake informers and client: the new RS, its garbage
collection, and a pod-template-hash collision (kube's collisionCount)."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.errors import AlreadyExistsError
from osdn.master.deployments import DeploymentController
from osdn.master.rollout import template_hash
from tests.unit.master.informer_fakes import FakeInformers

T0 = 1_780_000_000.0
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "web:1"}]}}


class _Client:
    def __init__(self, taken: dict | None = None, stored: dict[str, dict] | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.taken = taken   # an RS that already has the name the controller wants
        self.bodies: list[Any] = []   # of the patches, in order
        self.fresh = deployment()   # what a GET of the Deployment answers
        self.stored = {} if stored is None else stored   # what a patch applies to (metadata, spec merged)

    def create(self, obj: dict, namespace: str) -> dict:
        if self.taken is not None and self.taken["metadata"]["name"] == obj["metadata"]["name"]:
            raise AlreadyExistsError(f'replicasets "{obj["metadata"]["name"]}" already exists')
        self.calls.append(("create", obj["metadata"]["name"], str(obj["spec"]["replicas"])))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "5"}}

    def get(self, kind: str, name: str, namespace: str = "") -> dict:
        if kind == "Deployment":
            return self.fresh
        if self.taken is not None and self.taken["metadata"]["name"] == name:
            return self.taken
        return self.stored[name]

    def patch(self, kind: str, name: str, body: Any, namespace: str = "", subresource: str = "") -> dict:
        self.calls.append(("patch", kind, name, subresource))
        self.bodies.append(body)
        base = self.stored.get(name, {})
        return {**base, **{k: {**base.get(k, {}), **v} for k, v in body.items() if isinstance(v, dict)},
                "metadata": {**base.get("metadata", {}), **body.get("metadata", {}), "name": name,
                             "resourceVersion": "6"}}

    def delete(self, kind: str, name: str, namespace: str = "") -> dict:
        self.calls.append(("delete", kind, name))
        return {"metadata": {"name": name, "resourceVersion": "7"}}


def deployment(status: dict | None = None) -> dict:
    return {"metadata": {"name": "web", "namespace": "p", "uid": "d1", "generation": 1},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE,
                     "strategy": {"type": "RollingUpdate"}},
            "status": status or {}}


class _Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str]] = []

    def about(self, kind: str, obj: dict, reason: str, message: str, warning: bool = False) -> None:
        self.recorded.append((kind, reason, message))


def controller(client: _Client, informers: FakeInformers, events: _Events | None = None) -> DeploymentController:
    return DeploymentController(client, informers, events or _Events(), clock=lambda: T0)  # type: ignore[arg-type]


def test_a_new_deployment_gets_its_hash_named_replicaset_with_the_surge_it_may_have() -> None:
    informers, client, events = FakeInformers(), _Client(), _Events()
    informers.by_kind["Deployment"].objs["web"] = deployment()
    controller(client, informers, events).reconcile("p/web")
    assert client.calls[0] == ("create", f"web-{template_hash(TEMPLATE)}", "2")
    assert events.recorded == [("Deployment", "ScalingReplicaSet",
                                f"Scaled up replica set web-{template_hash(TEMPLATE)} from 0 to 2")]
    assert ("patch", "Deployment", "web", "status") in client.calls


def test_replicasets_of_a_deleted_or_recreated_deployment_are_deleted() -> None:
    informers = FakeInformers()
    client = _Client(stored=informers.by_kind["ReplicaSet"].objs)
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "old", "controller": True}
    informers.by_kind["ReplicaSet"].objs["web-abc"] = {
        "metadata": {"name": "web-abc", "namespace": "p", "resourceVersion": "3", "ownerReferences": [ref]},
        "spec": {"replicas": 2, "template": TEMPLATE}}
    controller(client, informers).reconcile("p/web")        # gone
    assert client.calls == [("delete", "ReplicaSet", "web-abc")]
    informers.by_kind["Deployment"].objs["web"] = deployment()   # created again: another uid
    client.calls.clear()
    controller(client, informers).reconcile("p/web")
    assert client.calls[0] == ("delete", "ReplicaSet", "web-abc")
    assert client.calls[1][0] == "create"


def test_a_hash_collision_with_someone_elses_replicaset_bumps_collision_count() -> None:
    taken = {"metadata": {"name": f"web-{template_hash(TEMPLATE)}", "namespace": "p", "uid": "x"}, "spec": {}}
    informers, client = FakeInformers(), _Client(taken)
    informers.by_kind["Deployment"].objs["web"] = deployment()
    with pytest.raises(AlreadyExistsError):   # this reconcile fails and is retried
        controller(client, informers).reconcile("p/web")
    assert client.calls == [("patch", "Deployment", "web", "status")]
    assert client.bodies == [{"status": {"collisionCount": 1}}]
    informers.by_kind["Deployment"].objs["web"] = deployment({"collisionCount": 1})
    client.calls.clear()
    controller(client, informers).reconcile("p/web")
    assert client.calls[0] == ("create", f"web-{template_hash(TEMPLATE, 1)}", "2")


def test_without_owner_removes_only_that_uids_reference() -> None:
    from osdn.apiserver.orphans import without_owner
    a = {"uid": "a", "kind": "Deployment", "controller": True}
    b = {"uid": "b", "kind": "Other"}
    obj = {"metadata": {"name": "x", "ownerReferences": [a, b]}}
    assert without_owner(obj, "a") == {"metadata": {"name": "x", "ownerReferences": [b]}}
    assert without_owner({"metadata": {"ownerReferences": [a]}}, "a") == {"metadata": {}}
    assert without_owner(obj, "c") is None
    assert obj["metadata"]["ownerReferences"] == [a, b]


def test_an_orphan_replicaset_the_selector_matches_is_adopted() -> None:
    from osdn.master.deployments import adoptable
    informers = FakeInformers()
    client = _Client(stored=informers.by_kind["ReplicaSet"].objs)
    informers.by_kind["Deployment"].objs["web"] = deployment()
    pod_hash = template_hash(TEMPLATE)
    informers.by_kind["ReplicaSet"].objs[f"web-{pod_hash}"] = {
        "metadata": {"name": f"web-{pod_hash}", "namespace": "p", "resourceVersion": "4",
                     "labels": {"app": "web", "pod-template-hash": pod_hash}},
        "spec": {"replicas": 2, "template": {**TEMPLATE, "metadata": {"labels": {
            "app": "web", "pod-template-hash": pod_hash}}}}}
    dying = deployment()
    dying["metadata"]["deletionTimestamp"] = "2026-12-04T00:00:00Z"
    client.fresh = dying   # being deleted (with Orphan), which the cache does not show yet: no adoption
    controller(client, informers).reconcile("p/web")
    assert client.calls == []   # nor a new RS in its place
    client.fresh, client.calls, client.bodies = deployment(), [], []
    controller(client, informers).reconcile("p/web")
    assert client.calls[0] == ("patch", "ReplicaSet", f"web-{pod_hash}", "")
    assert client.bodies[0]["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": True,
         "blockOwnerDeletion": True}]
    assert client.bodies[0]["metadata"]["resourceVersion"] == "4"   # adopted only if unchanged
    assert not any(c[0] == "create" for c in client.calls)
    other = {"metadata": {"labels": {"app": "other"}}}
    owned = {"metadata": {"labels": {"app": "web"}, "ownerReferences": [{"controller": True, "uid": "z"}]}}
    assert not adoptable(other, deployment()) and not adoptable(owned, deployment())


def test_a_replicaset_released_by_an_orphan_delete_is_not_collected_on_a_stale_cache() -> None:
    """The Deployment's DELETED event came before the RS informer saw the release: the fresh read decides."""
    informers = FakeInformers()
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": True}
    cached = {"metadata": {"name": "web-abc", "namespace": "p", "resourceVersion": "3", "ownerReferences": [ref]},
              "spec": {"replicas": 2, "template": TEMPLATE}}
    informers.by_kind["ReplicaSet"].objs["web-abc"] = cached
    released = {**cached, "metadata": {k: v for k, v in cached["metadata"].items() if k != "ownerReferences"}}
    client = _Client(stored={"web-abc": released})
    controller(client, informers).reconcile("p/web")
    assert client.calls == []


def _owned_rs(name: str, replicas: int, created: str, template: dict, desired: int) -> dict:
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": True}
    return {"metadata": {"name": name, "namespace": "p", "resourceVersion": "3", "ownerReferences": [ref],
                         "creationTimestamp": created, "annotations": {
                             "deployment.kubernetes.io/revision": "2" if name.endswith("new") else "1",
                             "deployment.kubernetes.io/desired-replicas": str(desired),
                             "deployment.kubernetes.io/max-replicas": str(desired + 1)}},
            "spec": {"replicas": replicas, "template": template}}


def test_scaling_mid_rollout_spreads_the_change_and_annotates_every_active_replicaset() -> None:
    """kubectl scale 4 -> 9 while 3 new and 2 old pods run: kube's proportional scale() (max 5 -> 10),
    not a rollout step; each RS's patch carries its size and the new desired/max-replicas."""
    informers = FakeInformers()
    client = _Client(stored=informers.by_kind["ReplicaSet"].objs)
    scaled = deployment({"replicas": 5})
    scaled["spec"].update(replicas=9, strategy={"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": 1, "maxUnavailable": 1}})
    informers.by_kind["Deployment"].objs["web"] = scaled
    old_template = {**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "web:0"}]}}
    informers.by_kind["ReplicaSet"].objs.update({
        "web-new": _owned_rs("web-new", 3, "2026-01-02T00:00:00Z", TEMPLATE, 4),
        "web-old": _owned_rs("web-old", 2, "2026-01-01T00:00:00Z", old_template, 4)})
    events = _Events()
    controller(client, informers, events).reconcile("p/web")
    sizes = {c[2]: b["spec"]["replicas"] for c, b in zip(client.calls, client.bodies, strict=True)
             if c[1] == "ReplicaSet"}
    assert sizes == {"web-new": 6, "web-old": 4}
    notes = [b["metadata"]["annotations"] for c, b in zip(client.calls, client.bodies, strict=True)
             if c[1] == "ReplicaSet"]
    assert notes == [{"deployment.kubernetes.io/desired-replicas": "9",
                      "deployment.kubernetes.io/max-replicas": "10"}] * 2
    assert sorted(e[2] for e in events.recorded) == ["Scaled up replica set web-new from 3 to 6",
                                                     "Scaled up replica set web-old from 2 to 4"]
    assert not any(c[0] == "create" for c in client.calls)
