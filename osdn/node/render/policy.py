"""Render NetworkPolicy enforcement (networkpolicy mode) into a fixed handful of sets and short chains.

Pure. Layout:
- `np_ingress_dispatch` / `np_egress_dispatch`: verdict maps, local isolated pod IP -> `jump` to its
  namespace's chain (`np_in_<ns>` / `np_eg_<ns>`). Pods not in a map are not isolated: one hash probe,
  and only the rules of one namespace are ever walked.
- Five shared sets keyed by a numeric id first (`mark . ...`): `np_tgt` (policy id . local target),
  `np_pip` (rule id . peer pod), `np_net` (rule id . peer CIDR), `np_port` (rule id . proto . ports),
  `np_dport` (rule id . pod . proto . port: named ports). A rule loads the id into `meta mark`
  (scratch, like multitenant mode) and looks the tuple up. A constant number of sets matters: nft's
  cache makes every command O(number of sets), measured 250 ms per element add with 4k sets.
- One rule per (peer kind x port kind) present, at most 4 per policy rule. An allowed packet
  `return`s (egress is checked first, then ingress); a namespace chain ends in a counted drop.
Which rules exist depends on policy shape only, so pod churn is element-only (see `intent`).
Ids: policy id = 24-bit hash of namespace/name (linear probing on collisions, in sorted order),
shifted left 8 bits; rule ids add 1 + k (ingress k < 127) or 128 + k (egress k < 128).

Render never fails because of one policy: a policy with more rules than the ids have room for
(`RULE_CAPACITY`; the API refuses more than `osdn.api.kinds.networking.MAX_RULES`, which fits) is
rendered closed (its pods isolated, nothing allowed; `unrenderable` says why, compile reports it), and
a target IP that belongs to a pod of another namespace (a stale API pod whose IP a local pod now
has) is left out of that policy rather than dispatched to two namespaces' chains.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from osdn.node.intent import Direction, NodeIntent, Policy, PolicyRule
from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set

RULE_CAPACITY = {"ingress": 127, "egress": 128}
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
SETS = {
    "np_tgt": (("mark", "ipv4_addr"), ()),
    "np_pip": (("mark", "ipv4_addr"), ()),
    "np_net": (("mark", "ipv4_addr"), ("interval",)),
    "np_port": (("mark", "inet_proto", "inet_service"), ("interval",)),
    "np_dport": (("mark", "ipv4_addr", "inet_proto", "inet_service"), ("interval",)),
}
DISPATCH_MAPS = ("np_egress_dispatch", "np_ingress_dispatch")


def policy_ids(policies: tuple[Policy, ...]) -> dict[tuple[str, str], int]:
    """Pure: a stable, unique id (multiple of 256) per policy: its key's own slot, or on a collision
    the next free one, keys taken in order."""
    ids: dict[tuple[str, str], int] = {}
    used: set[int] = set()
    for key in sorted({(p.namespace, p.name) for p in policies}):
        slot = _own_slot(key)
        while slot in used:
            slot = slot % 0xFFFFFF + 1
        used.add(slot)
        ids[key] = slot << 8
    return ids


def _own_slot(key: tuple[str, str]) -> int:
    return int.from_bytes(hashlib.sha256("/".join(key).encode()).digest()[:3], "big") or 1


class PolicyIds:
    """`policy_ids` of a changing set of policy keys, kept by the keys that came and went: O(changes)
    while every id is its key's own slot (no two keys collide, the common case with 2^24 slots), and
    computed again in full otherwise."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}
        self._used: set[int] = set()  # the slots of `ids`
        self._own = True  # every key holds its own slot

    def update(self, policies: tuple[Policy, ...], gone: Iterable[tuple[str, str]],
               came: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Make `ids` those of `policies`, whose keys are the last ones without `gone` plus `came`;
        the keys whose id is new or changed."""
        gone, slots = list(gone), {key: _own_slot(key) for key in came}
        free = {self.ids[key] >> 8 for key in gone}
        if self._own and len(set(slots.values())) == len(slots) and \
                not any(s in self._used and s not in free for s in slots.values()):
            for key in gone:
                del self.ids[key]
            self._used -= free
            self._used.update(slots.values())
            self.ids.update((key, s << 8) for key, s in slots.items())
            return set(slots)
        old, self.ids = self.ids, policy_ids(policies)
        self._used = {i >> 8 for i in self.ids.values()}
        self._own = all(i >> 8 == _own_slot(k) for k, i in self.ids.items())
        return {k for k, i in self.ids.items() if old.get(k) != i}


def unrenderable(pol: Policy) -> str | None:
    """Pure: why `pol` cannot be rendered rule by rule (None: it can)."""
    for direction, prules in (("ingress", pol.ingress_rules), ("egress", pol.egress_rules)):
        if len(prules) > RULE_CAPACITY[direction]:
            return (f"spec.{direction}: {len(prules)} rules, the node renders at most "
                    f"{RULE_CAPACITY[direction]} {direction} rules per policy")
    return None


def ns_chain(direction: Direction, namespace: str) -> str:
    """Chain name of a namespace's ingress/egress rules: `np_in_<ns>` with `-` as `_` (namespaces are
    DNS labels: no `_`, so this is one-to-one); a name that is not a DNS label (never from the API)
    gets a hash instead, so no namespace name can make an invalid or colliding chain name."""
    prefix = f"np_{'in' if direction == 'ingress' else 'eg'}_"
    if _DNS_LABEL.fullmatch(namespace):
        return prefix + namespace.replace("-", "_")
    return prefix + "x" + hashlib.sha256(namespace.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PolicyPart:
    """What one policy adds to the node's ruleset: elements per shared set, its rules per namespace
    chain (in rule order) and its dispatch entries per verdict map. The whole render is the union of
    the parts (rules concatenated per chain in (namespace, name) order); `render.incremental` keeps
    one part per policy and re-renders only the parts a change touched."""

    elements: tuple[tuple[str, frozenset[str]], ...]
    rules: tuple[tuple[str, tuple[str, ...]], ...]
    dispatch: tuple[tuple[str, frozenset[str]], ...]


def policy_part(pol: Policy, pid: int, targets: frozenset[str]) -> PolicyPart:
    """Pure: the part of policy `pol` (id `pid`) whose local targets are `targets` (canonical IPs)."""
    pol = pol.closed() if unrenderable(pol) else pol
    elems: dict[str, set[str]] = {"np_tgt": {f"{pid} . {t}" for t in targets}}
    rules: list[tuple[str, tuple[str, ...]]] = []
    dispatch: list[tuple[str, frozenset[str]]] = []
    sides: tuple[tuple[Direction, bool, tuple[PolicyRule, ...]], ...] = (
        ("ingress", pol.ingress, pol.ingress_rules), ("egress", pol.egress, pol.egress_rules))
    for direction, enabled, prules in sides:
        if not enabled:
            continue
        chain = ns_chain(direction, pol.namespace)
        texts: list[str] = []
        for k, rule in enumerate(prules):
            rid = pid + (1 + k if direction == "ingress" else 128 + k)
            _rule_elements(rid, rule, elems)
            texts.extend(_rule_text(direction, pid, rid, rule))
        rules.append((chain, tuple(texts)))
        dispatch.append((f"np_{direction}_dispatch", frozenset(f"{addr} : jump {chain}" for addr in targets)))
    return PolicyPart(tuple((k, frozenset(v)) for k, v in elems.items() if v), tuple(rules), tuple(dispatch))


def render_policy(intent: NodeIntent) -> tuple[list[Set], list[Chain]]:
    """Pure: sets and chains enforcing every policy of `intent` for this node's pods."""
    targets = _local_targets(intent)
    ids = policy_ids(intent.policies)
    elems: dict[str, set[str]] = {name: set() for name in (*SETS, *DISPATCH_MAPS)}
    rules: dict[str, list[str]] = {}
    for pol in sorted(intent.policies, key=lambda p: (p.namespace, p.name)):
        part = policy_part(pol, ids[(pol.namespace, pol.name)], targets[(pol.namespace, pol.name)])
        for name, items in part.elements + part.dispatch:
            elems[name].update(items)
        for chain, texts in part.rules:
            rules.setdefault(chain, []).extend(texts)
    return assemble_policy({k: frozenset(v) for k, v in elems.items()},
                           {k: namespace_chain(k, tuple(v)) for k, v in rules.items()})


