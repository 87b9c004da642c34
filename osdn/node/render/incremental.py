"""Incremental render: the same `Ruleset` as `render_node`, re-rendering only what an intent change touched.

Pure state, no I/O, no clock, no thread (the dataplane calls it under its lock). Invariant, proved by
property tests against `render_node` for random intent sequences (tests/unit/node/test_incremental_render.py):
after any sequence of calls, `render(intent) == render_node(intent)` (up to the order of sets and chains
in a table, which nft ignores).

How: the parts of the ruleset that grow with the cluster are unions of per-object parts
(`render.policy.policy_part`, `render.services.service_part`, one pod's multitenant elements). Each
`_Union` keeps every contributor's elements with a reference count per element, so a change retracts
the old part of what changed and adds the new one; the frozen set of a set is rebuilt only if it
changed, and everything unchanged is handed back as *the same object*, which the plan skips by
identity (`plan._element_diff`, `plan._chain_diff`). What changed is found by identity: the node's
incremental compiler hands over the same `ClusterPod`, `Policy` and `ServiceVIP` objects while they are
unchanged (any other object is treated as a change, which costs time, never correctness). A pod change
re-renders only the policies that target its IP (an index IP -> policies); a policy change re-renders
that policy and its namespace's chains; the small rest of the tables (base chains, bridge table of the
local pods, egress) is rendered whole, or reused when its inputs are unchanged.
Intent invariants relied on (both compilers guarantee them): pod IPs are unique in `intent.pods`,
(namespace, name) is unique in `intent.policies`.
A render that raises forgets all state, so the next call starts from scratch.
`last` counts what the last call rendered (per-object parts and chains), for tests and logs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from osdn.node.intent import ClusterPod, NodeIntent, Policy, delta_from
from osdn.node.render import elements as el
from osdn.node.render import services as svc
from osdn.node.render.bridge import render_bridge_table
from osdn.node.render.inet import Part, assemble_multitenant, multitenant_chain, render_inet_table
from osdn.node.render.policy import (
    DISPATCH_MAPS,
    SETS,
    PolicyIds,
    PolicyPart,
    assemble_policy,
    namespace_chain,
    policy_part,
)
from osdn.node.render.ruleset import Chain, Ruleset, Table, derive_set

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass
class RenderCounts:
    """What one `render` call rendered: per-object parts (policies, service ports, pods) and chains."""

    parts: int = 0
    chains: int = 0
    full: bool = False


class _Union(Generic[K]):
    """Per set name, the union of the elements every contributor (by key) hands in."""

    def __init__(self, names: Iterable[str]) -> None:
        self._count: dict[str, Counter[str]] = {n: Counter() for n in names}
        self._frozen: dict[str, frozenset[str]] = {n: frozenset() for n in self._count}
        self._dirty: set[str] = set()
        self._flips: dict[str, dict[str, bool]] = {n: {} for n in self._count}  # since `value`: element -> in now
        self._parts: dict[K, tuple[tuple[str, frozenset[str]], ...]] = {}

    def put(self, key: K, part: tuple[tuple[str, frozenset[str]], ...] | None) -> None:
        """Replace contributor `key`'s elements with `part` (None: it is gone)."""
        old = self._parts.pop(key, ())
        if part is not None:
            self._parts[key] = part
        for name, items in part or ():  # added first: an element in both parts never drops to 0
            self._change(name, items, 1)
        for name, items in old:
            self._change(name, items, -1)

    def _change(self, name: str, items: frozenset[str], sign: int) -> None:
        count, flips = self._count[name], self._flips[name]
        flipped = False  # an element entered or left the union (a contributor re-handing its elements does not)
        for e in items:
            n = count[e] + sign
            if n:
                count[e] = n
                if sign > 0 and n == 1:
                    flipped = flips[e] = True
            else:
                del count[e]
                flipped, flips[e] = True, False
        if flipped:
            self._dirty.add(name)

    def value(self, name: str) -> frozenset[str]:
        """The current union of `name` (the same object as last time if it did not change), derived
        from the last one (`ruleset.DerivedSet`: what left and came)."""
        if name in self._dirty:
            base, flips = self._frozen[name], self._flips[name]
            self._frozen[name] = derive_set(self._count[name], base,
                                            frozenset(e for e, now in flips.items() if not now and e in base),
                                            frozenset(e for e, now in flips.items() if now and e not in base))
            flips.clear()
            self._dirty.discard(name)
        return self._frozen[name]


