"""openshift-sdn's automatic egress IP assignment vectors (`pkg/network/common/egressip_test.go`:
TestEgressCIDRAllocationWithMultipleAssignmentOptions, TestEgressCIDRAllocation,
TestEgressCIDRAllocationOffline and the TestAutomaticEgressAllocationRespecting* capacity tests)
against `osdn.model.egressip.reallocate_egress_ips`, one reallocation round per reference call."""

from __future__ import annotations

from collections import Counter

from osdn.model.egressip import NamespaceEgress, NodeEgress, reallocate_egress_ips
from tests.unit.master.vectors_egress_tracker import Tracker


def expect(t: Tracker, *lines: str) -> None:
    assert t.take() == Counter(lines)


def assigned(allocation: dict[str, list[str]]) -> set[str]:
    return {ip for ips in allocation.values() for ip in ips}


def test_allocation_with_multiple_assignment_options() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3", egress_cidrs=("172.17.0.0/24",))
    t.hostsubnet("172.17.0.4", egress_cidrs=("172.17.0.0/24",))
    t.hostsubnet("172.17.0.5")
    t.netnamespace(42, "172.17.0.100", "172.17.0.101", "172.17.0.102")
    expect(t, "namespace 42 dropped")
    allocation = t.reallocate()
    assert len(allocation["node-3"]) == 1 and len(allocation["node-4"]) == 1


def test_egress_cidr_allocation() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3", egress_cidrs=("172.17.0.100/32", "172.17.0.101/32", "172.17.0.102/32",
                                             "172.17.0.103/32", "172.17.1.0/24"))
    t.hostsubnet("172.17.0.4", egress_cidrs=("172.17.0.0/24",))
    t.hostsubnet("172.17.0.5")

    # either could go to either node, but balanced
    t.netnamespace(42, "172.17.0.100")
    t.netnamespace(43, "172.17.0.101")
    expect(t, "namespace 42 dropped", "namespace 43 dropped")
    allocation = t.reallocate()
    assert sorted(allocation["node-3"] + allocation["node-4"]) == ["172.17.0.100", "172.17.0.101"]
    assert len(allocation["node-3"]) == 1 and len(allocation["node-4"]) == 1
    n42, n43 = ("172.17.0.3", "172.17.0.4") if allocation["node-3"] == ["172.17.0.100"] else ("172.17.0.4", "172.17.0.3")
    t.apply(allocation)
    expect(t, f"claim 172.17.0.100 on {n42} for namespace 42", f"namespace 42 via 172.17.0.100 on {n42}",
           f"claim 172.17.0.101 on {n43} for namespace 43", f"namespace 43 via 172.17.0.101 on {n43}")

    # the first fits node-3 only; the second either, and must go to node-4 for balance
    t.netnamespace(44, "172.17.1.1")
    t.netnamespace(45, "172.17.0.102")
    expect(t, "namespace 44 dropped", "namespace 45 dropped")
    t.apply(t.reallocate())
    expect(t, "claim 172.17.1.1 on 172.17.0.3 for namespace 44", "namespace 44 via 172.17.1.1 on 172.17.0.3",
           "claim 172.17.0.102 on 172.17.0.4 for namespace 45", "namespace 45 via 172.17.0.102 on 172.17.0.4")

    # a manual egress IP on the node without egressCIDRs does not disturb automatic assignment
    t.hostsubnet("172.17.0.5", ("172.17.2.100",))
    t.netnamespace(50, "172.17.2.100")
    expect(t, "claim 172.17.2.100 on 172.17.0.5 for namespace 50", "namespace 50 via 172.17.2.100 on 172.17.0.5")
    t.apply(t.reallocate())
    expect(t)

    # the first two fit node-4 only; the last must go to node-3 for balance
    t.netnamespace(46, "172.17.0.200")
    t.netnamespace(47, "172.17.0.201")
    t.netnamespace(48, "172.17.0.103")
    expect(t, "namespace 46 dropped", "namespace 47 dropped", "namespace 48 dropped")
    allocation = t.reallocate()
    t.apply(allocation)
    expect(t, "claim 172.17.0.200 on 172.17.0.4 for namespace 46", "namespace 46 via 172.17.0.200 on 172.17.0.4",
           "claim 172.17.0.201 on 172.17.0.4 for namespace 47", "namespace 47 via 172.17.0.201 on 172.17.0.4",
           "claim 172.17.0.103 on 172.17.0.3 for namespace 48", "namespace 48 via 172.17.0.103 on 172.17.0.3")

    # dropping an egress CIDR drops its IP (one round), the next round places it elsewhere
    t.hostsubnet("172.17.0.3", tuple(allocation["node-3"]),
                 ("172.17.0.100/32", "172.17.0.101/32", "172.17.0.102/32", "172.17.1.0/24"))
    expect(t)
    t.apply(t.reallocate())
    expect(t, "release 172.17.0.103 on 172.17.0.3", "namespace 48 dropped")
    t.apply(t.reallocate())
    expect(t, "claim 172.17.0.103 on 172.17.0.4 for namespace 48", "namespace 48 via 172.17.0.103 on 172.17.0.4")

    # changing or removing a namespace's egress IPs drops the old assignment and makes a new one
    t.netnamespace(46, "172.17.0.202")
    t.delete_netnamespace_egress(44)
    expect(t, "release 172.17.0.200 on 172.17.0.4", "namespace 46 dropped",
           "release 172.17.1.1 on 172.17.0.3", "namespace 44 normal")
    allocation = t.reallocate()
    assert not {"172.17.1.1", "172.17.0.200"} & assigned(allocation)
    t.apply(allocation)
    expect(t, "claim 172.17.0.202 on 172.17.0.4 for namespace 46", "namespace 46 via 172.17.0.202 on 172.17.0.4")

    # several automatic egress IPs for one namespace
    t.netnamespace(45, "172.17.0.102", "172.17.1.102")
    expect(t)
    t.apply(t.reallocate())
    expect(t, "claim 172.17.1.102 on 172.17.0.3 for namespace 45",
           "namespace 45 via 172.17.0.102 on 172.17.0.4", "namespace 45 via 172.17.1.102 on 172.17.0.3")


