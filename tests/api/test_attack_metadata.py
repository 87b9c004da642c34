"""Metadata a tenant writes that other tenants' clients then read.

`metadata.deletionGracePeriodSeconds` and `metadata.selfLink` used to be stored as sent, of any type:
one ConfigMap with `deletionGracePeriodSeconds: "x"` in a tenant's project made every protobuf list of
ConfigMaps, in any namespace and by anyone (cluster admins, Go controllers), answer 406, and typed Go
clients fail to decode the list. Both are now system fields a write never sets, as in kube-apiserver.
Annotations are bounded as kube bounds them: 256 KiB of keys and values in all. Fields osdn keeps
without modelling them are checked against the types of the protobuf table (osdn.api.wiretypes).
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


def deployment(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}}}


CONTAINER = {"name": "c", "image": "i"}


@pytest.mark.parametrize(("pod_spec", "words"), [
    ({"terminationGracePeriodSeconds": "x", "containers": [CONTAINER]},
     "spec.template.spec.terminationGracePeriodSeconds: must be an integer, got 'x'"),   # modelled now
    ({"containers": [{**CONTAINER, "stdin": "yes"}]},
     "spec.template.spec.containers[0].stdin: Invalid value: 'yes': must be a boolean"),
    ({"enableServiceLinks": "true", "containers": [CONTAINER]},
     "spec.template.spec.enableServiceLinks: Invalid value: 'true': must be a boolean"),
    ({"tolerations": [{"key": "k", "tolerationSeconds": "x"}], "containers": [CONTAINER]},
     "spec.template.spec.tolerations[0].tolerationSeconds: must be an integer, got 'x'"),   # modelled now
], ids=["grace-string", "stdin-string", "links-string", "toleration-seconds"])
def test_unmodelled_fields_must_have_the_type_go_clients_decode(srv: ServerProc, eve: httpx.Client,
                                                                pod_spec: dict[str, Any], words: str) -> None:
    """Fields osdn keeps without modelling them used to be stored with any JSON type: a tenant's
    Deployment made every protobuf list of Deployments 406, cluster-wide."""
    path = f"/apis/apps/v1/namespaces/{NS}/deployments"
    r = eve.post(path, json=deployment(pod_spec))
    assert r.status_code == 422, r.text
    assert words in r.json()["message"]
    with srv.http() as admin:
        assert admin.get("/apis/apps/v1/deployments", headers=PROTOBUF).status_code == 200


def test_numeric_quantities_are_accepted_and_answered_as_protobuf(srv: ServerProc, eve: httpx.Client) -> None:
    """kube's decoder takes `cpu: 1`; osdn stored it and then answered every protobuf list 406."""
    path = f"/apis/apps/v1/namespaces/{NS}/deployments"
    spec = {"terminationGracePeriodSeconds": 30,
            "containers": [{**CONTAINER, "resources": {"limits": {"cpu": 1, "memory": 0.5}}}]}
    r = eve.post(path, json={**deployment(spec), "metadata": {"name": "numbers"}})
    assert r.status_code == 201, r.text
    with srv.http() as admin:
        r = admin.get("/apis/apps/v1/deployments", headers=PROTOBUF)
        assert r.status_code == 200 and r.content.startswith(b"k8s\x00"), r.content[:300]
