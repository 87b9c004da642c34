"""Service, Endpoints, ConfigMap, ReplicationController, Node, Event, Namespace (core/v1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from osdn.api.kinds.core import Node, ReplicationController, Service

Problems = Callable[..., list[str]]


def svc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}, **spec}}


SERVICES = [
    ("ok", {}, []),
    ("no-ports", {"ports": []}, ["spec.ports: Required value"]),
    ("headless-no-ports", {"ports": [], "clusterIP": "None"}, []),
    ("two-ports-named", {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}, []),
    ("two-ports-unnamed", {"ports": [{"port": 80}, {"name": "https", "port": 443}]},
     ["spec.ports[0].name: Required value"]),
    ("dup-names", {"ports": [{"name": "http", "port": 80}, {"name": "http", "port": 81}]},
     ['spec.ports[1].name: Duplicate value: "http"']),
    ("bad-port", {"ports": [{"port": 0}]},  # targetPort defaults to port, so both are reported (as in kube)
     ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
      "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ("named-target", {"ports": [{"port": 80, "targetPort": "http"}]}, []),
    ("bad-target", {"ports": [{"port": 80, "targetPort": "HTTP"}]},
     ['spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), '
      "and hyphens (-)"]),
    ("udp", {"ports": [{"port": 53, "protocol": "UDP"}]}, []),
    ("bad-protocol", {"ports": [{"port": 53, "protocol": "ICMP"}]},
     ['spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"']),
    ("bad-type", {"type": "Magic"},
     ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "NodePort", "LoadBalancer", '
      '"ExternalName"']),
    ("bad-selector", {"selector": {"app": "-"}},
     ['spec.selector[app]: invalid label value "-": at most 63 characters, alphanumeric, \'-\', \'_\' or \'.\', '
      "starting and ending alphanumeric"]),
    ("bad-cluster-ip", {"clusterIP": "10.0.0"},
     ['spec.clusterIP: Invalid value: "10.0.0": must be empty, "None", or a valid IP address']),
    ("external-name", {"type": "ExternalName", "externalName": "db.example.com", "ports": []}, []),
]


@pytest.mark.parametrize("spec,expected", [s[1:] for s in SERVICES], ids=[s[0] for s in SERVICES])
def test_service(problems: Problems, spec: dict[str, Any], expected: list[str]) -> None:
    assert problems(svc(**spec)) == expected


def test_service_defaults(created: Callable[..., Any]) -> None:
    model = Service.model_validate(created(svc(ports=[{"name": "http", "port": 80}, {"name": "h", "port": 8080,
                                                                                      "targetPort": 80}])))
    assert model.spec is not None and model.spec.ports is not None
    assert model.spec.type == "ClusterIP"
    assert [(p.protocol, p.target_port) for p in model.spec.ports] == [("TCP", 80), ("TCP", 80)]


def test_service_cluster_ip_immutable(problems: Problems) -> None:
    assert problems(svc(clusterIP="172.30.0.2"), svc(clusterIP="172.30.0.1")) == \
        ['spec.clusterIP: Invalid value: "172.30.0.2": field is immutable']


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}, "subsets": list(subsets)}


@pytest.mark.parametrize("subset,expected", [
    ({"addresses": [{"ip": "10.128.0.5"}], "ports": [{"port": 80}]}, []),
    ({"addresses": [{"ip": "10.128.0"}], "ports": [{"port": 80}]},
     ['subsets[0].addresses[0].ip: Invalid value: "10.128.0": must be a valid IP address']),
    ({"notReadyAddresses": [{}], "ports": [{"port": 80}]},
     ["subsets[0].notReadyAddresses[0].ip: Invalid value: null: must be a valid IP address"]),
    ({"addresses": [{"ip": "10.128.0.5"}], "ports": [{"port": 80}, {"port": 81, "name": "b"}]},
     ["subsets[0].ports[0].name: Required value"]),
], ids=["ok", "bad-ip", "missing-ip", "unnamed-ports"])
def test_endpoints(problems: Problems, subset: dict[str, Any], expected: list[str]) -> None:
    assert problems(endpoints(subset)) == expected


@pytest.mark.parametrize("data,expected", [
    ({"destination": "80 tcp 203.0.113.25\n"}, []),
    ({"destination": 80}, ["data.destination: must be a string, got 80 (quote it in YAML)"]),
    ({"bad key": "x"}, ['data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric '
                        "characters, '-', '_' or '.'"]),
], ids=["ok", "int-value", "bad-key"])
def test_config_map(problems: Problems, data: dict[str, Any], expected: list[str]) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "egress-routes"}, "data": data}
    assert problems(obj) == expected


def rc(selector: dict[str, str] | None, labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    body: dict[str, Any] = {"template": template, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"}, "spec": body}


@pytest.mark.parametrize("obj,expected", [
    (rc({"name": "a"}, {"name": "a", "extra": "x"}), []),
    (rc(None, {"name": "a"}), []),
    (rc({"name": "a"}, {"name": "b"}),
     ['spec.template.metadata.labels: Invalid value: {"name": "b"}: `selector` does not match template `labels`']),
    (rc(None, {}), ["spec.selector: Required value"]),
    (rc({"name": "a"}, {"name": "a"}, replicas=-1),
     ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
], ids=["match", "selector-from-labels", "mismatch", "no-selector", "negative-replicas"])
def test_replication_controller(problems: Problems, obj: dict[str, Any], expected: list[str]) -> None:
    assert problems(obj) == expected


def test_replication_controller_template_restart_policy(problems: Problems) -> None:
    obj = rc({"name": "a"}, {"name": "a"})
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert problems(obj) == ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: '
                             '"Always"']


def test_replication_controller_defaults(created: Callable[..., Any]) -> None:
    model = ReplicationController.model_validate(created(rc(None, {"name": "a"})))
    assert model.spec is not None and model.spec.template is not None and model.spec.template.spec is not None
    assert (model.spec.replicas, model.spec.selector) == (1, {"name": "a"})
    assert model.spec.template.spec.restart_policy == "Always"
    assert model.metadata.labels == {"name": "a"}


def node(*addresses: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}, "spec": spec,
            "status": {"addresses": list(addresses)}}


@pytest.mark.parametrize("obj,expected", [
    (node({"type": "InternalIP", "address": "172.17.0.3"}, {"type": "Hostname", "address": "node1"}), []),
    (node({"type": "InternalIP", "address": "node1"}),
     ['status.addresses[0].address: Invalid value: "node1": must be a valid IP address']),
    (node({"type": "Private", "address": "1.2.3.4"}),
     ['status.addresses[0].type: Unsupported value: "Private": supported values: "Hostname", "ExternalIP", '
      '"InternalIP", "ExternalDNS", "InternalDNS"']),
    (node({"type": "Hostname"}), ["status.addresses[0].address: Required value"]),
    (node(podCIDR="10.128.0.1/23"),
     ['spec.podCIDR: Invalid value: "10.128.0.1/23": CIDR network specification "10.128.0.1/23" is not in '
      "canonical form (should be 10.128.0.0/23 or 10.128.0.1/32?)"]),
], ids=["ok", "internal-not-ip", "bad-type", "no-address", "pod-cidr"])
def test_node(problems: Problems, obj: dict[str, Any], expected: list[str]) -> None:
    assert problems(obj) == expected


def test_node_internal_ip() -> None:
    model = Node.model_validate(node({"type": "Hostname", "address": "n"}, {"type": "InternalIP", "address": "1.2.3.4"}))
    assert model.internal_ip() == "1.2.3.4"


def test_event_and_namespace(problems: Problems) -> None:
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "type": "Warning", "reason": "X"}
    assert problems(event) == []
    assert problems({**event, "type": "Fatal"}) == ['type: Unsupported value: "Fatal": supported values: "Normal", '
                                                    '"Warning"']
    assert problems({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "p1"}}) == []
