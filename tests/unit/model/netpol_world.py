"""The upstream NetworkPolicy e2e world: namespaces x, y, z; pods a, b, c in each; ports 80/81 on
TCP, UDP and SCTP (container ports named serve-<port>-<proto>), plus a `Reachability` expectation
builder in the style of test/e2e/network/netpol (all allowed, then carve).

`world(..., ns_labels=, pod_labels=)` adds labels to namespaces / pods (the upstream cases that
relabel mid-test are a sequence of worlds); `sidecar=True` declares the port-81 container ports in a
second container (named ports resolve across all of a pod's containers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model_builders import cluster_network, namespace, pod

from osdn.model.cluster import ClusterState

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
KEYS = tuple(f"{n}/{p}" for n in NAMESPACES for p in PODS)
PROTOS = ("TCP", "UDP", "SCTP")
Labels = Mapping[str, Mapping[str, str]]


def ip_of(key: str) -> str:
    ns, p = key.split("/")
    return f"10.128.{NAMESPACES.index(ns)}.{10 + PODS.index(p)}"


def _pod(key: str, labels: Mapping[str, str], sidecar: bool) -> dict[str, Any]:
    ns, name = key.split("/")
    ports = tuple((f"serve-{port}-{proto.lower()}", port, proto) for port in (80, 81) for proto in PROTOS)
    obj = pod(ns, name, ip_of(key), {"pod": name, **labels}, ports=ports)
    if sidecar:
        main = obj["spec"]["containers"][0]
        side = [p for p in main["ports"] if p["containerPort"] == 81]
        main["ports"] = [p for p in main["ports"] if p["containerPort"] != 81]
        obj["spec"]["containers"].append({"name": "sidecar", "image": "x", "ports": side})
    return obj


def world_objects(mode: str = "networkpolicy", ns_labels: Labels | None = None, pod_labels: Labels | None = None,
                  sidecar: bool = False) -> list[dict[str, Any]]:
    """The world's objects (ClusterNetwork, namespaces, pods), to build on."""
    objs: list[dict[str, Any]] = [cluster_network(mode)]
    objs += [namespace(n, ns=n, **(ns_labels or {}).get(n, {})) for n in NAMESPACES]
    return objs + [_pod(k, (pod_labels or {}).get(k, {}), sidecar) for k in KEYS]


def world(*policies: dict[str, Any], mode: str = "networkpolicy", ns_labels: Labels | None = None,
          pod_labels: Labels | None = None, sidecar: bool = False) -> ClusterState:
    return ClusterState.from_objects(world_objects(mode, ns_labels, pod_labels, sidecar) + list(policies))


class Reachability:
    """Expected verdicts for every ordered pair of distinct pods."""

    def __init__(self, default: bool = True) -> None:
        self.m = {(s, d): default for s in KEYS for d in KEYS if s != d}

    def expect(self, src: str, dst: str, ok: bool) -> Reachability:
        if src != dst:
            self.m[(src, dst)] = ok
        return self

    def ingress(self, dst: str, ok: bool) -> Reachability:
        for s in KEYS:
            self.expect(s, dst, ok)
        return self

    def egress(self, src: str, ok: bool) -> Reachability:
        for d in KEYS:
            self.expect(src, d, ok)
        return self
