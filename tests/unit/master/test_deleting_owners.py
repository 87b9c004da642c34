"""Controllers leave an owner that is being deleted (a deletionTimestamp, osdn.apiserver.foreground)
alone: no EndpointSlice is created for a Service or mirrored Endpoints being deleted (updates and
deletes go on, as upstream's reconcilers), and the EgressRouter controller does not take over a
Deployment or NAD that is itself being deleted."""

from __future__ import annotations

from typing import Any

from osdn.master.egressrouter import EgressRouterController
from osdn.master.endpointslices import EndpointSliceController
from osdn.model.egress_operator import DEPLOYMENT_NAME, NAD_NAME, render_deployment
from tests.unit.master.informer_fakes import FakeInformers

MARK = "2026-12-04T23:00:00Z"


class _Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.held: dict[str, dict] = {}   # objects with finalizers: a DELETE leaves them marked, as the server does

    def create(self, obj: dict, namespace: str) -> dict:
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "") + "x1"
        self.calls.append(("create", obj["kind"], name))
        return {**obj, "metadata": {**obj["metadata"], "name": name, "resourceVersion": "5"}}

    def update(self, obj: dict, namespace: str) -> dict:
        self.calls.append(("update", obj["kind"], obj["metadata"]["name"]))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "6"}}

    def delete(self, kind: str, name: str, namespace: str = "") -> dict:
        self.calls.append(("delete", kind, name))
        return self.held.get(name) or {"metadata": {"name": name, "resourceVersion": "7"}}

    def patch(self, kind: str, name: str, body: Any, namespace: str = "", subresource: str = "") -> dict:
        self.calls.append(("patch", kind, name))
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
    informers.by_kind[owner["kind"]].objs[owner["metadata"]["name"]] = owner
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
    informers.by_kind["EgressRouter"].objs["b"] = _router("b", "u-b", "2026-12-04T21:00:00Z")
    client.held[DEPLOYMENT_NAME] = informers.by_kind["Deployment"].objs[DEPLOYMENT_NAME] = \
        _marked(render_deployment(old, "v"))
    ctl.reconcile("p")
    assert [c for c in client.calls if c[0] in ("create", "update")] == [
        ("create", "NetworkAttachmentDefinition", NAD_NAME)]
    assert [c[:2] for c in client.calls if c[0] == "patch"] == [("patch", "EgressRouter")]   # Progressing
