"""A Service's endpoints as the nodes forward them: merged from its EndpointSlices (discovery.k8s.io/v1),
as kube-proxy does since 1.19 (`pkg/proxy/endpointslicecache.go`, `topology.go`).

Pure. The master writes the slices (`osdn.master.endpointslices`: from the selector's pods, and
mirrored from hand-written Endpoints of selector-less Services). The model (`ClusterState`), and
through it every node (`osdn.node.services`), takes a Service's endpoints from its slices when it
has any; else from its Endpoints object; else from its selector's pods (the last two only matter
without a master, or for Endpoints that opt out of mirroring). Per Service (the slices' namespace
and `kubernetes.io/service-name` label):
- only IPv4 slices count; an endpoint is its first address; a slice port without a port number is
  ignored;
- conditions: `ready` unset means ready; `serving` unset means as `ready`; `terminating` unset
  means not terminating;
- an endpoint (address and port) in several slices counts once: the first seen, by slice name,
  unless a later one is not terminating (kube-proxy prefers the running pod when an IP was reused);
- per service port (name and protocol) the ready endpoints are used; when none is ready, the
  serving and terminating ones (kube-proxy's fallback, so connections keep working through a
  rolling update whose old pods are all terminating); otherwise none (the node rejects).
The result is expressed as the Endpoints object the model reads (`objects.endpoints_from_obj`:
one subset per port), so there is one endpoint selection (`osdn.model.services`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from osdn.model.objects import parse_ip

Obj = Mapping[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
_Conds = tuple[bool, bool, bool]  # ready, serving, terminating


def service_of(slice_: Obj) -> tuple[str, str] | None:
    """Pure: (namespace, service name) an EndpointSlice belongs to, None without the label."""
    meta = slice_.get("metadata") or {}
    name = (meta.get("labels") or {}).get(SERVICE_NAME)
    return (str(meta.get("namespace") or ""), str(name)) if name else None


def _conditions(endpoint: Obj) -> _Conds:
    c = endpoint.get("conditions") or {}
    ready = c.get("ready") is not False
    serving = ready if c.get("serving") is None else bool(c.get("serving"))
    return ready, serving, c.get("terminating") is True


def _merge(slices: Iterable[Obj]) -> dict[tuple[str, str], dict[tuple[str, int], _Conds]]:
    """Per service port (name, protocol): each endpoint (IP, port) once, with its conditions."""
    ports: dict[tuple[str, str], dict[tuple[str, int], _Conds]] = {}
    for s in sorted(slices, key=lambda s: str((s.get("metadata") or {}).get("name") or "")):
        if s.get("addressType") != "IPv4":
            continue
        for p in s.get("ports") or []:
            if not isinstance(p.get("port"), int):
                continue
            seen = ports.setdefault((str(p.get("name") or ""), str(p.get("protocol") or "TCP").upper()), {})
            for ep in s.get("endpoints") or []:
                address = (ep.get("addresses") or [None])[0]
                if parse_ip(address) is None:
                    continue
                conds = _conditions(ep)
                key = (str(address), p["port"])
                if key not in seen or not conds[2]:
                    seen[key] = conds
    return ports


def _chosen(endpoints: Mapping[tuple[str, int], _Conds]) -> list[tuple[str, int]]:
    ready = [k for k, (r, _, _) in endpoints.items() if r]
    return ready or [k for k, (_, serving, terminating) in endpoints.items() if serving and terminating]


def endpoints_from_slices(namespace: str, service: str, slices: Iterable[Obj]) -> dict[str, Any]:
    """Pure: the Endpoints object (for forwarding) equivalent to one Service's EndpointSlices."""
    subsets = []
    for (name, protocol), endpoints in sorted(_merge(slices).items()):
        by_port: dict[int, list[str]] = {}
        for ip, port in sorted(_chosen(endpoints)):
            by_port.setdefault(port, []).append(ip)
        subsets += [{"addresses": [{"ip": ip} for ip in ips],
                     "ports": [{"name": name, "port": port, "protocol": protocol}]} for port, ips in sorted(by_port.items())]
    return {"kind": "Endpoints", "metadata": {"namespace": namespace, "name": service}, "subsets": subsets}


def endpoints_of_slices(slices: Iterable[Obj]) -> list[dict[str, Any]]:
    """Pure: per Service that EndpointSlices name, the Endpoints object equivalent to its slices."""
    groups: dict[tuple[str, str], list[Obj]] = {}
    for s in slices:
        owner = service_of(s)
        if owner is not None:
            groups.setdefault(owner, []).append(s)
    return [endpoints_from_slices(ns, name, group) for (ns, name), group in sorted(groups.items())]
