"""Pod spec validation over the real API: what kube-apiserver refuses is a 422 Invalid Status with
upstream's field paths, nothing is stored, and kubectl shows the message; a pod update may change
only what kube lets it change."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProc, module_server

NS = "podspec"
PODS = f"/api/v1/namespaces/{NS}/pods"
QTY = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

srv = module_server("podspec")


@pytest.fixture
def api(srv: ServerProc) -> Iterator[httpx.Client]:
    with srv.http() as c:
        r = c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        assert r.status_code in (201, 409), r.text
        yield c


def pod(name: str, **container: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx", **container}]}}


def test_bad_quantity_is_422_and_nothing_stored(api: httpx.Client) -> None:
    r = api.post(PODS, json=pod("garbage", resources={"limits": {"cpu": "garbage"}, "requests": {"memory": "-1"}}))
    assert r.status_code == 422, r.text
    status = r.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Invalid", 422)
    assert status["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "field": "spec.containers[0].resources.limits.cpu",
         "message": f'Invalid value: "garbage": {QTY}'},
        {"reason": "FieldValueInvalid", "field": "spec.containers[0].resources.requests[memory]",
         "message": 'Invalid value: "-1": must be greater than or equal to 0'}]
    assert api.get(f"{PODS}/garbage").status_code == 404


def test_kubectl_shows_upstream_message(srv: ServerProc, api: httpx.Client) -> None:
    manifest = pod("mounts", volumeMounts=[{"name": "nope", "mountPath": "/x"}])
    r = srv.kubectl("create", "-n", NS, "-f", "-", input=json.dumps(manifest))
    assert r.returncode != 0
    assert 'The Pod "mounts" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "nope"' in r.stderr
    assert api.get(f"{PODS}/mounts").status_code == 404


def test_pod_update_may_change_image_only(srv: ServerProc, api: httpx.Client) -> None:
    assert api.post(PODS, json=pod("upd")).status_code == 201
    try:
        patch = {"Content-Type": "application/merge-patch+json"}
        r = api.patch(f"{PODS}/upd", content=json.dumps({"spec": {"restartPolicy": "Never"}}), headers=patch)
        assert r.status_code == 422, r.text
        cause = r.json()["details"]["causes"][0]
        assert (cause["field"], cause["reason"]) == ("spec", "FieldValueForbidden")
        assert cause["message"].startswith("Forbidden: pod updates may not change fields other than "
                                           "`spec.containers[*].image`")
        assert api.get(f"{PODS}/upd").json()["spec"]["restartPolicy"] == "Always"
        srv.kubectl("set", "image", "-n", NS, "pod/upd", "c=nginx:1.27", check=True)
        assert api.get(f"{PODS}/upd").json()["spec"]["containers"][0]["image"] == "nginx:1.27"
    finally:
        api.delete(f"{PODS}/upd")
