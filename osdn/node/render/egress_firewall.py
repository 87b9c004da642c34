"""Render the egress firewall (EgressNetworkPolicy) into `table inet osdn`.

Pure. Layout (one verdict-map lookup per packet whatever the number of projects):
- `efw_src`: map local pod IP -> its NetID (only pods whose NetID has a program);
- `efw_dispatch`: verdict map NetID -> `goto efw_<netid>`;
- `efw_<netid>`: the project's rules in order, first match wins (`accept` / counted `drop`; runs of
  rules with the same action share one step, see `program_rules`); a
  NetID whose policy is invalid (shared, several policies) has one rule that drops everything;
  falling off the end returns: unmatched traffic is allowed;
- `efw_dns_<hash>`: one address set per dnsName a program mentions, filled by the
  master's resolution (rendered here) and by the node's DNS server before the pod sees the answer
  (added as elements at run time, see `osdn.node.fqdn`);
- `egress_firewall`: the entry chain: `meta mark set ip saddr map @efw_src meta mark vmap
  @efw_dispatch` (`meta mark` is scratch space, as in the policy chains).
Entered from the end of the forward chain, after the mode's checks, for every request-direction
packet to a destination outside the cluster network (services were DNATed before forward, so a
ClusterIP never reaches it; replies were accepted earlier), so a change cuts open connections it now
denies. Also from `efw_input` (input hook) for a pod's traffic to its own node's outside addresses,
except DNS (TCP/UDP 53), as openshift-sdn's table 99 (the cluster DNS on the pod gateway is inside the
cluster network and never filtered). Denials count in `drop_egress_firewall`; allow rules count themselves.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from osdn.node.egress_firewall import EgressFirewallIntent, FirewallProgram, FirewallRule
from osdn.node.render import elements as el
from osdn.node.render.ruleset import Chain, Set

COUNTER = "drop_egress_firewall"
ENTRY = "egress_firewall"
FORWARD_RULE = f"ip daddr != @cluster_cidrs jump {ENTRY}"
INPUT_RULES = (
    "ct direction original ip daddr != @cluster_cidrs meta l4proto { tcp, udp } th dport 53 accept",
    f"ct direction original ip daddr != @cluster_cidrs jump {ENTRY}",
)


def dns_set(name: str) -> str:
    """The set of `name`'s addresses (names are up to 253 characters: hashed)."""
    return "efw_dns_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def program_chain(netid: int) -> str:
    return f"efw_{netid}"


def render_egress_firewall_sets(intent: EgressFirewallIntent) -> list[Set]:
    """Pure: the source map, the dispatch verdict map, one address set per name and one interval set
    per run of CIDR rules (see `program_rules`)."""
    sets = [
        Set("efw_src", ("ipv4_addr",), frozenset(f"{el.ip(ip)} : {netid}" for ip, netid in intent.sources),
            map_to="mark"),
        Set("efw_dispatch", ("mark",), frozenset(f"{p.netid} : goto {program_chain(p.netid)}"
                                                 for p in intent.programs), map_to="verdict"),
    ]
    sets.extend(Set(dns_set(name), ("ipv4_addr",), frozenset(el.ip(a) for a in addrs))
                for name, addrs in intent.names)
    for p in intent.programs:
        sets.extend(Set(name, ("ipv4_addr",), _nets(cidrs), flags=("interval",))
                    for name, cidrs in _runs(p) if len(cidrs) > 1)
    return sets


def render_egress_firewall_chains(intent: EgressFirewallIntent) -> list[Chain]:
    """Pure: the entry chain, the input base chain and one chain per program."""
    chains = [Chain(ENTRY, ("meta mark set ip saddr map @efw_src meta mark vmap @efw_dispatch",)),
              Chain("efw_input", INPUT_RULES, hook="input")]
    chains.extend(Chain(program_chain(p.netid), program_rules(p)) for p in intent.programs)
    return chains


def program_rules(p: FirewallProgram) -> tuple[str, ...]:
    """Pure: the rules of one program. The policy's rules in order, except that a run of consecutive
    rules with the same action is one step (first match wins, and within a run every match gives the
    same verdict): its CIDRs are one interval-set lookup (`efw_<netid>_<i>`; one CIDR: inline), then
    one rule per dnsName. A rule matching everything (`0.0.0.0/0`) ends the chain. So 50 CIDR rules
    cost a packet as many lookups as the policy has changes between Allow and Deny, not 50."""
    if p.drop_all:
        return (f"counter name {COUNTER} drop",)
    out: list[str] = []
    for (name, cidrs), run in zip(_runs(p), _grouped(p.rules), strict=True):
        verdict = "counter accept" if run[0].allow else f"counter name {COUNTER} drop"
        if any(r.cidr == "0.0.0.0/0" or (r.cidr is None and r.dns_name is None) for r in run):
            return (*out, verdict)
        if len(cidrs) == 1:
            out.append(f"ip daddr {next(iter(_nets(cidrs)))} {verdict}")
        elif cidrs:
            out.append(f"ip daddr @{name} {verdict}")
        out.extend(f"ip daddr @{dns_set(r.dns_name)} {verdict}" for r in run if r.dns_name is not None)
    return tuple(out)


@lru_cache(maxsize=4096)
def _nets(cidrs: tuple[str, ...]) -> frozenset[str]:
    """`elements.nets`, memoized: many projects carry the same policy (collapsing is slow in Python)."""
    return el.nets(cidrs)


def _grouped(rules: tuple[FirewallRule, ...]) -> list[list[FirewallRule]]:
    runs: list[list[FirewallRule]] = []
    for r in rules:
        if runs and runs[-1][0].allow == r.allow:
            runs[-1].append(r)
        else:
            runs.append([r])
    return runs


def _runs(p: FirewallProgram) -> list[tuple[str, tuple[str, ...]]]:
    """Per run of same-action rules: its CIDR set's name and CIDRs (0.0.0.0/0 left out)."""
    return [(f"efw_{p.netid}_{i}", tuple(r.cidr for r in run if r.cidr is not None and r.cidr != "0.0.0.0/0"))
            for i, run in enumerate(_grouped(p.rules))]
