"""Pod network setup for the CNI server: ADD, DEL and CHECK of one container.

Side effects: netlink in the node and pod namespaces (osdn.kernel.links, tc), the node's IPAM file,
and Pod objects through the API (status.podIP, spec.nodeName; Pods created here for containers a
runtime started without Kubernetes, e.g. podman). Called serially by the CNI server.

ADD order, so a pod never runs unprotected: lease an IP -> Pod object (find or create) -> veth,
address, MAC 0a:58:<ip>, MTU, routes in the pod -> status.podIP written -> the informer has seen it
-> one sync of the dataplane that includes the pod has finished -> answer. A failure undoes what
this ADD made. DEL is idempotent and succeeds when everything is already gone.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from osdn.api.cni import (
    INTERNAL,
    INVALID_CONFIG,
    UNKNOWN_CONTAINER,
    Attachment,
    CniError,
    CniRequest,
    add_result,
    pod_dns,
)
from osdn.client import Client
from osdn.errors import NotFoundError, OsdnError
from osdn.kernel import links, tc
from osdn.kernel.links import Route
from osdn.model.servicenet import dns_service_ip
from osdn.node.bandwidth import BandwidthError, PodBandwidth
from osdn.node.bandwidth import wanted as bandwidth_wanted
from osdn.node.ipam import Ipam, Lease
from osdn.node.macvlan import attach_macvlan

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CNI_LABEL = "osdn.io/cni-created"
CONTAINER_ANNOTATION = "osdn.io/container-id"
_DNS1123 = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class PodNetConfig:
    """The node's side of every pod attachment."""

    node_name: str
    node_netns: str
    node_ip: str
    bridge: str
    gateway: str
    mtu: int
    cluster_cidrs: tuple[str, ...]
    service_cidr: str

    def routes(self) -> tuple[Route, ...]:
        """openshift-sdn pod routes: default and services via the gateway, cluster and multicast on-link."""
        return (Route("0.0.0.0/0", self.gateway), *(Route(c) for c in self.cluster_cidrs),
                Route(self.service_cidr, self.gateway), Route("224.0.0.0/4"))


def host_veth_name(container_id: str) -> str:
    """The host end of a pod's veth: `osdnp` + hash of the container id (15 chars)."""
    return links.osdn_link_name("p", container_id)


def pod_identity(req: CniRequest) -> tuple[str, str]:
    """(namespace, name) of the Pod: K8S_POD_* CNI_ARGS, else the config's namespace and a name
    from K8S_POD_NAME (podman passes the container name) or the container id."""
    ns = req.args.get("K8S_POD_NAMESPACE") or str(req.config.get("namespace") or "default")
    name = req.args.get("K8S_POD_NAME", "")
    if not req.args.get("K8S_POD_NAMESPACE"):
        name = _DNS1123.sub("-", name.lower()).strip("-")[:40]
        name = f"{name}-{req.container_id[:8]}" if name else f"cni-{req.container_id[:12]}"
    return ns, name.lower()


