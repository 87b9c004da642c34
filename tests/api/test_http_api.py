"""The API over real HTTP: status objects, CRUD, patches, watch, selectors, auth, nothing half-written."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import yaml

from tests.conftest import ServerProc


def admin(srv: ServerProc) -> httpx.Client:
    return srv.http()


def enp(n_rules: int = 3, cidr: str = "1.2.3.0/24") -> dict:
    rules = [{"type": "Allow", "to": {"cidrSelector": cidr}}] * (n_rules - 1) + [
        {"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]
    return {"kind": "EgressNetworkPolicy", "apiVersion": "v1", "metadata": {"name": "default"},
            "spec": {"egress": rules}}


ENP_PATH = "/apis/network.openshift.io/v1/namespaces/p1/egressnetworkpolicies"


@pytest.fixture
def api(server: ServerProc) -> httpx.Client:
    c = admin(server)
    r = c.post("/apis/project.openshift.io/v1/projects",
               json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": "p1"}})
    assert r.status_code == 201, r.text
    return c


def test_health_and_version_need_no_token_discovery_openapi_and_metrics_do(server: ServerProc) -> None:
    anon = server.http(token="")
    assert anon.get("/healthz").text == "ok" and anon.get("/version").json()["major"] == "1"
    for path in ("/api", "/apis", "/api/v1", "/apis/network.openshift.io/v1", "/openapi/v2", "/openapi/v3",
                 "/openapi/v3/api/v1", "/metrics"):
        r = anon.get(path)
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized", path
    doc = server.http().get("/openapi/v2").json()
    assert "/apis/network.openshift.io/v1/netnamespaces/{name}" in doc["paths"]
    assert "osdn_apiserver_requests_total" in server.http().get("/metrics").text


def test_missing_or_bad_token_is_401_status(server: ServerProc) -> None:
    r = server.http(token="").get("/api/v1/namespaces")
    assert r.status_code == 401 and r.json()["kind"] == "Status" and r.json()["reason"] == "Unauthorized"
    r = server.http(token="nope").get("/api/v1/namespaces")
    assert r.status_code == 401


def test_crud_round_trip_json_and_yaml(api: httpx.Client) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "labels": {"a": "b"}},
          "data": {"destination": "80 tcp 203.0.113.25\n"}, "x-unknown": {"kept": True}}
    r = api.post("/api/v1/namespaces/p1/configmaps", json=cm)
    assert r.status_code == 201, r.text
    created = r.json()
    assert "x-unknown" not in created and created["metadata"]["namespace"] == "p1"   # dropped, as kube does
    assert r.headers["warning"] == '299 - "unknown field \\"x-unknown\\""'
    got = api.get("/api/v1/namespaces/p1/configmaps/c1", headers={"Accept": "application/yaml"})
    assert yaml.safe_load(got.text)["data"] == cm["data"]
    body = yaml.safe_dump({**created, "data": {"k": "v"}})
    r = api.put("/api/v1/namespaces/p1/configmaps/c1", content=body, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200 and r.json()["data"] == {"k": "v"}
    assert int(r.json()["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert api.delete("/api/v1/namespaces/p1/configmaps/c1").status_code == 200
    r = api.get("/api/v1/namespaces/p1/configmaps/c1")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"


@pytest.mark.parametrize("body, code, reason, text", [
    (b"{not json", 400, "BadRequest", "not valid JSON"),
    (json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}).encode(),
     422, "Invalid", "metadata.name"),
], ids=["malformed-json", "bad-name"])
def test_bad_input_is_rejected_with_status(api: httpx.Client, body: bytes, code: int, reason: str,
                                           text: str) -> None:
    r = api.post("/api/v1/namespaces/p1/configmaps", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == code and r.json()["reason"] == reason and text in r.json()["message"]
    assert api.get("/api/v1/namespaces/p1/configmaps").json()["items"] == []


def test_unknown_resource_is_404(api: httpx.Client) -> None:
    assert api.get("/api/v1/namespaces/p1/widgets").status_code == 404


@pytest.mark.parametrize("obj, field, text", [
    (enp(3, cidr="1.2.3.4/24"), "spec.egress[0].to.cidrSelector", "canonical"),
    (enp(51), "spec.egress", "too many egress rules (max 50)"),
], ids=["invalid-cidr", "51-rules"])
def test_egress_policy_validation_changes_nothing(api: httpx.Client, obj: dict, field: str, text: str) -> None:
    r = api.post(ENP_PATH, json=obj)
    assert r.status_code == 422, r.text
    status = r.json()
    assert text in status["message"]
    assert any(c["field"].startswith(field) for c in status["details"]["causes"])
    assert api.get(ENP_PATH).json()["items"] == []


def test_netid_5_is_invalid(api: httpx.Client) -> None:
    r = api.post("/apis/network.openshift.io/v1/netnamespaces",
                 json={"apiVersion": "network.openshift.io/v1", "kind": "NetNamespace",
                       "metadata": {"name": "zz"}, "netname": "zz", "netid": 5})
    assert r.status_code == 422 and "greater than or equal to 10" in r.json()["message"]


def test_stale_resource_version_is_conflict(api: httpx.Client) -> None:
    created = api.post(ENP_PATH, json=enp()).json()
    first = api.put(f"{ENP_PATH}/default", json=created)
    assert first.status_code == 200
    stale = api.put(f"{ENP_PATH}/default", json={**created, "spec": {"egress": []}})
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    assert len(api.get(f"{ENP_PATH}/default").json()["spec"]["egress"]) == 3


def test_merge_and_json_patch(api: httpx.Client) -> None:
    api.post(ENP_PATH, json=enp())
    r = api.patch(f"{ENP_PATH}/default", content=json.dumps({"metadata": {"labels": {"x": "y"}}}),
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"x": "y"}
    ops = [{"op": "remove", "path": "/spec/egress/0"}]
    r = api.patch(f"{ENP_PATH}/default", content=json.dumps(ops),
                  headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200 and len(r.json()["spec"]["egress"]) == 2


def test_label_selector_and_field_selector(api: httpx.Client) -> None:
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        api.post("/api/v1/namespaces/p1/configmaps",
                 json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"tier": tier}}})
    names = lambda r: [o["metadata"]["name"] for o in r.json()["items"]]  # noqa: E731
    assert names(api.get("/api/v1/namespaces/p1/configmaps", params={"labelSelector": "tier=web"})) == ["a", "c"]
    assert names(api.get("/api/v1/configmaps", params={"labelSelector": "tier in (db)"})) == ["b"]
    assert names(api.get("/api/v1/namespaces/p1/configmaps", params={"fieldSelector": "metadata.name=c"})) == ["c"]


def test_watch_streams_events_in_order(api: httpx.Client, server: ServerProc) -> None:
    rv = api.get("/api/v1/namespaces/p1/configmaps").json()["metadata"]["resourceVersion"]
    events: list[dict] = []

    def watch() -> None:
        with admin(server).stream("GET", "/api/v1/namespaces/p1/configmaps",
                                  params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "5"}) as r:
            for line in r.iter_lines():
                if line:
                    events.append(json.loads(line))
                if len(events) == 3:
                    return
    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}}
    api.post("/api/v1/namespaces/p1/configmaps", json=cm)
    api.patch("/api/v1/namespaces/p1/configmaps/w", content=b'{"data":{"a":"b"}}',
              headers={"Content-Type": "application/merge-patch+json"})
    api.delete("/api/v1/namespaces/p1/configmaps/w")
    t.join(10)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_namespaced_create_in_missing_namespace_is_404(api: httpx.Client) -> None:
    r = api.post("/api/v1/namespaces/ghost/configmaps",
                 json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert r.status_code == 404 and 'namespaces "ghost" not found' in r.json()["message"]


def test_deleting_a_project_deletes_its_objects(api: httpx.Client) -> None:
    api.post(ENP_PATH, json=enp())
    assert api.delete("/apis/project.openshift.io/v1/projects/p1").status_code == 200
    assert api.get("/apis/network.openshift.io/v1/egressnetworkpolicies").json()["items"] == []


def test_project_admin_permissions(api: httpx.Client, server: ServerProc) -> None:
    token = api.post("/osdn/v1/tokens", json={"user": "alice"}).json()["token"]
    alice = server.http(token=token)
    assert alice.get("/api/v1/namespaces/p1/pods").status_code == 403
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "admin"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
          "subjects": [{"kind": "User", "name": "alice"}]}
    existing = api.get("/apis/rbac.authorization.k8s.io/v1/namespaces/p1/rolebindings/admin").json()
    existing["subjects"].append(rb["subjects"][0])
    assert api.put("/apis/rbac.authorization.k8s.io/v1/namespaces/p1/rolebindings/admin",
                   json=existing).status_code == 200
    np = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
          "spec": {"podSelector": None, "ingress": []}}
    assert alice.post("/apis/networking.k8s.io/v1/namespaces/p1/networkpolicies", json=np).status_code == 201
    r = alice.post(ENP_PATH, json=enp())
    assert r.status_code == 403 and 'cannot create resource "egressnetworkpolicies"' in r.json()["message"]
    assert alice.get(ENP_PATH).status_code == 200
    r = alice.post("/apis/network.openshift.io/v1/hostsubnets", json={
        "apiVersion": "v1", "kind": "HostSubnet", "metadata": {"name": "n1"}, "host": "n1",
        "hostIP": "10.0.0.1", "subnet": "10.128.0.0/23"})
    assert r.status_code == 403
    assert api.get("/apis/network.openshift.io/v1/hostsubnets").json()["items"] == []
    assert alice.get("/api/v1/namespaces/default/pods").status_code == 403
