"""Kubernetes NetworkPolicy v1: compilation to pod-index sets and per-connection evaluation.

Pure. Semantics (upstream Kubernetes is the judge):
- policyTypes default: Ingress always; Egress iff `spec.egress` is non-empty (the apiserver's defaulting).
- A pod is isolated in a direction iff some policy of its namespace selects it with that type; then only
  what some rule of some such policy allows passes (policies are additive). Unselected pods are open.
- A rule without `from`/`to` (or with an empty list) matches every peer; without `ports` every port.
- Peer: podSelector only -> pods of the policy's namespace; namespaceSelector only -> all pods of the
  matching namespaces; both -> matching pods in matching namespaces; `{}` matches all.
- ipBlock matches by IP, pod IPs included (cyclonus' expectation); `except` carves holes.
- Ports: protocol defaults to TCP; a named port resolves against the *destination* pod's container
  ports (name and protocol); no such port -> that port entry matches nothing (never widened);
  endPort makes an inclusive range.
Host-network pods have no pod identity: selectors never match them (their traffic is the node's).

Fail closed: a policy that exceeds the limits the API enforces (`network_policy_limit_problems`; one
stored before they existed) or that cannot be compiled at all (a malformed stored object) is not
enforced rule by rule: it keeps its policyTypes and the pods it selects, and allows nothing, so
those pods are isolated in its directions and only other policies can admit traffic. `failed` says
why, and the policy's `ref` carries it into every verdict. The node agent does the same (it compiles
from this model), so `adm verify` and the kernel agree. Every other policy is unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.api import labels
from osdn.api.kinds.networking import network_policy_limit_problems
from osdn.errors import BadRequestError
from osdn.model import objects as o

INGRESS, EGRESS = "ingress", "egress"


@dataclass(frozen=True)
class PortMatch:
    path: str  # spec.ingress[0].ports[1]
    protocol: str
    port: int | str | None  # None: every port of the protocol; str: a named port
    end_port: int | None

    def matches(self, protocol: str, port: int, pod: o.Pod | None) -> bool:
        """Does this entry admit `protocol`/`port` on the destination `pod` (named ports resolve there)?"""
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if isinstance(self.port, str):
            return pod is not None and pod.named_port(self.port, self.protocol) == port
        high = self.end_port if self.end_port is not None and self.end_port >= self.port else self.port
        return self.port <= port <= high

    def describe(self) -> str:
        if self.port is None:
            return f"{self.protocol}/any"
        if self.end_port is not None and not isinstance(self.port, str):
            return f"{self.protocol}/{self.port}-{self.end_port}"
        return f"{self.protocol}/{self.port}"


@dataclass(frozen=True)
class Peer:
    path: str  # spec.ingress[0].from[1]
    text: str  # human form of the selector
    pods: frozenset[int]  # indexes of the pods it matches (for an ipBlock: pods whose IP is inside)
    block: o.Net | None
    excepts: tuple[o.Net, ...]

    def matches(self, idx: int | None, ip: o.IPv4 | None) -> bool:
        """A pod peer is matched by index, a non-pod address (node, external) by ipBlock only."""
        if idx is not None:
            return idx in self.pods
        if self.block is None or ip is None:
            return False
        return ip in self.block and not any(ip in e for e in self.excepts)


@dataclass(frozen=True)
class Rule:
    path: str  # spec.ingress[0]
    peers: tuple[Peer, ...] | None  # None: every peer
    ports: tuple[PortMatch, ...] | None  # None: every port
    named: bool  # some port entry is named (depends on the destination pod)

    def port_hit(self, protocol: str, port: int, pod: o.Pod | None) -> PortMatch | None | bool:
        """The matching port entry, True if the rule has no ports, None if no entry matches."""
        if self.ports is None:
            return True
        for pm in self.ports:
            if pm.matches(protocol, port, pod):
                return pm
        return None


@dataclass(frozen=True)
class CompiledPolicy:
    namespace: str
    name: str
    selected: frozenset[int]
    ingress: tuple[Rule, ...] | None  # None: policy does not have Ingress in policyTypes
    egress: tuple[Rule, ...] | None
    failed: str = ""  # why it cannot be enforced (then it has no rules: it isolates and allows nothing)

    @property
    def ref(self) -> str:
        ref = f"NetworkPolicy {self.namespace}/{self.name}"
        return f"{ref} (not enforced, it allows nothing: {self.failed})" if self.failed else ref

    def rules(self, direction: str) -> tuple[Rule, ...] | None:
        return self.ingress if direction == INGRESS else self.egress


@dataclass(frozen=True)
class RuleHit:
    """Which policy, rule, peer and port entry allowed a connection."""

    policy: CompiledPolicy
    rule: Rule
    peer: Peer | None
    port: PortMatch | None

    def describe(self) -> str:
        key = "from" if self.rule.path.startswith("spec.ingress") else "to"
        where = self.peer.path if self.peer else f"{self.rule.path} (no {key}: any peer)"
        what = f" [{self.peer.text}]" if self.peer else ""
        port = f", {self.port.path} {self.port.describe()}" if self.port else ", no ports: any port"
        return f"{self.policy.ref} {where}{what}{port}"


# --- compilation ---------------------------------------------------------------------------------

class _Compiler:
    def __init__(self, pods: Sequence[o.Pod], namespaces: Mapping[str, o.Namespace]) -> None:
        self.pods = pods
        self.namespaces = namespaces
        self.by_ns: dict[str, list[int]] = {}
        for i, p in enumerate(pods):
            if not p.host_network:
                self.by_ns.setdefault(p.namespace, []).append(i)
        self._ns_cache: dict[labels.Selector, tuple[str, ...]] = {}
        self._pod_cache: dict[tuple[str, labels.Selector], frozenset[int]] = {}

    def ns_matching(self, sel: labels.Selector) -> tuple[str, ...]:
        if sel not in self._ns_cache:
            self._ns_cache[sel] = tuple(n for n, ns in self.namespaces.items() if sel.matches(ns.labels))
        return self._ns_cache[sel]

    def pods_matching(self, ns: str, sel: labels.Selector) -> frozenset[int]:
        key = (ns, sel)
        if key not in self._pod_cache:
            self._pod_cache[key] = frozenset(i for i in self.by_ns.get(ns, ()) if sel.matches(self.pods[i].labels))
        return self._pod_cache[key]

    def peer(self, raw: Mapping[str, Any], ns: str, path: str) -> Peer:
        if raw.get("ipBlock") is not None:
            return self._ip_block(raw["ipBlock"], path)
        pod_raw, ns_raw = raw.get("podSelector"), raw.get("namespaceSelector")
        if pod_raw is None and ns_raw is None:  # rejected by validation; match nothing rather than all
            return Peer(path, "empty peer (matches nothing)", frozenset(), None, ())
        pod_sel = labels.from_label_selector(pod_raw)
        if ns_raw is None:
            return Peer(path, f"pods {_sel(pod_sel)} in {ns}", self.pods_matching(ns, pod_sel), None, ())
        ns_sel = labels.from_label_selector(ns_raw)
        idxs: set[int] = set()
        for n in self.ns_matching(ns_sel):
            idxs |= self.pods_matching(n, pod_sel)
        return Peer(path, f"pods {_sel(pod_sel)} in namespaces {_sel(ns_sel)}", frozenset(idxs), None, ())

    def _ip_block(self, raw: Mapping[str, Any], path: str) -> Peer:
        block = o.parse_net(raw.get("cidr"))
        excepts = tuple(n for n in map(o.parse_net, raw.get("except") or ()) if n is not None)
        text = f"ipBlock {raw.get('cidr')}" + (f" except {', '.join(map(str, excepts))}" if excepts else "")
        if block is None:
            return Peer(path, text + " (not IPv4: matches nothing)", frozenset(), None, ())
        idxs = frozenset(i for i, p in enumerate(self.pods) if p.ip is not None and not p.host_network
                         and p.ip in block and not any(p.ip in e for e in excepts))
        return Peer(path, text, idxs, block, excepts)

    def rule(self, raw: Mapping[str, Any], ns: str, path: str, direction: str) -> Rule:
        key = "from" if direction == INGRESS else "to"
        raw_peers = raw.get(key) or []
        peers = tuple(self.peer(p or {}, ns, f"{path}.{key}[{j}]") for j, p in enumerate(raw_peers)) or None
        ports = tuple(_port(p or {}, f"{path}.ports[{j}]") for j, p in enumerate(raw.get("ports") or [])) or None
        return Rule(path, peers, ports, any(isinstance(p.port, str) for p in ports or ()))

    def policy(self, obj: Mapping[str, Any]) -> CompiledPolicy:
        ns, name, spec, types = _head(obj)
        selected = self.pods_matching(ns, labels.from_label_selector(spec.get("podSelector")))
        ingress = egress = None
        if "Ingress" in types:
            ingress = tuple(self.rule(r or {}, ns, f"spec.ingress[{i}]", INGRESS)
                            for i, r in enumerate(spec.get("ingress") or []))
        if "Egress" in types:
            egress = tuple(self.rule(r or {}, ns, f"spec.egress[{i}]", EGRESS)
                           for i, r in enumerate(spec.get("egress") or []))
        return CompiledPolicy(ns, name, selected, ingress, egress)


    def unenforceable(self, obj: Mapping[str, Any], why: str) -> CompiledPolicy:
        """Fail closed: the policy's pods (all pods of its namespace if its selector is unreadable),
        isolated in its directions (both if unreadable), with no rule."""
        ns, name = str(o.meta(obj).get("namespace") or "default"), str(o.meta(obj).get("name", ""))
        try:
            _, _, spec, types = _head(obj)
            selected = self.pods_matching(ns, labels.from_label_selector(spec.get("podSelector")))
        except (BadRequestError, TypeError, ValueError, AttributeError):
            types, selected = ["Ingress", "Egress"], frozenset(self.by_ns.get(ns, ()))
        return CompiledPolicy(ns, name, selected, () if "Ingress" in types else None,
                              () if "Egress" in types else None, failed=why)


def _head(obj: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any], list[str]]:
    """Namespace, name, spec and effective policyTypes of a NetworkPolicy object."""
    ns = str(o.meta(obj).get("namespace") or "default")
    name = str(o.meta(obj).get("name", ""))
    spec = obj.get("spec") or {}
    types = [str(t) for t in spec.get("policyTypes") or []]
    if not types:
        types = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    return ns, name, spec, types


def _sel(sel: labels.Selector) -> str:
    return f"{{{sel}}}" if not sel.empty else "{} (all)"


def _port(raw: Mapping[str, Any], path: str) -> PortMatch:
    proto = str(raw.get("protocol") or "TCP").upper()
    port = raw.get("port")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    end = raw.get("endPort")
    return PortMatch(path, proto, port, int(end) if end is not None and isinstance(port, int) else None)


def compile_policies(objs: Iterable[Mapping[str, Any]], pods: Sequence[o.Pod],
                     namespaces: Mapping[str, o.Namespace]) -> tuple[CompiledPolicy, ...]:
    """Compile every NetworkPolicy once against the pods; result sorted by (namespace, name)."""
    comp = _Compiler(pods, namespaces)
    out = [_compile_one(comp, obj) for obj in objs]
    return tuple(sorted(out, key=lambda p: (p.namespace, p.name)))


def _compile_one(comp: _Compiler, obj: Mapping[str, Any]) -> CompiledPolicy:
    """One policy, or its fail-closed form (see the module docstring): never raises for bad content."""
    problems = network_policy_limit_problems(obj.get("spec"))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return comp.unenforceable(obj, f"{problems[0]}{more}")
    try:
        return comp.policy(obj)
    except BadRequestError as e:
        return comp.unenforceable(obj, e.message)
    except (TypeError, ValueError, AttributeError) as e:  # a malformed stored object
        return comp.unenforceable(obj, f"malformed: {type(e).__name__}: {e}")


# --- evaluation ----------------------------------------------------------------------------------

def isolating(policies: Iterable[CompiledPolicy], idx: int, direction: str) -> tuple[CompiledPolicy, ...]:
    """The policies that select pod `idx` for `direction` (non-empty means the pod is isolated)."""
    return tuple(p for p in policies if idx in p.selected and p.rules(direction) is not None)


def first_allow(policies: Iterable[CompiledPolicy], direction: str, peer_idx: int | None,
                peer_ip: o.IPv4 | None, protocol: str, port: int, port_pod: o.Pod | None) -> RuleHit | None:
    """The first rule (policy name order, then rule order) admitting the peer on protocol/port."""
    for pol in policies:
        for rule in pol.rules(direction) or ():
            pm = rule.port_hit(protocol, port, port_pod)
            if pm is None:
                continue
            port_entry = pm if isinstance(pm, PortMatch) else None
            if rule.peers is None:
                return RuleHit(pol, rule, None, port_entry)
            for peer in rule.peers:
                if peer.matches(peer_idx, peer_ip):
                    return RuleHit(pol, rule, peer, port_entry)
    return None


@dataclass(frozen=True)
class PeerTable:
    """For one pod and one direction/probe: which peer pods are allowed, and by which rule."""

    isolated_by: tuple[CompiledPolicy, ...]  # empty: not isolated, everything allowed
    hits: Mapping[int, RuleHit]
    fallback: RuleHit | None  # a rule admitting every peer (applies to peers not in `hits`)

    def lookup(self, idx: int) -> RuleHit | None:
        return self.hits.get(idx) or self.fallback


def compute_ingress_table(policies: Sequence[CompiledPolicy], dst: int, dst_pod: o.Pod,
                          protocol: str, port: int) -> PeerTable:
    """Allowed sources of pod `dst` (same answers as `first_allow`, for all pod peers at once)."""
    iso = isolating(policies, dst, INGRESS)
    hits: dict[int, RuleHit] = {}
    for pol in iso:
        for rule in pol.ingress or ():
            pm = rule.port_hit(protocol, port, dst_pod)
            if pm is not None and (everyone := _record_peers(iso, pol, rule, pm, hits)):
                return everyone
    return PeerTable(iso, hits, None)


def compute_egress_table(policies: Sequence[CompiledPolicy], src: int, pods: Sequence[o.Pod],
                         protocol: str, port: int) -> PeerTable:
    """Allowed destination pods of pod `src` (named ports resolve on each destination)."""
    iso = isolating(policies, src, EGRESS)
    hits: dict[int, RuleHit] = {}
    for pol in iso:
        for rule in pol.egress or ():
            if rule.named:
                _named_egress(pol, rule, pods, protocol, port, hits)
            elif (pm := rule.port_hit(protocol, port, None)) is not None and (
                    everyone := _record_peers(iso, pol, rule, pm, hits)):
                return everyone
    return PeerTable(iso, hits, None)


def _record_peers(iso: tuple[CompiledPolicy, ...], pol: CompiledPolicy, rule: Rule, pm: PortMatch | bool,
                  hits: dict[int, RuleHit]) -> PeerTable | None:
    """Record the pods of `rule`'s peers as allowed by it (the first rule to name a pod wins). A rule
    without peers allows every pod: the whole table is then that rule's (returned)."""
    entry = pm if isinstance(pm, PortMatch) else None
    if rule.peers is None:
        return PeerTable(iso, hits, RuleHit(pol, rule, None, entry))
    for peer in rule.peers:
        hit = RuleHit(pol, rule, peer, entry)
        for pod in peer.pods:
            hits.setdefault(pod, hit)
    return None


def _named_egress(pol: CompiledPolicy, rule: Rule, pods: Sequence[o.Pod], protocol: str, port: int,
                  hits: dict[int, RuleHit]) -> None:
    groups: Iterable[tuple[Peer | None, Iterable[int]]] = (
        [(None, range(len(pods)))] if rule.peers is None else [(p, p.pods) for p in rule.peers])
    for peer, idxs in groups:
        for d in idxs:
            if d in hits or pods[d].host_network:
                continue
            pm = rule.port_hit(protocol, port, pods[d])
            if pm is not None:
                hits[d] = RuleHit(pol, rule, peer, pm if isinstance(pm, PortMatch) else None)
