"""`osdn describe svc`: the Endpoints line as kubectl >= 1.29 prints it, from the service's
EndpointSlices (ready endpoints of the matching port), else from its Endpoints object."""

from __future__ import annotations

from typing import Any

from osdn.cli.services import describe_service

Obj = dict[str, Any]
SVC = {"metadata": {"name": "web", "namespace": "p"},
       "spec": {"clusterIP": "172.30.0.9", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
ENDPOINTS = {"subsets": [{"addresses": [{"ip": "10.128.9.9"}], "ports": [{"name": "http", "port": 8080}]}]}


def ep(ip: str, ready: bool = True) -> Obj:
    return {"addresses": [ip], "conditions": {"ready": ready}}


def endpoints_line(slices: list[Obj] | None) -> str:
    text = describe_service(SVC, ENDPOINTS, [], 0.0, slices)
    return next(line for line in text.splitlines() if line.startswith("Endpoints:"))


def test_slices_win_over_endpoints_and_not_ready_endpoints_are_left_out() -> None:
    slices = [{"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "other", "port": 9}],
               "endpoints": [ep("10.128.0.5"), ep("10.128.0.6", ready=False), ep("10.128.0.7")]},
              {"ports": [{"name": "http", "port": 8081, "protocol": "TCP"}],
               "endpoints": [ep("10.128.1.5"), ep("10.128.1.6")]}]
    assert endpoints_line(slices) == "Endpoints:         10.128.0.5:8080,10.128.0.7:8080,10.128.1.5:8081 + 1 more..."


def test_a_placeholder_slice_prints_nothing_and_no_slice_falls_back_to_endpoints() -> None:
    assert endpoints_line([{"ports": [], "endpoints": []}]).rstrip() == "Endpoints:"
    assert endpoints_line([]) == "Endpoints:         10.128.9.9:8080"
