"""HostSubnet controller: one HostSubnet (pod subnet lease) per Node, from the cluster network.

Key: a node name. For a Node with a usable InternalIP it ensures a HostSubnet named after the node
(subnet from `osdn.model.subnets.SubnetAllocator`, openshift-sdn order; annotation
`pod.network.openshift.io/node-uid`), keeps `hostIP` equal to the node IP, fills in a subnet for a
HostSubnet created with `pod.network.openshift.io/assign-subnet`. A deleted Node's HostSubnet is
deleted; a deleted HostSubnet's subnet is released (reused only after the numbering wraps, as the
reference). A HostSubnet without a Node is deleted only if it carries the node-uid annotation (the
master made it); hand-made ones (F5 style) are left alone. Restart-safe: `prepare` marks the subnets
of all existing HostSubnets allocated.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from collections.abc import Hashable
from typing import Any

from osdn.client import Client
from osdn.errors import NotFoundError, OsdnError
from osdn.master.controller import Controller, Informers
from osdn.master.events import Recorder
from osdn.model.sdnconfig import NetworkConfig
from osdn.model.subnets import SubnetAllocator

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NODE_UID_ANNOTATION = "pod.network.openshift.io/node-uid"
ASSIGN_SUBNET_ANNOTATION = "pod.network.openshift.io/assign-subnet"


def node_internal_ip(node: Obj) -> str | None:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP" and addr.get("address"):
            return str(addr["address"])
    return None


def node_ip_problem(ip: str | None, network: NetworkConfig) -> str | None:
    """Why a node IP cannot carry a HostSubnet (reference rules), or None. Pure."""
    if not ip:
        return "node has no InternalIP address"
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return f"node IP {ip} is not a valid IP address"
    if not isinstance(addr, ipaddress.IPv4Address) or addr.is_loopback or addr.is_unspecified:
        return f"node IP {ip} is not a usable IPv4 address"
    for entry in network.cluster_networks:
        if addr in entry.cidr:
            return f"node IP {ip} conflicts with cluster network {entry.cidr}"
    if addr in network.service_network:
        return f"node IP {ip} conflicts with service network {network.service_network}"
    return None


class HostSubnetController(Controller):
    name = "hostsubnets"

    def __init__(self, client: Client, informers: Informers, network: NetworkConfig,
                 recorder: Recorder) -> None:
        super().__init__(client)
        self.network, self.recorder = network, recorder
        self.allocator = SubnetAllocator.from_config(network)
        self._subnets: dict[str, str] = {}          # HostSubnet name -> subnet we count as allocated
        self._problems: dict[str, str] = {}         # node -> last reported problem
        self.nodes = informers.on("Node", self._on_event)
        self.hostsubnets = informers.on("HostSubnet", self._on_event)

    def _on_event(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        self.enqueue(((new or old) or {})["metadata"]["name"])

    def prepare(self) -> None:
        for hs in self.hostsubnets.items():
            self._track(hs["metadata"]["name"], hs)
        log.info("hostsubnets: %d subnets adopted", len(self._subnets))
        for obj in self.nodes.items() + self.hostsubnets.items():
            self.enqueue(obj["metadata"]["name"])

    def _track(self, name: str, hs: Obj | None) -> None:
        """Keep the allocator's view equal to the stored HostSubnet `name`."""
        current = str(hs.get("subnet") or "") if hs else ""
        known = self._subnets.get(name, "")
        if known == current:
            return
        if known:
            self.allocator.release(known)
            del self._subnets[name]
        if current:
            try:
                self.allocator.mark_allocated(current)
                self._subnets[name] = current
            except OsdnError as err:
                log.warning("HostSubnet %s: subnet %s ignored: %s", name, current, err.message)

    # ---- reconcile ---------------------------------------------------------------------------
    def reconcile(self, key: Hashable) -> None:
        name = str(key)
        node = self.nodes.get(name)
        hs = self.writes.latest(self.hostsubnets, name)
        self._track(name, hs)
        if node is None:
            if hs is not None and NODE_UID_ANNOTATION in (hs["metadata"].get("annotations") or {}):
                self._delete(name)
            return
        ip = node_internal_ip(node)
        problem = node_ip_problem(ip, self.network)
        if problem:
            self._report(name, problem)
            return
        self._problems.pop(name, None)
        assert ip is not None
        if hs is None:
            self._create(name, ip, node)
        elif ASSIGN_SUBNET_ANNOTATION in (hs["metadata"].get("annotations") or {}) or not hs.get("subnet"):
            self._assign(hs, ip)
        elif hs.get("hostIP") != ip:
            self._update(hs, {"hostIP": ip})
            self.recorder.event("HostSubnet", name, "HostIPChanged", f"hostIP {hs.get('hostIP')} -> {ip}")

    def _report(self, name: str, problem: str) -> None:
        if self._problems.get(name) != problem:
            self._problems[name] = problem
            self.recorder.event("Node", name, "HostSubnetNotAllocated", problem, warning=True)

    def _delete(self, name: str) -> None:
        subnet = self._subnets.get(name)   # a DELETE answers with a Status, not the HostSubnet
        try:
            deleted = self.client.delete("HostSubnet", name)
        except NotFoundError:
            return
        self.writes.record_delete("HostSubnet", name, deleted)
        self._track(name, None)
        self.recorder.event("HostSubnet", name, "Deleted", f"node {name} is gone; subnet {subnet} released")

    def _allocate(self, name: str) -> str:
        subnet = self.allocator.allocate()
        self._subnets[name] = subnet
        return subnet

    def _create(self, name: str, ip: str, node: Obj) -> None:
        subnet = self._allocate(name)
        body = {"apiVersion": "network.openshift.io/v1", "kind": "HostSubnet",
                "metadata": {"name": name, "annotations": {NODE_UID_ANNOTATION: str(node["metadata"].get("uid", ""))}},
                "host": name, "hostIP": ip, "subnet": subnet}
        try:
            stored = self.client.create(body)
        except Exception:
            self._track(name, None)
            raise
        self.writes.record("HostSubnet", name, stored)
        self.recorder.event("HostSubnet", name, "Allocated", f"subnet {subnet} for node {name} ({ip})")

    def _assign(self, hs: Obj, ip: str) -> None:
        name = hs["metadata"]["name"]
        subnet = self._allocate(name)
        annotations = dict(hs["metadata"].get("annotations") or {})
        annotations.pop(ASSIGN_SUBNET_ANNOTATION, None)
        try:
            self._update(hs, {"subnet": subnet, "hostIP": ip}, annotations)
        except Exception:
            self._track(name, None)
            raise
        self.recorder.event("HostSubnet", name, "Allocated", f"subnet {subnet} assigned on request")

    def _update(self, hs: Obj, fields: Obj, annotations: dict[str, str] | None = None) -> None:
        body = copy.deepcopy(hs)
        body.update(fields)
        if annotations is not None:
            body["metadata"]["annotations"] = annotations
        self.writes.record("HostSubnet", hs["metadata"]["name"], self.client.update(body))
