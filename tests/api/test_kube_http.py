"""What kube clients rely on, over raw HTTPS: discovery, OpenAPI v2/v3, Table output, paging and
resourceVersionMatch, Go booleans, field selector checks, Status details, watch-list, reviews and
impersonation."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.conftest import ServerProc

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def api(server: ServerProc) -> httpx.Client:
    return server.http()


def make_cms(api: httpx.Client, n: int) -> None:
    for i in range(n):
        assert api.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                                   "data": {"k": "v"}}).status_code == 201


def test_version_is_complete(api: httpx.Client) -> None:
    v = api.get("/version").json()
    assert {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler",
            "platform"} <= set(v)
    assert (v["major"], v["minor"]) == ("1", "32") and v["platform"].startswith("linux/")


def test_discovery_lists_subresources_and_verbs(api: httpx.Client) -> None:
    core = {r["name"]: r for r in api.get("/api/v1").json()["resources"]}
    assert core["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert "watch" in core["pods"]["verbs"] and core["pods"]["shortNames"] == ["po"]
    assert "configmaps/status" not in core
    assert api.get("/api").json()["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0"
    authz = api.get("/apis/authorization.k8s.io/v1").json()["resources"]
    assert {(r["name"], tuple(r["verbs"])) for r in authz} >= {("selfsubjectaccessreviews", ("create",))}
    projects = {r["name"]: r for r in api.get("/apis/project.openshift.io/v1").json()["resources"]}
    assert "watch" not in projects["projects"]["verbs"]


def test_openapi_v2_is_json_and_refuses_protobuf(server: ServerProc) -> None:
    anon = server.http()  # any authenticated user (kube's system:discovery)
    doc = anon.get("/openapi/v2").json()
    assert doc["swagger"] == "2.0"
    spec = doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert (spec["x-kubernetes-patch-merge-key"], spec["x-kubernetes-patch-strategy"]) == ("name", "merge")
    r = anon.get("/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert r.status_code == 406 and r.json()["reason"] == "NotAcceptable"


def test_openapi_v3_index_and_group_version_documents(server: ServerProc) -> None:
    anon = server.http()
    index = anon.get("/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/network.openshift.io/v1", "apis/networking.k8s.io/v1"} <= set(index)
    url = index["apis/networking.k8s.io/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/networking.k8s.io/v1?hash=")
    r = anon.get(url)
    schemas = r.json()["components"]["schemas"]
    policy = schemas["io.k8s.api.networking.v1.NetworkPolicy"]
    assert policy["x-kubernetes-group-version-kind"] == [
        {"group": "networking.k8s.io", "kind": "NetworkPolicy", "version": "v1"}]
    selector = schemas["io.k8s.api.networking.v1.NetworkPolicySpec"]["properties"]["podSelector"]
    assert selector["description"].startswith("podSelector selects the pods to which this NetworkPolicy")
    patch = r.json()["paths"]["/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert anon.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    netns = anon.get(index["apis/network.openshift.io/v1"]["serverRelativeURL"]).json()
    nn_patch = netns["paths"]["/apis/network.openshift.io/v1/netnamespaces/{name}"]["patch"]["requestBody"]
    assert "application/strategic-merge-patch+json" in nn_patch["content"]   # a 3.x built-in
    operator = anon.get(index["apis/operator.openshift.io/v1"]["serverRelativeURL"]).json()
    net_patch = operator["paths"]["/apis/operator.openshift.io/v1/networks/{name}"]["patch"]["requestBody"]
    assert "application/strategic-merge-patch+json" not in net_patch["content"]   # a CRD in OpenShift 4
    assert anon.get("/openapi/v3/apis/nope/v1").status_code == 404


def test_table_output_with_wide_priorities(api: httpx.Client) -> None:
    make_cms(api, 1)
    table = api.get("/apis/network.openshift.io/v1/hostsubnets", headers={"Accept": TABLE}).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Host", "Host Ip", "Subnet", "Egress Cidrs",
                                                              "Egress Ips"]
    pods = api.get("/api/v1/pods", headers={"Accept": TABLE}).json()["columnDefinitions"]
    assert [(c["name"], c["priority"]) for c in pods][-4:] == [("Ip", 1), ("Node", 1), ("Nominated Node", 1),
                                                               ("Readiness Gates", 1)]
    row = api.get(CMS, headers={"Accept": TABLE}).json()["rows"][0]
    assert row["cells"][:2] == ["c0", "1"] and row["object"]["kind"] == "PartialObjectMetadata"
    full = api.get(CMS, params={"includeObject": "Object"}, headers={"Accept": TABLE}).json()["rows"][0]
    assert full["object"]["data"] == {"k": "v"}
    none = api.get(f"{CMS}/c0", params={"includeObject": "None"}, headers={"Accept": TABLE}).json()["rows"][0]
    assert "object" not in none
    assert api.get(CMS, params={"includeObject": "All"}, headers={"Accept": TABLE}).status_code == 400


def test_paging_snapshot_expired_and_foreign_tokens(api: httpx.Client) -> None:
    make_cms(api, 3)
    first = api.get(CMS, params={"limit": "1"}).json()
    token = first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] == 2
    assert api.delete(f"{CMS}/c1").status_code == 200
    second = api.get(CMS, params={"limit": "1", "continue": token}).json()
    assert [i["metadata"]["name"] for i in second["items"]] == ["c1"]   # from the snapshot
    r = api.get("/api/v1/namespaces/kube-system/configmaps", params={"limit": "1", "continue": token})
    assert r.status_code == 400 and "another list" in r.json()["message"]
    gone = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": 1,
                                                "id": "expired"}).encode()).decode()
    r = api.get(CMS, params={"limit": "1", "continue": gone})
    assert r.status_code == 410 and r.json()["reason"] == "Expired"
    assert api.get(CMS, params={"continue": "!!"}).status_code == 400


def test_resource_version_match(api: httpx.Client) -> None:
    rv = int(api.get(CMS).json()["metadata"]["resourceVersion"])
    make_cms(api, 1)
    assert api.get(CMS, params={"resourceVersionMatch": "NotOlderThan", "resourceVersion": str(rv)}).status_code == 200
    r = api.get(CMS, params={"resourceVersionMatch": "Exact", "resourceVersion": str(rv)})
    assert r.status_code == 410
    assert api.get(CMS, params={"resourceVersionMatch": "Exact"}).status_code == 400
    assert api.get(CMS, params={"resourceVersionMatch": "Sometimes", "resourceVersion": "1"}).status_code == 400
    assert api.get(CMS, params={"resourceVersionMatch": "NotOlderThan",
                                "resourceVersion": str(rv + 1000)}).status_code == 504


def test_go_booleans_and_watch_list(api: httpx.Client) -> None:
    make_cms(api, 1)
    for value in ("True", "t", "1"):
        with api.stream("GET", CMS, params={"watch": value, "timeoutSeconds": "1"}) as r:
            assert json.loads(next(r.iter_lines()))["type"] == "ADDED"
    assert api.get(CMS, params={"watch": "yes"}).status_code == 400
    params = {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true", "resourceVersion": "1", "timeoutSeconds": "1"}
    with api.stream("GET", CMS, params=params) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert [e["type"] for e in lines] == ["ADDED", "BOOKMARK"]
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert api.get(CMS, params={**params, "resourceVersionMatch": ""}).status_code == 400


def test_field_selector_on_an_unsupported_field_is_400(api: httpx.Client) -> None:
    r = api.get(CMS, params={"fieldSelector": "data.k=v"})
    assert r.status_code == 400 and "field label not supported: data.k" in r.json()["message"]
    assert api.get("/api/v1/pods", params={"fieldSelector": "spec.nodeName=n1"}).status_code == 200
    assert api.get(CMS, params={"watch": "1", "fieldSelector": "foo=bar"}).status_code == 400


def test_status_details_name_the_group(api: httpx.Client) -> None:
    details = api.get("/apis/apps/v1/namespaces/default/deployments/nope").json()["details"]
    assert details == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_reviews_need_rights_for_others_and_impersonation_is_checked(server: ServerProc, api: httpx.Client) -> None:
    token = api.post("/osdn/v1/tokens", json={"user": "bob"}).json()["token"]
    bob = server.http(token=token)
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "system:admin", "groups": ["system:cluster-admins"],
                    "resourceAttributes": {"verb": "get", "resource": "pods"}}}
    assert bob.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=sar).status_code == 403
    assert api.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=sar).json()["status"]["allowed"]
    local = {**sar, "kind": "LocalSubjectAccessReview",
             "spec": {**sar["spec"], "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "x"}}}
    r = api.post("/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews", json=local)
    assert r.status_code == 400
    rules = bob.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                     json={"kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}}).json()
    assert rules["status"]["incomplete"] is False and {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} \
        not in rules["status"]["resourceRules"]
    r = bob.get("/api/v1/namespaces", headers={"Impersonate-User": "system:admin"})
    assert r.status_code == 403 and 'cannot impersonate resource "users"' in r.json()["message"]
    as_bob = api.get("/api/v1/namespaces", headers={"Impersonate-User": "bob"})
    assert as_bob.status_code == 403 and 'User "bob"' in as_bob.json()["message"]
    assert api.get("/api/v1/namespaces", headers={"Impersonate-Uid": "1"}).status_code == 400


def test_aggregated_discovery_when_asked_first(api: httpx.Client) -> None:
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    r = api.get("/apis", headers={"Accept": accept})
    assert r.headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = {g["metadata"]["name"]: g for g in r.json()["items"]}
    network = {x["resource"]: x for x in groups["network.openshift.io"]["versions"][0]["resources"]}
    assert network["netnamespaces"]["scope"] == "Cluster" and network["netnamespaces"]["responseKind"]["kind"] == \
        "NetNamespace"
    core = api.get("/api", headers={"Accept": accept}).json()["items"][0]
    pods = next(x for x in core["versions"][0]["resources"] if x["resource"] == "pods")
    assert pods["subresources"] == [{"subresource": "status", "responseKind": pods["responseKind"],
                                     "verbs": ["get", "patch", "update"]}]
    assert api.get("/apis").json()["kind"] == "APIGroupList"
