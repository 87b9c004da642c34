"""EndpointSlice (discovery.k8s.io/v1): model, defaulting and validation, as upstream's.

Pure. Follows k8s.io/api discovery/v1 and pkg/apis/discovery/validation: `addressType` required,
one of IPv4/IPv6/FQDN and immutable; at most 1000 endpoints, each with 1..100 addresses of that
type (IP addresses neither unspecified, loopback, link-local nor link-local multicast), a valid
`nodeName` and a DNS-1123 label `hostname`; at most 20000 ports with unique names (empty or a
DNS-1123 label), protocol TCP/UDP/SCTP, an `appProtocol` that is a qualified name; at most 8 zone
hints. Defaults as upstream's: a port's `name` is "" and its `protocol` TCP.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import (
    Int32,
    KubeModel,
    Obj,
    ObjectReference,
    TypedObject,
    items,
    parse_strict,
    set_default,
)
from osdn.api.objects import validate_labels, validate_qualified_name
from osdn.errors import FieldError

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000
MAX_ZONE_HINTS = 8
MAX_TOPOLOGY_LABELS = 16


class EndpointConditions(KubeModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(KubeModel):
    name: str | None = None


class EndpointHints(KubeModel):
    for_zones: list[ForZone] | None = None


class Endpoint(KubeModel):
    addresses: list[str] | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: dict[str, str] | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointPort(KubeModel):
    name: str | None = None
    protocol: str | None = None
    port: Int32 | None = None
    app_protocol: str | None = None


class EndpointSlice(TypedObject):
    address_type: str | None = None
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None


def default_endpoint_slice(obj: Obj) -> None:
    for port in items(obj, "ports"):
        set_default(port, "name", "")
        set_default(port, "protocol", "TCP")


_LL_MULTICAST = (ipaddress.ip_network("224.0.0.0/24"), ipaddress.ip_network("ff02::/16"))
_SPECIAL = ((lambda ip: ip.is_unspecified, "may not be unspecified ({})"),
            (lambda ip: ip.is_loopback, "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
            (lambda ip: any(ip in net for net in _LL_MULTICAST),
             "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
            (lambda ip: ip.is_link_local, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))


def _address_errors(address: str, address_type: str | None, path: str) -> list[FieldError]:
    """Upstream checks the known types; an unknown type is reported once, on addressType."""
    if address_type == "FQDN":
        ok = v.is_dns1123_subdomain(address) and "." in address
        return [] if ok else [v.invalid(path, address, "should be a domain with at least two segments separated "
                                                       "by dots")]
    if address_type not in ("IPv4", "IPv6"):
        return []
    ip = v.parse_ip(address)
    version = 4 if address_type == "IPv4" else 6
    if ip is None or ip.version != version:
        return [v.invalid(path, address, f"must be a valid {address_type} address")]
    return [v.invalid(path, address, msg.format(address)) for check, msg in _SPECIAL if check(ip)]


def _too_many(path: str, got: int, limit: int) -> FieldError:
    return v.too_many(path, f"Too many: {got}: must have at most {limit} items")


def _endpoint_errors(ep: Endpoint, address_type: str | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    addresses = ep.addresses or []
    if not addresses:
        errs.append(v.required(f"{path}.addresses", "must contain at least 1 address"))
    elif len(addresses) > MAX_ADDRESSES:
        errs.append(_too_many(f"{path}.addresses", len(addresses), MAX_ADDRESSES))
    for i, address in enumerate(addresses):
        errs += _address_errors(address, address_type, f"{path}.addresses[{i}]")
    if ep.node_name is not None:
        errs += v.validate_dns1123_subdomain(ep.node_name, f"{path}.nodeName")
    topology = ep.deprecated_topology or {}
    if len(topology) > MAX_TOPOLOGY_LABELS:
        errs.append(_too_many(f"{path}.deprecatedTopology", len(topology), MAX_TOPOLOGY_LABELS))
    errs += validate_labels(ep.deprecated_topology, f"{path}.deprecatedTopology")
    if ep.hostname is not None:
        errs += v.validate_dns1123_label(ep.hostname, f"{path}.hostname")
    return errs + _hint_errors(ep.hints, f"{path}.hints")


def _hint_errors(hints: EndpointHints | None, path: str) -> list[FieldError]:
    zones = (hints.for_zones if hints is not None else None) or []
    if len(zones) > MAX_ZONE_HINTS:
        return [_too_many(f"{path}.forZones", len(zones), MAX_ZONE_HINTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        name = zone.name or ""
        if name in seen:
            errs.append(v.duplicate(f"{path}.forZones[{i}].name", name))
        seen.add(name)
        errs += validate_labels({"zone": name}, f"{path}.forZones[{i}].name") if name else []
    return errs


def _port_errors(ports: list[EndpointPort]) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [_too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        path, name = f"ports[{i}]", port.name or ""
        if name:
            errs += v.validate_dns1123_label(name, f"{path}.name")
        if name in names:
            errs.append(v.duplicate(f"{path}.name", name))
        names.add(name)
        if port.protocol is None:
            errs.append(v.required(f"{path}.protocol"))
        elif port.protocol not in v.PROTOCOLS:
            errs.append(v.not_supported(f"{path}.protocol", port.protocol, sorted(v.PROTOCOLS)))
        if port.port is not None:
            errs += v.validate_port_number(port.port, f"{path}.port")
        if port.app_protocol is not None and (problem := validate_qualified_name(port.app_protocol)):
            errs.append(v.invalid(f"{path}.appProtocol", port.app_protocol, problem))
    return errs


def _address_type_errors(address_type: str | None, old: Obj | None) -> list[FieldError]:
    if not address_type:
        return [v.required("addressType")]
    errs = [] if address_type in ADDRESS_TYPES else [v.not_supported("addressType", address_type, ADDRESS_TYPES)]
    before: Any = (old or {}).get("addressType")
    if old is not None and address_type != before:
        errs.append(v.invalid("addressType", address_type, "field is immutable"))
    return errs


def validate_endpoint_slice(obj: Obj, old: Obj | None) -> list[FieldError]:
    eps, errs = parse_strict(EndpointSlice, obj)
    if eps is None:
        return errs
    errs += _address_type_errors(eps.address_type, old)
    endpoints = eps.endpoints or []
    if len(endpoints) > MAX_ENDPOINTS:
        errs.append(_too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
    else:
        for i, ep in enumerate(endpoints):
            errs += _endpoint_errors(ep, eps.address_type, f"endpoints[{i}]")
    return errs + _port_errors(eps.ports or [])


HOOKS: dict[str, Hooks] = {"EndpointSlice": Hooks(EndpointSlice, default_endpoint_slice, validate_endpoint_slice)}
