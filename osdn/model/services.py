"""Services: a ClusterIP (or `<svc>.<ns>.svc.cluster.local`) and port -> the endpoints it forwards to.

Pure. The service port is found by port and protocol. With an Endpoints object the endpoints are
taken from it (the port by the service port's name); without one they are derived as the endpoints
controller would: pods of the service's namespace matching its selector, with an IP, the target
port resolved per pod (a named targetPort that a pod lacks excludes that pod). A headless service
forwards nothing: its name resolves straight to the pods, on the requested port.

A Service's externalIPs forward exactly as its ClusterIP (the node DNATs both through the same maps).

A node port (`nodePort` of a NodePort/LoadBalancer Service) on a node's address forwards as the
ClusterIP, to every endpoint (externalTrafficPolicy Cluster) or to the endpoints on that node (Local,
those in the node's pod subnet, as the node decides; none: dropped; but a pod of that node or the
node itself reaches every endpoint, as kube-proxy's short-circuit) (`compute_node_port_backends`).

A node-local service (the cluster DNS, `osdn.model.servicenet`) has no endpoints in the API: every
node DNATs it to its own pod gateway on the targetPort, so from a pod or node it always reaches the
client's own node, which no isolation or policy polices (`node_local_backend`).
"""

from __future__ import annotations

from dataclasses import dataclass

from osdn.model.cluster import ClusterState
from osdn.model.objects import IPv4, Service, ServicePort
from osdn.model.subnets import gateway_for
from osdn.model.verdict import ALLOW, DENY, INFO, Endpoint, Step

STAGE = "service"
NO_ENDPOINTS = "service has no endpoints; connection rejected"  # the node rejects it (connection refused)


@dataclass(frozen=True)
class Backend:
    pod: int | None  # index into state.pods, None for an endpoint that is not a pod
    ip: IPv4
    port: int


def compute_backends(state: ClusterState, svc: Service, protocol: str, port: int, vip: IPv4 | None = None
                     ) -> tuple[list[Backend], list[Step]]:
    """The endpoints a connection to `svc` on protocol/port is load-balanced to, with the explanation.
    `vip`: the address the client used (the ClusterIP, default, or one of the externalIPs)."""
    ref = f"Service {svc.key}"
    if svc.cluster_ip is None:
        pods = _selected(state, svc)
        backends = [Backend(i, state.pods[i].ip, port) for i in pods]  # type: ignore[arg-type]
        return backends, [Step(STAGE, INFO, ref, "spec.clusterIP", f"headless: resolves to {len(backends)} pod(s)")]
    for i, sp in enumerate(svc.ports):
        if sp.port == port and sp.protocol == protocol:
            backends = _from_endpoints(state, svc, sp) if svc.key in state.endpoints else _from_pods(state, svc, sp)
            rule = f"spec.ports[{i}]"
            if not backends:
                return [], [Step(STAGE, DENY, ref, rule, NO_ENDPOINTS)]
            targets = ", ".join(_name(state, b) for b in backends)
            via = vip if vip is not None and vip != svc.cluster_ip else None
            what = f"externalIP {via}" if via is not None else f"{svc.cluster_ip}"
            return backends, [Step(STAGE, INFO, ref, rule, f"{what}:{port}/{protocol} -> {targets}")]
    return [], [Step(STAGE, DENY, ref, "spec.ports", f"service has no port {protocol}/{port}; dropped")]


def node_port_of(state: ClusterState, protocol: str, node_port: int) -> tuple[Service, int, ServicePort] | None:
    """Pure: the Service (the first by namespace/name, as the nodes pick it), index and port holding
    `node_port` for `protocol`, if any."""
    found = ((svc, i, sp) for svc in sorted(state.services, key=lambda s: s.key) if svc.cluster_ip is not None
             for i, sp in enumerate(svc.ports) if sp.node_port == node_port and sp.protocol == protocol)
    return next(found, None)


