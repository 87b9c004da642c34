"""Turn what a user types (`ns/pod`, an IP, a service DNS name, a node name) into an Endpoint.

Pure. Lookup order for `ns/name`: pod, then service. An IP is a pod IP, a ClusterIP, a node IP, or
else external. Names: `node/NAME` or a node name; `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`;
any other name is looked up in the state's DNS table, else in the master's resolution of the
EgressNetworkPolicy dnsNames (first address), and is external.
"""

from __future__ import annotations

from osdn.errors import NotFoundError
from osdn.model.cluster import ClusterState
from osdn.model.objects import IPv4, parse_ip
from osdn.model.verdict import EXTERNAL, NODE, POD, SERVICE, Endpoint

_SUFFIXES = (".svc.cluster.local", ".svc")


def pod_endpoint(state: ClusterState, idx: int) -> Endpoint:
    """The endpoint for pod `idx`; a host-network pod is its node."""
    pod = state.pods[idx]
    if pod.host_network:
        return Endpoint(NODE, pod=pod.key, ip=pod.ip or state.node_ips.get(pod.node), node=pod.node or None)
    return Endpoint(POD, pod=pod.key, ip=pod.ip, node=pod.node or None)


def resolve_endpoint(state: ClusterState, text: str) -> Endpoint:
    """The endpoint `text` names; NotFoundError when it names nothing known."""
    text = text.strip()
    ip = parse_ip(text)
    if ip is not None:
        return _by_ip(state, ip)
    if text.startswith("node/"):
        return _node(state, text[5:])
    if "/" in text:
        ns, _, name = text.partition("/")
        idx = state.pod_index.get(text)
        if idx is not None:
            return pod_endpoint(state, idx)
        svc = state.service(ns, name)
        if svc is not None:
            return Endpoint(SERVICE, ip=svc.cluster_ip, service=svc.key)
        raise NotFoundError(f'no pod or service "{text}" in the cluster state')
    if text in state.node_ips:
        return _node(state, text)
    name = text.lower().rstrip(".")
    svc_name = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
    if svc_name.count(".") == 1:
        svc = state.service(*reversed(svc_name.split(".")))  # svc.ns -> (ns, svc)
        if svc is not None:
            return Endpoint(SERVICE, ip=svc.cluster_ip, service=svc.key)
    addrs = state.dns.get(name) or next((a for fw in state.egress_firewalls for n, a in fw.resolved if n == name and a), ())
    if addrs:  # the DNS table, else the master's resolution of an EgressNetworkPolicy dnsName
        return Endpoint(EXTERNAL, ip=addrs[0])
    raise NotFoundError(f'"{text}" is not a pod, service, node, IP, name in the DNS table or resolved '
                        'EgressNetworkPolicy dnsName')


def _by_ip(state: ClusterState, ip: IPv4) -> Endpoint:
    idx = state.pod_by_ip.get(ip)
    if idx is not None:
        return pod_endpoint(state, idx)
    svc = state.service_by_ip(ip)
    if svc is not None:
        return Endpoint(SERVICE, ip=ip, service=svc.key)
    node = state.node_of_ip(ip)
    if node is not None:
        return Endpoint(NODE, ip=ip, node=node)
    return Endpoint(EXTERNAL, ip=ip)


def _node(state: ClusterState, name: str) -> Endpoint:
    if name not in state.node_ips:
        raise NotFoundError(f'node "{name}" has no known IP (no HostSubnet or Node with an InternalIP)')
    return Endpoint(NODE, ip=state.node_ips[name], node=name)
