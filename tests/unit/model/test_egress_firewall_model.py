"""The oracle's egress firewall with the master's resolution (policy annotation) and the DNS table,
name lookups for `adm trace`, and the impact preview of EgressNetworkPolicy changes."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from osdn.model.cluster import ClusterState
from osdn.model.egress_firewall import ANY_OTHER, compute_egress_firewall, compute_egress_impact
from osdn.model.resolve import resolve_endpoint

IP = ipaddress.IPv4Address


def objs(rules: list[tuple[str, str]], resolved: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    meta: dict[str, Any] = {"name": "default", "namespace": "p1"}
    if resolved is not None:
        meta["annotations"] = {"network.osdn.io/dns-resolved": json.dumps(resolved)}
    spec = [{"type": t, "to": {"cidrSelector" if "/" in to else "dnsName": to}} for t, to in rules]
    return [
        {"kind": "ClusterNetwork", "metadata": {"name": "default"}, "network": "10.128.0.0/14",
         "hostsubnetlength": 9, "serviceNetwork": "172.30.0.0/16", "pluginName": "redhat/openshift-ovs-multitenant"},
        {"kind": "Namespace", "metadata": {"name": "p1"}},
        {"kind": "NetNamespace", "metadata": {"name": "p1"}, "netname": "p1", "netid": 11},
        {"kind": "Pod", "metadata": {"name": "a", "namespace": "p1"}, "spec": {"nodeName": "n1"},
         "status": {"podIP": "10.128.0.2", "phase": "Running"}},
        {"kind": "EgressNetworkPolicy", "metadata": meta, "spec": {"egress": spec}},
    ]


SEED = [("Allow", "1.2.3.0/24"), ("Allow", "www.foo.com"), ("Deny", "0.0.0.0/0")]


def test_dns_rule_uses_the_masters_resolution_and_names_the_addresses() -> None:
    state = ClusterState.from_objects(objs(SEED, {"www.foo.com": ["5.6.7.8"]}))
    ok, steps = compute_egress_firewall(state, "p1", IP("5.6.7.8"))
    assert ok and "spec.egress[1] Allow dnsName www.foo.com" in steps[-1].rule
    assert any("dnsName www.foo.com is 5.6.7.8" in s.detail for s in steps)
    ok, steps = compute_egress_firewall(state, "p1", IP("5.6.7.9"))
    assert not ok and steps[-1].rule == "spec.egress[2] Deny 0.0.0.0/0"
    assert not compute_egress_firewall(ClusterState.from_objects(objs(SEED)), "p1", IP("5.6.7.8"))[0], \
        "a name nobody resolved matches nothing"


def test_a_dns_name_matches_its_own_dns_table_entry_not_the_names_below_it() -> None:
    state = ClusterState.from_objects(objs([("Allow", "WWW.example.com."), ("Deny", "0.0.0.0/0")]),
                                      dns={"www.example.com": ["7.7.7.7"], "a.www.example.com": ["8.8.8.8"]})
    assert compute_egress_firewall(state, "p1", IP("7.7.7.7"))[0]
    assert not compute_egress_firewall(state, "p1", IP("8.8.8.8"))[0]


def test_trace_can_name_a_resolved_dns_name() -> None:
    state = ClusterState.from_objects(objs(SEED, {"www.foo.com": ["5.6.7.8"]}))
    assert resolve_endpoint(state, "www.foo.com").ip == IP("5.6.7.8")


def test_impact_of_reversing_the_seed_rules() -> None:
    before = ClusterState.from_objects(objs(SEED, {"www.foo.com": ["5.6.7.8"]}))
    after = ClusterState.from_objects(objs(list(reversed(SEED)), {"www.foo.com": ["5.6.7.8"]}))
    opened, closed = compute_egress_impact(before, after, [("TCP", 80)])
    assert opened == []
    assert sorted(c.dst for c in closed) == ["outside/1.2.3.1 (in 1.2.3.0/24)", "outside/5.6.7.8 (www.foo.com)"]
    assert all(c.src == "p1/a" for c in closed)
    opened, closed = compute_egress_impact(after, before, [("TCP", 80)])
    assert len(opened) == 2 and closed == []
    none = ClusterState.from_objects(objs(SEED)[:-1])
    opened, closed = compute_egress_impact(none, before, [("TCP", 80)])
    assert [c.dst for c in closed] == [f"outside/{ANY_OTHER} (any other address)"]