class PodNetwork:
    """ADD/DEL/CHECK against one node. `await_rules(timeout)` blocks until a dataplane sync that
    started after the call has finished (raises on failure); `seen_pod(ns, name, ip)` tells whether
    the agent's pod cache shows that IP."""

    def __init__(self, cfg: PodNetConfig, ipam: Ipam, client: Client, await_rules: Callable[[float], None],
                 seen_pod: Callable[[str, str, str], bool], rules_timeout: float = 30.0,
                 bandwidth: PodBandwidth | None = None) -> None:
        self.cfg, self.ipam, self.client = cfg, ipam, client
        self.await_rules, self.seen_pod = await_rules, seen_pod
        self.rules_timeout = rules_timeout
        self.bandwidth = bandwidth or PodBandwidth(cfg.node_netns, cfg.node_name)
        self.lock = threading.Lock()  # held by the CNI server per request and by the agent's garbage collection

    # -- ADD -------------------------------------------------------------------------------------
    def add(self, req: CniRequest) -> Obj:
        start = time.perf_counter()
        ns, name = pod_identity(req)
        fresh = self.ipam.get(req.container_id) is None
        lease = self.ipam.allocate(Lease(req.container_id, "", ns, name, req.netns, req.ifname,
                                         host_veth_name(req.container_id)))
        try:
            pod, created = self._find_or_create_pod(req, ns, name)
            lease = replace(lease, created_pod=created or lease.created_pod, netns=req.netns)
            self.ipam.update(lease)
            att = self._attach(lease, req)
            attach_macvlan(self.cfg.node_netns, pod, req.netns)
            self._bandwidth(pod, lease)
            self._publish(pod, lease)
            self.await_rules(self.rules_timeout)
        except BaseException:
            if fresh:
                self._undo(lease)
            raise
        log.info("CNI ADD %s/%s container=%s ip=%s veth=%s in %.3fs", ns, name, req.container_id[:12],
                 lease.ip, lease.host_veth, time.perf_counter() - start)
        return add_result(req.version, att, req.config.get("prevResult"))

    def _find_or_create_pod(self, req: CniRequest, ns: str, name: str) -> tuple[Obj, bool]:
        try:
            pod = self.client.get("Pod", name, ns)
        except NotFoundError:
            return self._create_pod(req, ns, name), True
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node != self.cfg.node_name:
            raise CniError(INVALID_CONFIG, "pod is scheduled on another node",
                           f"Pod {ns}/{name}: spec.nodeName is {node}, this node is {self.cfg.node_name}")
        created = (pod["metadata"].get("labels") or {}).get(CNI_LABEL) == "true"
        if not node:
            pod = self.client.patch("Pod", name, {"spec": {"nodeName": self.cfg.node_name}}, ns)
        return pod, created

    def _create_pod(self, req: CniRequest, ns: str, name: str) -> Obj:
        labels = {str(k): str(v) for k, v in (req.config.get("labels") or {}).items()}
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": {**labels, CNI_LABEL: "true"},
                             "annotations": {CONTAINER_ANNOTATION: req.container_id}},
                "spec": {"nodeName": self.cfg.node_name,
                         "containers": [{"name": "container", "image": f"cni:{req.config.get('name')}"}]}}
        try:
            return self.client.create(body, ns)
        except OsdnError as exc:
            raise CniError(INTERNAL, f"cannot create Pod {ns}/{name} for container {req.container_id[:12]}",
                           f"{exc.message} (namespace from the network config 'namespace' key or CNI_ARGS)") from exc

    def _attach(self, lease: Lease, req: CniRequest) -> Attachment:
        cidr = f"{lease.ip}/{self.ipam.prefixlen}"
        spec = links.PodInterface(self.cfg.node_netns, req.netns, self.cfg.bridge, lease.host_veth, cidr,
                                  self.cfg.gateway, mtu=self.cfg.mtu, routes=self.cfg.routes(), ifname=req.ifname)
        try:
            links.ensure_pod_interface(spec)
            host = links.with_netlink(self.cfg.node_netns, lambda nl: links.observe_link(nl, lease.host_veth))
        except OsdnError as exc:
            raise CniError(INTERNAL, f"cannot attach container {req.container_id[:12]}", exc.message) from exc
        return Attachment(lease.host_veth, host.mac if host else "", req.ifname, spec.pod_mac, req.netns, cidr,
                          self.cfg.gateway, tuple(r.key() for r in self.cfg.routes()),
                          pod_dns(lease.namespace, dns_service_ip(self.cfg.service_cidr)))

    def _bandwidth(self, pod: Obj, lease: Lease) -> None:
        try:
            want = bandwidth_wanted(pod)
        except BandwidthError as exc:
            raise CniError(INVALID_CONFIG, "invalid pod bandwidth", str(exc)) from exc
        if want != tc.Bandwidth():
            self.bandwidth.apply(lease.host_veth, want)

    def _publish(self, pod: Obj, lease: Lease) -> None:
        """Write status.podIP and wait until the agent's cache shows it (so policies select it)."""
        status = {"phase": "Running", "podIP": lease.ip, "podIPs": [{"ip": lease.ip}], "hostIP": self.cfg.node_ip}
        self.client.patch("Pod", lease.pod, {"status": status}, lease.namespace, subresource="status")
        deadline = time.monotonic() + self.rules_timeout
        while not self.seen_pod(lease.namespace, lease.pod, lease.ip):
            if time.monotonic() > deadline:
                raise CniError(INTERNAL, "pod status not seen by the agent's watch in time",
                               f"Pod {lease.namespace}/{lease.pod} status.podIP {lease.ip}")
            time.sleep(0.005)

    def _undo(self, lease: Lease) -> None:
        """Best-effort rollback of a failed ADD (logs, never raises)."""
        try:
            self.teardown(lease)
        except Exception as exc:  # the ADD error is what the runtime must see
            log.warning("rollback of container %s (pod %s/%s) incomplete: %s", lease.container_id[:12],
                        lease.namespace, lease.pod, exc)

    # -- DEL -------------------------------------------------------------------------------------
    def delete(self, req: CniRequest) -> None:
        lease = self.ipam.get(req.container_id)
        if lease is None:
            links.delete_pod_interface(self.cfg.node_netns, host_veth_name(req.container_id))
            log.info("CNI DEL container=%s: no lease (already gone)", req.container_id[:12])
            return
        self.teardown(lease)
        log.info("CNI DEL %s/%s container=%s ip=%s released", lease.namespace, lease.pod,
                 req.container_id[:12], lease.ip)

    def teardown(self, lease: Lease) -> None:
        links.delete_pod_interface(self.cfg.node_netns, lease.host_veth)
        self._unpublish(lease)
        self.ipam.release(lease.container_id)

    def _unpublish(self, lease: Lease) -> None:
        try:
            if lease.created_pod:
                self.client.delete("Pod", lease.pod, lease.namespace)
                return
            pod = self.client.get("Pod", lease.pod, lease.namespace)
            if (pod.get("status") or {}).get("podIP") == lease.ip:
                self.client.patch("Pod", lease.pod, {"status": {"podIP": None, "podIPs": None}},
                                  lease.namespace, subresource="status")
        except NotFoundError:
            pass

    # -- CHECK -----------------------------------------------------------------------------------
    def check(self, req: CniRequest) -> None:
        lease = self.ipam.get(req.container_id)
        if lease is None:
            raise CniError(UNKNOWN_CONTAINER, "unknown container", f"no IP lease for container {req.container_id}")
        problems = self._check_pod_side(lease, req) + self._check_host_side(lease)
        if problems:
            raise CniError(INTERNAL, f"CHECK failed for container {req.container_id[:12]}", "; ".join(problems))

    def _check_pod_side(self, lease: Lease, req: CniRequest) -> list[str]:
        want_addr = f"{lease.ip}/{self.ipam.prefixlen}"
        want_routes = {r.key() for r in self.cfg.routes()}

        def look(nl: links.NL) -> list[str]:
            link = links.observe_link(nl, req.ifname)
            if link is None:
                return [f"interface {req.ifname} missing in {req.netns}"]
            out = []
            if want_addr not in link.addresses:
                out.append(f"{req.ifname} has {list(link.addresses)}, want {want_addr}")
            if link.mac.lower() != links.pod_mac(lease.ip):
                out.append(f"{req.ifname} MAC {link.mac}, want {links.pod_mac(lease.ip)}")
            missing = want_routes - links.observe_routes(nl, req.ifname)
            out += [f"route {d} via {g or 'on-link'} missing" for d, g in sorted(missing, key=str)]
            return out

        try:
            return links.with_netlink(req.netns, look)
        except OsdnError as exc:
            return [exc.message]

    def _check_host_side(self, lease: Lease) -> list[str]:
        link = links.with_netlink(self.cfg.node_netns, lambda nl: links.observe_link(nl, lease.host_veth))
        if link is None:
            return [f"host veth {lease.host_veth} missing in {self.cfg.node_netns}"]
        return [] if link.master == self.cfg.bridge else [f"host veth {lease.host_veth} not on {self.cfg.bridge}"]

