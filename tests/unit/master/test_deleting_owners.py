"""Controllers leave an owner that is being deleted (a deletionTimestamp, osdn.apiserver.foreground)
alone: no EndpointSlice is created for a Service or mirrored Endpoints being deleted (updates and
deletes go on, as upstream's reconcilers), and the EgressRouter controller does not take over a
Deployment or NAD that is itself being deleted."""

from __future__ import annotations

from typing import Any

from osdn.api.timestamps import format_time
from osdn.errors import NotFoundError
from osdn.master.egressrouter import EgressRouterController
from osdn.master.endpointslices import EndpointSliceController
from osdn.master.replicasets import ReplicaSetController
from osdn.model.egress_operator import DEPLOYMENT_NAME, NAD_NAME, render_deployment
from tests.unit.master.informer_fakes import FakeInformers
from tests.unit.master.test_deployment_controller import T0, controller, deployment
from tests.unit.master.test_deployment_controller import _Client as DeployClient
from tests.unit.master.test_deployment_replica_failure import RS, _owned

MARK = "2026-12-04T23:00:00Z"


class _Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.patched: list[Any] = []
        self.fresh: dict[str, dict] = {}   # what a GET answers, by name
        self.held: dict[str, dict] = {}   # objects with finalizers: a DELETE leaves them marked, as the server does

    def create(self, obj: dict, namespace: str) -> dict:
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "") + "x1"
        self.calls.append(("create", obj["kind"], name))
        return {**obj, "metadata": {**obj["metadata"], "name": name, "resourceVersion": "5"}}

    def get(self, kind: str, name: str, namespace: str = "") -> dict:
        if name not in self.fresh:
            raise NotFoundError(f'{kind} "{name}" not found')
        return self.fresh[name]

    def update(self, obj: dict, namespace: str) -> dict:
        self.calls.append(("update", obj["kind"], obj["metadata"]["name"]))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "6"}}

    def delete(self, kind: str, name: str, namespace: str = "") -> dict:
        self.calls.append(("delete", kind, name))
        return self.held.get(name) or {"metadata": {"name": name, "resourceVersion": "7"}}

    def patch(self, kind: str, name: str, body: Any, namespace: str = "", subresource: str = "") -> dict:
        self.calls.append(("patch", kind, name))
        self.patched.append(body)
        return {"metadata": {"name": name, "resourceVersion": "8"}}


def _service(deleting: bool) -> dict:
    meta: dict[str, Any] = {"name": "web", "namespace": "p", "uid": "s1", "resourceVersion": "3"}
    if deleting:
        meta.update(deletionTimestamp=MARK, finalizers=["foregroundDeletion"])
    return {"kind": "Service", "metadata": meta,
            "spec": {"selector": {"app": "web"}, "clusterIP": "172.30.0.9",
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}}


def _endpoints(deleting: bool) -> dict:
    meta: dict[str, Any] = {"name": "ext", "namespace": "p", "uid": "e1", "resourceVersion": "3"}
    if deleting:
        meta.update(deletionTimestamp=MARK, finalizers=["foregroundDeletion"])
    return {"kind": "Endpoints", "metadata": meta,
            "subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}


def _slices(informers: FakeInformers, owner: dict) -> tuple[_Client, EndpointSliceController]:
    client = _Client()
    ctl = EndpointSliceController(client, informers)  # type: ignore[arg-type]
    informers.by_kind[owner["kind"]].objs[owner["metadata"]["name"]] = client.fresh[owner["metadata"]["name"]] = owner
    if owner["kind"] == "Endpoints":
        informers.by_kind["Service"].objs["ext"] = {"kind": "Service", "metadata": {
            "name": "ext", "namespace": "p", "uid": "s2"}, "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}
    return client, ctl


def test_no_slice_is_created_for_a_service_being_deleted() -> None:
    client, ctl = _slices(FakeInformers(), _service(deleting=True))
    ctl.reconcile("p/web")
    assert client.calls == []


def test_a_live_service_gets_its_slice() -> None:
    client, ctl = _slices(FakeInformers(), _service(deleting=False))
    ctl.reconcile("p/web")
    assert [c[:2] for c in client.calls] == [("create", "EndpointSlice")]


def test_no_slice_is_created_for_a_service_the_cache_shows_alive_but_is_being_deleted() -> None:
    """The foreground DELETE marked the Service, then deleted its slice; the slice's watch event came
    first: the fresh read of the Service stops the create."""
    client, ctl = _slices(FakeInformers(), _service(deleting=False))
    client.fresh["web"] = _service(deleting=True)
    ctl.reconcile("p/web")
    assert client.calls == []


def test_no_mirrored_slice_is_created_for_endpoints_being_deleted() -> None:
    client, ctl = _slices(FakeInformers(), _endpoints(deleting=True))
    ctl.reconcile("p/ext")
    assert client.calls == []
    client, ctl = _slices(FakeInformers(), _endpoints(deleting=False))
    ctl.reconcile("p/ext")
    assert [c[:2] for c in client.calls] == [("create", "EndpointSlice")]


def _router(name: str, uid: str, created: str) -> dict:
    return {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter", "metadata": {
        "name": name, "namespace": "p", "uid": uid, "creationTimestamp": created},
        "spec": {"mode": "Redirect", "networkInterface": {"macvlan": {"mode": "Bridge"}},
                 "addresses": [{"ip": "192.168.12.99/24", "gateway": "192.168.12.1"}],
                 "redirect": {"redirectRules": [{"destinationIP": "10.0.0.99", "port": 80, "protocol": "TCP"}]}}}


def _marked(obj: dict) -> dict:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "4", "deletionTimestamp": MARK,
                                "finalizers": ["foregroundDeletion"]}}


