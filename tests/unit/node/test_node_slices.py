"""Nodes forward from EndpointSlices (kube-proxy since 1.19), pure: merging a Service's slices,
conditions and kube-proxy's serving/terminating fallback, duplicates, and what compile and the model
make of it (slices first, then Endpoints, then the selector's pods)."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.model.cluster import ClusterState
from osdn.model.slices import endpoints_from_slices
from osdn.node.compile import NodeFacts, compile_intent, relevant_change
from osdn.node.services import ServiceEndpoint
from tests.unit.model.model_builders import cluster_network, hostsubnet, namespace, pod, service, verdict

Obj = dict[str, Any]


def ep(ip: str, **conditions: bool) -> Obj:
    return {"addresses": [ip], "conditions": conditions}


def eslice(name: str, *endpoints: Obj, svc: str = "web", port: int | None = 8080, address_type: str = "IPv4",
           port_name: str = "web") -> Obj:
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "addressType": address_type,
            "metadata": {"name": name, "namespace": "p", "labels": {"kubernetes.io/service-name": svc}},
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}], "endpoints": list(endpoints)}


def chosen(*slices: Obj) -> list[str]:
    subsets = endpoints_from_slices("p", "web", slices)["subsets"]
    return [f"{a['ip']}:{s['ports'][0]['port']}" for s in subsets for a in s["addresses"]]


@pytest.mark.parametrize(("slices", "expected"), [
    ((eslice("web-a", ep("10.128.0.10", ready=True)), eslice("web-b", ep("10.128.0.11", ready=True))),
     ["10.128.0.10:8080", "10.128.0.11:8080"]),                                   # merged
    ((eslice("web-a", ep("10.128.0.10", ready=True)), eslice("web-b", ep("10.128.0.10", ready=True))),
     ["10.128.0.10:8080"]),                                                       # in two slices: once
    ((eslice("web-a", ep("10.128.0.10", ready=False), ep("10.128.0.11", ready=True)),),
     ["10.128.0.11:8080"]),                                                       # ready only
    ((eslice("web-a", ep("10.128.0.10")),), ["10.128.0.10:8080"]),               # unset ready: ready
    ((eslice("web-a", ep("10.128.0.10", ready=False, serving=True, terminating=True),
             ep("10.128.0.11", ready=False, serving=False, terminating=True),
             ep("10.128.0.12", ready=False, serving=False)),),
     ["10.128.0.10:8080"]),                                                       # none ready: serving+terminating
    ((eslice("web-a", ep("10.128.0.10", ready=False, serving=True, terminating=True),
             ep("10.128.0.11", ready=True)),), ["10.128.0.11:8080"]),              # a ready one wins over them
    ((eslice("web-a", ep("10.128.0.10", ready=False, serving=False, terminating=True)),
      eslice("web-b", ep("10.128.0.10", ready=True))), ["10.128.0.10:8080"]),      # reused IP: the running pod
    ((eslice("web-a", ep("10.128.0.10", ready=True)),
      eslice("web-b", ep("10.128.0.10", ready=False, terminating=True))), ["10.128.0.10:8080"]),
    ((eslice("web-a", ep("10.128.0.10", ready=True), port=8080), eslice("web-b", ep("10.128.0.11"), port=8081)),
     ["10.128.0.10:8080", "10.128.0.11:8081"]),                                   # per-pod target ports
    ((eslice("web-a", ep("fd00::1"), address_type="IPv6"), eslice("web-b", ep("10.128.0.11"), port=None)), []),
    ((eslice("web-a"),), []),                                                     # the placeholder slice
], ids=["merge", "dedup", "ready-only", "unset-ready", "terminating-fallback", "ready-wins", "reused-ip",
        "reused-ip-first", "target-ports", "ipv6-and-portless", "placeholder"])
def test_merge_as_kube_proxy(slices: tuple[Obj, ...], expected: list[str]) -> None:
    assert chosen(*slices) == expected


FACTS = NodeFacts("n1", "192.168.0.1")


def world(*extra: Obj) -> list[Obj]:
    return [cluster_network("networkpolicy"), namespace("p"), hostsubnet("n1", "192.168.0.1", "10.128.0.0/23"),
            pod("p", "w1", "10.128.0.10", {"app": "web"}), pod("p", "w2", "10.128.0.11", {"app": "web"}),
            service("p", "web", "172.30.0.20", {"app": "web"}, (("web", 80, "TCP", 8080),)), *extra]


def forwarded(objs: list[Obj]) -> tuple[ServiceEndpoint, ...]:
    return next(v.endpoints for v in compile_intent(objs, FACTS).services if v.vip == "172.30.0.20")


def test_compile_and_the_model_forward_from_slices_first() -> None:
    stale = {"kind": "Endpoints", "metadata": {"namespace": "p", "name": "web"},
             "subsets": [{"addresses": [{"ip": "10.128.0.99"}], "ports": [{"name": "web", "port": 8080}]}]}
    objs = world(stale, eslice("web-x", ep("10.128.0.11", ready=True), ep("10.128.0.10", ready=False)))
    assert forwarded(objs) == (ServiceEndpoint("10.128.0.11", 8080),)  # the slice decides, not the Endpoints
    assert [b.target for b in verdict(ClusterState.from_objects(objs), "p/w1", "172.30.0.20").backends] == [
        "p/w2:8080"]  # `adm trace` says the same
    assert forwarded(world(eslice("web-x"))) == ()  # only a placeholder: no endpoints, refused
    assert forwarded(world(stale)) == (ServiceEndpoint("10.128.0.99", 8080),)  # no slice: the Endpoints
    pods = (ServiceEndpoint("10.128.0.10", 8080), ServiceEndpoint("10.128.0.11", 8080))
    assert forwarded(world()) == pods  # no slice at all (no master running): the selector's pods, as before
    other = eslice("other-x", ep("10.128.0.12"), svc="other")
    assert forwarded(world(other)) == forwarded(world())  # another Service's slice is not this one's


def test_a_slice_event_requests_a_sync() -> None:
    old = eslice("web-a", ep("10.128.0.10", ready=True))
    assert relevant_change("EndpointSlice", eslice("web-a", ep("10.128.0.10", ready=False)), old)
