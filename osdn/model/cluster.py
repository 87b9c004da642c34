"""ClusterState: an immutable, indexed snapshot of everything the reachability oracle reads.

Pure: built from plain kube-style dicts (as the API returns them or as in a YAML manifest) plus a
DNS resolution table and the set of offline nodes, both given as input. All collections are sorted
by key, so nothing downstream depends on the order the objects came in. NetworkPolicies are
compiled once here (selected pods, peer pod sets) so a full matrix is a matter of set lookups.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from osdn.errors import BadRequestError
from osdn.model import objects as o
from osdn.model.netpol import CompiledPolicy, compile_policies
from osdn.model.slices import endpoints_of_slices

SUBNET, MULTITENANT, NETWORKPOLICY = "subnet", "multitenant", "networkpolicy"
_PLUGINS = {
    "redhat/openshift-ovs-subnet": SUBNET, "subnet": SUBNET, "ovs-subnet": SUBNET,
    "redhat/openshift-ovs-multitenant": MULTITENANT, "multitenant": MULTITENANT, "ovs-multitenant": MULTITENANT,
    "redhat/openshift-ovs-networkpolicy": NETWORKPOLICY, "networkpolicy": NETWORKPOLICY,
    "ovs-networkpolicy": NETWORKPOLICY,
}
DEFAULT_CLUSTER_CIDR = ipaddress.IPv4Network("10.128.0.0/14")
DEFAULT_SERVICE_CIDR = ipaddress.IPv4Network("172.30.0.0/16")
_KINDS = ("Namespace", "NetNamespace", "Pod", "Service", "Endpoints", "EndpointSlice", "NetworkPolicy",
          "EgressNetworkPolicy", "HostSubnet", "Node", "ClusterNetwork")
# Every kind the model reads, in the order a reader should fetch them (the rest is ignored).
MODEL_KINDS = ("ClusterNetwork", "Namespace", "NetNamespace", "HostSubnet", "Node", "Pod", "Service",
               "Endpoints", "EndpointSlice", "NetworkPolicy", "EgressNetworkPolicy")


@dataclass(frozen=True)
class ClusterState:
    """The snapshot. Build it with `ClusterState.from_objects`; never mutate it."""

    mode: str
    cluster_cidrs: tuple[o.Net, ...]
    service_cidr: o.Net
    namespaces: Mapping[str, o.Namespace]
    netnamespaces: Mapping[str, o.NetNamespace]  # every namespace has one (defaulted when absent)
    pods: tuple[o.Pod, ...]  # sorted by key; a pod's index in this tuple is its id in policy sets
    services: tuple[o.Service, ...]
    endpoints: Mapping[str, o.Endpoints]
    policies: tuple[CompiledPolicy, ...]
    egress_firewalls: tuple[o.EgressFirewall, ...]
    host_subnets: tuple[o.HostSubnet, ...]
    node_ips: Mapping[str, o.IPv4]
    dns: Mapping[str, tuple[o.IPv4, ...]]
    offline_nodes: frozenset[str]
    # indexes
    pod_index: Mapping[str, int]
    pod_by_ip: Mapping[o.IPv4, int]
    pods_by_ns: Mapping[str, tuple[int, ...]]
    policies_by_ns: Mapping[str, tuple[CompiledPolicy, ...]]

    @classmethod
    def from_objects(cls, objs: Iterable[Mapping[str, Any]], dns: Mapping[str, Iterable[str]] | None = None,
                     offline_nodes: Iterable[str] = ()) -> ClusterState:
        """Build the snapshot. Unknown kinds are ignored; a duplicate object is an error."""
        by_kind = _group(objs)
        cn = _cluster_network(by_kind["ClusterNetwork"])
        namespaces = _namespaces(by_kind)
        netns = _netnamespaces(by_kind["NetNamespace"], namespaces)
        pods = tuple(sorted((o.pod_from_obj(p) for p in by_kind["Pod"]), key=lambda p: p.key))
        pod_index = {p.key: i for i, p in enumerate(pods)}
        pod_by_ip = {p.ip: i for i, p in enumerate(pods) if p.ip is not None and not p.host_network}
        pods_by_ns: dict[str, list[int]] = {}
        for i, p in enumerate(pods):
            pods_by_ns.setdefault(p.namespace, []).append(i)
        policies = compile_policies(by_kind["NetworkPolicy"], pods, namespaces)
        by_ns: dict[str, list[CompiledPolicy]] = {}
        for pol in policies:
            by_ns.setdefault(pol.namespace, []).append(pol)
        subnets = tuple(sorted((o.hostsubnet_from_obj(h) for h in by_kind["HostSubnet"]), key=lambda h: h.node))
        return cls(
            mode=cn[0], cluster_cidrs=cn[1], service_cidr=cn[2],
            namespaces=MappingProxyType(namespaces), netnamespaces=MappingProxyType(netns), pods=pods,
            services=tuple(sorted((o.service_from_obj(s) for s in by_kind["Service"]), key=lambda s: s.key)),
            endpoints=MappingProxyType(_endpoints(by_kind)),
            policies=policies,
            egress_firewalls=tuple(sorted((o.egress_firewall_from_obj(e) for e in by_kind["EgressNetworkPolicy"]),
                                          key=lambda e: (e.namespace, e.name))),
            host_subnets=subnets, node_ips=MappingProxyType(_node_ips(by_kind["Node"], subnets)),
            dns=MappingProxyType({k.lower().rstrip("."): tuple(ip for ip in map(o.parse_ip, v) if ip)
                                  for k, v in (dns or {}).items()}),
            offline_nodes=frozenset(offline_nodes),
            pod_index=MappingProxyType(pod_index), pod_by_ip=MappingProxyType(pod_by_ip),
            pods_by_ns=MappingProxyType({k: tuple(v) for k, v in pods_by_ns.items()}),
            policies_by_ns=MappingProxyType({k: tuple(v) for k, v in by_ns.items()}),
        )

    # --- lookups -------------------------------------------------------------------------------
    def pod(self, key: str) -> o.Pod | None:
        i = self.pod_index.get(key)
        return None if i is None else self.pods[i]

    def netid(self, namespace: str) -> int:
        nn = self.netnamespaces.get(namespace)
        return nn.netid if nn else 0

    def namespaces_with_netid(self, netid: int) -> tuple[str, ...]:
        return tuple(sorted(n for n, nn in self.netnamespaces.items() if nn.netid == netid))

    def in_cluster_network(self, ip: o.IPv4) -> bool:
        return any(ip in c for c in self.cluster_cidrs)

    def in_service_network(self, ip: o.IPv4) -> bool:
        return ip in self.service_cidr

    def node_of_ip(self, ip: o.IPv4) -> str | None:
        for name, nip in self.node_ips.items():
            if nip == ip:
                return name
        return None

    def service(self, namespace: str, name: str) -> o.Service | None:
        for s in self.services:
            if s.namespace == namespace and s.name == name:
                return s
        return None

    def service_by_ip(self, ip: o.IPv4) -> o.Service | None:
        """The Service whose ClusterIP is `ip`, else the first (by namespace/name) with `ip` among its
        externalIPs: the one every node forwards it to (`osdn.node.services.unique_addresses`)."""
        for s in self.services:
            if s.cluster_ip == ip:
                return s
        return next((s for s in self.services if ip in s.external_ips), None)


def _endpoints(by_kind: dict[str, list[Mapping[str, Any]]]) -> dict[str, o.Endpoints]:
    """A Service's endpoints: from its EndpointSlices if it has any, else its Endpoints (`model.slices`)."""
    objs = [*by_kind["Endpoints"], *endpoints_of_slices(by_kind["EndpointSlice"])]  # slices last: they win
    return {f"{e.namespace}/{e.name}": e for e in map(o.endpoints_from_obj, objs)}


