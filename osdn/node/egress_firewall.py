"""The egress firewall on one node: EgressNetworkPolicy objects turned into per-NetID programs.

Pure: no I/O, no clock. Input: the cluster's EgressNetworkPolicies (model form), every namespace's
NetID, this node's pods, the addresses the master resolved for each dnsName (annotation
`RESOLVED_ANNOTATION` on the policy, see `osdn.master.egressdns`) and the addresses this node's DNS
server learned from answers (`osdn.node.fqdn`). Output: an `EgressFirewallIntent` for
`render.egress_firewall`.

Semantics follow openshift-sdn per NetID (and `osdn.model.egress_firewall`, the oracle, which must
agree): no policy on a NetID -> nothing; NetID 0 (default, global projects) -> ignored; a NetID
shared by several projects (joined) with a policy -> all external traffic dropped; more than one
policy on a NetID -> all external traffic dropped (policies without rules count as none);
otherwise the policy's rules in order, first match wins, unmatched traffic allowed. A dnsName rule matches the name's current addresses (none: nothing).
Only this node's pods are sources: traffic is judged on the node where it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.model import objects as o
from osdn.model.cluster import SUBNET
from osdn.model.egress_firewall import resolved_of


@dataclass(frozen=True, order=True)
class FirewallRule:
    """One `spec.egress[i]`: Allow/Deny to a CIDR (None with no name: everything) or a DNS name."""

    index: int
    allow: bool
    cidr: str | None = None
    dns_name: str | None = None


@dataclass(frozen=True, order=True)
class FirewallProgram:
    """What a NetID's external traffic is judged by: `rules` in order, or everything dropped
    (`drop_all` says why; then `rules` is empty). `source`: the policies it comes from."""

    netid: int
    source: str
    rules: tuple[FirewallRule, ...] = ()
    drop_all: str = ""


@dataclass(frozen=True)
class EgressFirewallIntent:
    """`programs` by NetID; `sources`: (local pod IP, NetID) of pods whose NetID has a program;
    `names`: (dnsName, its addresses) for every name a program's rules mention."""

    programs: tuple[FirewallProgram, ...] = ()
    sources: tuple[tuple[str, int], ...] = ()
    names: tuple[tuple[str, frozenset[str]], ...] = ()

    def names_of(self, ip: str) -> frozenset[str]:
        """The names the program of local pod `ip` mentions (what its DNS answers are held for)."""
        netid = dict(self.sources).get(ip)
        prog = next((p for p in self.programs if p.netid == netid), None)
        return frozenset(r.dns_name for r in prog.rules if r.dns_name) if prog else frozenset()


def compute_programs(firewalls: Sequence[o.EgressFirewall], netids: Mapping[str, int]
                     ) -> tuple[FirewallProgram, ...]:
    """Pure: one program per NetID that has an EgressNetworkPolicy with rules (NetID 0 ignored). A
    policy with an empty `spec.egress` counts as none, as in openshift-sdn's node (it allows all
    anyway; it does not make a NetID "shared" or "multiple")."""
    by_netid: dict[int, list[o.EgressFirewall]] = {}
    for fw in firewalls:
        if fw.rules:
            by_netid.setdefault(netids.get(fw.namespace, 0), []).append(fw)
    programs = []
    for netid, fws in sorted(by_netid.items()):
        if netid == 0:
            continue
        refs = ", ".join(f.ref for f in fws)
        sharing = sorted(ns for ns, n in netids.items() if n == netid)
        if len(sharing) > 1:
            why = f"not allowed in shared NetNamespace (netid {netid}: {', '.join(sharing)})"
            programs.append(FirewallProgram(netid, refs, drop_all=why))
        elif len(fws) > 1:
            programs.append(FirewallProgram(netid, refs, drop_all="multiple EgressNetworkPolicies in one netid"))
        else:
            rules = tuple(FirewallRule(r.index, r.action == "Allow", None if r.cidr is None else str(r.cidr),
                                       r.dns_name) for r in fws[0].rules)
            programs.append(FirewallProgram(netid, refs, rules))
    return tuple(programs)


def compute_egress_firewall(firewalls: Sequence[o.EgressFirewall], netids: Mapping[str, int],
                            local_pods: Iterable[tuple[str, str]],
                            addresses: Mapping[str, Iterable[str]]) -> EgressFirewallIntent:
    """Pure: the node's egress firewall. `local_pods`: (IP, namespace) of this node's pods;
    `addresses`: per name, what the master resolved and this node learned (merged by the caller)."""
    programs = compute_programs(firewalls, netids)
    with_program = {p.netid for p in programs}
    sources = sorted({(ip, netids.get(ns, 0)) for ip, ns in local_pods if netids.get(ns, 0) in with_program})
    names = sorted({r.dns_name for p in programs for r in p.rules if r.dns_name})
    return EgressFirewallIntent(programs, tuple(sources),
                                tuple((n, frozenset(addresses.get(n, ()))) for n in names))


def master_addresses(objs: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Pure: per name, the union of the addresses the master published on the policies `objs`."""
    out: dict[str, set[str]] = {}
    for obj in objs:
        for name, addrs in resolved_of(obj).items():
            out.setdefault(name, set()).update(addrs)
    return {k: frozenset(v) for k, v in out.items()}


def merge_addresses(*tables: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Pure: the union of address tables, name by name."""
    out: dict[str, set[str]] = {}
    for table in tables:
        for name, addrs in table.items():
            out.setdefault(name, set()).update(addrs)
    return {k: frozenset(v) for k, v in out.items()}



def compute_node_firewall(mode: str, policy_objs: Iterable[Mapping[str, Any]],
                          netnamespaces: Mapping[str, o.NetNamespace],
                          local_pods: Iterable[tuple[str, str]]) -> EgressFirewallIntent:
    """Pure: the node's egress firewall from the EgressNetworkPolicy objects (subnet mode: nothing)."""
    if mode == SUBNET:
        return EgressFirewallIntent()
    objs = [p for p in policy_objs if p.get("kind", "EgressNetworkPolicy") == "EgressNetworkPolicy"]
    firewalls = sorted((o.egress_firewall_from_obj(p) for p in objs), key=lambda f: (f.namespace, f.name))
    netids = {ns: nn.netid for ns, nn in netnamespaces.items()}
    return compute_egress_firewall(firewalls, netids, local_pods, master_addresses(objs))