def compute_node_port_backends(state: ClusterState, svc: Service, i: int, sp: ServicePort, node: str,
                               own: bool = False) -> tuple[list[Backend], list[Step]]:
    """The endpoints a connection to `node`'s address on `sp`'s node port goes to, with the
    explanation. `own`: the client is a pod of that node or the node itself."""
    ref, rule = f"Service {svc.key}", f"spec.ports[{i}].nodePort"
    backends = _from_endpoints(state, svc, sp) if svc.key in state.endpoints else _from_pods(state, svc, sp)
    if not backends:
        return [], [Step(STAGE, DENY, ref, rule, NO_ENDPOINTS)]
    if svc.external_local and own:
        policy = "Local, but the client is on the node: every endpoint (kube-proxy's short-circuit)"
    elif svc.external_local:
        subnet = next((h.subnet for h in state.host_subnets if h.node == node and h.subnet is not None), None)
        backends = [b for b in backends if subnet is not None and b.ip in subnet]
        if not backends:
            return [], [Step(STAGE, DENY, ref, "spec.externalTrafficPolicy",
                             f"Local: node {node} has no endpoint of this service; dropped")]
        policy = "Local: this node's endpoints only"
    else:
        policy = "Cluster"
    targets = ", ".join(_name(state, b) for b in backends)
    return backends, [Step(STAGE, INFO, ref, rule, f"node {node} nodePort {sp.node_port}/{sp.protocol} -> {targets} "
                           f"(externalTrafficPolicy {policy})")]


def service_port(svc: Service, protocol: str, port: int) -> tuple[int, ServicePort] | None:
    """Pure: the service port (with its index) a connection on protocol/port uses, if any."""
    return next(((i, sp) for i, sp in enumerate(svc.ports) if sp.port == port and sp.protocol == protocol), None)


def node_local_backend(state: ClusterState, svc: Service, src: Endpoint, protocol: str, port: int
                       ) -> tuple[bool, list[Step], str | None]:
    """Pure: a node-local service from `src`: allowed iff the port exists; the target is the
    gateway of the client's node (None if the client has no node with a subnet)."""
    ref = f"Service {svc.key}"
    found = service_port(svc, protocol, port)
    if found is None:
        return False, [Step(STAGE, DENY, ref, "spec.ports", f"service has no port {protocol}/{port}; dropped")], None
    i, sp = found
    pod = state.pod(src.pod) if src.pod else None
    node = pod.node if pod is not None else (src.node or "")
    subnet = next((h.subnet for h in state.host_subnets if h.node == node and h.subnet is not None), None)
    gateway = gateway_for(str(subnet)) if subnet is not None else None
    target = f"{gateway}:{sp.target}" if gateway else None
    where = f"node {node}'s gateway {target}" if target else "the client's own node"
    return True, [Step(STAGE, ALLOW, ref, f"spec.ports[{i}]",
                       f"node-local: {svc.cluster_ip}:{port}/{protocol} -> {where}; a pod always reaches "
                       "its own node")], target


def _name(state: ClusterState, b: Backend) -> str:
    return f"{state.pods[b.pod].key}:{b.port}" if b.pod is not None else f"{b.ip}:{b.port}"


def _selected(state: ClusterState, svc: Service) -> list[int]:
    if svc.selector is None:
        return []
    return [i for i in state.pods_by_ns.get(svc.namespace, ())
            if state.pods[i].ip is not None and all(state.pods[i].labels.get(k) == v for k, v in svc.selector.items())]


def _from_pods(state: ClusterState, svc: Service, sp: ServicePort) -> list[Backend]:
    out = []
    for i in _selected(state, svc):
        pod = state.pods[i]
        target = sp.target if isinstance(sp.target, int) else pod.named_port(sp.target, sp.protocol)
        if target is not None and pod.ip is not None:
            out.append(Backend(i, pod.ip, target))
    return out


def _from_endpoints(state: ClusterState, svc: Service, sp: ServicePort) -> list[Backend]:
    out: list[Backend] = []
    for ips, ports in state.endpoints[svc.key].subsets:
        for ep in ports:
            if ep.name == sp.name and ep.protocol == sp.protocol:
                out.extend(Backend(state.pod_by_ip.get(ip), ip, ep.port) for ip in ips)
    return sorted(out, key=lambda b: (int(b.ip), b.port))
