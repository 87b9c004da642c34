"""Bad input over real HTTP: always a 4xx Status naming what is wrong, never a 5xx, nothing written;
and `?fieldValidation=Strict|Warn|Ignore` as kube-apiserver answers it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_watch_limits import raw_socket
from tests.conftest import ServerProc, start_server
from tests.unit.api.test_decode import laughs

CM = "/api/v1/namespaces/bad/configmaps"
NP = "/apis/networking.k8s.io/v1/namespaces/bad/networkpolicies"
JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    server = start_server(Path(tmp_path_factory.mktemp("bad")), "--max-request-body-bytes", "65536")
    try:
        with server.http() as c:
            r = c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": "bad"}})
            assert r.status_code == 201, r.text
            r = c.post(CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "victim"},
                                 "data": {"a": "b"}})
            assert r.status_code == 201, r.text
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(srv: ServerProc) -> Iterator[httpx.Client]:
    with srv.http() as c:
        yield c


def victim_rv(api: httpx.Client) -> str:
    return str(api.get(f"{CM}/victim").json()["metadata"]["resourceVersion"])


def status(r: httpx.Response, code: int) -> str:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == code
    return str(body["message"])


def assert_nothing_written(api: httpx.Client, before: str) -> None:
    assert victim_rv(api) == before
    names = [i["metadata"]["name"] for i in api.get(CM).json()["items"]]
    assert names == ["victim"], names


# ---- size and cost ------------------------------------------------------------------------------

def test_body_over_the_limit_is_413_by_content_length(api: httpx.Client) -> None:
    before = victim_rv(api)
    big = json.dumps({"metadata": {"name": "big"}, "data": {"k": "x" * 70_000}})
    msg = status(api.post(CM, content=big, headers=JSON), 413)
    assert "larger than the limit of 65536 bytes" in msg
    assert_nothing_written(api, before)


def read_response(sock: socket.socket) -> tuple[str, bytes]:
    """One HTTP/1.1 response with a Content-Length: (status line, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"EOF"
        assert not data.endswith(b"EOF"), data
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0].decode(), body


def test_the_rest_of_a_refused_body_is_not_read_as_the_next_request(srv: ServerProc) -> None:
    """The 413 comes from Content-Length, before the body; the body's 70 KB that follow it are body,
    not the headers of a next request (which would pass the 64 KiB header cap: a 431 and a cut)."""
    auth = f"Authorization: Bearer {srv.admin_token}\r\n"
    with raw_socket(srv) as sock:
        sock.settimeout(30)
        sock.sendall(f"POST {CM} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
                     "Content-Length: 70000\r\n\r\n".encode() + b"{" + b" " * 99)
        line, body = read_response(sock)
        assert line.startswith("HTTP/1.1 413 ") and b"larger than the limit" in body, (line, body)
        for piece in (10_000,) * 6 + (9_900,):  # the rest in pieces the server reads one by one (a loaded client)
            sock.sendall(b" " * piece)
            time.sleep(0.02)
        sock.sendall(f"GET {CM}/victim HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        line, body = read_response(sock)
    assert line.startswith("HTTP/1.1 200 ") and json.loads(body)["metadata"]["name"] == "victim", (line, body)


def test_streamed_body_over_the_limit_is_413(api: httpx.Client) -> None:
    """No Content-Length (chunked): the server counts what arrives and stops at the limit."""
    def chunks() -> Iterator[bytes]:
        yield b'{"metadata": {"name": "big"}, "data": {"k": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}}'
    assert "larger than the limit" in status(api.post(CM, content=chunks(), headers=JSON), 413)


def test_yaml_alias_bomb_is_400_at_once_and_server_stays_responsive(api: httpx.Client) -> None:
    before = victim_rv(api)
    start = time.perf_counter()
    msg = status(api.post(CM, content=b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n" + laughs(9),
                          headers={"Content-Type": "application/yaml"}), 400)
    assert "aliases" in msg and time.perf_counter() - start < 2
    assert_nothing_written(api, before)


# ---- malformed bodies ---------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "ctype", "words"), [
    (b"[" * 30_000 + b"]" * 30_000, "application/json", "nested too deeply"),
    (b'{"metadata": {"name": "s"}, "data": {"k": "\\ud800"}}', "application/json", "data.k: invalid Unicode"),
    (b'{"metadata": {"name": "n"}, "data": {"k": NaN}}', "application/json", "NaN"),
    (b"metadata: {name: d}\ndata: {k: !!binary aGk=}", "application/yaml", "!!binary"),
    (b"metadata: {name: d}\ndata: !!set {a}", "application/yaml", "!!set"),
    (b'{"metadata": "victim"}', "application/json", "metadata: must be an object"),
    (b'{"metadata": {"name": ["x"]}}', "application/json", "metadata.name: must be a string"),
    (b'{"metadata": {"name": "x", "namespace": 7}}', "application/json", "metadata.namespace: must be a string"),
    (b'["not", "an", "object"]', "application/json", "must be a JSON or YAML object"),
    (b'{"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}}', "application/json",
     "apiVersion: the API version in the data (v2)"),
    (b'{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}', "application/json",
     "kind: the kind in the data (Secret)"),
    (b"", "application/json", "empty"),
], ids=["deep", "surrogate", "nan", "yaml-binary", "yaml-set", "metadata-string", "name-list", "namespace-int",
        "list-body", "apiversion-mismatch", "kind-mismatch", "empty"])