class IdentityDiff(Generic[T]):
    """What changed in a sequence since the last call, by object identity: `update(new)` returns (items
    gone, items new). The work in Python is O(changes); the rest is C-level set operations on ids, or
    nothing when `new` is an `intent.Derived` of the last sequence (it says what changed).
    Holds the last sequence's objects, so their ids stay theirs."""

    def __init__(self) -> None:
        self._seq: Sequence[T] = ()
        self._by_id: dict[int, T] = {}

    def update(self, new: Sequence[T]) -> tuple[list[T], list[T]]:
        if new is self._seq:
            return [], []
        delta = delta_from(new, self._seq)  # derived from the last sequence (`intent.Derived`): O(changes)
        if delta is not None and all(id(g) in self._by_id for g in delta[0]) \
                and not any(id(n) in self._by_id for n in delta[1]):
            for g in delta[0]:
                del self._by_id[id(g)]
            self._by_id.update(zip(map(id, delta[1]), delta[1], strict=True))
            self._seq = new
            return list(delta[0]), list(delta[1])
        old, by_id = self._by_id, dict(zip(map(id, new), new, strict=True))
        self._seq, self._by_id = new, by_id
        return [old[i] for i in old.keys() - by_id.keys()], [by_id[i] for i in by_id.keys() - old.keys()]


class _Policies:
    """The networkpolicy part: one `PolicyPart` per policy, and per namespace chain its policies' rules."""

    def __init__(self) -> None:
        self.union: _Union[tuple[str, str]] = _Union((*SETS, *DISPATCH_MAPS))
        self.policies: dict[tuple[str, str], Policy] = {}
        self.seq: tuple[Policy, ...] = ()  # the last `intent.policies`
        self.ids = PolicyIds()
        self.by_target: dict[str, set[tuple[str, str]]] = {}  # canonical IP -> policies selecting it
        self.rules: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {}  # chain -> policy -> its rules
        self.chains_of: dict[tuple[str, str], tuple[str, ...]] = {}  # policy -> the chains it has rules in
        self.chains: dict[str, Chain] = {}  # namespace chain name -> the chain (made again only when its rules change)

    def render(self, intent: NodeIntent, view: _PodView, counts: RenderCounts) -> Part:
        changes = self._changes(intent.policies)
        gone = [k for k, p in changes.items() if p is None]
        todo = set(changes) | self.ids.update(intent.policies, gone,
                                              [k for k, p in changes.items() if p is not None and k not in self.policies])
        for ip in view.changed_ips:
            todo |= self.by_target.get(ip, set())
        touched: set[str] = set()
        for key in sorted(todo):
            touched |= self._put(key, changes[key] if key in changes else self.policies.get(key), view)
        for key, pol in changes.items():
            if pol is None:
                del self.policies[key]
            else:
                self.policies[key] = pol
        self.seq = intent.policies
        counts.parts += len(todo)
        for chain in touched:
            self._chain(chain)
        return assemble_policy({n: self.union.value(n) for n in (*SETS, *DISPATCH_MAPS)}, self.chains)

    def _changes(self, policies: tuple[Policy, ...]) -> dict[tuple[str, str], Policy | None]:
        """The policies that changed since the last render (None: gone), by key: from the compiler's
        `intent.Derived` tuple at O(changes), else by comparing every policy."""
        if policies is self.seq:
            return {}
        delta = delta_from(policies, self.seq)
        if delta is None:
            new = {(p.namespace, p.name): p for p in policies}
            return {**{k: None for k in self.policies.keys() - new.keys()},
                    **{k: p for k, p in new.items() if self.policies.get(k) is not p}}
        out: dict[tuple[str, str], Policy | None] = {(p.namespace, p.name): None for p in delta[0]}
        out.update(((p.namespace, p.name), p) for p in delta[1])
        return out

    def _put(self, key: tuple[str, str], pol: Policy | None, view: _PodView) -> set[str]:
        """Re-render policy `key` (None: deleted); the chains whose rules may have changed."""
        old = self.policies.get(key)
        for ip in map(el.ip, old.targets if old is not None else ()):
            self.by_target.get(ip, set()).discard(key)
        part: PolicyPart | None = None
        if pol is not None:
            for ip in map(el.ip, pol.targets):
                self.by_target.setdefault(ip, set()).add(key)
            targets = frozenset(a for a in map(el.ip, pol.targets) if view.local_in(a, pol.namespace))
            part = policy_part(pol, self.ids.ids[key], targets)
        self.union.put(key, None if part is None else part.elements + part.dispatch)
        touched = set(self.chains_of.pop(key, ()))
        for chain in touched:
            del self.rules[chain][key]
        for chain, texts in part.rules if part is not None else ():
            self.rules.setdefault(chain, {})[key] = texts
            touched.add(chain)
        if part is not None:
            self.chains_of[key] = tuple(c for c, _ in part.rules)
        return touched

    def _chain(self, name: str) -> None:
        """Rebuild the rules of namespace chain `name` from its policies' (sorted by name)."""
        by_policy = self.rules.get(name)
        if not by_policy:
            self.rules.pop(name, None)
            self.chains.pop(name, None)
            return
        self.chains[name] = namespace_chain(name, tuple(r for k in sorted(by_policy) for r in by_policy[k]))


