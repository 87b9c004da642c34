"""The upstream NetworkPolicy e2e world: namespaces x, y, z; pods a, b, c in each; ports 80/81 on
TCP, UDP and SCTP (container ports named serve-<port>-<proto>), plus a `Reachability` expectation
builder in the style of test/e2e/network/netpol (all allowed, then carve)."""

from __future__ import annotations

from typing import Any

from model_builders import cluster_network, namespace, pod

from osdn.model.cluster import ClusterState

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
KEYS = tuple(f"{n}/{p}" for n in NAMESPACES for p in PODS)
PROTOS = ("TCP", "UDP", "SCTP")


def ip_of(key: str) -> str:
    ns, p = key.split("/")
    return f"10.128.{NAMESPACES.index(ns)}.{10 + PODS.index(p)}"


def world(*policies: dict[str, Any], mode: str = "networkpolicy") -> ClusterState:
    objs: list[dict[str, Any]] = [cluster_network(mode)]
    objs += [namespace(n, ns=n) for n in NAMESPACES]
    ports = tuple((f"serve-{port}-{proto.lower()}", port, proto) for port in (80, 81) for proto in PROTOS)
    objs += [pod(k.split("/")[0], k.split("/")[1], ip_of(k), {"pod": k.split("/")[1]}, ports=ports) for k in KEYS]
    return ClusterState.from_objects(objs + list(policies))


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
