"""openshift-sdn's egress IP tracker vectors (`pkg/network/common/egressip_test.go`: TestEgressIP,
TestMultipleNamespaceEgressIPs, TestDuplicateNodeEgressIPs, TestDuplicateNamespaceEgressIPs,
TestOfflineEgressIPs, TestEgressNodeRenumbering): the same updates, the same expected changes,
against osdn's egress IP model (see `vectors_egress_tracker` for how changes are derived)."""

from __future__ import annotations

from collections import Counter

from osdn.model.egressip import Egress
from tests.unit.master.vectors_egress_tracker import Tracker


def expect(t: Tracker, *lines: str) -> None:
    assert t.take() == Counter(lines)


def test_egress_ip() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3")
    t.hostsubnet("172.17.0.4")
    t.delete_netnamespace_egress(42)
    t.delete_netnamespace_egress(43)
    expect(t)   # no namespace uses egress yet

    # NetNamespace.egressIPs first, then HostSubnet.egressIPs
    t.netnamespace(42, "172.17.0.100")
    expect(t, "namespace 42 dropped")
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.3")

    # HostSubnet first, then NetNamespace
    t.hostsubnet("172.17.0.3", ("172.17.0.100", "172.17.0.101"))
    t.hostsubnet("172.17.0.5", ("172.17.0.105",))
    expect(t)
    t.netnamespace(43, "172.17.0.105")
    expect(t, "claim 172.17.0.105 on 172.17.0.5 for namespace 43", "namespace 43 via 172.17.0.105 on 172.17.0.5")

    # change NetNamespace.egressIPs
    t.netnamespace(43, "172.17.0.101")
    expect(t, "release 172.17.0.105 on 172.17.0.5", "claim 172.17.0.101 on 172.17.0.3 for namespace 43",
           "namespace 43 via 172.17.0.101 on 172.17.0.3")

    t.netnamespace(44, "172.17.0.104")
    expect(t, "namespace 44 dropped")
    t.hostsubnet("172.17.0.4", ("172.17.0.102", "172.17.0.104"))
    expect(t, "claim 172.17.0.104 on 172.17.0.4 for namespace 44", "namespace 44 via 172.17.0.104 on 172.17.0.4")
    t.netnamespace(44, "172.17.0.102")
    expect(t, "release 172.17.0.104 on 172.17.0.4", "claim 172.17.0.102 on 172.17.0.4 for namespace 44",
           "namespace 44 via 172.17.0.102 on 172.17.0.4")

    t.hostsubnet("172.17.0.4", ("172.17.0.102", "172.17.0.103"))   # added .103, dropped .104
    expect(t)
    t.netnamespace(45, "172.17.0.103")
    expect(t, "claim 172.17.0.103 on 172.17.0.4 for namespace 45", "namespace 45 via 172.17.0.103 on 172.17.0.4")

    # drop a namespace's egress IP, then add it back
    t.delete_netnamespace_egress(44)
    expect(t, "release 172.17.0.102 on 172.17.0.4", "namespace 44 normal")
    t.netnamespace(44, "172.17.0.102")
    expect(t, "claim 172.17.0.102 on 172.17.0.4 for namespace 44", "namespace 44 via 172.17.0.102 on 172.17.0.4")

    # drop node egress IPs
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    expect(t, "release 172.17.0.101 on 172.17.0.3", "namespace 43 dropped")
    t.hostsubnet("172.17.0.4", ("172.17.0.102",))
    expect(t, "release 172.17.0.103 on 172.17.0.4", "namespace 45 dropped")

    # add them back, swapped
    t.hostsubnet("172.17.0.3", ("172.17.0.100", "172.17.0.103"))
    expect(t, "claim 172.17.0.103 on 172.17.0.3 for namespace 45", "namespace 45 via 172.17.0.103 on 172.17.0.3")
    t.hostsubnet("172.17.0.4", ("172.17.0.101", "172.17.0.102"))
    expect(t, "claim 172.17.0.101 on 172.17.0.4 for namespace 43", "namespace 43 via 172.17.0.101 on 172.17.0.4")