class _PodView:
    """Per canonical pod IP its namespace, and the local IPs; the IPs whose view changed last time."""

    def __init__(self) -> None:
        self.pods: IdentityDiff[ClusterPod] = IdentityDiff()
        self.ns_of: dict[str, str] = {}
        self.local: frozenset[str] = frozenset()
        self.changed_ips: set[str] = set()
        self.gone: list[ClusterPod] = []
        self.new: list[ClusterPod] = []

    def update(self, intent: NodeIntent) -> None:
        self.gone, self.new = self.pods.update(intent.pods)
        before = {ip: self.ns_of.get(ip) for ip in map(el.ip, (p.ip for p in self.gone + self.new))}
        for p in self.gone:
            self.ns_of.pop(el.ip(p.ip), None)
        for p in self.new:
            self.ns_of[el.ip(p.ip)] = p.namespace
        local = frozenset(el.ip(p.ip) for p in intent.local_pods)
        self.changed_ips = {ip for ip, ns in before.items() if self.ns_of.get(ip) != ns} | (local ^ self.local)
        self.local = local

    def local_in(self, ip: str, namespace: str) -> bool:
        return ip in self.local and self.ns_of.get(ip) == namespace


class _Services:
    """The service part: one `service_part` per service port, and the endpoint counts in use."""

    def __init__(self) -> None:
        self.union: _Union[int] = _Union(svc.SERVICE_SETS)
        self.vips: IdentityDiff[svc.ServiceVIP] = IdentityDiff()
        self.counts: Counter[tuple[int, str]] = Counter()
        self.affinity: dict[int, tuple[Chain, ...]] = {}
        self.local: tuple[object, frozenset[str]] = ((), frozenset())
        self.node_ips: tuple[str, frozenset[str]] = ("", frozenset())

    def render(self, intent: NodeIntent, counts: RenderCounts) -> Part:
        gone, new = self.vips.update(intent.services)
        for v in gone:
            self.union.put(id(v), None)
            self.affinity.pop(id(v), None)
            self._count(v, -1)
        for v in new:
            self.union.put(id(v), svc.service_part(v))
            if v.endpoints and v.affinity is not None:
                self.affinity[id(v)] = svc.affinity_chains(v)
            self._count(v, 1)
        counts.parts += len(gone) + len(new)
        if self.local[0] != intent.local_pods:
            self.local = (intent.local_pods, svc.hairpin_elements(p.ip for p in intent.local_pods))
        if self.node_ips[0] != intent.node_ip:
            self.node_ips = (intent.node_ip, svc.node_port_ips((intent.node_ip,)))
        sets = svc.assemble_service_sets({n: self.union.value(n) for n in svc.SERVICE_SETS}, self.local[1],
                                         self.node_ips[1])
        affinity = self.affinity  # in the services' order; most clusters have none: no walk of every VIP
        chains = svc.assemble_service_chains(self.counts, [c for v in intent.services if id(v) in affinity
                                                           for c in affinity[id(v)]] if affinity else [])
        return sets, chains

    def _count(self, v: svc.ServiceVIP, sign: int) -> None:
        n = svc.pick_count(v)
        if n is not None:
            self.counts[n] += sign
            if not self.counts[n]:
                del self.counts[n]