def test_the_egress_router_controller_does_not_take_over_objects_being_deleted() -> None:
    """Router `a` is gone; its Deployment is being deleted in the foreground (its NAD went at once).
    Router `b` of the same namespace makes its NAD and waits for the Deployment to go instead of
    rewriting it as its own."""
    informers, client = FakeInformers(), _Client()
    ctl = EgressRouterController(client, informers, clock=lambda: 1_780_000_000.0)  # type: ignore[arg-type]
    old = _router("a", "u-a", "2026-12-04T20:00:00Z")
    informers.by_kind["EgressRouter"].objs["b"] = client.fresh["b"] = _router("b", "u-b", "2026-12-04T21:00:00Z")
    client.held[DEPLOYMENT_NAME] = informers.by_kind["Deployment"].objs[DEPLOYMENT_NAME] = \
        _marked(render_deployment(old, "v"))
    ctl.reconcile("p")
    assert [c for c in client.calls if c[0] in ("create", "update")] == [
        ("create", "NetworkAttachmentDefinition", NAD_NAME)]
    assert [c[:2] for c in client.calls if c[0] == "patch"] == [("patch", "EgressRouter")]   # Progressing


def test_the_egress_router_controller_makes_nothing_for_a_router_its_cache_shows_alive() -> None:
    """A foreground DELETE of the router marked it and deleted its NAD; the NAD's watch event came
    before the router's: the fresh read of the router stops the NAD being made again."""
    informers, client = FakeInformers(), _Client()
    ctl = EgressRouterController(client, informers, clock=lambda: 1_780_000_000.0)  # type: ignore[arg-type]
    router = _router("a", "u-a", "2026-12-04T20:00:00Z")
    informers.by_kind["EgressRouter"].objs["a"] = router
    client.fresh["a"] = _marked(router)
    ctl.reconcile("p")
    assert [c for c in client.calls if c[0] in ("create", "update")] == []


def test_a_deployment_being_deleted_only_has_its_status_counted() -> None:
    """Kube's syncStatusOnly: its RS lost a pod (a foreground deletion under way): the counts follow,
    Progressing stays as it was, and no RS is created, scaled or adopted."""
    informers = FakeInformers()
    client = DeployClient(stored=informers.by_kind["ReplicaSet"].objs)
    progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastUpdateTime": MARK,
                   "lastTransitionTime": MARK, "message": f'ReplicaSet "{RS}" has successfully progressed.'}
    available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "lastUpdateTime": MARK,
                 "lastTransitionTime": MARK, "message": "Deployment has minimum availability."}
    dying = deployment({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                        "observedGeneration": 1, "conditions": [progressing, available]})
    dying["metadata"].update(deletionTimestamp=MARK, finalizers=["foregroundDeletion"])
    informers.by_kind["Deployment"].objs["web"] = client.fresh = dying
    informers.by_kind["ReplicaSet"].objs[RS] = _owned({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                                                       "observedGeneration": 1})
    informers.by_kind["ReplicaSet"].objs["stray"] = {   # an orphan the selector matches: not adopted now
        "metadata": {"name": "stray", "namespace": "p", "labels": {"app": "web"}}, "spec": {"replicas": 1}}
    controller(client, informers).reconcile("p/web")
    assert client.calls == [("patch", "Deployment", "web", "status")]
    status = client.bodies[0]["status"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (1, 1, 1)
    assert status["conditions"] == [progressing, {
        **available, "status": "False", "reason": "MinimumReplicasUnavailable", "lastUpdateTime": format_time(T0),
        "lastTransitionTime": format_time(T0), "message": "Deployment does not have minimum availability."}]


def test_a_replicaset_being_deleted_makes_no_pod_but_counts_the_ones_left() -> None:
    """Kube's syncReplicaSet: manageReplicas only without a deletionTimestamp, the status always. Of
    its 2 pods one is terminating (held by a finalizer), the other gone: no replacement, replicas 0."""
    informers, client = FakeInformers(), _Client()
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": True}
    informers.by_kind["ReplicaSet"].objs["rs"] = {
        "metadata": {"name": "rs", "namespace": "p", "uid": "u", "generation": 1, "deletionTimestamp": MARK,
                     "finalizers": ["foregroundDeletion"]},
        "spec": {"replicas": 2, "template": {}}, "status": {"replicas": 2, "readyReplicas": 2,
                                                            "availableReplicas": 2, "observedGeneration": 1}}
    informers.by_kind["Pod"].objs["rs-a"] = {"metadata": {"name": "rs-a", "namespace": "p", "deletionTimestamp": MARK,
                                                          "ownerReferences": [ref]}}
    ReplicaSetController(client, informers, clock=lambda: 100.0, wall=lambda: T0).reconcile(  # type: ignore[arg-type]
        "p/rs")
    assert client.calls == [("patch", "ReplicaSet", "rs")]
    assert client.patched == [{"status": {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0,
                                          "observedGeneration": 1}}]
