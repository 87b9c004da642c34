"""openshift-sdn's egress firewall vectors on the node: `ovscontroller_test.go` TestOVSEgressNetworkPolicy
(the policies enp1, enp2 and their flows per VNID; global, shared and multiple-policy cases, and
clearing them) and `egress_network_policy.go` (a policy with an empty `spec.egress` is never added),
against `osdn.node.egress_firewall.compute_node_firewall`.

A reference flow `table=100, reg0=V, priority=N-i, ip[, nw_dst=X], actions=goto_table:101|drop` is
rule i of program V here: same order (first match wins), same CIDR (0.0.0.0/0 and 0.0.0.0/32: no
nw_dst, i.e. every address), same action; "priority=1 drop" is `drop_all`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from osdn.model import objects as o
from osdn.node.egress_firewall import FirewallProgram, compute_node_firewall

ENP1 = [("Allow", "192.168.0.0/16"), ("Deny", "192.168.1.0/24"), ("Allow", "192.168.1.1/32")]
ENP2 = [("Allow", "192.168.1.0/24"), ("Allow", "192.168.2.0/24"), ("Deny", "0.0.0.0/32")]   # "/32": legacy


def enp(ns: str, rules: list[tuple[str, str]], name: str) -> dict[str, Any]:
    return {"kind": "EgressNetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": {"egress": [{"type": t, "to": {"cidrSelector": c}} for t, c in rules]}}


def programs(policies: list[dict[str, Any]], **netids: int) -> dict[int, FirewallProgram]:
    nns = {ns: o.NetNamespace(ns, n, (), False) for ns, n in netids.items()}
    pods = [(f"10.128.0.{i}", ns) for i, ns in enumerate(sorted(netids), 2)]
    return {p.netid: p for p in compute_node_firewall("multitenant", policies, nns, pods).programs}


def flows(p: FirewallProgram) -> list[tuple[str, str]]:
    """The program as the reference's flows: (nw_dst or "" for every address, action), by priority."""
    if p.drop_all:
        return [("", "drop")]
    return [("" if r.cidr == "0.0.0.0/0" else str(r.cidr), "goto_table:101" if r.allow else "drop")
            for r in p.rules]


def first_match(p: FirewallProgram, ip: str) -> bool:
    if p.drop_all:
        return False
    for r in p.rules:
        if ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(r.cidr or "0.0.0.0/0"):
            return r.allow
    return True


EXPECT_ENP1 = [("192.168.0.0/16", "goto_table:101"), ("192.168.1.0/24", "drop"), ("192.168.1.1/32", "goto_table:101")]
EXPECT_ENP2 = [("192.168.1.0/24", "goto_table:101"), ("192.168.2.0/24", "goto_table:101"), ("", "drop")]
NETIDS = {"ns1": 42, "ns2": 43, "default": 0, "my-global-project": 0, "ns3": 44, "ns4": 44, "ns5": 46}


def test_one_policy_per_vnid() -> None:
    progs = programs([enp("ns1", ENP1, "enp1"), enp("ns2", ENP2, "enp2")], **NETIDS)
    assert sorted(progs) == [42, 43]
    assert flows(progs[42]) == EXPECT_ENP1
    assert flows(progs[43]) == EXPECT_ENP2


def test_first_match_wins_in_list_order() -> None:
    p = programs([enp("ns1", ENP1, "enp1")], **NETIDS)[42]
    assert first_match(p, "192.168.1.7") is True       # the Allow /16 comes before the Deny /24
    assert first_match(p, "192.168.2.1") is True
    assert first_match(p, "10.0.0.1") is True          # unmatched: allowed
    q = programs([enp("ns2", ENP2, "enp2")], **NETIDS)[43]
    assert first_match(q, "192.168.2.7") is True and first_match(q, "8.8.8.8") is False


def test_change_vnid_42_from_enp1_to_enp2_and_drop_43() -> None:
    progs = programs([enp("ns1", ENP2, "enp1")], **NETIDS)
    assert sorted(progs) == [42] and flows(progs[42]) == EXPECT_ENP2


def test_global_vnid_policy_is_ignored() -> None:
    assert programs([enp("default", ENP1, "enp1")], **NETIDS) == {}


def test_shared_vnid_policy_drops_everything_and_clears() -> None:
    progs = programs([enp("ns3", ENP1, "enp1")], **NETIDS)
    assert flows(progs[44]) == [("", "drop")] and "shared NetNamespace" in progs[44].drop_all
    assert programs([], **NETIDS) == {}


def test_multiple_policies_drop_everything_and_clear() -> None:
    progs = programs([enp("ns5", ENP1, "enp1"), enp("ns5", ENP2, "enp2")], **NETIDS)
    assert flows(progs[46]) == [("", "drop")] and "multiple" in progs[46].drop_all
    assert programs([enp("ns5", ENP1, "enp1")], **NETIDS)[46].rules


def test_empty_policy_counts_as_none() -> None:
    """The reference's node adds a policy only `if len(policy.Spec.Egress) > 0`."""
    assert programs([enp("ns1", [], "empty")], **NETIDS) == {}
    assert programs([enp("ns3", [], "empty")], **NETIDS) == {}             # shared VNID: no drop
    progs = programs([enp("ns5", ENP1, "enp1"), enp("ns5", [], "empty")], **NETIDS)
    assert flows(progs[46]) == EXPECT_ENP1                                 # not "multiple"