def test_egress_cidr_allocation_offline() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3", egress_cidrs=("172.17.0.0/24", "172.17.1.0/24"))
    t.hostsubnet("172.17.0.4", egress_cidrs=("172.17.0.0/24",))
    t.hostsubnet("172.17.0.5", egress_cidrs=("172.17.1.0/24",))
    for netid, ip in [(100, "172.17.0.100"), (101, "172.17.0.101"), (102, "172.17.0.102"),
                      (200, "172.17.1.200"), (201, "172.17.1.201"), (202, "172.17.1.202")]:
        t.netnamespace(netid, ip)

    def counts(allocation: dict[str, list[str]]) -> tuple[int, int, int]:
        return len(allocation["node-3"]), len(allocation["node-4"]), len(allocation["node-5"])

    allocation = t.reallocate()
    n3, n4, n5 = counts(allocation)
    assert n3 >= 2 and n4 > 0 and n5 > 0 and n3 + n4 + n5 == 6
    t.apply(allocation)

    t.set_offline("172.17.0.3", True)
    allocation = t.reallocate()           # the first round empties node-3
    assert allocation["node-3"] == []
    t.apply(allocation)
    allocation = t.reallocate()           # the next one places its IPs on node-4 and node-5
    assert counts(allocation) == (0, 3, 3)
    t.apply(allocation)

    t.set_offline("172.17.0.3", False)
    allocation = t.reallocate()           # takes IPs off node-4/node-5, not yet onto node-3
    n3, n4, n5 = counts(allocation)
    assert n3 == 0 and n4 + n5 <= 4
    t.apply(allocation)
    allocation = t.reallocate()           # and places them back, balanced
    n3, n4, n5 = counts(allocation)
    assert 1 <= n3 <= 3 and 1 <= n4 <= 3 and 1 <= n5 <= 3 and n3 + n4 + n5 == 6


# ---- capacity (the reference reads it from the cloud annotation; osdn's model takes it as an argument)

def cap_nodes(*capacities: int, cidr: str = "172.17.0.0/24") -> list[NodeEgress]:
    return [NodeEgress(f"node{i}", f"172.17.0.{i}", (), (cidr,), c) for i, c in enumerate(capacities, 1)]


def namespaces(**requests: tuple[str, ...]) -> list[NamespaceEgress]:
    return [NamespaceEgress(name, int(name[2:]), ips) for name, ips in requests.items()]


