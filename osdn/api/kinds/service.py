"""Service and Endpoints (core/v1): models, defaulting and validation.

Pure. Defaults follow Kubernetes: type ClusterIP, sessionAffinity None (ClientIP: timeout 10800 s),
port protocol TCP, targetPort = port, externalTrafficPolicy Cluster for NodePort and LoadBalancer. The
clusterIP and node ports are allocated by the admission plugins `osdn.apiserver.plugins.serviceips`
and `osdn.apiserver.plugins.nodeports`. A Service has at most `MAX_SERVICE_PORTS` ports.
"""

from __future__ import annotations

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds.meta import (
    Int32,
    IntOrString,
    KubeModel,
    Obj,
    TypedObject,
    default_load_balancer_status,
    items,
    parse_strict,
    set_default,
    sub,
    validate_label_map,
)
from osdn.errors import FieldError

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
SESSION_AFFINITIES = ("None", "ClientIP")
DEFAULT_AFFINITY_TIMEOUT = 10800  # 3 hours, as Kubernetes
TRAFFIC_POLICIES = ("Cluster", "Local")
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
MAX_SERVICE_PORTS = 100  # osdn's bound (kube has none): every port is map elements on every node


class ServicePort(KubeModel):
    name: str | None = None
    protocol: str | None = None
    port: Int32 | None = None
    target_port: IntOrString | None = None
    node_port: Int32 | None = None


class ClientIPConfig(KubeModel):
    timeout_seconds: Int32 | None = None


class SessionAffinityConfig(KubeModel):
    client_ip: ClientIPConfig | None = Field(None, alias="clientIP")


class ServiceSpec(KubeModel):
    type: str | None = None
    ports: list[ServicePort] | None = None
    selector: dict[str, str] | None = None
    cluster_ip: str | None = Field(None, alias="clusterIP")
    cluster_ips: list[str] | None = Field(None, alias="clusterIPs")
    ip_families: list[str] | None = None
    ip_family_policy: str | None = None
    internal_traffic_policy: str | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    external_ips: list[str] | None = Field(None, alias="externalIPs")
    external_name: str | None = None
    session_affinity: str | None = None
    external_traffic_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None


class Service(TypedObject):
    spec: ServiceSpec | None = None


class EndpointAddress(KubeModel):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None


class EndpointPort(KubeModel):
    name: str | None = None
    port: Int32 | None = None
    protocol: str | None = None


class EndpointSubset(KubeModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(TypedObject):
    subsets: list[EndpointSubset] | None = None


def default_service(obj: Obj) -> None:
    default_load_balancer_status(obj)
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "type", "ClusterIP")
    set_default(spec, "sessionAffinity", "None")
    if spec.get("type") in NODE_PORT_TYPES:
        set_default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = spec.setdefault("sessionAffinityConfig", {})
        if isinstance(cfg, dict) and isinstance(cfg.setdefault("clientIP", {}), dict):
            set_default(cfg["clientIP"], "timeoutSeconds", DEFAULT_AFFINITY_TIMEOUT)
    for port in items(spec, "ports"):
        set_default(port, "protocol", "TCP")
        if port.get("targetPort") is None and port.get("port") is not None:
            port["targetPort"] = port["port"]