def test_bad_create_bodies_are_400(api: httpx.Client, body: bytes, ctype: str, words: str) -> None:
    before = victim_rv(api)
    assert words in status(api.post(CM, content=body, headers={"Content-Type": ctype}), 400)
    assert_nothing_written(api, before)


def test_bad_update_bodies_are_400(api: httpx.Client) -> None:
    before = victim_rv(api)
    for body in (b'{"metadata": "victim"}', b'{"metadata": {"name": "victim", "resourceVersion": 5}}', b"7"):
        status(api.put(f"{CM}/victim", content=body, headers=JSON), 400)
    assert_nothing_written(api, before)


def test_wrong_content_type_is_415_listing_what_is_accepted(api: httpx.Client) -> None:
    before = victim_rv(api)
    msg = status(api.post(CM, content=b"<xml/>", headers={"Content-Type": "application/xml"}), 415)
    assert "application/json, application/yaml" in msg
    msg = status(api.patch(f"{CM}/victim", content=b'{"data": {"a": "c"}}', headers=JSON), 415)
    assert "application/merge-patch+json" in msg and "application/json-patch+json" in msg
    assert_nothing_written(api, before)


@pytest.mark.parametrize(("body", "ctype", "words"), [
    (b'["data"]', "application/merge-patch+json", "must be an object"),
    (b'"x"', "application/strategic-merge-patch+json", "must be an object"),
    (b'{"op": "add"}', "application/json-patch+json", "must be a list of operations"),
    (b"[1, 2]", "application/json-patch+json", "must be a list of operations"),
    (b'{"metadata": 5}', "application/merge-patch+json", "metadata: must be an object"),
], ids=["merge-list", "strategic-string", "json-patch-object", "json-patch-numbers", "metadata-number"])
def test_non_object_patches_are_400(api: httpx.Client, body: bytes, ctype: str, words: str) -> None:
    before = victim_rv(api)
    assert words in status(api.patch(f"{CM}/victim", content=body, headers={"Content-Type": ctype}), 400)
    assert_nothing_written(api, before)


# ---- DELETE bodies and preconditions ------------------------------------------------------------

@pytest.mark.parametrize(("body", "words"), [
    (b"[1]", "must be a DeleteOptions object"),
    (b"{not json", "not valid JSON"),
    (b'{"preconditions": "5"}', "preconditions: must be an object"),
    (b'{"preconditions": {"resourceVersion": "abc"}}', "preconditions.resourceVersion"),
    (b'{"preconditions": {"resourceVersion": 5}}', "preconditions.resourceVersion"),
    (b'{"preconditions": {"uid": 5}}', "preconditions.uid"),
    (b'{"gracePeriodSeconds": "soon"}', "gracePeriodSeconds"),
    (b'{"propagationPolicy": "Sideways"}', "propagationPolicy"),
    (b'{"dryRun": "All"}', "dryRun"),
    (b'{"kind": "ConfigMap"}', "DeleteOptions"),
], ids=["list", "malformed", "preconditions-string", "rv-letters", "rv-number", "uid-number", "grace",
        "propagation", "dryrun-string", "kind"])
def test_malformed_delete_bodies_are_400(api: httpx.Client, body: bytes, words: str) -> None:
    before = victim_rv(api)
    r = api.request("DELETE", f"{CM}/victim", content=body, headers=JSON)
    assert words in status(r, 400)
    assert_nothing_written(api, before)


