"""Metadata a tenant writes that other tenants' clients then read.

`metadata.deletionGracePeriodSeconds` and `metadata.selfLink` used to be stored as sent, of any type:
one ConfigMap with `deletionGracePeriodSeconds: "x"` in a tenant's project made every protobuf list of
ConfigMaps, in any namespace and by anyone (cluster admins, Go controllers), answer 406, and typed Go
clients fail to decode the list. Both are now system fields a write never sets, as in kube-apiserver.
Annotations are bounded as kube bounds them: 256 KiB of keys and values in all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, module_server

NS = "p-eve"
CMS = f"/api/v1/namespaces/{NS}/configmaps"
PROTOBUF = {"Accept": "application/vnd.kubernetes.protobuf"}

srv = module_server("attack-metadata")


@pytest.fixture(scope="module")
def eve(srv: ServerProc) -> Iterator[httpx.Client]:
    with srv.http() as admin:
        token = admin.post("/osdn/v1/tokens", json={"user": "eve", "groups": []}).json()["token"]
    with srv.http(token=token) as client:
        r = client.post("/apis/project.openshift.io/v1/projects",
                        json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": NS}})
        assert r.status_code == 201, r.text
        yield client


def configmap(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"a": "b"}}


BAD = {"deletionGracePeriodSeconds": "x", "selfLink": 5}


def test_create_and_update_drop_system_metadata_so_protobuf_lists_keep_working(srv: ServerProc,
                                                                               eve: httpx.Client) -> None:
    assert eve.post(CMS, json=configmap("created", **BAD)).status_code == 201
    assert eve.post(CMS, json=configmap("updated")).status_code == 201
    assert eve.put(f"{CMS}/updated", json=configmap("updated", **BAD)).status_code == 200
    r = eve.patch(f"{CMS}/updated", json={"metadata": {"deletionGracePeriodSeconds": [1]}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    for name in ("created", "updated"):
        meta = eve.get(f"{CMS}/{name}").json()["metadata"]
        assert "deletionGracePeriodSeconds" not in meta and "selfLink" not in meta, meta
    with srv.http() as admin:
        r = admin.get("/api/v1/configmaps", headers=PROTOBUF)
        assert r.status_code == 200 and r.content.startswith(b"k8s\x00"), r.content[:300]


def test_annotations_are_at_most_256_kib_in_all(eve: httpx.Client) -> None:
    """kube's TotalAnnotationSizeLimitB: a 300 KB annotation used to be stored."""
    r = eve.post(CMS, json=configmap("big", annotations={"a": "x" * 150_000, "b": "y" * 150_000}))
    assert r.status_code == 422, r.text
    assert "metadata.annotations: Too long: must have at most 262144 bytes" in r.json()["message"]
    assert eve.get(f"{CMS}/big").status_code == 404
    r = eve.post(CMS, json=configmap("fits", annotations={"a": "x" * (256 * 1024 - 1)}))
    assert r.status_code == 201, r.text
    r = eve.patch(f"{CMS}/fits", json={"metadata": {"annotations": {"bb": "z"}}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and "Too long" in r.json()["message"], r.text
