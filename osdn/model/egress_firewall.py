"""EgressNetworkPolicy (the per-project egress firewall) for traffic leaving the cluster.

Pure. Rules are checked in order, the first match wins, unmatched traffic is allowed. A dnsName rule
matches the addresses the name resolves to in the state's DNS table (a name with no addresses
matches nothing, like a name the node failed to resolve). Restrictions, as openshift-sdn enforces
them per netid: a policy in a global (netid 0) project is ignored; a policy in a project that shares
its netid with another project drops all external traffic of those projects; more than one policy
on one netid drops all external traffic. Not used in subnet mode (the caller checks the mode).
"""

from __future__ import annotations

from osdn.model.cluster import ClusterState
from osdn.model.objects import EgressFirewall, EgressRule, IPv4
from osdn.model.verdict import ALLOW, DENY, INFO, Step

STAGE = "egress-firewall"


def compute_egress_firewall(state: ClusterState, namespace: str, ip: IPv4) -> tuple[bool, list[Step]]:
    """Is external traffic from a pod of `namespace` to `ip` allowed by the egress firewall?"""
    netid = state.netid(namespace)
    sharing = state.namespaces_with_netid(netid)
    policies = [e for e in state.egress_firewalls if e.namespace in sharing]
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
        hit, note = _matches(state, rule, ip)
        if note:
            steps.append(Step(STAGE, INFO, policy.ref, f"spec.egress[{rule.index}]", note))
        if hit:
            verdict = ALLOW if rule.action == "Allow" else DENY
            steps.append(Step(STAGE, verdict, policy.ref, rule.describe(), f"first matching rule for {ip}"))
            return rule.action == "Allow", steps
    steps.append(Step(STAGE, ALLOW, policy.ref, "", f"no rule matches {ip}; unmatched traffic is allowed"))
    return True, steps


def _matches(state: ClusterState, rule: EgressRule, ip: IPv4) -> tuple[bool, str]:
    if rule.cidr is not None:
        return ip in rule.cidr, ""
    if rule.dns_name is None:
        return False, ""
    addrs = state.dns.get(rule.dns_name, ())
    if not addrs:
        return False, f"dnsName {rule.dns_name} has no addresses in the resolution table; rule matches nothing"
    return ip in addrs, ""
