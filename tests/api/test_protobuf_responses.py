"""Protobuf responses over HTTP: objects, lists, errors and watch streams in the `k8s\\x00` envelope
when the Accept header prefers `application/vnd.kubernetes.protobuf`; JSON fallback or 406 for what
the table cannot carry; and the real kubectl reading them (`--v=8` shows the response media type)."""

from __future__ import annotations

import base64
import json
import re
import shutil
from typing import Any

import httpx
import pytest

from osdn.api.protobuf import ENCODABLE, MEDIA_TYPE, decode_message, decode_object, encode_object
from tests.conftest import ServerProc

CLIENT_GO = f"{MEDIA_TYPE},application/json"   # what client-go sends for the built-in kinds
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default",
                                                            "labels": {"app": "x"}}, "data": {"a": "b"}}
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def _pb(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == MEDIA_TYPE, response.text
    return decode_object(response.content, ENCODABLE)


def _codec(obj: dict[str, Any]) -> dict[str, Any]:
    """What the JSON answer says, as the protobuf table carries it (empty values drop out)."""
    return decode_object(encode_object(obj), ENCODABLE)


def test_object_and_list_are_protobuf_with_the_json_content(server: ServerProc) -> None:
    with server.http() as http:
        assert http.post("/api/v1/namespaces/default/configmaps", json=CM).status_code == 201
        one = http.get("/api/v1/namespaces/default/configmaps/c", headers={"Accept": CLIENT_GO})
        as_json = http.get("/api/v1/namespaces/default/configmaps/c").json()
        assert _pb(one) == _codec(as_json)
        assert _pb(one)["data"] == {"a": "b"} and _pb(one)["metadata"]["labels"] == {"app": "x"}
        listed = http.get("/api/v1/namespaces/default/configmaps", headers={"Accept": CLIENT_GO})
        assert _pb(listed)["kind"] == "ConfigMapList"
        as_json_list = _codec(http.get("/api/v1/namespaces/default/configmaps").json())
        # the list's own resourceVersion is the store's, which controllers may move between the two reads
        assert {**_pb(listed), "metadata": {}} == {**as_json_list, "metadata": {}}
        assert [i["metadata"]["name"] for i in _pb(listed)["items"]] == ["c"]


def test_a_protobuf_create_is_answered_in_protobuf(server: ServerProc) -> None:
    body = encode_object({**CM, "metadata": {"name": "d"}})
    with server.http() as http:
        r = http.post("/api/v1/namespaces/default/configmaps", content=body,
                      headers={"Content-Type": MEDIA_TYPE, "Accept": CLIENT_GO})
        assert r.status_code == 201
        created = _pb(r)
        assert created["metadata"]["name"] == "d" and created["metadata"]["uid"] and created["data"] == {"a": "b"}


def test_errors_are_a_protobuf_status(server: ServerProc) -> None:
    with server.http() as http:
        r = http.get("/api/v1/namespaces/default/configmaps/missing", headers={"Accept": CLIENT_GO})
        assert r.status_code == 404
        status = _pb(r)
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
        assert "missing" in status["message"]


def test_other_kinds_fall_back_to_json_or_406(server: ServerProc) -> None:
    with server.http() as http:
        # (lists: the NetNamespace of "default" is made by a controller, maybe not yet)
        r = http.get("/apis/network.openshift.io/v1/netnamespaces", headers={"Accept": CLIENT_GO})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        r = http.get("/apis/network.openshift.io/v1/netnamespaces", headers={"Accept": MEDIA_TYPE})
        assert r.status_code == 406
        assert 'kind "NetNamespaceList"' in _pb(r)["message"]
        r = http.get("/apis/network.openshift.io/v1/netnamespaces?watch=1", headers={"Accept": MEDIA_TYPE})
        assert r.status_code == 406
        table = "application/json;as=Table;v=v1;g=meta.k8s.io," + CLIENT_GO   # Tables stay JSON
        r = http.get("/api/v1/namespaces", headers={"Accept": table})
        assert r.headers["content-type"] == "application/json" and r.json()["kind"] == "Table"
        r = http.get("/api/v1/namespaces", headers={"Accept": f"application/json,{MEDIA_TYPE};q=0.5"})
        assert r.headers["content-type"] == "application/json"


def _frames(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(type, object) of each length-prefixed WatchEvent frame."""
    out = []
    while data:
        size = int.from_bytes(data[:4], "big")
        event = decode_message(data[4:4 + size], "WatchEvent")
        out.append((event["type"], decode_object(base64.b64decode(event["object"]["raw"]), ENCODABLE)))
        data = data[4 + size:]
    return out


def test_watch_streams_protobuf_frames(server: ServerProc) -> None:
    with server.http() as http:
        assert http.post("/api/v1/namespaces/default/configmaps", json=CM).status_code == 201
        r = http.get("/api/v1/namespaces/default/configmaps",
                     params={"watch": "1", "resourceVersion": "0", "timeoutSeconds": "1"},
                     headers={"Accept": CLIENT_GO})
        assert r.headers["content-type"] == f"{MEDIA_TYPE};stream=watch"
        [(kind, obj)] = _frames(r.content)
        assert kind == "ADDED" and obj["metadata"]["name"] == "c" and obj["data"] == {"a": "b"}
        r = http.get("/api/v1/namespaces/default/configmaps",
                     params={"watch": "1", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                             "allowWatchBookmarks": "true", "timeoutSeconds": "1"}, headers={"Accept": CLIENT_GO})
        kinds = [(k, o["metadata"].get("annotations")) for k, o in _frames(r.content)]
        assert kinds[0][0] == "ADDED" and kinds[-1] == ("BOOKMARK", {"k8s.io/initial-events-end": "true"})


def _response_media_types(stderr: str) -> list[str]:
    """The Content-Type of each response in a `kubectl --v=8` log."""
    out, in_response = [], False
    for line in stderr.splitlines():
        if "Response Status:" in line:
            in_response = True
        elif in_response and "Content-Type:" in line:
            out.append(line.split("Content-Type:", 1)[1].strip())
            in_response = False
    return out


@needs_kubectl
def test_kubectl_reads_protobuf_answers(server: ServerProc) -> None:
    r = server.kubectl("create", "configmap", "k", "--from-literal=a=b", "-n", "default", "--v=8", check=True)
    assert "configmap/k created" in r.stdout
    assert MEDIA_TYPE in _response_media_types(r.stderr), r.stderr[-3000:]
    server.kubectl("create", "deployment", "d", "--image=busybox", "-n", "default", check=True)
    server.kubectl("run", "web", "--image=nginx", "-n", "default", check=True)
    r = server.kubectl("describe", "pod", "web", "-n", "default", "--v=8", check=True)
    assert "Image:" in r.stdout and "nginx" in r.stdout and MEDIA_TYPE in _response_media_types(r.stderr)
    r = server.kubectl("describe", "deployment", "d", "-n", "default", check=True)
    assert re.search(r"Selector:\s+app=d", r.stdout), r.stdout
    pods = server.kubectl("get", "pods", "-n", "default", "-o", "yaml", check=True).stdout
    assert "image: nginx" in pods and "name: web" in pods
    assert "default" in server.kubectl("get", "namespaces", check=True).stdout
    got = json.loads(server.kubectl("get", "configmap", "k", "-n", "default", "-o", "json", check=True).stdout)
    assert got["data"] == {"a": "b"}
