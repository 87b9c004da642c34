"""Hypothesis properties of the master's allocators and egress IP assignment."""

import ipaddress
import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.errors import OsdnError
from osdn.model.egressip import NamespaceEgress, NodeEgress, compute_egress_state, reallocate_egress_ips
from osdn.model.netid import NetIDAllocator, NetIDRegistry, compute_network_change
from osdn.model.sdnconfig import Mode
from osdn.model.subnets import SubnetAllocator

NAMES = [f"p{i}" for i in range(8)] + ["default"]

netid_ops = st.lists(st.tuples(st.sampled_from(["assign", "release", "global", "join", "isolate"]),
                               st.sampled_from(NAMES), st.sampled_from(NAMES)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(netid_ops, st.one_of(st.none(), st.integers(0, 2**32)))
def test_netids_are_shared_only_by_join(ops, seed):
    rng = None if seed is None else random.Random(seed)
    reg = NetIDRegistry(NetIDAllocator(10, 40, rng=rng))
    group: dict[str, object] = {}       # model: namespaces share a NetID iff same group token
    for op, ns, other in ops:
        if op == "assign":
            try:
                reg.assign(ns)
            except OsdnError:
                continue                # range full
            group.setdefault(ns, "G" if ns == "default" else object())
        elif op == "release":
            if ns in group:
                reg.release(ns)
                del group[ns]
        else:
            value = f"join:{other}" if op == "join" else op
            sole = sum(1 for g in group.values() if g is group.get(ns)) == 1
            change = compute_network_change(reg, ns, value, Mode.MULTITENANT)
            if change.error is None:
                if op == "global":
                    group[ns] = "G"
                elif op == "join":
                    group[ns] = group[other]
                elif not (sole and group[ns] != "G"):
                    group[ns] = object()
        ids = reg.items()
        assert set(ids) == set(group)
        for a in ids:
            assert (ids[a] == 0) == (group[a] == "G")
            for b in ids:
                assert (ids[a] == ids[b]) == (group[a] is group[b] or group[a] == group[b] == "G")
        in_use = {v for v in ids.values() if v}
        assert all(reg.allocator.has(v) for v in in_use)
        assert reg.allocator.free() == 31 - len(in_use)        # nothing leaked


subnet_ops = st.lists(st.tuples(st.sampled_from(["alloc", "alloc", "release", "mark"]), st.integers(0, 10**6)),
                      max_size=80)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([("10.1.0.0/16", 6), ("10.0.0.0/14", 10), ("10.1.0.0/24", 3), ("10.1.0.0/20", 8)]),
       subnet_ops)
def test_subnet_allocator_never_returns_a_taken_subnet(rng_spec, ops):
    cidr, bits = rng_spec
    alloc = SubnetAllocator()
    alloc.add_range(cidr, bits)
    network = ipaddress.ip_network(cidr)
    live: set[ipaddress.IPv4Network] = set()
    for op, k in ops:
        if op == "alloc":
            try:
                got = ipaddress.ip_network(alloc.allocate())
            except OsdnError:
                assert len(live) >= 1
                continue
            assert got.subnet_of(network) and got.prefixlen == 32 - bits
            assert not any(got.overlaps(x) for x in live)
            live.add(got)
        elif op == "release" and live:
            victim = sorted(live)[k % len(live)]
            alloc.release(str(victim))
            live.discard(victim)
        elif op == "mark":
            subnets = list(network.subnets(new_prefix=32 - bits))
            pick = subnets[k % len(subnets)]
            if not any(pick.overlaps(x) for x in live):
                alloc.mark_allocated(str(pick))
                live.add(pick)


IPS = [f"10.0.{a}.{b}" for a in (0, 1) for b in range(1, 7)]
CIDRS = ["10.0.0.0/24", "10.0.1.0/24", "10.0.0.0/23", "10.0.0.1/32", "10.0.1.4/30"]

namespaces_st = st.lists(st.lists(st.sampled_from(IPS), max_size=3), max_size=6).map(
    lambda lists: [NamespaceEgress(f"ns{i}", 100 + i, tuple(ips)) for i, ips in enumerate(lists)])
nodes_st = st.lists(st.tuples(st.lists(st.sampled_from(IPS), max_size=3), st.lists(st.sampled_from(CIDRS), max_size=2),
                              st.one_of(st.none(), st.integers(0, 3))), min_size=1, max_size=5).map(
    lambda specs: [NodeEgress(f"n{i}", f"192.168.0.{i + 1}", tuple(ips), tuple(cidrs), cap)
                   for i, (ips, cidrs, cap) in enumerate(specs)])


@settings(max_examples=300, deadline=None)
@given(namespaces_st, nodes_st, st.sets(st.sampled_from([f"n{i}" for i in range(5)])))
def test_reallocation_invariants_over_several_rounds(namespaces, nodes, offline):
    for _ in range(4):
        result = reallocate_egress_ips(namespaces, nodes, offline)
        by_node = {n.name: n for n in nodes}
        owner = {v: ns.netid for ns in namespaces for v in ns.egress_ips}
        placed = [ip for ips in result.by_node.values() for ip in ips]
        assert len(placed) == len(set(placed))                           # not on two auto nodes
        manual = [ip for n in nodes if not n.egress_cidrs for ip in n.egress_ips]
        assert not set(placed) & set(manual)                             # nor on a manual node too
        for name, ips in result.by_node.items():
            node = by_node[name]
            assert node.egress_cidrs
            nets = [ipaddress.ip_network(c) for c in node.egress_cidrs]
            for ip in ips:
                assert any(ipaddress.ip_address(ip) in net for net in nets)   # inside its egressCIDRs
            new_ips = set(ips) - set(node.egress_ips)
            assert name not in offline or not new_ips                    # nothing new on offline nodes
            assert node.capacity is None or len(ips) <= node.capacity
            vnids = [owner[ip] for ip in ips]
            assert len(vnids) == len(set(vnids))                         # one IP per NetID per node
        nodes = [replace(n, egress_ips=tuple(result.by_node.get(n.name, n.egress_ips))) for n in nodes]
        state = compute_egress_state(namespaces, nodes, offline)
        for ip in placed:
            assert state.ips[ip].node is not None


@settings(max_examples=100, deadline=None)
@given(namespaces_st, nodes_st)
def test_reallocation_converges_to_a_fixed_point(namespaces, nodes):
    for _ in range(12):
        result = reallocate_egress_ips(namespaces, nodes)
        changes = result.changes(nodes)
        if not changes and not result.again:
            return
        nodes = [replace(n, egress_ips=tuple(changes.get(n.name, n.egress_ips))) for n in nodes]
    raise AssertionError(f"no fixed point: {result}")


def test_a_starved_node_whose_fresh_ips_are_unplaced_settles() -> None:
    """Found by the property above: the fresh plan gave an empty node an IP that no node held; it was
    withheld every round (again=True forever) instead of being placed."""
    namespaces = [NamespaceEgress("ns0", 100, ("10.0.0.1",)), NamespaceEgress("ns1", 101, ("10.0.1.1", "10.0.1.2"))]
    nodes = [NodeEgress("n0", "192.168.0.1", (), ("10.0.1.0/24",), None),
             NodeEgress("n1", "192.168.0.2", (), ("10.0.1.0/24",), None),
             NodeEgress("n2", "192.168.0.3", ("10.0.1.1",), ("10.0.0.0/23",), None)]
    for _ in range(4):
        result = reallocate_egress_ips(namespaces, nodes)
        changes = result.changes(nodes)
        if not changes and not result.again:
            break
        nodes = [replace(n, egress_ips=tuple(changes.get(n.name, n.egress_ips))) for n in nodes]
    assert not result.again
    assert sorted(ip for ips in result.by_node.values() for ip in ips) == ["10.0.0.1", "10.0.1.1", "10.0.1.2"]