def test_delete_preconditions_uid_and_resource_version(api: httpx.Client) -> None:
    r = api.post(CM, json={"metadata": {"name": "pre"}})
    assert r.status_code == 201, r.text
    meta = r.json()["metadata"]
    wrong_uid = {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}
    msg = status(api.request("DELETE", f"{CM}/pre", json=wrong_uid), 409)
    assert "Precondition failed: UID in precondition" in msg and meta["uid"] in msg
    stale = {"preconditions": {"resourceVersion": str(int(meta["resourceVersion"]) - 1)}}
    status(api.request("DELETE", f"{CM}/pre", json=stale), 409)
    dry = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"], "preconditions": {"uid": meta["uid"]}}
    assert api.request("DELETE", f"{CM}/pre", json=dry).status_code == 200
    assert api.get(f"{CM}/pre").status_code == 200
    ok = {"preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}}
    assert api.request("DELETE", f"{CM}/pre", json=ok).status_code == 200
    assert api.get(f"{CM}/pre").status_code == 404


# ---- query parameters ---------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "name"), [
    ("watch=true&timeoutSeconds=abc", "timeoutSeconds"), ("timeoutSeconds=-1", "timeoutSeconds"),
    ("limit=abc", "limit"), ("limit=-5", "limit"), ("resourceVersion=abc", "resourceVersion"),
    ("watch=maybe", "watch"), ("watch=1&resourceVersion=1e3", "resourceVersion"),
])
def test_bad_read_parameters_are_400_naming_the_parameter(api: httpx.Client, query: str, name: str) -> None:
    assert name in status(api.get(f"{CM}?{query}"), 400)
    assert name in status(api.get(f"{CM}/victim?{query}"), 400)


def test_bad_field_validation_value_is_400(api: httpx.Client) -> None:
    before = victim_rv(api)
    r = api.post(f"{CM}?fieldValidation=Loose", json={"metadata": {"name": "fv"}})
    assert 'fieldValidation: Unsupported value: "Loose"' in status(r, 400)
    assert_nothing_written(api, before)


# ---- field validation ---------------------------------------------------------------------------

TYPO = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db"},
        "spec": {"podSelecter": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {}}]}]}}


def test_strict_refuses_an_unknown_field(api: httpx.Client) -> None:
    r = api.post(f"{NP}?fieldValidation=Strict", json=TYPO)
    assert status(r, 400) == 'strict decoding error: unknown field "spec.podSelecter"'
    assert r.json()["details"]["causes"][0]["field"] == "spec.podSelecter"
    assert api.get(f"{NP}/db").status_code == 404


def test_strict_refuses_a_duplicate_field(api: httpx.Client) -> None:
    body = b'{"metadata": {"name": "dup", "name": "dup2"}, "data": {"a": "1"}}'
    r = api.post(f"{CM}?fieldValidation=Strict", content=body, headers=JSON)
    assert status(r, 400) == 'strict decoding error: duplicate field "metadata.name"'
    yaml_body = b"metadata:\n  name: dup\ndata:\n  a: '1'\n  a: '2'\n"
    r = api.post(f"{CM}?fieldValidation=Strict", content=yaml_body, headers={"Content-Type": "application/yaml"})
    assert status(r, 400) == 'strict decoding error: duplicate field "data.a"'


@pytest.mark.parametrize("query", ["", "?fieldValidation=Warn"], ids=["default", "warn"])
def test_warn_drops_the_field_and_says_so(api: httpx.Client, query: str) -> None:
    r = api.post(f"{NP}{query}", json={**TYPO, "metadata": {"name": f"warn{len(query)}"}})
    assert r.status_code == 201, r.text
    assert r.headers.get_list("warning") == ['299 - "unknown field \\"spec.podSelecter\\""']
    assert "podSelecter" not in r.json()["spec"]


def test_ignore_drops_the_field_silently(api: httpx.Client) -> None:
    r = api.post(f"{NP}?fieldValidation=Ignore", json={**TYPO, "metadata": {"name": "ignored"}})
    assert r.status_code == 201 and "warning" not in r.headers
    assert "podSelecter" not in api.get(f"{NP}/ignored").json()["spec"]


def test_patches_are_field_validated(api: httpx.Client) -> None:
    before = victim_rv(api)
    r = api.patch(f"{CM}/victim?fieldValidation=Strict", json={"dataa": {"x": "y"}}, headers=MERGE)
    assert status(r, 400) == 'strict decoding error: unknown field "dataa"'
    ops = [{"op": "add", "path": "/spec", "value": {"x": 1}}]
    r = api.patch(f"{CM}/victim?fieldValidation=Strict", json=ops,
                  headers={"Content-Type": "application/json-patch+json"})
    assert status(r, 400) == 'strict decoding error: unknown field "spec"'
    assert_nothing_written(api, before)
    r = api.patch(f"{CM}/victim", json={"dataa": {"x": "y"}}, headers=MERGE)
    assert r.status_code == 200 and "dataa" not in r.json()
    assert r.headers.get_list("warning") == ['299 - "unknown field \\"dataa\\""']


def test_open_maps_and_seed_style_objects_pass_strict(api: httpx.Client) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "open", "labels": {"a/b": "c"}, "annotations": {"any.thing/x": "y"}},
          "data": {"whatever-key": "v"}}
    r = api.post(f"{CM}?fieldValidation=Strict", json=cm)
    assert r.status_code == 201, r.text
    api.delete(f"{CM}/open")
