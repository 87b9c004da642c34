"""The console's topology view as data: nodes with their HostSubnets, the VXLAN mesh between them,
pods on each node grouped by project (with the project's NetID), egress IPs with the projects that
request them and the node that holds them, and services with their endpoints.

Pure: computed from a `ClusterState` (the objects the caller may read), JSON-ready dicts out.
A node that pods name but whose HostSubnet the caller cannot read still appears, without subnet.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from osdn.model.cluster import ClusterState
from osdn.model.services import compute_backends

UNSCHEDULED = ""  # the node key of pods without spec.nodeName


def _nodes(state: ClusterState) -> dict[str, dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    for hs in state.host_subnets:
        nodes[hs.node] = {"name": hs.node, "hostIP": str(hs.host_ip) if hs.host_ip else None,
                          "subnet": str(hs.subnet) if hs.subnet else None,
                          "egressIPs": [str(ip) for ip in hs.egress_ips],
                          "offline": hs.node in state.offline_nodes, "projects": {}}
    for pod in state.pods:
        node = nodes.setdefault(pod.node or UNSCHEDULED, {
            "name": pod.node or UNSCHEDULED, "hostIP": None, "subnet": None, "egressIPs": [],
            "offline": pod.node in state.offline_nodes, "projects": {}})
        node["projects"].setdefault(pod.namespace, []).append(
            {"name": pod.name, "key": pod.key, "ip": str(pod.ip) if pod.ip else None,
             "hostNetwork": pod.host_network})
    return nodes


def _egress(state: ClusterState) -> list[dict[str, Any]]:
    holders: dict[str, list[str]] = {}
    for hs in state.host_subnets:
        for ip in hs.egress_ips:
            holders.setdefault(str(ip), []).append(hs.node)
    wanted: dict[str, list[str]] = {}
    for nn in state.netnamespaces.values():
        for ip in nn.egress_ips:
            wanted.setdefault(str(ip), []).append(nn.name)
    return [{"ip": ip, "projects": sorted(wanted.get(ip, [])), "nodes": sorted(holders.get(ip, []))}
            for ip in sorted({*holders, *wanted})]


def _services(state: ClusterState) -> list[dict[str, Any]]:
    out = []
    for svc in state.services:
        endpoints: set[str] = set()
        for sp in svc.ports:
            backends, _ = compute_backends(state, svc, sp.protocol, sp.port)
            endpoints.update(state.pods[b.pod].key if b.pod is not None else str(b.ip) for b in backends)
        out.append({"namespace": svc.namespace, "name": svc.name, "key": svc.key,
                    "clusterIP": str(svc.cluster_ip) if svc.cluster_ip else None,
                    "ports": [f"{sp.port}/{sp.protocol}->{sp.target}" for sp in svc.ports],
                    "endpoints": sorted(endpoints)})
    return out


def compute_topology(state: ClusterState, netnamespaces: Collection[str]) -> dict[str, Any]:
    """`{"mode", "nodes": [...], "links": [...], "projects": [...], "egress": [...], "services": [...]}`.

    `netnamespaces` names the NetNamespaces the caller could read: another project's NetID is the
    model's default, not the cluster's, so it is shown as null."""
    nodes = _nodes(state)
    names = sorted(n for n in nodes if n != UNSCHEDULED)
    meshed = [n for n in names if nodes[n]["hostIP"]]
    projects = [{"name": name, "netid": nn.netid if name in netnamespaces else None, "egressIPs": [str(ip) for ip in nn.egress_ips],
                 "multicast": nn.multicast, "pods": len(state.pods_by_ns.get(name, ()))}
                for name, nn in sorted(state.netnamespaces.items())]
    return {
        "mode": state.mode,
        "nodes": [{**nodes[n], "projects": [{"name": p, "pods": pods} for p, pods in sorted(nodes[n]["projects"].items())]}
                  for n in names + ([UNSCHEDULED] if UNSCHEDULED in nodes else [])],
        "links": [{"from": a, "to": b, "kind": "vxlan"} for i, a in enumerate(meshed) for b in meshed[i + 1:]],
        "projects": projects, "egress": _egress(state), "services": _services(state),
    }