def test_multiple_namespace_egress_ips() -> None:
    t = Tracker()
    t.netnamespace(42, "172.17.0.100")
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    expect(t, "namespace 42 dropped", "claim 172.17.0.100 on 172.17.0.3 for namespace 42",
           "namespace 42 via 172.17.0.100 on 172.17.0.3")

    # prepending a second, unavailable, IP changes nothing
    t.netnamespace(42, "172.17.0.101", "172.17.0.100")
    expect(t)

    # assigning that IP to a node makes both usable
    t.hostsubnet("172.17.0.4", ("172.17.0.101",))
    expect(t, "claim 172.17.0.101 on 172.17.0.4 for namespace 42",
           "namespace 42 via 172.17.0.100 on 172.17.0.3", "namespace 42 via 172.17.0.101 on 172.17.0.4")
    assert t.state.namespaces[42].egress_ip == "172.17.0.101"   # osdn: the first in list order carries it

    # swapping the order: the same usable set (osdn: the other one now carries the traffic)
    t.netnamespace(42, "172.17.0.100", "172.17.0.101")
    expect(t)
    assert t.state.namespaces[42].egress_ip == "172.17.0.100"

    t.hostsubnet("172.17.0.4", ("172.17.0.200",))
    expect(t, "release 172.17.0.101 on 172.17.0.4", "namespace 42 via 172.17.0.100 on 172.17.0.3")
    t.hostsubnet("172.17.0.3", ())
    expect(t, "release 172.17.0.100 on 172.17.0.3", "namespace 42 dropped")

    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    t.hostsubnet("172.17.0.4", ("172.17.0.101",))
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "claim 172.17.0.101 on 172.17.0.4 for namespace 42",
           "namespace 42 via 172.17.0.100 on 172.17.0.3",
           "namespace 42 via 172.17.0.100 on 172.17.0.3", "namespace 42 via 172.17.0.101 on 172.17.0.4")

    # giving either used IP to another namespace breaks both namespaces
    t.netnamespace(43, "172.17.0.100")
    expect(t, "release 172.17.0.100 on 172.17.0.3", "namespace 42 dropped", "namespace 43 dropped")
    t.delete_netnamespace_egress(43)
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.3",
           "namespace 42 via 172.17.0.101 on 172.17.0.4", "namespace 43 normal")
    t.netnamespace(44, "172.17.0.101")
    expect(t, "release 172.17.0.101 on 172.17.0.4", "namespace 42 dropped", "namespace 44 dropped")
    t.delete_netnamespace_egress(44)
    expect(t, "claim 172.17.0.101 on 172.17.0.4 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.3",
           "namespace 42 via 172.17.0.101 on 172.17.0.4", "namespace 44 normal")


def test_duplicate_node_egress_ips() -> None:
    t = Tracker()
    t.netnamespace(42, "172.17.0.100")
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    expect(t, "namespace 42 dropped", "claim 172.17.0.100 on 172.17.0.3 for namespace 42",
           "namespace 42 via 172.17.0.100 on 172.17.0.3")

    # the same IP on another node: not claimed there, and the namespace drops
    t.hostsubnet("172.17.0.4", ("172.17.0.100",))
    expect(t, "release 172.17.0.100 on 172.17.0.3", "namespace 42 dropped")

    # automatic assignment ignores the double-booked IP
    t.hostsubnet("172.17.0.5", egress_cidrs=("172.17.0.0/24",))
    assert t.reallocate() == {"node-5": []}
    t.hostsubnet("172.17.0.5")
    expect(t)

    t.hostsubnet("172.17.0.4", ())
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.3")
    t.hostsubnet("172.17.0.5", ("172.17.0.100",))
    expect(t, "release 172.17.0.100 on 172.17.0.3", "namespace 42 dropped")

    # removing and re-adding the namespace's IP: still broken
    t.delete_netnamespace_egress(42)
    expect(t, "namespace 42 normal")
    t.netnamespace(42, "172.17.0.100")
    expect(t, "namespace 42 dropped")

    # removing the original node: the "duplicate" node is now used
    t.hostsubnet("172.17.0.3", ())
    expect(t, "claim 172.17.0.100 on 172.17.0.5 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.5")