def assemble_policy(elems: Mapping[str, frozenset[str]], chains: Mapping[str, Chain]) -> tuple[list[Set], list[Chain]]:
    """Pure: the sets (elements per set and map name) and chains (each namespace chain, by name) of the
    networkpolicy part, in render order."""
    ordered = [chains[name] for name in sorted(chains)]
    ordered.append(Chain("networkpolicy", (
        "ip saddr vmap @np_egress_dispatch",
        "ip daddr vmap @np_ingress_dispatch",
    )))
    sets = [Set(name, typ, elems.get(name, frozenset()), flags) for name, (typ, flags) in SETS.items()]
    sets += [Set(name, ("ipv4_addr",), elems.get(name, frozenset()), map_to="verdict") for name in DISPATCH_MAPS]
    return sets, ordered


def namespace_chain(name: str, body: tuple[str, ...]) -> Chain:
    """Pure: a namespace chain: its policies' rules, then the counted drop."""
    return Chain(name, body + (f"counter name drop_np_{_dir(name)} drop",))


def _local_targets(intent: NodeIntent) -> dict[tuple[str, str], frozenset[str]]:
    """Per policy, its targets on this node (canonical IPs) that are pods of its own namespace."""
    local = {el.ip(p.ip) for p in intent.local_pods}
    ns_of = {el.ip(p.ip): p.namespace for p in intent.pods}
    return {(pol.namespace, pol.name): frozenset(a for a in map(el.ip, pol.targets) if a in local and ns_of.get(a) == pol.namespace)
            for pol in intent.policies}


