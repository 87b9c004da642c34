"""The Deployment controller's writes, with fake informers and client: the new RS, its garbage
collection, and a pod-template-hash collision (kube's collisionCount)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from osdn.errors import AlreadyExistsError
from osdn.master.deployments import DeploymentController
from osdn.master.rollout import template_hash

T0 = 1_780_000_000.0
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "web:1"}]}}


class _Informer:
    def __init__(self, kind: str) -> None:
        self.info = SimpleNamespace(kind=kind)
        self.objs: dict[str, dict] = {}
        self.handlers: list = []

    def items(self) -> list[dict]:
        return list(self.objs.values())

    def get(self, name: str, namespace: str = "") -> dict | None:
        return self.objs.get(name)


class _Informers:
    def __init__(self) -> None:
        self.by_kind = {"Deployment": _Informer("Deployment"), "ReplicaSet": _Informer("ReplicaSet")}

    def on(self, kind: str, handler: object) -> _Informer:
        self.by_kind[kind].handlers.append(handler)
        return self.by_kind[kind]


class _Client:
    def __init__(self, taken: dict | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.taken = taken   # an RS that already has the name the controller wants

    def create(self, obj: dict, namespace: str) -> dict:
        if self.taken is not None and self.taken["metadata"]["name"] == obj["metadata"]["name"]:
            raise AlreadyExistsError(f'replicasets "{obj["metadata"]["name"]}" already exists')
        self.calls.append(("create", obj["metadata"]["name"], str(obj["spec"]["replicas"])))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "5"}}

    def get(self, kind: str, name: str, namespace: str = "") -> dict:
        assert self.taken is not None
        return self.taken

    def patch(self, kind: str, name: str, body: Any, namespace: str = "", subresource: str = "") -> dict:
        self.calls.append(("patch", kind, name, subresource))
        self.last_patch = body
        return {"metadata": {"name": name, "resourceVersion": "6"}}

    def delete(self, kind: str, name: str, namespace: str = "") -> dict:
        self.calls.append(("delete", kind, name))
        return {"metadata": {"name": name, "resourceVersion": "7"}}


def deployment(status: dict | None = None) -> dict:
    return {"metadata": {"name": "web", "namespace": "p", "uid": "d1", "generation": 1},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE,
                     "strategy": {"type": "RollingUpdate"}},
            "status": status or {}}


def controller(client: _Client, informers: _Informers) -> DeploymentController:
    return DeploymentController(client, informers, clock=lambda: T0)  # type: ignore[arg-type]


def test_a_new_deployment_gets_its_hash_named_replicaset_with_the_surge_it_may_have() -> None:
    informers, client = _Informers(), _Client()
    informers.by_kind["Deployment"].objs["web"] = deployment()
    controller(client, informers).reconcile("p/web")
    assert client.calls[0] == ("create", f"web-{template_hash(TEMPLATE)}", "2")
    assert ("patch", "Deployment", "web", "status") in client.calls


def test_replicasets_of_a_deleted_or_recreated_deployment_are_deleted() -> None:
    informers, client = _Informers(), _Client()
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
    informers, client = _Informers(), _Client(taken)
    informers.by_kind["Deployment"].objs["web"] = deployment()
    with pytest.raises(AlreadyExistsError):   # this reconcile fails and is retried
        controller(client, informers).reconcile("p/web")
    assert client.calls == [("patch", "Deployment", "web", "status")]
    assert client.last_patch == {"status": {"collisionCount": 1}}
    informers.by_kind["Deployment"].objs["web"] = deployment({"collisionCount": 1})
    client.calls.clear()
    controller(client, informers).reconcile("p/web")
    assert client.calls[0] == ("create", f"web-{template_hash(TEMPLATE, 1)}", "2")
