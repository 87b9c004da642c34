"""Egress IP controller: automatic assignment, activity/conflicts, node health, published decisions.

One key ("egress"): any change of a NetNamespace, HostSubnet or Node, or a node health transition,
marks the whole egress state dirty; the reconcile (debounced by `debounce` seconds) then
1. runs `reallocate_egress_ips` when some node has egressCIDRs, repeated on its own result until
   it settles (`settle_egress_ips`: an IP taken off an offline node is placed on another node in the
   same reconcile, so nodes see one move, not a drop and then a move), and writes changed
   HostSubnet.egressIPs, nodes that lose an IP first, right *after* publishing the namespaces'
   decisions computed from them (the nodes act on the decisions: a failover waits for no other write).
   As in the reference, automatic assignment waits until the API inputs have been quiet for
   `assign_quiet` (1 s), so a burst of edits (IPs, then each node's egressCIDRs) is placed as one
   balanced batch; a node health transition and follow-up rounds run at once (fast failover), and
   the controller's own writes do not count as input;
2. computes `compute_egress_state` (activity: exactly one node and one NetID claim an IP) with the
   offline nodes, and publishes, where node agents and `osdn get/describe` see them:
   - NetNamespace annotation `network.osdn.io/egress`: JSON `{"action": "via"|"drop", "egressIP",
     "node", "nodeIP", "standby": [...], "reason", "holders": {ip: node|null}}` (absent: no egress
     IPs, normal masquerade); node agents act on it (`osdn.node.egress_intent`);
   - HostSubnet annotations `network.osdn.io/egress-active` (the IPs this node must host, comma
     separated) and `network.osdn.io/egress-health` (`online` / `offline: <why>`);
   - Events: decision changes (Normal when using an IP, Warning when dropping), IP conflicts, node
     health transitions.
A namespace whose egress IPs are all unusable has its egress traffic dropped (never the node IP).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import replace
from typing import Any

from prometheus_client import Counter

from osdn.client import Client
from osdn.master.controller import Controller, Informers, rv_of
from osdn.master.events import Recorder
from osdn.master.probe import ProbeOptions, Target, TcpProber, heartbeat_problem, probe_target
from osdn.model.egressip import (
    Egress,
    EgressDecision,
    EgressState,
    NamespaceEgress,
    NodeEgress,
    compute_egress_state,
    settle_egress_ips,
    write_order,
)
from osdn.model.health import Transition
from osdn.model.sdnconfig import NetworkConfig

log = logging.getLogger(__name__)
Obj = dict[str, Any]
KEY = "egress"
EGRESS_ANNOTATION = "network.osdn.io/egress"
ACTIVE_ANNOTATION = "network.osdn.io/egress-active"
HEALTH_ANNOTATION = "network.osdn.io/egress-health"
MOVES = Counter("osdn_master_egress_ip_moves_total",
                "Published egress decisions of a namespace that changed its egress IP or node, or started/stopped "
                "dropping", ["to"])


def decision_key(text: str | None) -> tuple[str, str, str] | None:
    """(action, egress IP, node) of a published decision; None when absent. Pure."""
    if text is None:
        return None
    try:
        raw = json.loads(text)
        return str(raw.get("action")), str(raw.get("egressIP") or ""), str(raw.get("node") or "")
    except (ValueError, AttributeError):
        return ("unreadable", "", "")


def decision_annotation(d: EgressDecision, holders: dict[str, str | None] | None = None) -> str | None:
    """The published form of a namespace's egress decision (None for normal egress). Pure.
    `holders`: each requested IP -> the node that hosts it (None: none does), for `get -o wide`."""
    if d.action is Egress.NORMAL:
        return None
    body: dict[str, Any] = {"action": d.action.value}
    if holders:
        body["holders"] = holders
    if d.action is Egress.VIA:
        body.update(egressIP=d.egress_ip, node=d.node, nodeIP=d.node_ip, standby=list(d.standby))
    else:
        body["reason"] = d.reason
    return json.dumps(body, separators=(",", ":"))


def egress_view(obj: Obj | None) -> tuple[Any, ...] | None:
    """The part of a NetNamespace, HostSubnet or Node that egress decisions depend on (None: none). Pure.

    Objects without egress IPs/CIDRs (most of them) never wake the controller, so creating 10,000
    namespaces costs it nothing.
    """
    if obj is None:
        return None
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if obj.get("kind") == "Node":
        ready = [(c.get("status"), c.get("lastHeartbeatTime")) for c in (obj.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"]
        return ("node", tuple(ready)) if ready else None
    egress = (tuple(obj.get("egressIPs") or ()), tuple(obj.get("egressCIDRs") or ()))
    published = (ann.get(EGRESS_ANNOTATION), ann.get(ACTIVE_ANNOTATION), ann.get(HEALTH_ANNOTATION))
    if egress == ((), ()) and published == (None, None, None):
        return None
    return egress, published, obj.get("netid"), obj.get("hostIP"), obj.get("subnet")


def assignment_input(obj: Obj | None) -> tuple[Any, ...] | None:
    """What an edit burst is made of (automatic assignment waits until it is quiet). Pure. A Node's
    heartbeat is no edit: only its Ready status counts (with a few nodes, heartbeats every 5 s each
    would otherwise keep the inputs from ever being quiet for a second)."""
    if obj is not None and obj.get("kind") == "Node":
        view = egress_view(obj)
        return view and ("node", tuple(status for status, _ in view[1]))
    return egress_view(obj)


def holders_of(state: EgressState, ips: list[str]) -> dict[str, str | None]:
    """Each IP -> the node hosting it (exactly one node claims it and it is active), else None. Pure."""
    out: dict[str, str | None] = {}
    for ip in ips:
        st = state.ips.get(ip)
        out[ip] = st.node if st is not None and st.active else None
    return out


def describe_decision(d: EgressDecision) -> str:
    if d.action is Egress.VIA:
        return f"egress via {d.egress_ip} on node {d.node}" + (f" (standby {', '.join(d.standby)})" if d.standby else "")
    return f"egress traffic dropped: {d.reason}"


class EgressController(Controller):
    name = "egress"

    def __init__(self, client: Client, informers: Informers, network: NetworkConfig, recorder: Recorder,
                 probe: ProbeOptions, debounce: float = 0.05, assign_quiet: float = 1.0) -> None:
        super().__init__(client)
        self.network, self.recorder, self.probe, self.debounce = network, recorder, probe, debounce
        self.assign_quiet = assign_quiet
        self._last_input = -float("inf")       # a restarted master assigns at once
        self._assign_now = False
        self._own_rvs: set[int] = set()
        self.netnamespaces = informers.on("NetNamespace", self._on_event)
        self.hostsubnets = informers.on("HostSubnet", self._on_event)
        self.nodes = informers.on("Node", self._on_event)
        self.prober = TcpProber(probe, self._on_health) if probe.mode == "tcp" else None
        self._heartbeat_down: dict[str, str] = {}
        self._watching_since = time.time()  # heartbeats count from here at the oldest (see probe.heartbeat_problem)
        self._reported: set[tuple[str, str]] = set()
        self.last_state: EgressState | None = None
        self.transitions: list[Transition] = []
        self._tick_thread: threading.Thread | None = None

    def _on_event(self, _type: str, new: Obj | None, old: Obj | None) -> None:
        if egress_view(new) == egress_view(old):
            return
        if rv_of(new or old) not in self._own_rvs and assignment_input(new) != assignment_input(old):
            self._last_input = time.monotonic()
        self.queue.add_after(KEY, self.debounce)

    def _written(self, kind: str, stored: Obj) -> Obj:
        self.writes.record(kind, stored["metadata"]["name"], stored)
        if len(self._own_rvs) > 10000:
            self._own_rvs.clear()
        self._own_rvs.add(rv_of(stored))
        return stored

    def _on_health(self, transitions: list[Transition]) -> None:
        for t in transitions:
            self.transitions.append(t)
            state = "online" if t.online else "offline"
            self.recorder.event("HostSubnet", t.node, f"EgressNode{state.capitalize()}",
                                f"egress node {t.node} is {state}: {t.reason}", warning=not t.online)
        self._assign_now = True
        self.enqueue(KEY)

    # ---- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        self.enqueue(KEY)

    def start(self) -> None:
        self._watching_since = time.time()  # a new leader gives every node a full heartbeat timeout
        super().start()
        if self.prober is not None:
            self.prober.start()
        self._tick_thread = threading.Thread(target=self._tick, name="master-egress-heartbeat", daemon=True)
        self._tick_thread.start()

    def stop(self) -> None:
        super().stop()
        if self.prober is not None:
            self.prober.stop()
        if self._tick_thread is not None:
            self._tick_thread.join(timeout=2)

    def _tick(self) -> None:
        """Heartbeats expire without any API event: re-check them twice a second."""
        while not self._stop.wait(0.5):
            if self._heartbeat_offline() != self._heartbeat_down:
                self.enqueue(KEY)

    # ---- health ------------------------------------------------------------------------------
    def _heartbeat_offline(self) -> dict[str, str]:
        now = time.time()
        out = {}
        for node in self.nodes.items():
            problem = heartbeat_problem(node, now, self.probe.heartbeat_timeout, self._watching_since)
            if problem:
                out[node["metadata"]["name"]] = problem
        return out

    def offline(self) -> dict[str, str]:
        """Offline egress nodes with the reason (probe or heartbeat)."""
        down = dict(self._heartbeat_offline())
        self._heartbeat_down = dict(down)
        if self.prober is not None:
            for node in self.prober.offline():
                down.setdefault(node, "not answering health probes")
        return down

    def _update_probe_targets(self, hostsubnets: list[Obj]) -> None:
        if self.prober is None:
            return
        targets: dict[str, Target] = {}
        for hs in hostsubnets:
            if hs.get("egressIPs") or hs.get("egressCIDRs"):
                target = probe_target(self.probe, hs["metadata"]["name"], hs)
                if target is not None:
                    targets[hs["metadata"]["name"]] = target
        self.prober.set_targets(targets)

    # ---- reconcile ---------------------------------------------------------------------------
    def reconcile(self, key: Hashable) -> None:
        if not self.network.supports_vnids:
            return
        hostsubnets = {h["metadata"]["name"]: h for h in self.hostsubnets.items()}
        hostsubnets.update({n: o for n in hostsubnets if (o := self.writes.latest(self.hostsubnets, n))})
        self._update_probe_targets(list(hostsubnets.values()))
        netns = [self.writes.latest(self.netnamespaces, o["metadata"]["name"]) or o
                 for o in self.netnamespaces.items() if egress_view(o) is not None]
        namespaces = [NamespaceEgress.from_dict(o) for o in netns]
        down = self.offline()
        planned: dict[str, list[str]] = {}
        if any(h.get("egressCIDRs") for h in hostsubnets.values()):
            quiet = time.monotonic() - self._last_input
            if self._assign_now or quiet >= self.assign_quiet:
                self._assign_now = False
                planned = self._plan(namespaces, hostsubnets, set(down))
            else:
                self.queue.add_after(KEY, self.assign_quiet - quiet)
        else:
            self._assign_now = False  # a health change with no automatic node: nothing to assign now
        nodes = [replace(n, egress_ips=tuple(planned[n.name])) if n.name in planned else n
                 for n in map(NodeEgress.from_dict, hostsubnets.values())]
        state = compute_egress_state(namespaces, nodes, set(down))
        self.last_state = state
        self._publish_namespaces(state, netns)  # first: the nodes act on these (failover time)
        try:
            self._write_assignment(planned, hostsubnets)
        except Exception:
            self._assign_now = True
            raise
        self._publish_nodes(state, hostsubnets, down)
        self._report_conflicts(state, hostsubnets, netns)

    def _plan(self, namespaces: list[NamespaceEgress], hostsubnets: dict[str, Obj], down: set[str]
              ) -> dict[str, list[str]]:
        """The automatic assignment's changed HostSubnet.egressIPs (written after the decisions are
        published, by `_write_assignment`)."""
        nodes = [NodeEgress.from_dict(h) for h in hostsubnets.values()]
        alloc = settle_egress_ips(namespaces, nodes, down)
        if alloc.again:
            self._assign_now = True
            self.queue.add_after(KEY, self.debounce)
        return alloc.changes(nodes)

    def _write_assignment(self, planned: dict[str, list[str]], hostsubnets: dict[str, Obj]) -> None:
        before = [NodeEgress.from_dict(h) for h in hostsubnets.values()]
        for name in write_order(planned, before):
            body = copy.deepcopy(hostsubnets[name])
            body["egressIPs"] = planned[name]
            hostsubnets[name] = self._written("HostSubnet", self.client.update(body))
            log.info("egress: HostSubnet %s egressIPs -> %s", name, planned[name])

    def _publish_namespaces(self, state: EgressState, netnamespaces: list[Obj]) -> None:
        for netns in netnamespaces:
            name = netns["metadata"]["name"]
            decision = state.namespaces.get(int(netns.get("netid") or 0))
            wanted = (decision_annotation(decision, holders_of(state, netns.get("egressIPs") or []))
                      if decision and netns.get("egressIPs") else None)
            current = (netns["metadata"].get("annotations") or {}).get(EGRESS_ANNOTATION)
            if wanted == current:
                continue
            self._set_annotations("NetNamespace", netns, {EGRESS_ANNOTATION: wanted})
            old, new = decision_key(current), decision_key(wanted)
            if old is not None and new is not None and old != new:
                MOVES.labels(new[0]).inc()
            if decision is not None and wanted is not None:
                self.recorder.event("NetNamespace", name, "EgressDropped" if decision.action is Egress.DROP
                                    else "EgressIP", describe_decision(decision),
                                    warning=decision.action is Egress.DROP)

    def _publish_nodes(self, state: EgressState, hostsubnets: dict[str, Obj], down: dict[str, str]) -> None:
        for name, hs in hostsubnets.items():
            egress_node = bool(hs.get("egressIPs") or hs.get("egressCIDRs"))
            active = ",".join(s.ip for s in state.hosted_by(name)) if egress_node else None
            health = (f"offline: {down[name]}" if name in down else "online") if egress_node else None
            annotations = hs["metadata"].get("annotations") or {}
            if annotations.get(ACTIVE_ANNOTATION) != active or annotations.get(HEALTH_ANNOTATION) != health:
                self._set_annotations("HostSubnet", hs, {ACTIVE_ANNOTATION: active, HEALTH_ANNOTATION: health})

    def _set_annotations(self, kind: str, obj: Obj, values: dict[str, str | None]) -> None:
        body = copy.deepcopy(obj)
        annotations = dict(body["metadata"].get("annotations") or {})
        for key, value in values.items():
            if value is None:
                annotations.pop(key, None)
            else:
                annotations[key] = value
        body["metadata"]["annotations"] = annotations
        self._written(kind, self.client.update(body))

    def _report_conflicts(self, state: EgressState, hostsubnets: dict[str, Obj], netns: list[Obj]) -> None:
        """A Warning event on every HostSubnet and NetNamespace claiming an IP in a new conflict."""
        errors = {s.ip: s.error for s in state.ips.values() if s.error}
        for ip, error in sorted(errors.items()):
            if (ip, error) in self._reported:
                continue
            for kind, objs in (("HostSubnet", hostsubnets.values()), ("NetNamespace", netns)):
                for obj in objs:
                    if ip in (obj.get("egressIPs") or []):
                        self.recorder.event(kind, obj["metadata"]["name"], "EgressIPConflict", error, warning=True)
        self._reported = set(errors.items())