def test_duplicate_namespace_egress_ips() -> None:
    t = Tracker()
    t.netnamespace(42, "172.17.0.100")
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    expect(t, "namespace 42 dropped", "claim 172.17.0.100 on 172.17.0.3 for namespace 42",
           "namespace 42 via 172.17.0.100 on 172.17.0.3")

    t.netnamespace(43, "172.17.0.100")
    expect(t, "release 172.17.0.100 on 172.17.0.3", "namespace 42 dropped", "namespace 43 dropped")

    t.hostsubnet("172.17.0.5", egress_cidrs=("172.17.0.0/24",))
    assert t.reallocate() == {"node-5": []}
    t.hostsubnet("172.17.0.5")
    expect(t)

    t.delete_netnamespace_egress(43)
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.3",
           "namespace 43 normal")
    t.netnamespace(43, "172.17.0.100")
    expect(t, "release 172.17.0.100 on 172.17.0.3", "namespace 42 dropped", "namespace 43 dropped")

    # broken whether or not a node holds the IP
    t.hostsubnet("172.17.0.3", ())
    expect(t)
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    expect(t)

    t.delete_netnamespace_egress(42)
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 43", "namespace 42 normal",
           "namespace 43 via 172.17.0.100 on 172.17.0.3")


def test_offline_egress_ips() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    t.hostsubnet("172.17.0.4", ("172.17.0.101",))
    t.netnamespace(42, "172.17.0.100", "172.17.0.101")
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "claim 172.17.0.101 on 172.17.0.4 for namespace 42",
           "namespace 42 via 172.17.0.100 on 172.17.0.3", "namespace 42 via 172.17.0.101 on 172.17.0.4")

    t.set_offline("172.17.0.3", True)     # the primary goes offline: just drop that one
    expect(t, "namespace 42 via 172.17.0.101 on 172.17.0.4")
    assert t.state.namespaces[42].egress_ip == "172.17.0.101"
    t.set_offline("172.17.0.4", True)     # the secondary too: we lose
    expect(t, "namespace 42 dropped")
    t.set_offline("172.17.0.4", False)
    expect(t, "namespace 42 via 172.17.0.101 on 172.17.0.4")
    t.set_offline("172.17.0.3", False)    # the primary is back: both usable, the primary carries it
    expect(t, "namespace 42 via 172.17.0.100 on 172.17.0.3", "namespace 42 via 172.17.0.101 on 172.17.0.4")
    assert t.state.namespaces[42].egress_ip == "172.17.0.100"
    t.set_offline("172.17.0.4", True)
    expect(t, "namespace 42 via 172.17.0.100 on 172.17.0.3")


def test_egress_node_renumbering() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3", ("172.17.0.100",), host="alpha")
    t.hostsubnet("172.17.0.4", ("172.17.0.101",), host="beta")
    t.hostsubnet("172.17.0.5", ("172.17.0.102",), host="gamma")
    t.netnamespace(42, "172.17.0.100")
    t.netnamespace(43, "172.17.0.101")
    expect(t, "claim 172.17.0.100 on 172.17.0.3 for namespace 42", "namespace 42 via 172.17.0.100 on 172.17.0.3",
           "claim 172.17.0.101 on 172.17.0.4 for namespace 43", "namespace 43 via 172.17.0.101 on 172.17.0.4")

    # renumber "beta": the reference releases, drops, claims again and resumes; osdn's decision is
    # level-triggered and goes straight to the new node (no transient "namespace 43 dropped")
    t.hostsubnet("172.17.0.6", ("172.17.0.101",), host="beta")
    assert t.take() == Counter(["claim 172.17.0.101 on 172.17.0.6 for namespace 43",
                                "namespace 43 via 172.17.0.101 on 172.17.0.6"])
    d = t.state.namespaces[43]
    assert (d.action, d.node, d.node_ip) == (Egress.VIA, "beta", "172.17.0.6")
