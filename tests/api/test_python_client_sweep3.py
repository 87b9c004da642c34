"""The official `kubernetes` Python client, third sweep: a watch from a resourceVersion before the
API server's watch window gets kube's 200 + ERROR event (Status 410 Expired "too old resource
version"), which the client's Watch turns into ApiException(410) for the informer to re-list; a
recent resourceVersion still resumes; discovery offers `deletecollection` exactly where it is served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProc, module_server

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402

NS = "pysweep3"

srv = module_server("pysweep3")


@pytest.fixture
def api(srv: ServerProc) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(str(srv.config)) as c:
        v1 = client.CoreV1Api(c)
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        try:
            yield c
        finally:
            v1.delete_namespace(NS)


def _cm(name: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))


def test_watch_from_before_the_window_is_410_expired_and_a_recent_one_resumes(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(NS, _cm("old"))
    with pytest.raises(client.ApiException) as e:   # rv 1: before the server started (bootstrap wrote more)
        for _ in watch.Watch().stream(v1.list_namespaced_config_map, NS, resource_version="1", timeout_seconds=5):
            pass
    assert e.value.status == 410 and e.value.reason.startswith("Expired: too old resource version: 1 (")
    rv = v1.list_namespaced_config_map(NS).metadata.resource_version   # a recent rv still resumes
    v1.create_namespaced_config_map(NS, _cm("later"))
    seen = [(ev["type"], ev["object"].metadata.name) for ev in watch.Watch().stream(
        v1.list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=2)]
    assert seen == [("ADDED", "later")]


def test_raw_watch_answers_200_and_one_error_event(srv: ServerProc, api: client.ApiClient) -> None:
    with srv.http() as http:
        r = http.get(f"/api/v1/namespaces/{NS}/configmaps", params={"watch": "1", "resourceVersion": "1"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    lines = [json.loads(line) for line in r.text.splitlines() if line]
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert {k: status[k] for k in ("kind", "apiVersion", "status", "reason", "code")} == \
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired", "code": 410}
    assert status["message"].startswith("too old resource version: 1 (")


def test_deletecollection_is_offered_where_it_is_served(srv: ServerProc, api: client.ApiClient) -> None:
    verbs = {r.name: r.verbs for r in client.CoreV1Api(api).get_api_resources().resources}
    assert verbs["configmaps"] == ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    assert "deletecollection" not in verbs["namespaces"]
    projects = {r.name: r.verbs for r in client.CustomObjectsApi(api).get_api_resources("project.openshift.io", "v1")
                .resources}
    assert projects == {"projects": ["create", "delete", "get", "list", "patch", "update"],
                        "projectrequests": ["create", "list"]}
    offered = 0
    with srv.http() as http:
        for gv in ["v1", *(f"{g['name']}/{v['version']}" for g in http.get("/apis").json()["groups"]
                           for v in g["versions"])]:
            base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
            for r in http.get(base).json()["resources"]:
                if "deletecollection" in r["verbs"]:
                    offered += 1
                    path = f"{base}/namespaces/{NS}/{r['name']}" if r["namespaced"] else f"{base}/{r['name']}"
                    got = http.delete(path, params={"labelSelector": "sweep3=none", "dryRun": "All"})
                    assert got.status_code == 200 and got.json()["items"] == [], (path, got.text)
    assert offered >= 25
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(NS, _cm("gone"))
    v1.delete_collection_namespaced_config_map(NS)
    assert v1.list_namespaced_config_map(NS).items == []


def _client_of(srv: ServerProc, api: client.ApiClient, tmp_path: Path, user: str, role: str,
               kind: str = "ClusterRole") -> client.ApiClient:
    """A client for `user`, bound by the admin's `api` to `role` (a ClusterRole, or a Role of NS) in NS."""
    conf = tmp_path / f"{user}.conf"
    srv.cli("adm", "token", "create", user, "--write-config", str(conf), check=True)
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        NS, client.V1RoleBinding(metadata=client.V1ObjectMeta(name=f"{user}-{role}"),
                                 role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind=kind,
                                                           name=role),
                                 subjects=[client.RbacV1Subject(kind="User", name=user,
                                                                api_group="rbac.authorization.k8s.io")]))
    return config.new_client_from_config(str(conf))


