"""The official `kubernetes` Python client's typed models against osdn: the fields kube-apiserver
always writes are there, so code written against a real cluster (`svc.status.load_balancer.ingress`)
runs unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProc

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402

NS = "default"


@pytest.fixture
def api(server: ServerProc) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(str(server.config)) as c:
        yield c


def test_services_and_ingresses_have_an_empty_load_balancer_status(api: client.ApiClient) -> None:
    v1, net = client.CoreV1Api(api), client.NetworkingV1Api(api)
    svc = client.V1Service(metadata=client.V1ObjectMeta(name="s"), spec=client.V1ServiceSpec(
        selector={"app": "a"}, ports=[client.V1ServicePort(port=80)]))
    assert v1.create_namespaced_service(NS, svc).status.load_balancer.ingress is None
    assert v1.read_namespaced_service_status("s", NS).status.load_balancer.ingress is None
    backend = client.V1IngressBackend(service=client.V1IngressServiceBackend(
        name="s", port=client.V1ServiceBackendPort(number=80)))
    ing = client.V1Ingress(metadata=client.V1ObjectMeta(name="i"), spec=client.V1IngressSpec(default_backend=backend))
    assert net.create_namespaced_ingress(NS, ing).status.load_balancer.ingress is None
    listed = net.list_namespaced_ingress(NS).items
    assert [(i.metadata.name, i.status.load_balancer.ingress) for i in listed] == [("i", None)]


def test_a_json_patch_that_cannot_apply_is_422_invalid(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="jp"), data={"a": "1"}))
    for ops, words in (([{"op": "test", "path": "/data/a", "value": "2"}], 'test failed at "/data/a"'),
                       ([{"op": "replace", "path": "/data/zz", "value": "2"}], 'path "/data/zz" does not exist')):
        with pytest.raises(client.ApiException) as e:
            v1.patch_namespaced_config_map("jp", NS, ops)
        body = json.loads(e.value.body)
        assert (e.value.status, body["reason"], body["code"]) == (422, "Invalid", 422) and words in body["message"]
    assert v1.patch_namespaced_config_map("jp", NS, [{"op": "test", "path": "/data/a", "value": "1"}]).data == {"a": "1"}


def test_a_created_object_with_a_status_has_one_before_any_controller_writes_it(api: client.ApiClient) -> None:
    """A poll such as `read_namespaced_deployment(...).status.ready_replicas` right after the create."""
    apps, v1 = client.AppsV1Api(api), client.CoreV1Api(api)
    labels = {"app": "fresh"}
    template = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="busybox")]))
    deployment = apps.create_namespaced_deployment(NS, client.V1Deployment(
        metadata=client.V1ObjectMeta(name="fresh"),
        spec=client.V1DeploymentSpec(selector=client.V1LabelSelector(match_labels=labels), template=template)))
    assert isinstance(deployment.status, client.V1DeploymentStatus)
    rs = apps.create_namespaced_replica_set(NS, client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="fresh-rs"), spec=client.V1ReplicaSetSpec(
            replicas=0, selector=client.V1LabelSelector(match_labels={"rs": "fresh"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"rs": "fresh"}),
                                              spec=template.spec))))
    assert isinstance(rs.status, client.V1ReplicaSetStatus)
    quota = v1.create_namespaced_resource_quota(NS, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="fresh"), spec=client.V1ResourceQuotaSpec(hard={"pods": "50"})))
    assert isinstance(quota.status, client.V1ResourceQuotaStatus)
    node = v1.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="fresh")))
    assert isinstance(node.status, client.V1NodeStatus)
    ns = v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="fresh")))
    assert (ns.spec.finalizers, ns.status.phase) == (["kubernetes"], "Active")
    v1.delete_namespace("fresh")


def test_a_pod_gets_its_qos_class_on_create(api: client.ApiClient) -> None:
    cases: list[tuple[dict[str, dict[str, str]], str]] = [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "64Mi"}}, "Guaranteed"),   # requests default to the limits
        ({"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ]
    for resources, qos in cases:
        pod = client.V1Pod(metadata=client.V1ObjectMeta(generate_name="qos-"), spec=client.V1PodSpec(containers=[
            client.V1Container(name="c", image="busybox", resources=client.V1ResourceRequirements(**resources))]))
        assert client.CoreV1Api(api).create_namespaced_pod(NS, pod).status.qos_class == qos, resources