def test_capacity_and_namespace_balancing_with_full_assignment() -> None:
    alloc = reallocate_egress_ips(namespaces(ns101=("172.17.0.101", "172.17.0.102"), ns103=("172.17.0.103",)),
                                  cap_nodes(2, 1)).by_node
    assert "172.17.0.103" not in alloc["node2"]
    assert (len(alloc["node1"]), len(alloc["node2"])) == (2, 1)


def test_capacity_and_balanced_namespace_assignment() -> None:
    ns = namespaces(ns101=("172.17.0.101", "172.17.0.102", "172.17.0.103"),
                    ns102=("172.17.0.104", "172.17.0.105"), ns103=("172.17.0.106",))
    alloc = reallocate_egress_ips(ns, cap_nodes(2, 2, 1)).by_node
    assert not {"172.17.0.101", "172.17.0.102", "172.17.0.103"} <= assigned(alloc)
    assert (len(alloc["node1"]), len(alloc["node2"]), len(alloc["node3"])) == (2, 2, 1)


def test_capacity_and_balanced_namespace_assignment_fully_constrained() -> None:
    ns = namespaces(ns101=("172.17.0.101", "172.17.0.102", "172.17.0.103"),
                    ns102=("172.17.0.104", "172.17.0.105"), ns103=("172.17.0.106",))
    alloc = reallocate_egress_ips(ns, cap_nodes(1, 1, 1)).by_node
    assert {"172.17.0.101", "172.17.0.104", "172.17.0.106"} <= assigned(alloc)
    assert (len(alloc["node1"]), len(alloc["node2"]), len(alloc["node3"])) == (1, 1, 1)


def test_capacity_and_consistent_full_global_assignment() -> None:
    nodes = cap_nodes(2, 1)

    def round_(ns: list[NamespaceEgress]) -> dict[str, list[str]]:
        nonlocal nodes
        alloc = reallocate_egress_ips(ns, nodes).by_node
        nodes = [NodeEgress(n.name, n.host_ip, tuple(alloc[n.name]), n.egress_cidrs, n.capacity) for n in nodes]
        return alloc

    alloc = round_(namespaces(ns100=("172.17.0.101",), ns101=("172.17.0.102",)))
    assert (len(alloc["node1"]), len(alloc["node2"])) == (1, 1)
    alloc = round_(namespaces(ns100=("172.17.0.101",), ns101=("172.17.0.102", "172.17.0.103")))
    assert "172.17.0.101" in assigned(alloc) and {"172.17.0.102", "172.17.0.103"} & assigned(alloc)
    alloc = round_(namespaces(ns100=(), ns101=("172.17.0.102", "172.17.0.103")))
    assert (len(alloc["node1"]), len(alloc["node2"])) == (1, 1)
    alloc = round_(namespaces(ns100=("172.17.0.101", "172.17.0.104", "172.17.0.105"),
                              ns101=("172.17.0.102", "172.17.0.103")))
    assert (len(alloc["node1"]), len(alloc["node2"])) == (2, 1)
    assert {"172.17.0.102", "172.17.0.103"} <= assigned(alloc)    # existing ones are not moved
    alloc = round_(namespaces(ns100=("172.17.0.101", "172.17.0.104", "172.17.0.105"), ns101=("172.17.0.102",)))
    assert "172.17.0.102" in assigned(alloc)


def test_capacity_respecting_availability() -> None:
    nodes = [NodeEgress("node1", "172.17.0.1", (), ("172.17.0.0/29",), 3),
             NodeEgress("node2", "172.17.0.2", (), ("172.17.0.0/26",), 6)]
    ns = namespaces(ns100=("172.17.0.55",), ns101=("172.17.0.56",), ns102=("172.17.0.57",),
                    ns103=("172.17.0.58",), ns104=("172.17.0.59",))
    alloc = reallocate_egress_ips(ns, nodes).by_node
    assert len(alloc["node2"]) == 5          # only node2's CIDR holds them
    nodes = [NodeEgress(n.name, n.host_ip, tuple(alloc[n.name]), n.egress_cidrs, n.capacity) for n in nodes]
    alloc = reallocate_egress_ips(ns + namespaces(ns105=("172.17.0.5",)), nodes).by_node
    assert (len(alloc["node1"]), len(alloc["node2"])) == (1, 5)   # fewer IPs, more available
