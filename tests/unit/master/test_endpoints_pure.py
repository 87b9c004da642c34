"""Pure parts of services in the master: the endpoints controller's desired Endpoints, and ClusterIP
allocation from the service network."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.master.endpoints import HEADLESS_LABEL, MANAGED_LABEL, desired_endpoints, manages
from osdn.model.servicenet import allocate_ip, dns_service_ip, ip_problem, service_ip, static_band

Obj = dict[str, Any]


def svc(ports: list[Obj], selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "p", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"} if selector is None else selector, "ports": ports, **spec}}


def pod(name: str, ip: str | None, ready: bool = True, ports: list[Obj] | None = None, **meta: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "p", "uid": f"u-{name}", "labels": {"app": "web"}, **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def flat(ep: Obj, field: str = "addresses") -> set[tuple[str, int]]:
    return {(a["ip"], p["port"]) for s in ep["subsets"] for a in s.get(field, []) for p in s.get("ports", [])}


def test_ready_pods_are_addresses_unready_ones_not_ready_addresses() -> None:
    ep = desired_endpoints(svc([{"name": "h", "port": 80, "targetPort": 8080}]),
                           [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False), pod("c", None),
                            pod("d", "10.0.0.4", deletionTimestamp="2026-01-01T00:00:00Z")])
    assert flat(ep) == {("10.0.0.1", 8080)} and flat(ep, "notReadyAddresses") == {("10.0.0.2", 8080)}
    assert ep["metadata"]["labels"] == {"team": "a", MANAGED_LABEL: "endpoints-controller"}
    assert ep["subsets"][0]["addresses"][0]["targetRef"] == {"kind": "Pod", "namespace": "p", "name": "a", "uid": "u-a"}
    everyone = desired_endpoints(svc([{"name": "h", "port": 80}], publishNotReadyAddresses=True),
                                 [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)])
    assert flat(everyone) == {("10.0.0.1", 80), ("10.0.0.2", 80)}


def test_named_target_ports_resolve_per_pod_and_group_subsets() -> None:
    spec = [{"name": "h", "port": 80, "targetPort": "web", "protocol": "TCP"}]
    ep = desired_endpoints(svc(spec), [pod("a", "10.0.0.1", ports=[{"name": "web", "containerPort": 8080}]),
                                       pod("b", "10.0.0.2", ports=[{"name": "web", "containerPort": 9090}]),
                                       pod("c", "10.0.0.3", ports=[{"name": "web", "containerPort": 8080}]),
                                       pod("d", "10.0.0.4", ports=[{"name": "other", "containerPort": 1}])])
    assert flat(ep) == {("10.0.0.1", 8080), ("10.0.0.3", 8080), ("10.0.0.2", 9090)}
    assert sorted(len(s["addresses"]) for s in ep["subsets"]) == [1, 2]


def test_headless_and_selectorless_services() -> None:
    ep = desired_endpoints(svc([], clusterIP="None"), [pod("a", "10.0.0.1")])
    assert ep["subsets"] == [{"addresses": [ep["subsets"][0]["addresses"][0]]}]
    assert HEADLESS_LABEL in ep["metadata"]["labels"]
    assert not manages(svc([{"port": 80}], selector={})) and not manages(None)
    assert not manages(svc([{"port": 80}], type="ExternalName"))


def test_dns_vip_and_allocation_bands() -> None:
    assert dns_service_ip("172.30.0.0/16") == "172.30.0.10" and service_ip("10.96.0.0/12", 1) == "10.96.0.1"
    assert static_band("172.30.0.0/16") == 256 and static_band("10.0.0.0/24") == 16
    first = allocate_ip("172.30.0.0/16", set(), 0)
    assert first == "172.30.1.1"  # the dynamic band starts above the static one
    assert allocate_ip("10.0.0.0/29", {f"10.0.0.{i}" for i in range(1, 7)}, 3) is None  # full
    assert allocate_ip("10.0.0.0/29", {f"10.0.0.{i}" for i in range(1, 6)}, 3) == "10.0.0.6"
    with pytest.raises(ValueError):
        service_ip("10.0.0.0/29", 7)


def test_ip_problems_name_the_range() -> None:
    assert ip_problem("172.30.0.0/16", "172.30.9.9") is None
    assert "172.30.0.0/16" in (ip_problem("172.30.0.0/16", "10.0.0.1") or "")
    assert "broadcast" in (ip_problem("172.30.0.0/16", "172.30.255.255") or "")
