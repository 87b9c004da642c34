"""The reachability oracle: is a connection allowed, and by which objects and rules?

Pure. `compute_verdict(state, connection)` walks the same decisions the data plane makes:
- to a pod: loopback, then the mode (subnet: all; multitenant: netids; networkpolicy: egress policy of
  the source pod AND ingress policy of the destination pod), then an egress-router redirect;
- to a service: the endpoints (policy is applied to each endpoint pod, after DNAT);
- to a node's address on a Service's node port: as to the service, with that node's endpoints only
  for externalTrafficPolicy Local (every endpoint for a pod of that node or the node itself, as
  kube-proxy's short-circuit). The client as it arrives at the node (a pod of another node is
  masqueraded to its own node first); with Cluster a client that is not a pod of that node is
  masqueraded to the node's pod gateway after the node's own checks, so an endpoint on another node
  sees (and its policy judges) that node as the source;
- to an address outside the pod and service networks: DNS to the pod's own node, egress policy
  (networkpolicy mode, ipBlock only; never for the pod's own node), the project's
  EgressNetworkPolicy, and the source address.
Traffic from a node (or from outside, which enters through a node) to a pod: allowed in subnet and
multitenant mode (the host is netid 0); in networkpolicy mode traffic from the pod's own node is
always allowed (upstream: "traffic to and from the node where a Pod is running is always allowed";
kubelet probes need it), from any other node or from outside it is subject to the pod's ingress
policies with that address as source, so only ipBlock peers can match it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from osdn.errors import BadRequestError
from osdn.model import egress_firewall, egress_source, multitenant, services
from osdn.model import objects as o
from osdn.model.cluster import MULTITENANT, NETWORKPOLICY, SUBNET, ClusterState
from osdn.model.egress_router import parse_egress_router
from osdn.model.netpol import EGRESS, INGRESS, RuleHit, first_allow, isolating
from osdn.model.objects import IPv4
from osdn.model.resolve import pod_endpoint, resolve_endpoint
from osdn.model.subnets import gateway_for
from osdn.model.verdict import (
    ALLOW,
    DENY,
    EXTERNAL,
    INFO,
    NODE,
    POD,
    PROTOCOLS,
    SERVICE,
    Connection,
    Endpoint,
    Step,
    Verdict,
)

__all__ = ["compute_verdict", "pod_endpoint", "resolve_endpoint"]


@dataclass(frozen=True)
class _Result:
    allowed: bool
    steps: tuple[Step, ...]
    source_ip: IPv4 | None = None
    target: str | None = None


def compute_verdict(state: ClusterState, conn: Connection) -> Verdict:
    """The verdict for `conn` in `state`, with its ordered explanation."""
    if conn.protocol not in PROTOCOLS or not 1 <= conn.port <= 65535:
        raise BadRequestError(f"invalid probe {conn.protocol}/{conn.port}: protocol must be one of "
                              f"{', '.join(PROTOCOLS)} and port 1-65535")
    dst = conn.dst
    if dst.kind == SERVICE:
        return _service(state, conn)
    node_port = services.node_port_of(state, conn.protocol, conn.port) if dst.kind == NODE else None
    if node_port is not None and dst.node and dst.ip == state.node_ips.get(dst.node):
        return _node_port(state, conn, dst.node, *node_port)
    if dst.kind == POD:
        r = _to_pod(state, conn.src, state.pod_index[dst.pod or ""], conn.protocol, conn.port)
    else:
        r = _to_outside(state, conn.src, dst.ip, conn.protocol, conn.port)  # type: ignore[arg-type]
    return Verdict(conn, r.allowed, r.steps, r.source_ip, r.target)


def _mode_step(state: ClusterState) -> Step:
    return Step("mode", INFO, "ClusterNetwork default", "pluginName", f"{state.mode} mode")


def _to_pod(state: ClusterState, src: Endpoint, di: int, protocol: str, port: int) -> _Result:
    dst_pod = state.pods[di]
    target = f"{dst_pod.key}:{port}"
    if src.kind == POD and src.pod == dst_pod.key:
        step = Step("loopback", ALLOW, "", "", "a pod always reaches itself (the packet never leaves it)")
        return _Result(True, (step,), dst_pod.ip, target)
    steps = [_mode_step(state)]
    if dst_pod.ip is None or src.ip is None:
        who = dst_pod.key if dst_pod.ip is None else src.describe()
        steps.append(Step("address", DENY, "", "", f"{who} has no IP (not running)"))
        return _Result(False, tuple(steps))
    if state.mode == SUBNET:
        steps.append(Step("subnet", ALLOW, "", "", "subnet mode: every pod reaches every pod"))
        ok = True
    elif state.mode == MULTITENANT:
        ok, step = multitenant.compute_multitenant(state, src.pod.split("/")[0] if src.kind == POD and src.pod else None,
                                                   dst_pod.namespace)
        steps.append(step)
    else:
        ok = _networkpolicy(state, src, di, protocol, port, steps)
    if not ok:
        return _Result(False, tuple(steps))
    steps.append(Step("reply", INFO, "", "", "replies of this connection are allowed (connection tracking)"))
    return _router(state, dst_pod.key, protocol, port, _Result(True, tuple(steps), src.ip, target))


def _hit_step(stage: str, hit: RuleHit) -> Step:
    rule = hit.peer.path if hit.peer else hit.rule.path
    who = hit.peer.text if hit.peer else f"no {'from' if stage == INGRESS else 'to'}: any peer"
    port = f"{hit.port.path} {hit.port.describe()}" if hit.port else "no ports: any port"
    return Step(stage, ALLOW, hit.policy.ref, rule, f"{who}; {port}")


def _direction(state: ClusterState, direction: str, idx: int, peer_idx: int | None, peer_ip: IPv4 | None,
               protocol: str, port: int, port_pod_idx: int | None) -> tuple[bool, Step]:
    pod = state.pods[idx]
    iso = isolating(state.policies_by_ns.get(pod.namespace, ()), idx, direction)
    if not iso:
        return True, Step(direction, ALLOW, "", "", f"pod {pod.key} is not isolated for {direction}: no "
                          f"NetworkPolicy in {pod.namespace} selects it with policyType "
                          f"{direction.capitalize()}")
    port_pod = state.pods[port_pod_idx] if port_pod_idx is not None else None
    hit = first_allow(iso, direction, peer_idx, peer_ip, protocol, port, port_pod)
    if hit is not None:
        return True, _hit_step(direction, hit)
    peer = state.pods[peer_idx].key if peer_idx is not None else str(peer_ip)
    return False, Step(direction, DENY, ", ".join(p.ref for p in iso), "",
                       f"pod {pod.key} is isolated for {direction} by these policies and no rule allows "
                       f"{peer} on {protocol}/{port}")


def _networkpolicy(state: ClusterState, src: Endpoint, di: int, protocol: str, port: int,
                   steps: list[Step]) -> bool:
    si = state.pod_index[src.pod] if src.kind == POD and src.pod else None
    dst = state.pods[di]
    if si is None and src.kind == NODE and src.node and src.node == dst.node:
        steps.append(Step(INGRESS, ALLOW, "", "", f"{src.describe()} is the node of pod {dst.key}: traffic from a "
                          "pod's own node is always allowed, NetworkPolicy does not apply to it"))
        return True
    ok = True
    if si is not None:
        ok, step = _direction(state, EGRESS, si, di, state.pods[di].ip, protocol, port, di)
        steps.append(step)
    else:
        steps.append(Step(INGRESS, INFO, "", "", f"source {src.describe()} is not a pod: only ipBlock peers "
                          f"can match its address {src.ip}"))
    ok_in, step = _direction(state, INGRESS, di, si, src.ip, protocol, port, di)
    steps.append(step)
    return ok and ok_in


def _router(state: ClusterState, key: str, protocol: str, port: int, r: _Result) -> _Result:
    pod = state.pod(key)
    router = parse_egress_router(pod) if pod else None
    if router is None:
        return r
    red = router.lookup(protocol, port)
    ref, rule = f"Pod {key}", "env EGRESS_DESTINATION"
    if router.error is not None:
        step = Step("egress-router", INFO, ref, rule, f"the router refuses its configuration "
                    f"({router.error}) and redirects nothing")
        return _Result(r.allowed, r.steps + (step,), r.source_ip, r.target)
    if red is None:
        step = Step("egress-router", INFO, ref, rule, f"no line matches {protocol}/{port}; not redirected")
        return _Result(r.allowed, r.steps + (step,), r.source_ip, r.target)
    dest = f"{red.dest}:{red.dest_port or port}"
    step = Step("egress-router", ALLOW, ref, f"{rule} line {red.line}",
                f"'{red.text}': redirected to {dest} with source {router.source} (bypasses the egress firewall)")
    return _Result(True, r.steps + (step,), router.source, dest)


def _to_outside(state: ClusterState, src: Endpoint, ip: IPv4, protocol: str, port: int) -> _Result:
    if src.kind in (EXTERNAL, SERVICE):
        raise BadRequestError(f"neither end of {src.describe()} -> {ip} is a pod or node of the cluster")
    if src.kind == NODE:
        return _Result(True, (Step("host", ALLOW, "", "", "host traffic to outside the pod network is not "
                                   "managed by osdn"),), src.ip, f"{ip}:{port}")
    pod = state.pods[state.pod_index[src.pod or ""]]
    steps = [_mode_step(state)]
    if pod.ip is None:
        return _Result(False, (*steps, Step("address", DENY, "", "", f"{pod.key} has no IP (not running)")))
    if state.in_cluster_network(ip) or state.in_service_network(ip):
        net = "cluster" if state.in_cluster_network(ip) else "service"
        what = "pod" if net == "cluster" else "service ClusterIP"
        return _Result(False, (*steps, Step("address", DENY, "ClusterNetwork default", "", f"{ip} is in the {net} "
                                            f"network but no {what} has it; dropped")))
    node = state.node_of_ip(ip)
    if node:
        steps.append(Step("address", INFO, "", "", f"{ip} is node {node}'s IP (outside the pod network)"))
    if protocol in ("TCP", "UDP") and port == 53 and ip == state.node_ips.get(pod.node):
        steps.append(Step("dns", ALLOW, "", "", f"DNS to the pod's own node {pod.node} is always allowed "
                          "(bypasses egress policy, firewall and egress IP)"))
        return _Result(True, tuple(steps), pod.ip, f"{ip}:{port}")
    return _external(state, pod.key, ip, protocol, port, steps)


def _external(state: ClusterState, key: str, ip: IPv4, protocol: str, port: int, steps: list[Step]) -> _Result:
    si = state.pod_index[key]
    pod = state.pods[si]
    if state.mode == NETWORKPOLICY and ip == state.node_ips.get(pod.node):
        steps.append(Step(EGRESS, ALLOW, "", "", f"{ip} is the pod's own node {pod.node}: traffic to the node "
                          "where a pod runs is always allowed, NetworkPolicy does not apply to it"))
    elif state.mode == NETWORKPOLICY:
        ok, step = _direction(state, EGRESS, si, None, ip, protocol, port, None)
        steps.append(step)
        if not ok:
            return _Result(False, tuple(steps))
    if state.mode == SUBNET:
        steps.append(Step(egress_firewall.STAGE, INFO, "", "", "subnet mode has no egress firewall"))
    else:
        ok, fw = egress_firewall.compute_egress_firewall(state, pod.namespace, ip)
        steps.extend(fw)
        if not ok:
            return _Result(False, tuple(steps))
    source, src_steps = egress_source.compute_egress_source(state, pod)
    steps.extend(src_steps)
    if source is None and any(s.verdict == DENY for s in src_steps):
        return _Result(False, tuple(steps))
    return _Result(True, tuple(steps), source, f"{ip}:{port}")


def _service(state: ClusterState, conn: Connection) -> Verdict:
    ns, _, name = (conn.dst.service or "").partition("/")
    svc = state.service(ns, name)
    if svc is None:
        raise BadRequestError(f"service {conn.dst.service} not found")
    if svc.node_local:
        ok, local_steps, target = services.node_local_backend(state, svc, conn.src, conn.protocol, conn.port)
        return Verdict(conn, ok, tuple(local_steps), conn.src.ip if ok else None, target)
    ip = conn.dst.ip
    if ip is not None and ip != svc.cluster_ip and services.service_port(svc, conn.protocol, conn.port) is None:
        # an externalIP on a port the Service does not have: no node translates it; it goes where it is routed
        r = _to_outside(state, conn.src, ip, conn.protocol, conn.port)
        return Verdict(conn, r.allowed, r.steps, r.source_ip, r.target)
    backends, steps = services.compute_backends(state, svc, conn.protocol, conn.port, conn.dst.ip)
    return _through(state, conn, svc, backends, steps, conn.src)


def _node_port(state: ClusterState, conn: Connection, node: str, svc: o.Service, i: int, sp: o.ServicePort
               ) -> Verdict:
    src = conn.src
    pod = state.pod(src.pod) if src.kind == POD and src.pod else None
    own = (pod.node == node) if pod is not None else (src.kind == NODE and src.node == node)
    backends, steps = services.compute_node_port_backends(state, svc, i, sp, node, own)
    if pod is not None and pod.node != node:   # leaves its node for a node address: masqueraded there
        src = Endpoint(NODE, ip=state.node_ips.get(pod.node), node=pod.node)
    if svc.external_local or (pod is not None and pod.node == node):
        return _through(state, conn, svc, backends, steps, src)
    subnet = next((h.subnet for h in state.host_subnets if h.node == node and h.subnet is not None), None)
    masq = Endpoint(NODE, ip=o.parse_ip(gateway_for(str(subnet))) if subnet else None, node=node)
    steps.append(Step("service", INFO, f"Service {svc.key}", "spec.externalTrafficPolicy",
                      f"Cluster: the client is not a pod of node {node}: masqueraded to the node's address {masq.ip}"))
    return _through(state, conn, svc, backends, steps, src, lambda b: b.pod is None or state.pods[b.pod].node != node,
                    masq)


def _through(state: ClusterState, conn: Connection, svc: o.Service, backends: list[services.Backend],
             steps: list[Step], client: Endpoint, masqueraded: Callable[[services.Backend], bool] = lambda b: False,
             masq: Endpoint | None = None) -> Verdict:
    """The verdict of a connection DNATed to one of `backends`, each judged with `client` as the source,
    or `masq` for the backends `masqueraded` says arrive from the node that translated it."""
    subs = []
    for b in backends:
        source = masq if masq is not None and masqueraded(b) else client
        if b.pod is not None:
            dst = pod_endpoint(state, b.pod)
            r = (_to_pod(state, source, b.pod, conn.protocol, b.port) if dst.kind == POD
                 else _to_outside(state, source, b.ip, conn.protocol, b.port))
        else:
            dst = Endpoint(EXTERNAL, ip=b.ip)
            r = _to_outside(state, source, b.ip, conn.protocol, b.port)
        subs.append(Verdict(Connection(source, dst, conn.protocol, b.port), r.allowed, r.steps, r.source_ip,
                            r.target))
    n_ok = sum(v.allowed for v in subs)
    if subs:
        verdict = ALLOW if n_ok else DENY
        steps.append(Step("service", verdict, f"Service {svc.key}", "", f"{n_ok} of {len(subs)} endpoint(s) "
                          "admit the connection" + (" (kube-proxy may pick any)" if 0 < n_ok < len(subs) else "")))
    first_ok = next((v for v in subs if v.allowed), None)
    return Verdict(conn, n_ok > 0, tuple(steps), first_ok.source_ip if first_ok else None,
                   first_ok.target if first_ok else None, tuple(subs))

