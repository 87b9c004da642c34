"""Services as a node enforces them: one `ServiceVIP` per (ClusterIP, protocol, port), with its endpoints.

Pure. Compiled from the model's `ClusterState`, with the model's own endpoint selection
(`osdn.model.services.compute_backends`: the Endpoints object when there is one, else the pods of
the selector, named targetPorts resolved per pod), so the node forwards exactly where `adm trace`
says. A node-local service (the cluster DNS, `osdn.model.servicenet`) has one endpoint on every
node: that node's own pod gateway, on the targetPort. Headless services and services without a
ClusterIP forward nothing and are absent.

Each IPv4 address of a Service's `spec.externalIPs` is one more `ServiceVIP` per port (`external`),
with the same endpoints, as kube-proxy forwards them. The API server admits only the externalIPs
its policy allows (`osdn.apiserver.plugins.externalips`); still, addresses are never shared here:
a ClusterIP is never taken over by another Service's externalIP, and an externalIP claimed by
several Services belongs to the first by namespace/name (`unique_addresses`; the model's
`ClusterState.service_by_ip` picks the same one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from osdn.model.cluster import ClusterState
from osdn.model.objects import Service, ServicePort
from osdn.model.services import compute_backends

_PROTOS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@dataclass(frozen=True, order=True)
class ServiceEndpoint:
    ip: str
    port: int


@dataclass(frozen=True, order=True)
class ServiceVIP:
    """Traffic to `vip` on `proto`/`port` is DNATed to one of `endpoints` (none: rejected).
    `affinity`: sessionAffinity ClientIP timeout in seconds (None: a random endpoint per connection).
    `key` names it (`namespace/name:portname`) for chain names and logs. `external`: `vip` is one of
    the Service's externalIPs (connections from outside the pod network are masqueraded)."""

    vip: str
    proto: str
    port: int
    key: str
    endpoints: tuple[ServiceEndpoint, ...] = ()
    affinity: int | None = None
    external: bool = False


def compute_services(state: ClusterState, gateway: str) -> tuple[ServiceVIP, ...]:
    """Pure: every service port of the cluster with its endpoints, as this node (gateway) forwards it."""
    out = []
    for svc in state.services:
        if svc.cluster_ip is None:
            continue
        for sp in svc.ports:
            proto = _PROTOS.get(sp.protocol)
            if proto is None or not 0 < sp.port < 65536:
                continue
            eps = _endpoints(state, svc, sp, gateway)
            key = f"{svc.key}:{sp.name}"
            out.append(ServiceVIP(str(svc.cluster_ip), proto, sp.port, key, eps, svc.affinity_timeout))
            out.extend(ServiceVIP(str(ip), proto, sp.port, key, eps, svc.affinity_timeout, external=True)
                       for ip in dict.fromkeys(svc.external_ips) if ip != svc.cluster_ip)
    return unique_addresses(out)


def unique_addresses(vips: Iterable[ServiceVIP]) -> tuple[ServiceVIP, ...]:
    """Pure: `vips` sorted, without the externalIP ones whose address is some Service's ClusterIP or
    an externalIP of a Service before theirs (by namespace/name): one owner per address."""
    vips = list(vips)
    cluster_ips = {v.vip for v in vips if not v.external}
    owner: dict[str, str] = {}
    for v in vips:
        if v.external and v.vip not in cluster_ips:
            svc = v.key.partition(":")[0]
            owner[v.vip] = min(owner.get(v.vip, svc), svc)
    kept = (v for v in vips if not v.external or owner.get(v.vip) == v.key.partition(":")[0])
    return tuple(sorted(kept, key=lambda v: (v.vip, v.proto, v.port, v.key, v.endpoints, v.affinity or -1)))


def _endpoints(state: ClusterState, svc: Service, sp: ServicePort, gateway: str) -> tuple[ServiceEndpoint, ...]:
    if svc.node_local:
        return (ServiceEndpoint(gateway, sp.target),) if isinstance(sp.target, int) else ()
    backends, _ = compute_backends(state, svc, sp.protocol, sp.port)
    return tuple(sorted({ServiceEndpoint(str(b.ip), b.port) for b in backends}))
