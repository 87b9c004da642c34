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

Each `nodePort` of a NodePort/LoadBalancer Service is one more `ServiceVIP` (`node_port`, `vip`
empty: this node's addresses) on the node port: externalTrafficPolicy Cluster forwards to every
endpoint and masquerades clients that are not pods (`external`); Local forwards only to this
node's endpoints (those in its pod subnet), keeps the client's address, and drops when there are
none, except for this node's pods and the node itself, which reach every endpoint (`internal`, a
second ServiceVIP: kube-proxy's "short-circuit pod traffic" and "local traffic"). One owner per
protocol and node port too (the first Service by namespace/name).
"""

from __future__ import annotations

import ipaddress
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
    the Service's externalIPs (connections from outside the pod network are masqueraded).
    `node_port`: `port` is a node port on this node's addresses (`vip` is empty); `external` then
    says whether clients that are not pods are masqueraded (externalTrafficPolicy Cluster); `local`:
    the endpoints are this node's only (Local), so having none drops instead of rejecting;
    `internal`: Local's way for this node's pods and the node itself, to every endpoint."""

    vip: str
    proto: str
    port: int
    key: str
    endpoints: tuple[ServiceEndpoint, ...] = ()
    affinity: int | None = None
    external: bool = False
    node_port: bool = False
    local: bool = False
    internal: bool = False


def compute_services(state: ClusterState, gateway: str, subnet: str | None = None) -> tuple[ServiceVIP, ...]:
    """Pure: every service port of the cluster with its endpoints, as this node (gateway, pod
    `subnet`: which endpoints are local) forwards it."""
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
            if sp.node_port:
                out.extend(_node_port(svc, sp, proto, key, eps, subnet))
    return unique_addresses(out)


def _node_port(svc: Service, sp: ServicePort, proto: str, key: str, eps: tuple[ServiceEndpoint, ...],
               subnet: str | None) -> tuple[ServiceVIP, ...]:
    port = sp.node_port or 0
    if not svc.external_local:
        return (ServiceVIP("", proto, port, key, eps, svc.affinity_timeout, external=True, node_port=True),)
    net = ipaddress.ip_network(subnet, strict=False) if subnet else None
    local = tuple(e for e in eps if net is not None and ipaddress.ip_address(e.ip) in net)
    vip = ServiceVIP("", proto, port, key, local, svc.affinity_timeout, node_port=True,
                     local=bool(eps))   # no endpoint anywhere: rejected, as a Cluster one
    if not eps:
        return (vip,)
    return vip, ServiceVIP("", proto, port, key, eps, svc.affinity_timeout, node_port=True, internal=True)


def unique_addresses(vips: Iterable[ServiceVIP]) -> tuple[ServiceVIP, ...]:
    """Pure: `vips` sorted, without the externalIP ones whose address is some Service's ClusterIP or
    an externalIP of a Service before theirs (by namespace/name): one owner per address."""
    vips = list(vips)
    cluster_ips = {v.vip for v in vips if not v.external and not v.node_port}
    owner: dict[str, str] = {}
    for v in vips:
        if v.node_port or (v.external and v.vip not in cluster_ips):
            svc, address = v.key.partition(":")[0], _address(v)
            owner[address] = min(owner.get(address, svc), svc)
    kept = (v for v in vips if not (v.external or v.node_port) or owner.get(_address(v)) == v.key.partition(":")[0])
    return tuple(sorted(kept, key=lambda v: (v.vip, v.proto, v.port, v.key, v.endpoints, v.affinity or -1)))


def _address(v: ServiceVIP) -> str:
    """What one Service owns: an externalIP, or a protocol and node port."""
    return f"{v.proto}/{v.port}" if v.node_port else v.vip


def _endpoints(state: ClusterState, svc: Service, sp: ServicePort, gateway: str) -> tuple[ServiceEndpoint, ...]:
    if svc.node_local:
        return (ServiceEndpoint(gateway, sp.target),) if isinstance(sp.target, int) else ()
    backends, _ = compute_backends(state, svc, sp.protocol, sp.port)
    return tuple(sorted({ServiceEndpoint(str(b.ip), b.port) for b in backends}))
