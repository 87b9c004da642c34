"""A Service's named targetPort in the master's Endpoints and EndpointSlices, as upstream's
`podutil.FindPort`: the pod's containers first, then its sidecars (init containers with
`restartPolicy: Always`), never an init container that runs to completion."""

from __future__ import annotations

import json
from typing import Any

from osdn.master.endpoints import desired_endpoints, pod_ports
from osdn.master.slices import desired_for_service

Obj = dict[str, Any]
SVC: Obj = {"metadata": {"name": "web", "namespace": "p", "uid": "u-web"},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "m", "port": 80, "targetPort": "metrics", "protocol": "TCP"}]}}


def port(number: int, protocol: str = "TCP") -> Obj:
    return {"name": "metrics", "containerPort": number, "protocol": protocol}


def pod(containers: list[Obj], init: list[Obj]) -> Obj:
    return {"metadata": {"name": "a", "namespace": "p", "uid": "u-a", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": containers, "initContainers": init},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def sidecar(*ports: Obj) -> Obj:
    return {"name": "proxy", "restartPolicy": "Always", "ports": list(ports)}


def test_a_sidecar_port_is_an_endpoint_port_but_an_init_containers_is_not() -> None:
    p = pod([{"name": "app"}], [sidecar(port(9100))])
    assert pod_ports(SVC, p) == [{"name": "m", "port": 9100, "protocol": "TCP"}]
    ep = desired_endpoints(SVC, [p])
    assert ep["subsets"][0]["ports"] == [{"name": "m", "port": 9100, "protocol": "TCP"}]
    assert ep["subsets"][0]["addresses"][0]["ip"] == "10.0.0.1"
    groups = desired_for_service(SVC, [p]).groups
    assert [json.loads(k) for k in groups] == [[{"name": "m", "port": 9100, "protocol": "TCP"}]]
    for policy in ({}, {"restartPolicy": "OnFailure"}):   # an init container that runs to completion
        p = pod([{"name": "app"}], [{"name": "setup", "ports": [port(9100)], **policy}])
        assert pod_ports(SVC, p) == []
        assert desired_endpoints(SVC, [p])["subsets"] == []


def test_containers_win_over_sidecars_and_the_protocol_must_match() -> None:
    both = pod([{"name": "app", "ports": [port(8080)]}], [sidecar(port(9100))])
    assert pod_ports(SVC, both) == [{"name": "m", "port": 8080, "protocol": "TCP"}]
    udp_first = pod([{"name": "app", "ports": [port(8080, "UDP")]}], [sidecar(port(9100))])
    assert pod_ports(SVC, udp_first) == [{"name": "m", "port": 9100, "protocol": "TCP"}]