class _Multitenant:
    """The multitenant sets: one part per pod (its netid elements), the host addresses per node list."""

    def __init__(self) -> None:
        self.union: _Union[int] = _Union(("pod_netid", "pod_netid_pairs"))
        self.pods: IdentityDiff[ClusterPod] = IdentityDiff()
        self.hosts: tuple[object, frozenset[str]] = (None, frozenset())

    def render(self, intent: NodeIntent, counts: RenderCounts) -> Part:
        gone, new = self.pods.update(intent.pods)
        for p in gone:
            self.union.put(id(p), None)
        for p in new:
            ip = el.ip(p.ip)
            self.union.put(id(p), (("pod_netid", frozenset((f"{ip} : {p.netid}",))),
                                   ("pod_netid_pairs", frozenset((f"{ip} . {p.netid}",)))))
        counts.parts += len(gone) + len(new)
        key = (intent.node_ip, intent.gateway, intent.nodes)
        if self.hosts[0] != key:
            self.hosts = (key, frozenset(el.ip(a) for a in intent.host_addrs()))
        return (assemble_multitenant(self.hosts[1], self.union.value("pod_netid"), self.union.value("pod_netid_pairs")),
                [multitenant_chain()])


class IncrementalRender:
    """`render(intent)`: `render_node(intent)`, at the cost of what changed since the last call."""

    def __init__(self) -> None:
        self.last = RenderCounts()
        self._reset()

    def _reset(self) -> None:
        self._view = _PodView()
        self._policies = _Policies()
        self._services = _Services()
        self._multitenant = _Multitenant()
        self._mode: str | None = None
        self._bridge: tuple[tuple[object, ...], Table] | None = None
        self._chains: dict[str, Chain] = {}  # the last table's chains by name, to hand back unchanged ones

    def render(self, intent: NodeIntent) -> Ruleset:
        if intent.mode != self._mode:  # a mode change rebuilds the tables' heads anyway: start over
            self._reset()
            self._mode = intent.mode
        counts = RenderCounts(full=not self._chains)
        try:
            self._view.update(intent)
            inet = render_inet_table(intent, lambda i: self._policies.render(i, self._view, counts),
                                     lambda i: self._services.render(i, counts),
                                     lambda i: self._multitenant.render(i, counts))
            rs = Ruleset((self._reuse(inet, counts), self._bridge_table(intent, counts)))
        except Exception:
            self._reset()
            raise
        self.last = counts
        return rs

    def _reuse(self, table: Table, counts: RenderCounts) -> Table:
        """`table` with every chain equal to last time's replaced by last time's object (counts the others)."""
        chains = []
        for c in table.chains:
            old = self._chains.get(c.name)
            if old is not None and old == c:
                c = old
            else:
                counts.chains += 1
            chains.append(c)
        self._chains = {c.name: c for c in chains}
        return Table(table.family, table.name, table.counters, table.sets, tuple(chains))

    def _bridge_table(self, intent: NodeIntent, counts: RenderCounts) -> Table:
        """The bridge table (local pods and multicast), rendered again only when its inputs changed."""
        key = (intent.mode, intent.local_pods, intent.uplinks, intent.vxlan_port, intent.multicast_netids,
               intent.pods if intent.multicast_netids else None)
        if self._bridge is None or self._bridge[0] != key:
            self._bridge = (key, render_bridge_table(intent))
            counts.chains += len(self._bridge[1].chains)
        return self._bridge[1]
