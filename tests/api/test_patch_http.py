"""PATCH over HTTP: strategic merge patch of kube kinds (415 for OpenShift 4 CRD kinds), server-side apply
(create, managedFields, conflicts, force, removal), and managers of updates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, wait_for

SMP = {"Content-Type": "application/strategic-merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}
RCS = "/api/v1/namespaces/default/replicationcontrollers"
CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def http(server: ServerProc) -> Iterator[httpx.Client]:
    with server.http() as client:
        yield client


def _rc() -> dict[str, Any]:
    """A pod template (a Pod's containers and ports cannot change after create, as in kube)."""
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"}, "spec": {
        "replicas": 0, "selector": {"app": "web"}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
                           {"name": "side", "image": "proxy:1"}]}}}}


def test_strategic_patch_keeps_containers_and_ports(http: httpx.Client) -> None:
    assert http.post(RCS, json=_rc()).status_code == 201
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
        "containers": [{"name": "app", "ports": [{"containerPort": 8080}]}, {"name": "side", "image": "proxy:2"}]}}}}
    r = http.patch(f"{RCS}/web", content=json.dumps(patch), headers=SMP)
    assert r.status_code == 200, r.text
    spec = r.json()["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app", "side"]
    assert [p["containerPort"] for p in spec["containers"][0]["ports"]] == [8080, 80]
    assert spec["containers"][1]["image"] == "proxy:2" and "$setElementOrder/containers" not in spec


def test_strategic_patch_of_an_openshift_4_crd_kind_is_415(http: httpx.Client) -> None:
    r = http.patch("/apis/operator.openshift.io/v1/networks/cluster", content='{"spec": {}}', headers=SMP)
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in r.json()["message"]


def test_strategic_patch_of_a_netnamespace_replaces_its_egress_ips(http: httpx.Client) -> None:
    """network.openshift.io kinds were openshift-apiserver built-ins (3.x): seed 002's `oc patch
    netnamespace NAME -p '{"egressIPs": [...]}'` has no --type; egressIPs has no patch strategy."""
    path = "/apis/network.openshift.io/v1/netnamespaces/sp"
    http.post("/api/v1/namespaces", json={"metadata": {"name": "sp"}}).raise_for_status()
    wait_for(lambda: http.get(path).status_code == 200, what="NetNamespace sp")
    for ips in (["192.168.1.100", "192.168.1.101"], ["192.168.1.102"]):
        r = http.patch(path, content=json.dumps({"egressIPs": ips}), headers=SMP)
        assert r.status_code == 200 and r.json()["egressIPs"] == ips, r.text


def test_server_side_apply_creates_then_updates_and_removes_dropped_fields(http: httpx.Client) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n  b: '2'\n"
    r = http.patch(f"{CMS}/c", params={"fieldManager": "me"}, content=cm, headers=APPLY)
    assert r.status_code == 201, r.text
    (entry,) = r.json()["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsV1"]) == \
        ("me", "Apply", {"f:data": {"f:a": {}, "f:b": {}}})
    r = http.patch(f"{CMS}/c", params={"fieldManager": "me"}, content=cm.replace("  b: '2'\n", ""), headers=APPLY)
    assert r.status_code == 200 and r.json()["data"] == {"a": "1"}


def test_apply_conflict_is_409_naming_field_and_manager_and_force_wins(http: httpx.Client) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    assert http.patch(f"{CMS}/c", params={"fieldManager": "me"}, content=cm, headers=APPLY).status_code == 201
    r = http.patch(f"{CMS}/c", params={"fieldManager": "editor"}, json={"data": {"a": "2"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200
    r = http.patch(f"{CMS}/c", params={"fieldManager": "me"}, content=cm, headers=APPLY)
    assert r.status_code == 409, r.text
    assert r.json()["message"] == 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.a'
    assert r.json()["details"]["causes"][0]["field"] == ".data.a"
    r = http.patch(f"{CMS}/c", params={"fieldManager": "me", "force": "true"}, content=cm, headers=APPLY)
    assert r.status_code == 200 and r.json()["data"] == {"a": "1"}


def test_apply_needs_a_field_manager_and_updates_record_the_user_agent(http: httpx.Client) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    r = http.patch(f"{CMS}/c", content=cm, headers=APPLY)
    assert r.status_code == 400 and "fieldManager: Required value" in r.json()["message"]
    r = http.post(CMS, json={"metadata": {"name": "d"}, "data": {"x": "y"}}, headers={"User-Agent": "tool/1.0"})
    (entry,) = r.json()["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("tool", "Update", "v1")
