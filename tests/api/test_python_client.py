"""The official `kubernetes` Python client against osdn over TLS, configured from DATA_DIR/admin.conf:
typed discovery (/version, /api), CRUD, watch (the client sends watch=True), paging with limit and
_continue, access reviews."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProc

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402


@pytest.fixture
def api(server: ServerProc) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(str(server.config)) as c:
        yield c


def test_version_and_api_versions_decode(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert (info.major, info.minor) == ("1", "32") and info.git_version.startswith("v1.32.0-osdn.")
    assert info.platform and info.go_version and info.build_date
    versions = client.CoreApi(api).get_api_versions()
    assert versions.versions == ["v1"] and versions.server_address_by_client_cidrs[0].client_cidr == "0.0.0.0/0"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"network.openshift.io", "authorization.k8s.io", "authentication.k8s.io"} <= groups


def test_typed_crud_and_lists(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="pc1", labels={"a": "b"}), data={"k": "v"})
    created = v1.create_namespaced_config_map("default", cm)
    assert created.metadata.uid and created.data == {"k": "v"}
    assert v1.read_namespaced_config_map("pc1", "default").metadata.labels == {"a": "b"}
    assert [c.metadata.name for c in v1.list_namespaced_config_map("default", label_selector="a=b").items] == ["pc1"]
    with pytest.raises(client.ApiException) as e:
        v1.read_namespaced_config_map("nope", "default")
    assert e.value.status == 404
    v1.delete_namespaced_config_map("pc1", "default")
    assert client.NetworkingV1Api(api).list_network_policy_for_all_namespaces().items == []


def test_paging_with_limit_and_continue(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    for i in range(5):
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}")))
    first = v1.list_namespaced_config_map("default", limit=2)
    assert [c.metadata.name for c in first.items] == ["c0", "c1"] and first.metadata.remaining_item_count == 3
    v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c10")))
    names, token = [c.metadata.name for c in first.items], first.metadata._continue
    while token:
        page = v1.list_namespaced_config_map("default", limit=2, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version   # one snapshot
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert names == [f"c{i}" for i in range(5)]   # c10, created after the first page, is not in it


def test_watch_streams_events(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)

    def later() -> None:
        time.sleep(0.5)
        v1.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1")))
        v1.delete_namespaced_config_map("w1", "default")

    threading.Thread(target=later).start()
    seen = []
    for event in watch.Watch().stream(v1.list_namespaced_config_map, "default", timeout_seconds=3):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    assert seen == [("ADDED", "w1"), ("DELETED", "w1")]


def test_access_reviews(api: client.ApiClient) -> None:
    authz = client.AuthorizationV1Api(api)
    spec = client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=client.V1ResourceAttributes(verb="delete", resource="netnamespaces",
                                                        group="network.openshift.io"))
    assert authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(spec=spec)).status.allowed
    sar = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user="bob", groups=["system:authenticated"],
        resource_attributes=client.V1ResourceAttributes(verb="list", resource="pods", namespace="default")))
    assert authz.create_subject_access_review(sar).status.allowed is False
    who = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert who.status.user_info.username == "system:admin"