def _validate_service_port(port: ServicePort, path: str, many: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if port.name:
        errs += v.validate_dns1123_label(port.name, f"{path}.name")
    elif many:
        errs.append(v.required(f"{path}.name"))
    errs += v.validate_port_number(port.port, f"{path}.port")
    errs += v.validate_protocol(port.protocol, f"{path}.protocol")
    if port.target_port is not None:
        errs += v.validate_port_num_or_name(port.target_port, f"{path}.targetPort")
    if port.node_port:
        errs += v.validate_port_number(port.node_port, f"{path}.nodePort")
    return errs


def _validate_cluster_ip(spec: ServiceSpec) -> list[FieldError]:
    ip = spec.cluster_ip
    if ip in (None, "", "None") or v.parse_ip(ip) is not None:
        return []
    return [v.invalid("spec.clusterIP", ip, 'must be empty, "None", or a valid IP address')]


def _validate_cluster_ip_update(spec: ServiceSpec, old: Obj | None) -> list[FieldError]:
    before = (sub(old, "spec") or {}).get("clusterIP")   # an update without one keeps it (kube's patchAllocatedValues)
    if before and spec.cluster_ip and spec.cluster_ip != before:
        return [v.invalid("spec.clusterIP", spec.cluster_ip, "field is immutable")]
    return []


def _validate_external_ip(ip: str, path: str) -> list[FieldError]:
    """Kubernetes' checks of an externalIP: an IP address, and none of the special ranges a node must
    never forward (its loopback, link-local addresses)."""
    addr = v.parse_ip(ip)
    if addr is None:
        return [v.invalid(path, ip, "must be a valid IP address")]
    for bad, detail in ((addr.is_unspecified, "may not be unspecified (0.0.0.0, ::)"),
                        (addr.is_loopback, "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
                        (addr.is_link_local, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
                        (addr.is_multicast, "may not be a multicast address (224.0.0.0/4, ff00::/8)")):
        if bad:
            return [v.invalid(path, ip, detail)]
    return []


MAX_AFFINITY_TIMEOUT = 86400  # Kubernetes: 0 < timeoutSeconds <= 86400 (one day)


def _old_spec(old: Obj | None) -> ServiceSpec:
    old_svc, _ = parse_strict(Service, old or {})
    return (old_svc.spec if old_svc is not None else None) or ServiceSpec.model_validate({})


def _validate_node_ports(spec: ServiceSpec, old: ServiceSpec) -> list[FieldError]:
    """kube's checks of nodePort: only for NodePort/LoadBalancer (on a type change the old ones,
    left unchanged, are dropped by the allocator), no (nodePort, protocol) twice."""
    errs: list[FieldError] = []
    kept = {(p.name or "", p.node_port) for p in old.ports or []} if old.type in NODE_PORT_TYPES else set()
    seen: set[tuple[int, str | None]] = set()
    for i, port in enumerate(spec.ports or []):
        if not port.node_port:
            continue
        path = f"spec.ports[{i}].nodePort"
        if spec.type not in NODE_PORT_TYPES and (port.name or "", port.node_port) not in kept:
            errs.append(v.forbidden(path, f"may not be used when `type` is '{spec.type}'"))
        if (port.node_port, port.protocol) in seen:
            errs.append(v.duplicate(path, port.node_port))
        seen.add((port.node_port, port.protocol))
    return errs


def _validate_traffic_policy(spec: ServiceSpec, old: ServiceSpec) -> list[FieldError]:
    policy, path = spec.external_traffic_policy, "spec.externalTrafficPolicy"
    if policy is None:
        return []
    if policy not in TRAFFIC_POLICIES:
        return [v.not_supported(path, policy, TRAFFIC_POLICIES)]
    if spec.type not in NODE_PORT_TYPES and not spec.external_ips and policy != old.external_traffic_policy:
        return [v.invalid(path, policy, "may only be set for externally-accessible services")]
    return []


def _validate_affinity(spec: ServiceSpec) -> list[FieldError]:
    cfg = spec.session_affinity_config
    timeout = cfg.client_ip.timeout_seconds if cfg is not None and cfg.client_ip is not None else None
    if timeout is not None and not 0 < timeout <= MAX_AFFINITY_TIMEOUT:
        return [v.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                          f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}")]
    return []


def validate_service(obj: Obj, old: Obj | None) -> list[FieldError]:
    svc, errs = parse_strict(Service, obj)
    if svc is None:
        return errs
    spec = svc.spec
    if spec is None:
        return [v.required("spec")]
    if spec.type not in SERVICE_TYPES:
        errs.append(v.not_supported("spec.type", spec.type, SERVICE_TYPES))
    if spec.session_affinity not in SESSION_AFFINITIES:
        errs.append(v.not_supported("spec.sessionAffinity", spec.session_affinity, SESSION_AFFINITIES))
    ports = spec.ports or []
    if spec.type == "ExternalName":
        errs += v.validate_dns1123_subdomain(spec.external_name, "spec.externalName")
    elif not ports and spec.cluster_ip != "None":
        errs.append(v.required("spec.ports"))
    if spec.type in NODE_PORT_TYPES and spec.cluster_ip == "None":
        errs.append(v.invalid("spec.clusterIP", "None", f"may not be set to 'None' for {spec.type} services"))
    if len(ports) > MAX_SERVICE_PORTS:
        return errs + [v.too_many("spec.ports", f"Too many: {len(ports)}: must have at most {MAX_SERVICE_PORTS} "
                                  "items (osdn's limit of ports per Service)")]
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _validate_service_port(port, f"spec.ports[{i}]", len(ports) > 1)
        if port.name and port.name in names:
            errs.append(v.duplicate(f"spec.ports[{i}].name", port.name))
        names.add(port.name or "")
    errs += _validate_affinity(spec)
    old_spec = _old_spec(old)
    errs += _validate_node_ports(spec, old_spec) + _validate_traffic_policy(spec, old_spec)
    for i, ip in enumerate(spec.external_ips or []):
        errs += _validate_external_ip(ip, f"spec.externalIPs[{i}]")
    errs += _validate_cluster_ip(spec) + _validate_cluster_ip_update(spec, old)
    return errs + validate_label_map(spec.selector, "spec.selector")


def _validate_subset(subset: EndpointSubset, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field, addresses in (("addresses", subset.addresses), ("notReadyAddresses", subset.not_ready_addresses)):
        for i, addr in enumerate(addresses or []):
            if v.parse_ip(addr.ip) is None:
                errs.append(v.invalid(f"{path}.{field}[{i}].ip", addr.ip, "must be a valid IP address"))
    ports = subset.ports or []
    for i, port in enumerate(ports):
        p = f"{path}.ports[{i}]"
        if port.name:
            errs += v.validate_dns1123_label(port.name, f"{p}.name")
        elif len(ports) > 1:
            errs.append(v.required(f"{p}.name"))
        errs += v.validate_port_number(port.port, f"{p}.port")
        errs += v.validate_protocol(port.protocol, f"{p}.protocol")
    return errs


def default_endpoints(obj: Obj) -> None:
    for subset in items(obj, "subsets"):
        for port in items(subset, "ports"):
            set_default(port, "protocol", "TCP")


def validate_endpoints(obj: Obj, old: Obj | None) -> list[FieldError]:
    eps, errs = parse_strict(Endpoints, obj)
    if eps is None:
        return errs
    for i, subset in enumerate(eps.subsets or []):
        errs += _validate_subset(subset, f"subsets[{i}]")
    return errs
