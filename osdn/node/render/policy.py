"""Render NetworkPolicy enforcement (networkpolicy mode) into sets, dispatch maps and short chains.

Pure. Layout:
- `np_ingress_dispatch` / `np_egress_dispatch`: verdict maps, local isolated pod IP -> `jump` to its
  namespace's chain (`np_in_<ns>` / `np_eg_<ns>`). Pods not in a map are not isolated: no lookup cost
  beyond one hash probe, and only the rules of one namespace are ever walked.
- Per policy, set `np_<id>_tgt` (the local pods it selects); per rule k, sets `np_<id>_<i|e><k>_pip`
  (peer pod IPs), `_net` (peer CIDRs), `_port` (proto . port-range), `_dport` (pod . proto . port,
  named ports). One rule per (peer kind x port kind) present: at most 4 rules per policy rule.
- An allowed packet `return`s (egress is checked first, then ingress, in the caller chain); the end
  of a namespace chain drops and counts (`drop_np_ingress` / `drop_np_egress`).
Which rules exist depends on policy shape only, so pod churn is element-only (see `intent`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from osdn.node.intent import Direction, NodeIntent, Policy, PolicyRule
from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set

IP_SET = ("ipv4_addr",)
PORT_SET = ("inet_proto", "inet_service")
DPORT_SET = ("ipv4_addr", "inet_proto", "inet_service")


def policy_id(p: Policy) -> str:
    """Stable short id of a policy, used in set names (namespace and name can be long)."""
    return hashlib.sha256(f"{p.namespace}/{p.name}".encode()).hexdigest()[:10]


def ns_chain(direction: Direction, namespace: str) -> str:
    """Chain name of a namespace's ingress/egress rules (namespaces are DNS labels: no `_`)."""
    return f"np_{'in' if direction == 'ingress' else 'eg'}_{namespace.replace('-', '_')}"


def render_policy(intent: NodeIntent) -> tuple[list[Set], list[Chain]]:
    """Pure: sets and chains enforcing every policy of `intent` for this node's pods."""
    local = {el.ip(p.ip) for p in intent.local_pods}
    sets: list[Set] = []
    rules: dict[str, list[str]] = {}
    for pol in sorted(intent.policies, key=lambda p: (p.namespace, p.name)):
        pid = policy_id(pol)
        sets.append(Set(f"np_{pid}_tgt", IP_SET, frozenset(el.ip(t) for t in pol.targets) & local))
        for direction, enabled, prules in (("ingress", pol.ingress, pol.ingress_rules),
                                           ("egress", pol.egress, pol.egress_rules)):
            if not enabled:
                continue
            chain = rules.setdefault(ns_chain(direction, pol.namespace), [])  # type: ignore[arg-type]
            for k, rule in enumerate(prules):
                prefix = f"np_{pid}_{direction[0]}{k}"
                sets.extend(_rule_sets(prefix, rule))
                chain.extend(_rule_text(direction, f"np_{pid}_tgt", prefix, rule))  # type: ignore[arg-type]
    chains = [Chain(name, tuple(body) + (f"counter name drop_np_{_dir(name)} drop",))
              for name, body in sorted(rules.items())]
    chains.append(Chain("networkpolicy", (
        "ip saddr vmap @np_egress_dispatch",
        "ip daddr vmap @np_ingress_dispatch",
    )))
    sets.extend(_dispatch_maps(intent, local))
    return sets, chains


def _dir(chain_name: str) -> str:
    return "ingress" if chain_name.startswith("np_in_") else "egress"


def _rule_sets(prefix: str, rule: PolicyRule) -> Iterator[Set]:
    if not rule.all_peers:
        if rule.peer_ips is not None:
            yield Set(f"{prefix}_pip", IP_SET, frozenset(el.ip(a) for a in rule.peer_ips))
        if rule.peer_cidrs:
            yield Set(f"{prefix}_net", IP_SET, el.nets(rule.peer_cidrs), flags=("interval",))
    if not rule.all_ports:
        if rule.ports:
            yield Set(f"{prefix}_port", PORT_SET, el.proto_ports(rule.ports), flags=("interval",))
        if rule.dest_ports is not None:
            yield Set(f"{prefix}_dport", DPORT_SET, el.dest_ports(rule.dest_ports), flags=("interval",))


def _rule_text(direction: Direction, tgt: str, prefix: str, rule: PolicyRule) -> list[str]:
    me, peer = ("daddr", "saddr") if direction == "ingress" else ("saddr", "daddr")
    peers = [""] if rule.all_peers else (
        ([f" ip {peer} @{prefix}_pip"] if rule.peer_ips is not None else [])
        + ([f" ip {peer} @{prefix}_net"] if rule.peer_cidrs else []))
    ports = [""] if rule.all_ports else (
        ([f" meta l4proto . th dport @{prefix}_port"] if rule.ports else [])
        + ([f" ip daddr . meta l4proto . th dport @{prefix}_dport"] if rule.dest_ports is not None else []))
    return [f"ip {me} @{tgt}{p}{q} return" for p in peers for q in ports]


def _dispatch_maps(intent: NodeIntent, local: set[str]) -> list[Set]:
    maps: dict[str, dict[str, str]] = {"ingress": {}, "egress": {}}
    for pol in intent.policies:
        for direction, enabled in (("ingress", pol.ingress), ("egress", pol.egress)):
            if not enabled:
                continue
            chain = ns_chain(direction, pol.namespace)  # type: ignore[arg-type]
            for target in pol.targets:
                addr = el.ip(target)
                if addr not in local:
                    continue
                seen = maps[direction].setdefault(addr, chain)
                if seen != chain:
                    raise ValueError(f"pod {addr} is selected by policies of two namespaces "
                                     f"({seen} and {chain}); policy {pol.namespace}/{pol.name}")
    return [Set(f"np_{d}_dispatch", IP_SET, frozenset(f"{ip} : jump {c}" for ip, c in m.items()),
                map_to="verdict") for d, m in sorted(maps.items())]