def _dir(chain_name: str) -> str:
    return "ingress" if chain_name.startswith("np_in_") else "egress"


def _rule_elements(rid: int, rule: PolicyRule, elems: dict[str, set[str]]) -> None:
    for name, items in rule_elements(rid, rule):
        elems.setdefault(name, set()).update(items)


@lru_cache(maxsize=1 << 14)
def rule_elements(rid: int, rule: PolicyRule) -> tuple[tuple[str, frozenset[str]], ...]:
    """Pure, memoized: a rule's set elements per set. Rules are frozen and the node's incremental
    compiler hands over the same objects while a policy is unchanged, so a sync after one change
    formats only that change's elements (at 1k policies, formatting them all cost ~50 ms a sync)."""
    out: list[tuple[str, frozenset[str]]] = []
    if not rule.all_peers:
        out.append(("np_pip", frozenset(f"{rid} . {el.ip(a)}" for a in rule.peer_ips or ())))
        out.append(("np_net", frozenset(f"{rid} . {n}" for n in el.nets(rule.peer_cidrs))))
    if not rule.all_ports:
        out.append(("np_port", frozenset(f"{rid} . {e}" for e in el.proto_ports(rule.ports))))
        out.append(("np_dport", frozenset(f"{rid} . {e}" for e in el.dest_ports(rule.dest_ports or ()))))
    return tuple(out)


def _rule_text(direction: Direction, pid: int, rid: int, rule: PolicyRule) -> Iterator[str]:
    me, peer = ("daddr", "saddr") if direction == "ingress" else ("saddr", "daddr")
    peers = [""] if rule.all_peers else (
        ([f" meta mark . ip {peer} @np_pip"] if rule.peer_ips is not None else [])
        + ([f" meta mark . ip {peer} @np_net"] if rule.peer_cidrs else []))
    ports = [""] if rule.all_ports else (
        ([" meta mark . meta l4proto . th dport @np_port"] if rule.ports else [])
        + ([" meta mark . ip daddr . meta l4proto . th dport @np_dport"] if rule.dest_ports is not None else []))
    head = f"meta mark set {pid} meta mark . ip {me} @np_tgt"
    for p in peers:
        for q in ports:
            load = f" meta mark set {rid}" if p or q else ""
            yield f"{head}{load}{p}{q} return"
