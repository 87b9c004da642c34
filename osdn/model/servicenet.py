"""Well-known addresses of the service network, shared by the master, the node agents and the DNS server.

Pure. The seam between service forwarding and cluster DNS (docs/services.md, "Cluster DNS VIP"):
- The cluster DNS service is the Service `dns-default` in `openshift-dns` (as in OpenShift 4), created
  at bootstrap with `clusterIP` = the 10th address of the ClusterNetwork's `serviceNetwork`
  (172.30.0.10 for 172.30.0.0/16) and port 53 over UDP and TCP. Pods get that address as their
  `nameserver` (`dns_service_ip`).
- It has no selector and no Endpoints. Instead it carries the annotation `NODE_LOCAL_ANNOTATION`
  = `NODE_LOCAL_GATEWAY`: every node DNATs the VIP to **its own** pod gateway address (the bridge's
  `.1`, `osdn.model.subnets.gateway_for(<the node's HostSubnet>)`) on the service port's targetPort
  (53). The per-node DNS server listens there (UDP and TCP). A pod's DNS query therefore never leaves
  its node and is local delivery to the node, which no NetworkPolicy or isolation rule polices
  (openshift-sdn: traffic to the pod's own node is always allowed).
"""

from __future__ import annotations

import ipaddress
from typing import Any

DNS_NAMESPACE = "openshift-dns"
DNS_SERVICE = "dns-default"
DNS_SERVICE_INDEX = 10  # kube-dns convention: <serviceNetwork base> + 10
DNS_PORT = 53
CLUSTER_DOMAIN = "cluster.local"

# On a Service: its endpoint is, on every node, that node's pod gateway address (targetPort unchanged).
NODE_LOCAL_ANNOTATION = "network.osdn.io/node-local-endpoint"
NODE_LOCAL_GATEWAY = "gateway"


def service_ip(service_cidr: str, index: int) -> str:
    """Pure: the `index`-th address of the service network (`172.30.0.0/16`, 10 -> `172.30.0.10`)."""
    net = ipaddress.IPv4Network(service_cidr, strict=False)
    if not 0 < index < net.num_addresses - 1:
        raise ValueError(f"service network {service_cidr} has no address number {index}")
    return str(net.network_address + index)


def dns_service_ip(service_cidr: str) -> str:
    """Pure: the cluster DNS service VIP, the `nameserver` of every pod's resolv.conf."""
    return service_ip(service_cidr, DNS_SERVICE_INDEX)


def dns_service(service_cidr: str) -> dict[str, Any]:
    """Pure: the cluster DNS Service object bootstrap creates (node-local endpoint, port 53 UDP+TCP)."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": DNS_SERVICE, "namespace": DNS_NAMESPACE,
                     "labels": {"dns.operator.openshift.io/owning-dns": "default"},
                     "annotations": {NODE_LOCAL_ANNOTATION: NODE_LOCAL_GATEWAY}},
        "spec": {"type": "ClusterIP", "clusterIP": dns_service_ip(service_cidr), "sessionAffinity": "None",
                 "ports": [{"name": "dns", "port": DNS_PORT, "protocol": "UDP", "targetPort": DNS_PORT},
                           {"name": "dns-tcp", "port": DNS_PORT, "protocol": "TCP", "targetPort": DNS_PORT}]},
    }


def is_node_local(obj_annotations: dict[str, str] | None) -> bool:
    """Pure: whether a Service with these annotations forwards to each node's own gateway address."""
    return (obj_annotations or {}).get(NODE_LOCAL_ANNOTATION) == NODE_LOCAL_GATEWAY


def static_band(service_cidr: str) -> int:
    """Pure: how many low addresses are kept for explicit clusterIPs (Kubernetes' rule: size/16, at
    least 16, at most 256); dynamic allocation takes them only when the rest is full."""
    size = ipaddress.IPv4Network(service_cidr, strict=False).num_addresses
    return min(max(16, size // 16), 256)


def allocate_ip(service_cidr: str, used: set[str], start: int) -> str | None:
    """Pure: a free address of the service network for a new Service (None: the range is full).

    Scans the dynamic band (above `static_band`) from offset `start` (the caller picks it at random,
    as Kubernetes allocates randomly), then the static band; never the network or broadcast address.
    """
    net = ipaddress.IPv4Network(service_cidr, strict=False)
    last = net.num_addresses - 2  # the highest usable index
    band = min(static_band(service_cidr), last)
    dynamic = range(band + 1, last + 1)
    order = ([*dynamic[start % len(dynamic):], *dynamic[:start % len(dynamic)]] if dynamic else []) + \
        list(range(1, band + 1))
    for index in order:
        ip = str(net.network_address + index)
        if ip not in used:
            return ip
    return None


def ip_problem(service_cidr: str, ip: str) -> str | None:
    """Pure: why `ip` cannot be a clusterIP in `service_cidr` (None: it can)."""
    net = ipaddress.IPv4Network(service_cidr, strict=False)
    addr = ipaddress.IPv4Address(ip)
    if addr not in net:
        return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {service_cidr}"
    if addr in (net.network_address, net.broadcast_address):
        return f"the provided IP ({ip}) is the network or broadcast address of {service_cidr}"
    return None
