"""EgressNetworkPolicy (the per-project egress firewall) for traffic leaving the cluster.

Pure. Rules are checked in order, the first match wins, unmatched traffic is allowed. A dnsName rule
matches the addresses the name resolves to in the state's DNS table (a name with no addresses
matches nothing, like a name the node failed to resolve). Restrictions, as openshift-sdn enforces
them per netid: a policy in a global (netid 0) project is ignored; a policy in a project that shares
its netid with another project drops all external traffic of those projects; more than one policy
on one netid drops all external traffic; a policy without rules counts as none (openshift-sdn's
node never adds it). Not used in subnet mode (the caller checks the mode).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from osdn.model.cluster import ClusterState
from osdn.model.matrix import Change
from osdn.model.objects import RESOLVED_ANNOTATION, EgressFirewall, EgressRule, IPv4, resolved_of

__all__ = ["RESOLVED_ANNOTATION", "STAGE", "compute_egress_firewall", "resolved_of"]
from osdn.model.verdict import ALLOW, DENY, EXTERNAL, INFO, Connection, Endpoint, Step

STAGE = "egress-firewall"


def compute_egress_firewall(state: ClusterState, namespace: str, ip: IPv4) -> tuple[bool, list[Step]]:
    """Is external traffic from a pod of `namespace` to `ip` allowed by the egress firewall?"""
    netid = state.netid(namespace)
    sharing = state.namespaces_with_netid(netid)
    policies = [e for e in state.egress_firewalls if e.namespace in sharing and e.rules]  # empty: none
    if not policies:
        return True, [Step(STAGE, ALLOW, "", "", f"no EgressNetworkPolicy in project {namespace}")]
    refs = ", ".join(p.ref for p in policies)
    if netid == 0:
        return True, [Step(STAGE, INFO, refs, "", "EgressNetworkPolicy in a global network namespace "
                           "(netid 0) is not allowed; ignored")]
    if len(sharing) > 1:
        return False, [Step(STAGE, DENY, refs, "", f"EgressNetworkPolicy not allowed in shared NetNamespace "
                            f"(netid {netid}: {', '.join(sharing)}); dropping all external traffic")]
    if len(policies) > 1:
        return False, [Step(STAGE, DENY, refs, "", "multiple EgressNetworkPolicies in the same network "
                            "namespace are not allowed; dropping all external traffic")]
    return _first_match(state, policies[0], ip)


def _first_match(state: ClusterState, policy: EgressFirewall, ip: IPv4) -> tuple[bool, list[Step]]:
    steps: list[Step] = []
    for rule in policy.rules:
        hit, note = _matches(state, policy, rule, ip)
        if note:
            steps.append(Step(STAGE, INFO, policy.ref, f"spec.egress[{rule.index}]", note))
        if hit:
            verdict = ALLOW if rule.action == "Allow" else DENY
            steps.append(Step(STAGE, verdict, policy.ref, rule.describe(), f"first matching rule for {ip}"))
            return rule.action == "Allow", steps
    steps.append(Step(STAGE, ALLOW, policy.ref, "", f"no rule matches {ip}; unmatched traffic is allowed"))
    return True, steps


def name_addresses(state: ClusterState, policy: EgressFirewall, name: str) -> tuple[IPv4, ...]:
    """The addresses a dnsName has: the state's DNS table and the master's resolution published on
    the policy."""
    return tuple(sorted({*dict(policy.resolved).get(name, ()), *state.dns.get(name, ())}))


def _matches(state: ClusterState, policy: EgressFirewall, rule: EgressRule, ip: IPv4) -> tuple[bool, str]:
    if rule.cidr is not None:
        return ip in rule.cidr, ""
    if rule.dns_name is None:
        return False, ""
    addrs = name_addresses(state, policy, rule.dns_name)
    if not addrs:
        return False, f"dnsName {rule.dns_name} has no addresses in the resolution table; rule matches nothing"
    if ip not in addrs:
        return False, f"dnsName {rule.dns_name} is {', '.join(map(str, addrs))}"
    return True, f"dnsName {rule.dns_name} is {', '.join(map(str, addrs))}"


ANY_OTHER = ipaddress.IPv4Address("198.51.100.1")  # TEST-NET-2: "an address no rule names"


def outside_targets(state: ClusterState) -> dict[IPv4, str]:
    """Pure: outside addresses that stand for every rule of every egress firewall: the first host of
    each CIDR, each dnsName's known addresses, and one address no rule names; with how to show it."""
    out: dict[IPv4, str] = {ANY_OTHER: f"outside/{ANY_OTHER} (any other address)"}
    for fw in state.egress_firewalls:
        for rule in fw.rules:
            if rule.cidr is not None and rule.cidr.prefixlen > 0:
                ip = rule.cidr.network_address + (1 if rule.cidr.num_addresses > 2 else 0)
                out.setdefault(ip, f"outside/{ip} (in {rule.cidr})")
            elif rule.dns_name is not None:
                for ip in name_addresses(state, fw, rule.dns_name):
                    out.setdefault(ip, f"outside/{ip} ({rule.dns_name})")
    return out


def compute_egress_impact(before: ClusterState, after: ClusterState, probes: Iterable[tuple[str, int]]
                          ) -> tuple[list[Change], list[Change]]:
    """Pure: (opened, closed) connections from pods present in both states to the outside addresses
    that stand for the egress firewalls' rules (`outside_targets` of both states)."""
    from osdn.model.oracle import compute_verdict  # the oracle imports this module
    from osdn.model.resolve import pod_endpoint
    targets = {**outside_targets(after), **outside_targets(before)}
    keys = [k for k in before.pod_index if k in after.pod_index]
    opened: list[Change] = []
    closed: list[Change] = []
    for protocol, port in probes:
        for key in keys:
            for ip, shown in sorted(targets.items()):
                dst = Endpoint(EXTERNAL, ip=ip)
                vb = compute_verdict(before, Connection(pod_endpoint(before, before.pod_index[key]), dst, protocol, port))
                va = compute_verdict(after, Connection(pod_endpoint(after, after.pod_index[key]), dst, protocol, port))
                if vb.allowed != va.allowed:
                    (opened if va.allowed else closed).append(Change(key, shown, protocol, port, vb.reason, va.reason))
    return opened, closed
