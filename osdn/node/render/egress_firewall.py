"""Render the egress firewall (EgressNetworkPolicy) into `table inet osdn`.

Pure. Layout (one verdict-map lookup per packet whatever the number of projects):
- `efw_src`: map local pod IP -> its NetID (only pods whose NetID has a program);
- `efw_dispatch`: verdict map NetID -> `goto efw_<netid>`;
- `efw_<netid>`: the project's rules in order, first match wins (`accept` / counted `drop`); a
  NetID whose policy is invalid (shared, several policies) has one rule that drops everything;
  falling off the end returns: unmatched traffic is allowed;
- `efw_dns_<hash>`: one address set per dnsName (or `*.` pattern) a program mentions, filled by the
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
    """Pure: the source map, the dispatch verdict map and one address set per name."""
    sets = [
        Set("efw_src", ("ipv4_addr",), frozenset(f"{el.ip(ip)} : {netid}" for ip, netid in intent.sources),
            map_to="mark"),
        Set("efw_dispatch", ("mark",), frozenset(f"{p.netid} : goto {program_chain(p.netid)}"
                                                 for p in intent.programs), map_to="verdict"),
    ]
    sets.extend(Set(dns_set(name), ("ipv4_addr",), frozenset(el.ip(a) for a in addrs))
                for name, addrs in intent.names)
    return sets


def render_egress_firewall_chains(intent: EgressFirewallIntent) -> list[Chain]:
    """Pure: the entry chain, the input base chain and one chain per program."""
    chains = [Chain(ENTRY, ("meta mark set ip saddr map @efw_src meta mark vmap @efw_dispatch",)),
              Chain("efw_input", INPUT_RULES, hook="input")]
    chains.extend(Chain(program_chain(p.netid), program_rules(p)) for p in intent.programs)
    return chains


def program_rules(p: FirewallProgram) -> tuple[str, ...]:
    """Pure: the rules of one program, in the policy's order."""
    if p.drop_all:
        return (f"counter name {COUNTER} drop",)
    return tuple(rule_text(r) for r in p.rules)


def rule_text(r: FirewallRule) -> str:
    if r.dns_name is not None:
        match = f"ip daddr @{dns_set(r.dns_name)} "
    elif r.cidr is not None and r.cidr != "0.0.0.0/0":
        match = f"ip daddr {next(iter(el.nets([r.cidr])))} "
    else:
        match = ""
    return f"{match}counter accept" if r.allow else f"{match}counter name {COUNTER} drop"
