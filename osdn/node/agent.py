"""`osdn node`: the node agent. Runs in the root namespace, acts on the node's namespace by name.

Lifecycle: register the Node (InternalIP, Ready heartbeat) -> informers (Pods, Namespaces,
NetNamespaces, NetworkPolicies, HostSubnets, ClusterNetworks) synced -> wait for this node's
HostSubnet -> serve CNI -> sync loop. Each sync: compile (pure) -> `Dataplane.sync` (render, plan,
apply) -> links (bridge with the gateway, VXLAN flooding to every other node) -> VXLAN unicast
entries for the other nodes' pods (`node.fdb`) -> one INFO line.
Events only mark the runner dirty (see `runner.SyncRunner`), and only events that can change what
a node enforces (`compile.relevant_change`): a pod's phase or annotations spend no sync.
Full syncs (the first, a retry, then every `--sync-period`) also collect garbage (stale pod veths,
leases of vanished pods), re-ensure the links and make the dataplane re-read the kernel; the syncs
in between trust what the agent last applied and only change what the intent changed.

After each applied sync, the NetworkPolicies the node does not enforce rule by rule (they fail closed,
see `compile`) are reported: the Node's `NetworkPolicyRenderFailed` condition, written with every
heartbeat, and Events on the policies (`report`).

Control-plane loss: the kernel state is never flushed because the API server is away. Informers
keep their caches and retry with backoff and full jitter (`reconnect_backoff`); syncs, periodic ones
included, go on from the cached state, so traffic flows and policies stay enforced; on return
every informer re-lists and the changes made meanwhile reach the kernel. The heartbeat notices
the loss (`api_error`): CNI ADD and DEL then answer "try again later" (they must publish or
withdraw the pod's IP, which every node's rules are keyed on); CHECK is answered from local state.
An agent that starts while the API server is away waits for it with backoff (it does not exit),
with the CNI socket open answering "not synced yet" and `/healthz` 503 until its first sync.

Restart-safe: nothing is flushed at start. The bridge, VXLAN and nft tables are adopted as found
(ensure_* and plan change only differences); the IPAM file says which pod veths are ours; a veth
with osdn's pod prefix and no lease, or a lease whose veth and pod namespace are both gone, is
cleaned up by the sync.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from osdn.api.cni import DEFAULT_SOCKET, TRY_AGAIN, CniError, CniRequest
from osdn.client import Client, ClientConfig
from osdn.client.backoff import reconnect_backoff
from osdn.client.informer import Informer
from osdn.errors import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    OsdnError,
    UnauthorizedError,
    ValidationError,
)
from osdn.kernel import conntrack, links, netns
from osdn.model.sdnconfig import DEFAULT_MTU, DEFAULT_VXLAN_PORT
from osdn.node import metrics
from osdn.node.admin_output import ensure_admin_chain
from osdn.node.bandwidth import PodBandwidth
from osdn.node.cniserver import CniServer
from osdn.node.compile import LocalAttachment, NodeFacts, relevant_change
from osdn.node.dataplane import Dataplane
from osdn.node.dns.server import AnswerHook, DnsConfig, DnsServer, SharedZone
from osdn.node.dnshold import DnsHold
from osdn.node.egress_intent import egress_for
from osdn.node.egressip import EGRESS_SYSCTLS, EgressIPs, publish_ipconfig
from osdn.node.fdb import VxlanFdb
from osdn.node.heap import HeapFreezer
from osdn.node.intent import ClusterPod, NodeIntent, delta_from
from osdn.node.intentsource import IntentSource
from osdn.node.ipam import Ipam
from osdn.node.netconfig import Periods, ProxyConfig, effective_periods
from osdn.node.podnet import PodNetConfig, PodNetwork, pod_identity
from osdn.node.report import PolicyReporter
from osdn.node.runner import SyncRunner, Yielded

log = logging.getLogger(__name__)
Obj = dict[str, Any]
# Services forward from their EndpointSlices (`model.slices`); Endpoints: DNS, and Services without slices.
KINDS = ("Pod", "Namespace", "NetNamespace", "NetworkPolicy", "HostSubnet", "ClusterNetwork", "Service", "Endpoints",
         "EndpointSlice", "EgressNetworkPolicy")
POD_VETH_PREFIX = links.LINK_PREFIX + "p"
NODE_SYSCTLS: dict[str, str | int] = {"net.ipv4.ip_forward": 1}  # the node routes pod <-> node IP / host ports (portmap)
VXLAN_VNI = 0  # the netid travels in the nft maps, not in the VNI
EGRESS_KINDS = ("NetNamespace", "HostSubnet")  # the objects `egress_for` decides from
PERMANENT = (UnauthorizedError, ForbiddenError, ValidationError, BadRequestError)  # retrying cannot help


class AgentError(OsdnError):
    """The agent cannot start (no HostSubnet, namespace missing, ...)."""


@dataclass(frozen=True)
class AgentConfig:
    name: str
    netns: str
    node_ip: str
    client: ClientConfig
    cni_socket: str = DEFAULT_SOCKET
    state_dir: str = ""  # default: the CNI socket's directory
    sync_period: float | None = None      # pinned on this node; None: Network cluster's kubeProxyConfig
    min_sync_period: float | None = None  # (see osdn.node.netconfig)
    subnet_timeout: float = 60.0
    heartbeat: float = 5.0
    bridge: str = "osdnbr0"
    vxlan: str = "osdnvx0"
    metrics_listen: str = ""
    dns_upstreams: tuple[str, ...] = ()  # where the node's DNS server forwards non-cluster names
    dns_port: int = 53  # the node's DNS server on <gateway>:<port>, UDP and TCP (0: no DNS server)
    egress_dns_hold: bool = True  # hold DNS answers for egress firewall names until installed (`node.dnshold`)

    @property
    def ipam_path(self) -> Path:
        return Path(self.state_dir or os.path.dirname(self.cni_socket)) / f"ipam-{self.name}.json"


class Agent:
    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.client = Client(cfg.client)
        self.dns_zone = SharedZone()
        self.dns: DnsServer | None = None
        self.intents = IntentSource(lambda: [(k, o) for k, inf in self.informers.items() for o in inf.items()],
                                    heap=HeapFreezer())  # full syncs freeze the long-lived heap (`node.heap`)
        self.informers = {k: Informer(cfg.client, k, handlers=[self._handler(k)], backoff=reconnect_backoff())
                          for k in KINDS}
        self.synced = threading.Event()  # the first sync is done: CNI may wire pods
        self.api_error = ""  # why the last heartbeat could not reach the API server ("" while it can)
        self.dataplane: Dataplane | None = None
        self.dns_hold: DnsHold | None = None
        self.egress = EgressIPs(cfg.netns, cfg.node_ip, cfg.bridge)
        self.fdb = VxlanFdb(cfg.netns, cfg.vxlan)  # unicast VXLAN entries for remote pods (`node.fdb`)
        self.bandwidth = PodBandwidth(cfg.netns, cfg.name)  # pods' tc limits, kept in step with annotations
        first = effective_periods(None, cfg.sync_period, cfg.min_sync_period)
        self.runner = SyncRunner(self.sync_once, first.min_sync, first.sync)
        self.proxy_config = ProxyConfig(cfg.client, cfg.name, self._set_periods, cfg.sync_period, cfg.min_sync_period)
        self.stopping = threading.Event()
        self.cni: CniServer | None = None
        self.podnet: PodNetwork | None = None
        self.ipam: Ipam | None = None
        self._threads: list[threading.Thread] = []
        self._links_applied: tuple[object, ...] | None = None  # inputs of the last successful link ensure
        self._owners: dict[str, str] | None = None  # pod IP -> owner, as of the last successful sync
        self._owners_of: object = None  # the `intent.pods` that `_owners` was computed from
        self._status_lock = threading.Lock()  # heartbeat and sync both write the Node's conditions
        self.reporter = PolicyReporter(self.client, cfg.name, _now, lambda: self._write_status(self.client))

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Everything up to serving CNI; the sync loop runs on its own thread."""
        links.with_netlink(self.cfg.netns, lambda nl: None)  # fails early, naming a missing namespace
        netns.set_sysctls(self.cfg.netns, {**NODE_SYSCTLS, **EGRESS_SYSCTLS})
        self.cni = CniServer(self.cfg.cni_socket, self.handle_cni, self.synced.is_set).start()  # "not synced yet"
        self._until_api("register the Node", lambda: register_node(self.client, self.cfg, [self.reporter.condition()]))
        self._until_api("publish the egress interface",
                        lambda: publish_ipconfig(self.client, self.cfg.name, self.egress.find_uplink()))
        self._spawn(self._heartbeat_loop, "heartbeat")
        for inf in self.informers.values():
            inf.start()
        self._wait_informers()
        self.proxy_config.start()
        subnet = self._wait_host_subnet()
        network = self._network()
        self.ipam = Ipam(self.cfg.ipam_path, subnet)
        self.dataplane = Dataplane(self.cfg.netns)
        self.dns_hold = hold = DnsHold(self.dataplane, self.cfg.egress_dns_hold)  # egress firewall names
        self.dataplane.overlay = hold.overlay
        ensure_admin_chain(self.dataplane.nft, self.cfg.bridge)
        self.podnet = PodNetwork(self._podnet_config(subnet, network), self.ipam, Client(self.cfg.client),
                                 self.await_rules, self._seen_pod, bandwidth=self.bandwidth)
        self._spawn(self.runner.run, "sync")
        self.await_rules(60)  # the first sync adopts what a previous agent left, before any new pod
        self._start_dns(subnet)
        self.set_dns_answer_hook(hold.on_answer)
        self.synced.set()
        if self.cfg.metrics_listen:
            metrics.serve(self.cfg.metrics_listen)
        log.info("node %s ready: netns %s, subnet %s, CNI on %s", self.cfg.name, self.cfg.netns, subnet,
                 self.cfg.cni_socket)

    def _start_dns(self, subnet: str) -> None:
        """The node's DNS server on the pod gateway (the cluster DNS VIP's node-local endpoint)."""
        if not self.cfg.dns_port:
            return
        from osdn.model.subnets import gateway_for
        cfg = DnsConfig(self.cfg.netns, gateway_for(subnet), self.cfg.dns_port, self.cfg.dns_upstreams)
        try:
            self.dns = DnsServer(cfg, self.dns_zone).start()
        except OSError as exc:
            raise AgentError(f"node {self.cfg.name}: cannot serve DNS on {cfg.listen}:{cfg.port} in "
                             f"{self.cfg.netns}: {exc}") from exc

    def set_dns_answer_hook(self, hook: AnswerHook | None, wants: Callable[[str], bool] | None = None) -> None:
        """Let `hook(client_ip, name, addresses, ttl)` see (and hold) every DNS answer with addresses
        before it reaches the pod (see `osdn.node.dns.server`); the egress firewall's entry point.
        `wants(client_ip)`: the clients the hook cares about (the others keep the DNS fast path)."""
        if self.dns is not None:
            self.dns.set_answer_hook(hook, wants)

    def run(self) -> None:
        self.start()
        self.stopping.wait()

    def stop(self) -> None:
        self.stopping.set()
        if self.cni is not None:
            self.cni.stop()
        if self.dns is not None:
            self.dns.stop()
        self.runner.stop()
        for t in self._threads:
            t.join(timeout=5)
        with contextlib.suppress(OsdnError):
            self.egress.teardown()  # the egress IPs go to other nodes: none may stay here
        self._stop_informers()
        self.proxy_config.stop()
        with contextlib.suppress(OsdnError):
            mark_not_ready(self.client, self.cfg)
        if self.dataplane is not None:
            self.dataplane.close()
        self.client.close()

    def _stop_informers(self, wait: float = 0.5) -> None:
        """All at once, bounded: `Informer.stop` cannot interrupt a blocking watch read (daemon threads)."""
        threads = [threading.Thread(target=i.stop, daemon=True) for i in self.informers.values()]
        for t in threads:
            t.start()
        deadline = time.monotonic() + wait
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def _spawn(self, fn: Any, name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    # -- events and CNI --------------------------------------------------------------------------
    def _handler(self, kind: str) -> Any:
        def on_event(_type: str, new: Obj | None, old: Obj | None) -> None:
            self.intents.record(kind, new, old)
            self.dns_zone.update(kind, new, old)
            if relevant_change(kind, new, old) or (kind == "Pod" and self.bandwidth.note_event(new, old)):
                self.runner.request()
        return on_event

    def _set_periods(self, periods: Periods) -> None:
        self.runner.set_periods(periods.min_sync, periods.sync)

    def await_rules(self, timeout: float) -> None:
        self.runner.wait(self.runner.request(), timeout)

    def handle_cni(self, req: CniRequest) -> Obj:
        refusal = self.cni_refusal(req)
        if refusal is not None:
            raise refusal
        assert self.podnet is not None
        with metrics.CNI_SECONDS.labels(req.command).time(), self.podnet.lock:
            if req.command == "ADD":
                return self.podnet.add(req)
            if req.command == "DEL":
                self.podnet.delete(req)
            else:
                self.podnet.check(req)
            self.runner.request()
            return {}

    def cni_refusal(self, req: CniRequest) -> CniError | None:
        """Why `req` cannot be served now (CNI code 11, "try again later"), or None. Before the first
        sync nothing is served: the node does not know the cluster's pods and policies yet. After it,
        while the API server is unreachable, ADD and DEL wait: they publish or withdraw the pod's IP,
        which every node's rules are keyed on; CHECK needs only local state."""
        pod = "/".join(pod_identity(req))
        where = f"API server {self.cfg.client.server}"
        if not self.synced.is_set():
            return CniError(TRY_AGAIN, f"osdn node agent {self.cfg.name} has not synced with the API server yet; "
                                       "try again later",
                            f"{req.command} of pod {pod}: {where}: {self.api_error or 'first sync not finished'}")
        if req.command in ("ADD", "DEL") and self.api_error:
            return CniError(TRY_AGAIN, f"osdn node agent {self.cfg.name} cannot reach the API server; try again later",
                            f"{req.command} of pod {pod} must publish its IP through the {where}: {self.api_error}")
        return None

    def _pod(self, namespace: str, name: str) -> Obj | None:
        return self.informers["Pod"].get(name, namespace)

    def _seen_pod(self, namespace: str, name: str, ip: str) -> bool:
        pod = self.informers["Pod"].get(name, namespace)
        return pod is not None and (pod.get("status") or {}).get("podIP") == ip

    # -- start-up helpers ------------------------------------------------------------------------
    def _until_api(self, what: str, call: Callable[[], object]) -> None:
        """`call()` until the API server answers it: a starting agent waits for the API server with
        backoff (the kernel state a previous agent left stays in force meanwhile). Refusals that a
        retry cannot cure (401, 403, 400, 422) are raised."""
        backoff = reconnect_backoff()
        while True:
            try:
                call()
                return
            except PERMANENT:
                raise
            except OsdnError as exc:
                self.api_error = exc.message
                delay = backoff.next()
                log.warning("node %s: cannot %s: %s; retrying in %.1fs", self.cfg.name, what, exc.message, delay)
            if self.stopping.wait(delay):
                raise AgentError(f"node {self.cfg.name}: stopped while waiting to {what}")

    def _wait_informers(self) -> None:
        """Until every informer has listed once (each retries on its own, with backoff); a stop request
        is obeyed within a second."""
        waited = 0
        for kind, inf in self.informers.items():
            while not inf.wait_synced(1):
                if self.stopping.is_set():
                    raise AgentError(f"node {self.cfg.name}: stopped while waiting for the first {kind} list")
                waited += 1
                if waited % 30 == 0:
                    log.warning("node %s: no %s list from %s after %ds; still waiting", self.cfg.name, kind,
                                self.cfg.client.server, waited)

    def _wait_host_subnet(self) -> str:
        deadline = time.monotonic() + self.cfg.subnet_timeout
        while not self.stopping.is_set():
            hs = self.informers["HostSubnet"].get(self.cfg.name)
            if hs and hs.get("subnet"):
                return str(hs["subnet"])
            if time.monotonic() > deadline:
                raise AgentError(
                    f"node {self.cfg.name}: no HostSubnet after {self.cfg.subnet_timeout:.0f}s. The master "
                    f"allocates it for the registered Node; is a master running (`osdn server` or `osdn master`)? "
                    f"Check `osdn get hostsubnets` and the Node's events.")
            time.sleep(0.05)
        raise AgentError("stopped while waiting for the HostSubnet")

    def _network(self) -> Obj:
        cn = self.informers["ClusterNetwork"].get("default")
        if cn is None:
            raise AgentError("ClusterNetwork 'default' not found: the API server creates it at bootstrap")
        return cn

    def _podnet_config(self, subnet: str, cn: Obj) -> PodNetConfig:
        from osdn.model.subnets import gateway_for
        cidrs = tuple(str(c.get("CIDR") or c.get("cidr")) for c in cn.get("clusterNetworks") or [])
        return PodNetConfig(self.cfg.name, self.cfg.netns, self.cfg.node_ip, self.cfg.bridge, gateway_for(subnet),
                            int(cn.get("mtu") or DEFAULT_MTU), cidrs or (str(cn.get("network")),),
                            str(cn.get("serviceNetwork")))

    def _heartbeat_loop(self) -> None:
        with Client(self.cfg.client) as client:
            while not self.stopping.wait(self.cfg.heartbeat):
                try:
                    self._write_status(client)
                    self._note_api("")
                except OsdnError as exc:
                    log.warning("node %s heartbeat failed: %s", self.cfg.name, exc.message)
                    self._note_api(exc.message)

    def _note_api(self, error: str) -> None:
        """Whether the API server answered the last heartbeat; log the transitions."""
        if error and not self.api_error:
            log.warning("node %s: API server unreachable: keeping the last applied kernel state; CNI ADD and "
                        "DEL answer 'try again later' until it is back", self.cfg.name)
        elif not error and self.api_error:
            log.info("node %s: API server reachable again", self.cfg.name)
        self.api_error = error

    def _write_status(self, client: Client) -> None:
        """Heartbeat: Ready and the NetworkPolicy condition (a merge patch replaces the whole list)."""
        with self._status_lock:
            heartbeat(client, self.cfg, [self.reporter.condition()])

    # -- the sync --------------------------------------------------------------------------------
    def facts(self) -> NodeFacts:
        assert self.ipam is not None
        atts = tuple(LocalAttachment(x.namespace, x.pod, x.ip, links.pod_mac(x.ip), x.host_veth)
                     for x in self.ipam.all())
        return NodeFacts(self.cfg.name, self.cfg.node_ip, atts, uplinks=(self.cfg.vxlan,))

    def sync_once(self, full: bool = True) -> None:
        """One reconcile of the node's kernel state with the API state (`full`: see the module doc).
        A periodic full sync stops between its steps when an event arrived meanwhile (`Yielded`, see
        `runner.SyncRunner.should_yield`): what it did so far is consistent, the rest comes later."""
        assert self.dataplane is not None
        start = time.perf_counter()
        with metrics.SYNC_ERRORS.count_exceptions(), self.proxy_config.reporting_errors():
            stale = self._collect_garbage() if full else 0  # first: released leases leave this sync's intent
            intent = self.intents.intent(self.facts(), full)
            objs = [o for k in EGRESS_KINDS for o in self.informers[k].items()]  # all egress_for reads
            intent = replace(intent, egress=egress_for(intent, objs, self.cfg.bridge))
            self.egress.prepare(intent.egress)  # new steering routes before the rules that use them
            compiled = time.perf_counter()
            if full and self.runner.should_yield():
                cut = "after compile"   # the event's sync applies the resynced compiler's intent
            else:
                cut = self._apply(intent, full, (start, compiled), stale)
        if cut:
            log.info("full sync of node %s yielded to an event %s (%.3fs); it runs again at the next quiet "
                     "moment", self.cfg.name, cut, time.perf_counter() - start)
            raise Yielded

    def _apply(self, intent: NodeIntent, full: bool, times: tuple[float, float], stale: int) -> str:
        """Rules, then links, egress, VXLAN entries and bandwidth; "" when done, else where it stopped
        (`times`: when the sync started and when its compile ended)."""
        assert self.dataplane is not None
        start, compiled = times
        if self.dns_hold is not None:  # before the sync: see `node.dnshold`
            self.dns_hold.configure(intent.egress_firewall)
        stats = self.dataplane.sync(intent, full=full)  # rules first: they wait for no link
        if full:
            ensure_admin_chain(self.dataplane.nft, self.cfg.bridge)
        self._forget_departed(intent)
        synced = time.perf_counter()
        if full and self.runner.should_yield():
            return "after the rules"   # links, egress, VXLAN entries and bandwidth wait for the next full sync
        self._sync_links(intent, full)
        self.egress.sync(intent.egress, full)
        self.fdb.sync(intent, full)  # every other node's gateway too: egress steering's next hop (`node.fdb`)
        self.bandwidth.sync(self.ipam.all() if self.ipam else (), self._pod, full)
        failed = {(f.namespace, f.name) for f in intent.policy_failures}
        self.reporter.update(intent.policy_failures, {(p.namespace, p.name) for p in intent.policies} - failed)
        took = time.perf_counter() - start
        metrics.observe_sync(intent, stats, took)
        log.info("sync node=%s mode=%s full=%s pods=%d local=%d nodes=%d policies=%d stale_veths=%d "
                 "nft +%d -%d elements=%d replaced=%s in %.3fs (compile %.3f links %.3f nft %.3f)",
                 self.cfg.name, intent.mode, "yes" if full else "no", len(intent.pods), len(intent.local_pods),
                 len(intent.nodes), len(intent.policies), stale, stats.elements_added, stats.elements_removed,
                 stats.elements_total, ",".join(stats.replaced_tables) or "-", took, compiled - start,
                 start + took - synced, stats.duration_s)
        return ""

    def _forget_departed(self, intent: NodeIntent) -> None:
        """Delete the conntrack entries of pod IPs that left their pod since the last sync (deleted,
        or now another pod's), so no pod inherits the flows of the one that had its IP before."""
        if intent.pods is self._owners_of:
            return  # the same pods as last time (the compiler hands back the same tuple)
        delta = delta_from(intent.pods, self._owners_of)
        changes: dict[str, str | None] = {}
        if delta is not None and self._owners is not None:  # derived from the last tuple: O(changes)
            owners = self._owners
            gone, changes = moved_addresses(owners, *delta)
        else:
            owners = {p.ip: p.owner for p in intent.pods}
            gone = departed_addresses(self._owners, owners)
        if gone:
            n = conntrack.delete_flows(self.cfg.netns, gone)
            log.info("node %s: %d conntrack entries of departed pod IPs deleted (%s)", self.cfg.name, n,
                     ", ".join(sorted(gone)))
        for ip, owner in changes.items():  # once the flows are gone: a failed delete is retried
            if owner is None:
                owners.pop(ip, None)
            else:
                owners[ip] = owner
        self._owners, self._owners_of = owners, intent.pods

    def _sync_links(self, intent: NodeIntent, full: bool) -> None:
        """Bridge with the gateway and VXLAN flooding to every other node; skipped when nothing they
        depend on changed since the last success, unless `full`."""
        prefix = int(intent.local_subnet.split("/")[1])
        remotes = sorted({n.node_ip for n in intent.nodes if n.name != self.cfg.name and n.node_ip != self.cfg.node_ip})
        # the service network on the bridge too: a ClusterIP packet no rule DNATed reaches the forward
        # hook (rejected: no endpoints; dropped: unknown port) whatever the node's other routes
        onlink = (*intent.cluster_cidrs, intent.service_cidr)
        want = (f"{intent.gateway}/{prefix}", self._mtu(), self._vxlan_port(), tuple(remotes), onlink)
        if want == self._links_applied and not full:
            return
        self._links_applied = None
        gateway, mtu, port, _, cidrs = want
        links.ensure_node_bridge(self.cfg.netns, self.cfg.bridge, gateway, mtu, cidrs)
        links.ensure_vxlan(self.cfg.netns, self.cfg.vxlan, VXLAN_VNI, self.cfg.node_ip, port, remotes,
                           bridge=self.cfg.bridge, mtu=mtu)
        self._links_applied = want

    def _collect_garbage(self) -> int:
        assert self.ipam is not None and self.podnet is not None
        if not self.podnet.lock.acquire(blocking=False):
            return 0  # a CNI request is running: it owns the leases now; next sync
        try:
            veths = {s.name for s in links.observe_links(self.cfg.netns, POD_VETH_PREFIX)}
            leased = {x.host_veth: x for x in self.ipam.all()}
            stale = sorted(veths - set(leased))
            if stale:
                log.warning("node %s: removing pod veths without a lease: %s", self.cfg.name, ", ".join(stale))
                links.delete_links(self.cfg.netns, stale)
            for veth, lease in leased.items():
                if veth not in veths and not os.path.exists(lease.netns):
                    log.warning("node %s: pod %s/%s is gone (netns %s); releasing %s", self.cfg.name,
                                lease.namespace, lease.pod, lease.netns, lease.ip)
                    self.podnet.teardown(lease)
            return len(stale)
        finally:
            self.podnet.lock.release()

    def _mtu(self) -> int:
        cn = self.informers["ClusterNetwork"].get("default") or {}
        return int(cn.get("mtu") or DEFAULT_MTU)

    def _vxlan_port(self) -> int:
        cn = self.informers["ClusterNetwork"].get("default") or {}
        return int(cn.get("vxlanPort") or DEFAULT_VXLAN_PORT)


def moved_addresses(owners: Mapping[str, str], gone: Iterable[ClusterPod],
                    new: Iterable[ClusterPod]) -> tuple[set[str], dict[str, str | None]]:
    """Pure: when the pods `gone` left and `new` came, the IPs of `departed_addresses`, and the changes
    to `owners` (IP -> owner; None: no pod has the IP now)."""
    now: dict[str, str | None] = {p.ip: None for p in gone}
    now.update((p.ip, p.owner) for p in new)
    return {ip for ip, owner in now.items() if owners.get(ip) not in (None, owner)}, now


def departed_addresses(before: dict[str, str] | None, now: dict[str, str]) -> set[str]:
    """Pure: IPs whose pod went away or changed (by owner `namespace/name`); none on the first sync,
    which has nothing to compare with."""
    if before is None:
        return set()
    return {ip for ip, owner in before.items() if now.get(ip) != owner}


# -- the Node object ------------------------------------------------------------------------------

def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_status(cfg: AgentConfig, extra: list[Obj] | None = None) -> Obj:
    """Addresses and conditions: Ready, then `extra` (the NetworkPolicy condition, see `report`)."""
    now = _now()
    return {"addresses": [{"type": "InternalIP", "address": cfg.node_ip}, {"type": "Hostname", "address": cfg.name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "OsdnNodeReady",
                            "message": "osdn node agent is running", "lastHeartbeatTime": now,
                            "lastTransitionTime": now}, *(extra or [])]}


def register_node(client: Client, cfg: AgentConfig, extra: list[Obj] | None = None) -> None:
    """Create the Node (or take over an existing one) with its InternalIP and a Ready condition."""
    try:
        client.get("Node", cfg.name)
    except NotFoundError:
        client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": cfg.name},
                       "status": node_status(cfg, extra)})
    heartbeat(client, cfg, extra)
    log.info("node %s registered (InternalIP %s)", cfg.name, cfg.node_ip)


def mark_not_ready(client: Client, cfg: AgentConfig) -> None:
    """On a clean stop: Ready=False, so the master stops counting on this node at once."""
    status = node_status(cfg)
    status["conditions"][0].update(status="False", reason="OsdnNodeStopped", message="osdn node agent stopped")
    client.patch("Node", cfg.name, {"status": status}, subresource="status")


def heartbeat(client: Client, cfg: AgentConfig, extra: list[Obj] | None = None) -> None:
    client.patch("Node", cfg.name, {"status": node_status(cfg, extra)}, subresource="status")
