"""A tenant's hostile input that used to cost a 500 or unbounded time, against a real server.

Alice is a project admin of `p-alice`. Each attack below used to answer 500 (a Python exception:
RecursionError, OverflowError, `int('²')`, `int()` of 5,000 digits, IndexError), or to run without
bound (a JSON patch copying a copy, a Deployment strategy the master could not compute with). Each
now answers a 4xx naming what is wrong, and nothing is written.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, module_server

NS = "p-alice"
CMS = f"/api/v1/namespaces/{NS}/configmaps"
AUTHZ = "/apis/authorization.k8s.io/v1"
JSON = {"Content-Type": "application/json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
BIG = "1" * 5000

srv = module_server("attack-input")


@pytest.fixture(scope="module")
def alice(srv: ServerProc) -> Iterator[httpx.Client]:
    with srv.http() as admin:
        token = admin.post("/osdn/v1/tokens", json={"user": "alice", "groups": []}).json()["token"]
    with srv.http(token=token) as client:
        r = client.post("/apis/project.openshift.io/v1/projects",
                        json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": NS}})
        assert r.status_code == 201, r.text
        r = client.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
                                   "data": {"a": "b"}})
        assert r.status_code == 201, r.text
        yield client


def version(client: httpx.Client) -> str:
    return str(client.get(f"{CMS}/cm").json()["metadata"]["resourceVersion"])


def assert_4xx(r: httpx.Response, code: int, *words: str) -> None:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == code, body
    for word in words:
        assert word in body["message"], body["message"]


# ---- access reviews: bounded decoding, shapes checked ------------------------------------------

@pytest.mark.parametrize(("path", "body", "words"), [
    ("selfsubjectaccessreviews", "[" * 100_000, ("nested too deeply",)),
    ("selfsubjectrulesreviews", "[" * 100_000, ("nested too deeply",)),
    ("selfsubjectaccessreviews", '{"spec": [1]}', ("spec: Invalid value: must be an object",)),
    ("selfsubjectaccessreviews", '{"metadata": 5}', ("metadata: Invalid value: must be an object",)),
    ("selfsubjectaccessreviews", '{"spec": {"resourceAttributes": {"verb": ["get"]}}}',
     ("spec.resourceAttributes.verb: Invalid value: must be a string",)),
    ("selfsubjectaccessreviews", '{"spec": {"resourceAttributes": [1]}}',
     ("spec.resourceAttributes: Invalid value: must be an object",)),
    ("selfsubjectrulesreviews", '{"spec": {"namespace": 5}}', ("spec.namespace: Invalid value: must be a string",)),
    ("selfsubjectaccessreviews", '{"spec": {"resourceAttributes": {"verb": "get"}}, "x": NaN}',
     ("not valid JSON",)),
], ids=["deep-access", "deep-rules", "spec-list", "metadata-int", "verb-list", "attributes-list",
        "namespace-int", "nan"])
def test_self_reviews_refuse_deep_or_misshapen_bodies(alice: httpx.Client, path: str, body: str,
                                                      words: tuple[str, ...]) -> None:
    assert_4xx(alice.post(f"{AUTHZ}/{path}", content=body, headers=JSON), 400, *words)


def test_self_subject_review_with_a_list_as_metadata_is_a_bad_request(alice: httpx.Client) -> None:
    r = alice.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", content='{"metadata": [1]}', headers=JSON)
    assert_4xx(r, 400, "metadata: Invalid value: must be an object")
    r = alice.post(f"{AUTHZ}/selfsubjectaccessreviews", headers=JSON,
                   json={"spec": {"resourceAttributes": {"verb": "get", "resource": "configmaps", "namespace": NS}}})
    assert r.status_code == 201 and r.json()["status"]["allowed"] is True, r.text


def test_subject_access_review_groups_must_be_strings(srv: ServerProc) -> None:
    with srv.http() as admin:
        for groups in (5, [["system:masters"]]):
            r = admin.post(f"{AUTHZ}/subjectaccessreviews", headers=JSON, json={
                "spec": {"user": "bob", "groups": groups, "resourceAttributes": {"verb": "get", "resource": "pods"}}})
            assert_4xx(r, 400, "spec.groups: Invalid value: must be a list of strings")


# ---- paging: forged continue tokens -----------------------------------------------------------

def token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize("raw", [
    b"[" * 30_000,
    b'{"id": "x", "rv": 1e400, "start": 1}',
    b'{"id": "x", "rv": 1, "start": -5}',
    b'{"id": ["x"], "rv": 1, "start": 1}',
    b'{"id": "x", "rv": true, "start": 1}',
    b'"a string"',
], ids=["deep", "infinite-rv", "negative-start", "list-id", "bool-rv", "string"])
def test_forged_continue_tokens_are_bad_requests(alice: httpx.Client, raw: bytes) -> None:
    r = alice.get(CMS, params={"limit": "1", "continue": token(raw)})
    assert_4xx(r, 400, "continue key is not valid")


# ---- numbers: Unicode digits and 5,000-digit integers -----------------------------------------

@pytest.mark.parametrize(("name", "value"), [
    ("limit", "²"), ("limit", BIG), ("resourceVersion", "٣"), ("resourceVersion", BIG),
    ("timeoutSeconds", "99999999999999999999"),
])
def test_query_integers_are_ascii_int64(alice: httpx.Client, name: str, value: str) -> None:
    assert_4xx(alice.get(CMS, params={name: value}), 400, f"{name}: invalid value")
    assert_4xx(alice.get(CMS, params={name: value, "watch": "1"}), 400, f"{name}: invalid value")


@pytest.mark.parametrize("rv", ["²", BIG, ""])
def test_delete_precondition_versions_are_ascii_int64(alice: httpx.Client, rv: str) -> None:
    before = version(alice)
    r = alice.request("DELETE", f"{CMS}/cm", json={"preconditions": {"resourceVersion": rv}})
    assert_4xx(r, 400, "preconditions.resourceVersion: invalid value")
    assert version(alice) == before


@pytest.mark.parametrize("value", ["kube-system/osdn-master/²".encode("latin-1"),
                                   f"kube-system/osdn-master/{BIG}".encode()], ids=["superscript", "5000-digits"])
def test_fence_header_versions_are_ascii_int64(alice: httpx.Client, value: bytes) -> None:
    before = version(alice)
    r = alice.put(f"{CMS}/cm", headers={b"X-Osdn-Fence": value},
                  json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"x": "y"}})
    assert_4xx(r, 400, "is not NAMESPACE/NAME/RESOURCEVERSION of a Lease")
    assert version(alice) == before


# ---- JSON patch: bounded operations and copies, no 500 on odd paths ----------------------------

@pytest.mark.parametrize(("ops", "words"), [
    ([{"op": "add", "path": "/metadata/finalizers", "value": []},
      {"op": "add", "path": "/metadata/finalizers/²", "value": "a.io/x"}], ('index "²" out of range',)),
    ([{"op": "add", "path": "/metadata/finalizers", "value": []},
      {"op": "add", "path": f"/metadata/finalizers/{BIG}", "value": "a.io/x"}], ("out of range",)),
    ([{"op": "remove", "path": ""}], ('path "" names the whole document',)),
    ([{"op": "move", "from": "", "path": "/data/x"}], ('path "" names the whole document',)),
    ([{"op": "add", "path": 5, "value": 1}], ("invalid path 5: must be a string",)),
    ([{"op": "copy", "from": ["a"], "path": "/data/x"}], ("invalid path ['a']: must be a string",)),
], ids=["superscript-index", "5000-digit-index", "remove-root", "move-root", "int-path", "list-from"])
def test_json_patch_odd_paths_are_unprocessable(alice: httpx.Client, ops: list[Any], words: tuple[str, ...]) -> None:
    before = version(alice)
    assert_4xx(alice.patch(f"{CMS}/cm", content=json.dumps(ops), headers=JSON_PATCH), 422, *words)
    assert version(alice) == before


def test_json_patch_copies_of_copies_are_bounded(alice: httpx.Client) -> None:
    """Each copy of /data into itself doubled the object: 19 copies took 16 s of the event loop (every
    client waited), 40 would have needed terabytes. Copies may add 3 MiB in all, as kube-apiserver's
    JSONPatchMaxCopyBytes; the refusal comes after ~20 doublings, long before any real cost."""
    r = alice.patch(f"{CMS}/cm", json={"data": {"pad": "p" * 1000}},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    before = version(alice)
    ops = [{"op": "copy", "from": "/data", "path": f"/data/x{i}"} for i in range(40)]
    r = alice.patch(f"{CMS}/cm", content=json.dumps(ops), headers=JSON_PATCH, timeout=60)
    assert_4xx(r, 422, "Unable to complete the copy, the accumulated size increase of copy is",
               "exceeding the limit 3145728")
    assert version(alice) == before


def test_json_patch_operations_are_at_most_10000(alice: httpx.Client) -> None:
    before = version(alice)
    ops = [{"op": "test", "path": "/data/a", "value": "b"}] * 10_001
    r = alice.patch(f"{CMS}/cm", content=json.dumps(ops), headers=JSON_PATCH)
    assert_4xx(r, 413, "The allowed maximum operations in a JSON patch is 10000, got 10001")
    assert version(alice) == before
    ops = [{"op": "test", "path": "/data/a", "value": "b"}] * 10_000
    assert alice.patch(f"{CMS}/cm", content=json.dumps(ops), headers=JSON_PATCH).status_code == 200


# ---- Deployments: a strategy the master cannot compute with -----------------------------------

def deployment(rolling: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


@pytest.mark.parametrize(("rolling", "words"), [
    ({"maxSurge": "²"}, ('spec.strategy.rollingUpdate.maxSurge: Invalid value: "\\u00b2": a valid percent string',)),
    ({"maxSurge": f"{BIG}%"}, ("spec.strategy.rollingUpdate.maxSurge: Invalid value:", "a valid percent string")),
    ({"maxUnavailable": "ten"}, ('spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "ten"',)),
    ({"maxUnavailable": "5%\n"}, ("spec.strategy.rollingUpdate.maxUnavailable: Invalid value:",)),
    ({"maxUnavailable": -1}, ("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than "
                              "or equal to 0",)),
    ({"maxUnavailable": 0, "maxSurge": "0%"}, ("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may "
                                               "not be 0 when `maxSurge` is 0",)),
    ({"maxUnavailable": "101%"}, ('spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "101%": must not be '
                                  "greater than 100%",)),
], ids=["superscript", "5000-digit-percent", "word", "newline", "negative", "both-zero", "over-100"])
def test_deployment_rolling_update_values_are_validated(alice: httpx.Client, rolling: dict[str, Any],
                                                        words: tuple[str, ...]) -> None:
    path = f"/apis/apps/v1/namespaces/{NS}/deployments"
    assert_4xx(alice.post(path, json=deployment(rolling)), 422, *words)
    assert alice.get(f"{path}/web").status_code == 404


def test_deployment_rolling_update_accepts_what_kube_accepts(alice: httpx.Client) -> None:
    path = f"/apis/apps/v1/namespaces/{NS}/deployments"
    for rolling in ({"maxUnavailable": "100%", "maxSurge": 0}, {"maxUnavailable": 0, "maxSurge": "1%"}):
        r = alice.post(path, json=deployment(rolling), params={"dryRun": "All"})
        assert r.status_code == 201, r.text

