"""Tiny builders of kube-style dicts for model tests."""

from __future__ import annotations

from typing import Any

from osdn.model.cluster import ClusterState
from osdn.model.oracle import compute_verdict, resolve_endpoint
from osdn.model.verdict import Connection, Verdict

Obj = dict[str, Any]


def namespace(name: str, /, **labels: str) -> Obj:
    return {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name, "labels": dict(labels)}}


def netns(name: str, netid: int, egress_ips: tuple[str, ...] = (), multicast: bool = False) -> Obj:
    ann = {"netnamespace.network.openshift.io/multicast-enabled": "true"} if multicast else {}
    return {"kind": "NetNamespace", "apiVersion": "network.openshift.io/v1",
            "metadata": {"name": name, "annotations": ann}, "netname": name, "netid": netid,
            "egressIPs": list(egress_ips)}


def pod(ns: str, name: str, ip: str | None, labels: dict[str, str] | None = None, node: str = "n1",
        ports: tuple[tuple[str, int, str], ...] = (), env: dict[str, str] | None = None,
        host_network: bool = False) -> Obj:
    container: Obj = {"name": "c", "image": "x",
                      "ports": [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec: Obj = {"nodeName": node, "containers": [container]}
    if host_network:
        spec["hostNetwork"] = True
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": ns, "name": name, "labels": labels or {}},
            "spec": spec, "status": {"podIP": ip} if ip else {}}


def policy(ns: str, name: str, spec: Obj) -> Obj:
    return {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"namespace": ns, "name": name}, "spec": spec}


def firewall(ns: str, name: str, *rules: tuple[str, str]) -> Obj:
    egress = [{"type": t, "to": {"cidrSelector": v} if "/" in v else {"dnsName": v}} for t, v in rules]
    return {"kind": "EgressNetworkPolicy", "apiVersion": "network.openshift.io/v1",
            "metadata": {"namespace": ns, "name": name}, "spec": {"egress": egress}}


def cluster_network(plugin: str) -> Obj:
    return {"kind": "ClusterNetwork", "apiVersion": "network.openshift.io/v1", "metadata": {"name": "default"},
            "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}],
            "serviceNetwork": "172.30.0.0/16", "pluginName": f"redhat/openshift-ovs-{plugin}"}


def hostsubnet(node: str, host_ip: str, subnet: str, egress_ips: tuple[str, ...] = ()) -> Obj:
    return {"kind": "HostSubnet", "apiVersion": "network.openshift.io/v1", "metadata": {"name": node},
            "host": node, "hostIP": host_ip, "subnet": subnet, "egressIPs": list(egress_ips)}


def service(ns: str, name: str, cluster_ip: str, selector: dict[str, str],
            ports: tuple[tuple[str, int, str, int | str], ...]) -> Obj:
    return {"kind": "Service", "apiVersion": "v1", "metadata": {"namespace": ns, "name": name},
            "spec": {"clusterIP": cluster_ip, "selector": selector,
                     "ports": [{"name": n, "port": p, "protocol": pr, "targetPort": t} for n, p, pr, t in ports]}}


def verdict(state: ClusterState, src: str, dst: str, port: int = 80, protocol: str = "TCP") -> Verdict:
    return compute_verdict(state, Connection(resolve_endpoint(state, src), resolve_endpoint(state, dst),
                                             protocol, port))


def allowed(state: ClusterState, src: str, dst: str, port: int = 80, protocol: str = "TCP") -> bool:
    return verdict(state, src, dst, port, protocol).allowed