def _group(objs: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_kind: dict[str, list[Mapping[str, Any]]] = {k: [] for k in _KINDS}
    seen: set[tuple[str, str]] = set()
    for obj in _flatten(objs):
        kind = str(obj.get("kind") or "")
        if kind not in by_kind:
            continue
        ident = (kind, o.key_of(obj))
        if ident in seen:
            raise BadRequestError(f"duplicate {kind} {ident[1]!r} in the input")
        seen.add(ident)
        by_kind[kind].append(obj)
    return by_kind


def _flatten(objs: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for obj in objs:
        if not obj:
            continue
        if str(obj.get("kind", "")).endswith("List") and "items" in obj:
            yield from _flatten(obj.get("items") or [])
        else:
            yield obj


def _cluster_network(objs: list[Mapping[str, Any]]) -> tuple[str, tuple[o.Net, ...], o.Net]:
    cn = next((c for c in objs if o.meta(c).get("name") == "default"), objs[0] if objs else {})
    plugin = str(cn.get("pluginName") or "networkpolicy")
    mode = _PLUGINS.get(plugin.lower())
    if mode is None:
        raise BadRequestError(f'ClusterNetwork "default": pluginName: unknown network plugin "{plugin}"')
    cidrs = tuple(n for n in (o.parse_net(c.get("CIDR") or c.get("cidr")) for c in cn.get("clusterNetworks") or [])
                  if n is not None)
    if not cidrs and o.parse_net(cn.get("network")):
        cidrs = (o.parse_net(cn.get("network")),)  # type: ignore[assignment]
    svc = o.parse_net(cn.get("serviceNetwork")) or DEFAULT_SERVICE_CIDR
    return mode, cidrs or (DEFAULT_CLUSTER_CIDR,), svc


def cluster_network_settings(objs: Iterable[Mapping[str, Any]]) -> tuple[str, tuple[o.Net, ...], o.Net]:
    """Pure: (mode, cluster CIDRs, service CIDR) from the ClusterNetwork objects, as `from_objects`
    reads them (the node's incremental compiler shares it)."""
    return _cluster_network(list(objs))


def namespace_tables(namespace_objs: Iterable[Mapping[str, Any]], netnamespace_objs: Iterable[Mapping[str, Any]],
                     implied: Iterable[str]) -> tuple[dict[str, o.Namespace], dict[str, o.NetNamespace]]:
    """Pure: the namespaces (given ones plus those `implied` by namespaced objects and NetNamespaces)
    and their NetNamespaces (given, else defaulted), exactly as `from_objects` builds them."""
    netns_objs = list(netnamespace_objs)
    implied = [*implied, *(str(x.get("netname") or o.meta(x).get("name")) for x in netns_objs)]
    namespaces = _namespace_table(namespace_objs, implied)
    return namespaces, _netnamespaces(netns_objs, namespaces)


def implied_namespace(obj: Mapping[str, Any]) -> str:
    """Pure: the namespace a namespaced object implies (`default` when it names none)."""
    return str(o.meta(obj).get("namespace") or "default")


IMPLYING_KINDS = ("Pod", "Service", "NetworkPolicy", "EgressNetworkPolicy")


def _namespaces(by_kind: dict[str, list[Mapping[str, Any]]]) -> dict[str, o.Namespace]:
    implied = [implied_namespace(x) for k in IMPLYING_KINDS for x in by_kind[k]]
    implied += [str(x.get("netname") or o.meta(x).get("name")) for x in by_kind["NetNamespace"]]
    return _namespace_table(by_kind["Namespace"], implied)


def _namespace_table(namespace_objs: Iterable[Mapping[str, Any]], implied: Iterable[str]) -> dict[str, o.Namespace]:
    out = {n.name: n for n in map(o.namespace_from_obj, namespace_objs)}
    for name in implied:
        if name not in out:
            out[name] = o.namespace_from_obj({"metadata": {"name": name}})
    return dict(sorted(out.items()))


def _netnamespaces(objs: list[Mapping[str, Any]], namespaces: Mapping[str, o.Namespace]) -> dict[str, o.NetNamespace]:
    """Given NetNamespaces, plus defaults for namespaces without one: `default` 0, others distinct."""
    out = {n.name: n for n in map(o.netnamespace_from_obj, objs)}
    used = {n.netid for n in out.values()}
    nxt = 10
    for name in namespaces:
        if name in out:
            continue
        if name == "default":
            out[name] = o.NetNamespace(name, 0, (), False)
            continue
        while nxt in used:
            nxt += 1
        used.add(nxt)
        out[name] = o.NetNamespace(name, nxt, (), False)
    return dict(sorted(out.items()))


def _node_ips(nodes: list[Mapping[str, Any]], subnets: tuple[o.HostSubnet, ...]) -> dict[str, o.IPv4]:
    out: dict[str, o.IPv4] = {}
    for n in nodes:
        ip = o.node_ip_from_obj(n)
        if ip is not None:
            out[str(o.meta(n).get("name"))] = ip
    for h in subnets:
        if h.host_ip is not None:
            out[h.node] = h.host_ip
    return dict(sorted(out.items()))
