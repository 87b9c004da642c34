"""The model's own view of API objects: small frozen dataclasses built from kube-style dicts.

Pure: no I/O. Each `*_from_obj` reads exactly the fields the oracle needs and tolerates missing
ones (a manifest may be sparse); nothing here validates, the API server does that. IPv4 only, as
openshift-sdn.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from osdn.api.kinds.core import NAMESPACE_NAME_LABEL
from osdn.model.servicenet import is_node_local

Obj = Mapping[str, Any]
IPv4 = ipaddress.IPv4Address
Net = ipaddress.IPv4Network

MULTICAST_ANNOTATION = "netnamespace.network.openshift.io/multicast-enabled"
NS_NAME_LABEL = NAMESPACE_NAME_LABEL


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def key_of(obj: Obj) -> str:
    """`ns/name` for namespaced objects, `name` otherwise."""
    m = meta(obj)
    ns = m.get("namespace") or ""
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


def parse_ip(value: Any) -> IPv4 | None:
    """An IPv4 address, or None for absent/invalid (the model never raises on a sparse manifest)."""
    try:
        return ipaddress.IPv4Address(str(value).strip()) if value else None
    except ValueError:
        return None


def parse_net(value: Any) -> Net | None:
    try:
        return ipaddress.IPv4Network(str(value).strip(), strict=False) if value else None
    except ValueError:
        return None


def frozen_map(value: Any) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in (value or {}).items()})


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: Mapping[str, str]


def namespace_from_obj(obj: Obj) -> Namespace:
    name = str(meta(obj).get("name", ""))
    labels = dict(meta(obj).get("labels") or {})
    labels[NS_NAME_LABEL] = name  # the API server sets it on every namespace write (k8s >= 1.21)
    return Namespace(name, frozen_map(labels))


@dataclass(frozen=True)
class NetNamespace:
    name: str
    netid: int
    egress_ips: tuple[IPv4, ...]
    multicast: bool


def netnamespace_from_obj(obj: Obj) -> NetNamespace:
    ann = meta(obj).get("annotations") or {}
    ips = tuple(ip for ip in (parse_ip(v) for v in obj.get("egressIPs") or ()) if ip)
    return NetNamespace(str(obj.get("netname") or meta(obj).get("name", "")), int(obj.get("netid") or 0),
                        ips, ann.get(MULTICAST_ANNOTATION) == "true")


@dataclass(frozen=True)
class ContainerPort:
    name: str
    port: int
    protocol: str


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str]
    ip: IPv4 | None
    node: str
    ports: tuple[ContainerPort, ...]
    host_network: bool
    env: Mapping[str, str]  # merged env of all (init) containers: the egress router reads it

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def named_port(self, name: str, protocol: str) -> int | None:
        """The container port called `name` with `protocol`, or None."""
        return find_port(self.ports, name, protocol)


def find_port(ports: Iterable[ContainerPort], name: str, protocol: str) -> int | None:
    """The first of `ports` called `name` with `protocol` (ports in `container_ports` order), or None."""
    return next((p.port for p in ports if p.name == name and p.protocol == protocol), None)


def container_ports(spec: Obj) -> tuple[ContainerPort, ...]:
    """The pod's ports in upstream FindPort's order: its containers', then its sidecars' (init
    containers with restartPolicy Always); an init container that runs to completion has none."""
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return tuple(ContainerPort(str(p.get("name") or ""), int(p["containerPort"]),
                               str(p.get("protocol") or "TCP").upper())
                 for c in list(spec.get("containers") or []) + sidecars
                 for p in c.get("ports") or [] if p.get("containerPort"))


def pod_from_obj(obj: Obj) -> Pod:
    spec = obj.get("spec") or {}
    env: dict[str, str] = {}
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        for e in c.get("env") or []:
            if "value" in e:
                env[str(e.get("name"))] = str(e.get("value"))
    status = obj.get("status") or {}
    return Pod(str(meta(obj).get("namespace") or "default"), str(meta(obj).get("name", "")),
               frozen_map(meta(obj).get("labels")), parse_ip(status.get("podIP")),
               str(spec.get("nodeName") or ""), container_ports(spec), bool(spec.get("hostNetwork")),
               MappingProxyType(env))


DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds, Kubernetes' default for sessionAffinity ClientIP


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    protocol: str
    target: int | str  # number or container port name
    node_port: int | None = None  # spec.ports[].nodePort of a NodePort/LoadBalancer Service


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    cluster_ip: IPv4 | None  # None: headless or not allocated
    selector: Mapping[str, str] | None  # None: no selector (endpoints managed by hand)
    ports: tuple[ServicePort, ...]
    affinity_timeout: int | None = None  # sessionAffinity ClientIP: seconds; None: no affinity
    node_local: bool = False  # forwards to each node's own gateway (`osdn.model.servicenet`)
    external_ips: tuple[IPv4, ...] = ()  # spec.externalIPs (IPv4 ones): forwarded like the ClusterIP
    external_local: bool = False  # externalTrafficPolicy Local: node ports forward to the node's own endpoints

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def service_from_obj(obj: Obj) -> Service:
    spec = obj.get("spec") or {}
    ports = []
    for p in spec.get("ports") or []:
        port = int(p.get("port") or 0)
        target = p.get("targetPort", port)
        target = int(target) if isinstance(target, int) or str(target).isdigit() else str(target)
        node_port = p.get("nodePort") if spec.get("type") in ("NodePort", "LoadBalancer") else None
        ports.append(ServicePort(str(p.get("name") or ""), port, str(p.get("protocol") or "TCP").upper(), target,
                                 node_port if isinstance(node_port, int) and 0 < node_port < 65536 else None))
    selector = spec.get("selector")
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    return Service(str(meta(obj).get("namespace") or "default"), str(meta(obj).get("name", "")),
                   parse_ip(spec.get("clusterIP")), frozen_map(selector) if selector else None, tuple(ports),
                   affinity, is_node_local(meta(obj).get("annotations")),
                   tuple(ip for ip in map(parse_ip, spec.get("externalIPs") or ()) if ip is not None),
                   spec.get("externalTrafficPolicy") == "Local")


@dataclass(frozen=True)
class EndpointPort:
    name: str
    port: int
    protocol: str


@dataclass(frozen=True)
class Endpoints:
    """An Endpoints object: the (ip, ports) the service forwards to, as the endpoints controller wrote them."""

    namespace: str
    name: str
    subsets: tuple[tuple[tuple[IPv4, ...], tuple[EndpointPort, ...]], ...]


def endpoints_from_obj(obj: Obj) -> Endpoints:
    subsets = []
    for s in obj.get("subsets") or []:
        ips = tuple(ip for ip in (parse_ip(a.get("ip")) for a in s.get("addresses") or []) if ip)
        ports = tuple(EndpointPort(str(p.get("name") or ""), int(p.get("port") or 0),
                                   str(p.get("protocol") or "TCP").upper()) for p in s.get("ports") or [])
        subsets.append((ips, ports))
    return Endpoints(str(meta(obj).get("namespace") or "default"), str(meta(obj).get("name", "")),
                     tuple(subsets))


@dataclass(frozen=True)
class HostSubnet:
    node: str
    host_ip: IPv4 | None
    subnet: Net | None
    egress_ips: tuple[IPv4, ...]


def hostsubnet_from_obj(obj: Obj) -> HostSubnet:
    ips = tuple(ip for ip in (parse_ip(v) for v in obj.get("egressIPs") or ()) if ip)
    return HostSubnet(str(obj.get("host") or meta(obj).get("name", "")), parse_ip(obj.get("hostIP")),
                      parse_net(obj.get("subnet")), ips)


def node_ip_from_obj(obj: Obj) -> IPv4 | None:
    """A Node's InternalIP (used when no HostSubnet names the node's IP)."""
    for a in (obj.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return parse_ip(a.get("address"))
    return None


@dataclass(frozen=True)
class EgressRule:
    index: int
    action: str  # Allow | Deny
    cidr: Net | None
    dns_name: str | None

    def describe(self) -> str:
        target = str(self.cidr) if self.cidr is not None else f"dnsName {self.dns_name}"
        return f"spec.egress[{self.index}] {self.action} {target}"


@dataclass(frozen=True)
class EgressFirewall:
    namespace: str
    name: str
    rules: tuple[EgressRule, ...]
    resolved: tuple[tuple[str, tuple[IPv4, ...]], ...] = ()  # the master's resolution of its dnsNames

    @property
    def ref(self) -> str:
        return f"EgressNetworkPolicy {self.namespace}/{self.name}"


def egress_firewall_from_obj(obj: Obj) -> EgressFirewall:
    rules = []
    for i, r in enumerate((obj.get("spec") or {}).get("egress") or []):
        to = r.get("to") or {}
        cidr = parse_net(to.get("cidrSelector"))
        if cidr is not None and str(cidr) == "0.0.0.0/32":  # openshift-sdn corrects this to 0.0.0.0/0
            cidr = ipaddress.IPv4Network("0.0.0.0/0")
        name = str(to["dnsName"]).lower().rstrip(".") if to.get("dnsName") else None
        rules.append(EgressRule(i, str(r.get("type") or "Deny"), cidr, name))
    resolved = tuple(sorted((n, tuple(ip for ip in map(parse_ip, a) if ip)) for n, a in resolved_of(obj).items()))
    return EgressFirewall(str(meta(obj).get("namespace") or "default"), str(meta(obj).get("name", "")),
                          tuple(rules), resolved)


RESOLVED_ANNOTATION = "network.osdn.io/dns-resolved"  # the master's resolution (osdn.master.egressdns)


def resolved_of(obj: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Pure: the master's resolution published on an EgressNetworkPolicy (bad JSON: nothing)."""
    raw = (meta(obj).get("annotations") or {}).get(RESOLVED_ANNOTATION)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k).lower().rstrip("."): tuple(str(a) for a in v if parse_ip(a))
            for k, v in data.items() if isinstance(v, list)}

