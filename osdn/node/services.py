"""Services as a node enforces them: one `ServiceVIP` per (ClusterIP, protocol, port), with its endpoints.

Pure. Compiled from the model's `ClusterState`, with the model's own endpoint selection
(`osdn.model.services.compute_backends`: the Endpoints object when there is one, else the pods of
the selector, named targetPorts resolved per pod), so the node forwards exactly where `adm trace`
says. A node-local service (the cluster DNS, `osdn.model.servicenet`) has one endpoint on every
node: that node's own pod gateway, on the targetPort. Headless services and services without a
ClusterIP forward nothing and are absent.
"""

from __future__ import annotations

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
    `key` names it (`namespace/name:portname`) for chain names and logs."""

    vip: str
    proto: str
    port: int
    key: str
    endpoints: tuple[ServiceEndpoint, ...] = ()
    affinity: int | None = None


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
            out.append(ServiceVIP(str(svc.cluster_ip), proto, sp.port, f"{svc.key}:{sp.name}",
                                  _endpoints(state, svc, sp, gateway), svc.affinity_timeout))
    return tuple(sorted(out))


def _endpoints(state: ClusterState, svc: Service, sp: ServicePort, gateway: str) -> tuple[ServiceEndpoint, ...]:
    if svc.node_local:
        return (ServiceEndpoint(gateway, sp.target),) if isinstance(sp.target, int) else ()
    backends, _ = compute_backends(state, svc, sp.protocol, sp.port)
    return tuple(sorted({ServiceEndpoint(str(b.ip), b.port) for b in backends}))
