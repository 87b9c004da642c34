"""The official `kubernetes` Python client's deletes against osdn: a DELETE answers as kube-apiserver's
store does (a Status Success naming the object for most kinds, the object for pods and services and
while finalizers hold it), and delete_collection_* deletes what the selectors match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProc, module_server

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402

NS = "pydel"


srv = module_server("pydel")


@pytest.fixture
def api(srv: ServerProc) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(str(srv.config)) as c:
        v1 = client.CoreV1Api(c)
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        try:
            yield c
        finally:
            v1.delete_namespace(NS)


def _cm(name: str, **labels: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels))


def _body(resp: Any) -> Any:
    """The JSON of a `_preload_content=False` answer."""
    return json.loads(resp.data)


def test_delete_answers_a_status_or_the_object_as_kube_does(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    uid = v1.create_namespaced_config_map(NS, _cm("gone")).metadata.uid
    dry = _body(v1.delete_namespaced_config_map("gone", NS, dry_run="All", _preload_content=False))
    assert dry["kind"] == "Status" and dry["status"] == "Success"
    answer = _body(v1.delete_namespaced_config_map("gone", NS, _preload_content=False))
    deleted_at = answer["metadata"].pop("resourceVersion")   # the deletion's, as a watch's DELETED event has
    assert int(deleted_at) > 0 and answer == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                              "status": "Success",
                                              "details": {"name": "gone", "kind": "configmaps", "uid": uid}}
    apps = client.AppsV1Api(api)
    rs = client.V1ReplicaSet(metadata=client.V1ObjectMeta(name="rs"), spec=client.V1ReplicaSetSpec(
        replicas=0, selector=client.V1LabelSelector(match_labels={"r": "1"}),
        template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"r": "1"}), spec=client.V1PodSpec(
            containers=[client.V1Container(name="c", image="busybox")]))))
    apps.create_namespaced_replica_set(NS, rs)
    status = _body(apps.delete_namespaced_replica_set("rs", NS, _preload_content=False))
    assert (status["kind"], status["status"], status["details"]["group"], status["details"]["kind"]) == \
        ("Status", "Success", "apps", "replicasets")

    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p"), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="busybox")]))
    v1.create_namespaced_pod(NS, pod)
    assert v1.delete_namespaced_pod("p", NS).metadata.name == "p"   # V1Pod, as kube answers
    held = _cm("held")
    held.metadata.finalizers = ["example.com/hold"]
    v1.create_namespaced_config_map(NS, held)
    marked = _body(v1.delete_namespaced_config_map("held", NS, _preload_content=False))
    assert marked["kind"] == "ConfigMap" and marked["metadata"]["deletionTimestamp"]
    v1.patch_namespaced_config_map("held", NS, {"metadata": {"finalizers": None}})


def test_delete_collection_with_selectors(api: client.ApiClient, srv: ServerProc, tmp_path: Path) -> None:
    v1 = client.CoreV1Api(api)
    for name, group in (("a", "x"), ("b", "x"), ("c", "y")):
        v1.create_namespaced_config_map(NS, _cm(name, g=group))
    dry = _body(v1.delete_collection_namespaced_config_map(NS, label_selector="g=y", dry_run="All",
                                                           _preload_content=False))
    assert [i["metadata"]["name"] for i in dry["items"]] == ["c"]
    gone = _body(v1.delete_collection_namespaced_config_map(NS, label_selector="g=x", _preload_content=False))
    assert [i["metadata"]["name"] for i in gone["items"]] == ["a", "b"]
    assert [c.metadata.name for c in v1.list_namespaced_config_map(NS).items] == ["c"]
    v1.delete_collection_namespaced_config_map(NS, field_selector="metadata.name=c")
    assert v1.list_namespaced_config_map(NS).items == []
    conf = tmp_path / "bob.conf"
    srv.cli("adm", "token", "create", "bob", "--write-config", str(conf), check=True)
    with config.new_client_from_config(str(conf)) as bob, pytest.raises(client.ApiException) as e:
        client.CoreV1Api(bob).delete_collection_namespaced_config_map(NS)
    assert e.value.status == 403 and json.loads(e.value.body)["reason"] == "Forbidden"