def test_service_accounts_typed_and_by_role(srv: ServerProc, api: client.ApiClient, tmp_path: Path) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_service_account(NS, client.V1ServiceAccount(
        metadata=client.V1ObjectMeta(name="robot"), automount_service_account_token=False,
        image_pull_secrets=[client.V1LocalObjectReference(name="pull")]))
    got = v1.read_namespaced_service_account("robot", NS)
    assert got.automount_service_account_token is False and got.image_pull_secrets[0].name == "pull"
    assert "robot" in [s.metadata.name for s in v1.list_service_account_for_all_namespaces().items]
    with _client_of(srv, api, tmp_path, "viewer", "view") as viewer:   # beside default, builder, deployer
        assert "robot" in [s.metadata.name for s in client.CoreV1Api(viewer).list_namespaced_service_account(NS).items]
        with pytest.raises(client.ApiException) as e:
            client.CoreV1Api(viewer).delete_namespaced_service_account("robot", NS)
        assert e.value.status == 403
    with _client_of(srv, api, tmp_path, "editor", "edit") as editor:
        client.CoreV1Api(editor).delete_namespaced_service_account("robot", NS)
    assert "robot" not in [s.metadata.name for s in v1.list_namespaced_service_account(NS).items]


def test_collection_delete_needs_the_deletecollection_verb(srv: ServerProc, api: client.ApiClient,
                                                            tmp_path: Path) -> None:
    v1 = client.CoreV1Api(api)
    client.RbacAuthorizationV1Api(api).create_namespaced_role(NS, client.V1Role(
        metadata=client.V1ObjectMeta(name="deleter"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["list", "delete"])]))
    v1.create_namespaced_config_map(NS, _cm("one"))
    with _client_of(srv, api, tmp_path, "deleter", "deleter", kind="Role") as deleter:
        client.CoreV1Api(deleter).delete_namespaced_config_map("one", NS)     # one by one: yes
        v1.create_namespaced_config_map(NS, _cm("two"))
        with pytest.raises(client.ApiException) as e:
            client.CoreV1Api(deleter).delete_collection_namespaced_config_map(NS)
        assert e.value.status == 403 and 'cannot deletecollection resource "configmaps"' in \
            json.loads(e.value.body)["message"]
    with _client_of(srv, api, tmp_path, "editor2", "edit") as editor:
        client.CoreV1Api(editor).delete_collection_namespaced_config_map(NS)
    assert v1.list_namespaced_config_map(NS).items == []


def test_a_watch_that_allows_bookmarks_ends_with_one_at_the_rv_it_passed(srv: ServerProc,
                                                                          api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    other = v1.create_namespaced_config_map(NS, _cm("other")).metadata.resource_version
    params = {"watch": "1", "resourceVersion": rv, "fieldSelector": "metadata.name=mine",
              "allowWatchBookmarks": "true", "timeoutSeconds": "1"}
    with srv.http() as http:
        lines = [json.loads(x) for x in http.get(f"/api/v1/namespaces/{NS}/configmaps", params=params).text.splitlines() if x]
        assert lines == [{"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                                                         "metadata": {"resourceVersion": other}}}]
        without = http.get(f"/api/v1/namespaces/{NS}/configmaps", params={**params, "allowWatchBookmarks": "false"})
        assert without.text.strip() == ""
    v1.create_namespaced_config_map(NS, _cm("mine"))
    seen = [(ev["type"], ev["object"].metadata.name) for ev in watch.Watch().stream(
        v1.list_namespaced_config_map, NS, resource_version=other, timeout_seconds=2)]
    assert seen == [("ADDED", "mine")]
