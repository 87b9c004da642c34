"""openshift-sdn's node egress IP vectors (`pkg/network/node/egressip_test.go`: TestEgressIP,
TestNodeIPAsEgressIP, TestDuplicateNodeEgressIPs, TestDuplicateNamespaceEgressIPs), seen from the local
node 172.17.0.4 (node-4): the master's decisions (`osdn.model.egressip`, published as
`osdn.master.egress` publishes them) turned into this node's data path by `osdn.node.egress_intent`.

Reference -> here: group bucket `output:tun0` (SNAT on this node) -> "local"; bucket
`tun_dst=<ip>` -> "remote <node>" (steered there); `table=101 ... drop` -> "dropped"; no flow ->
absent; netlink "claim/release IP" -> `addresses` (the IPs this node holds on its uplink).
"""

from __future__ import annotations

import ipaddress

from osdn.kernel.policyroute import Uplink
from osdn.master.egress import decision_annotation
from osdn.model.egressip import Egress
from osdn.node.egress_intent import DROP, SNAT, STEER, Decision, EgressInputs, compute_egress
from osdn.node.egressip import EgressIPs
from tests.unit.master.vectors_egress_tracker import Tracker, node_name

LOCAL = "172.17.0.4"


def view(t: Tracker) -> tuple[dict[int, str], tuple[str, ...]]:
    """(netid -> local / remote <node ip> / dropped, addresses held) on node-4."""
    decisions = {}
    for netid, d in t.state.namespaces.items():
        text = decision_annotation(d)
        if text is not None:
            decisions[f"ns-{netid}"] = Decision.parse(text)
    nodes = {n.name: (f"10.{128 + i}.0.0/23", f"10.{128 + i}.0.1", n.host_ip)
             for i, n in enumerate(sorted(t.nodes.values(), key=lambda n: n.name))}
    nodes.setdefault(node_name(LOCAL), ("10.200.0.0/23", "10.200.0.1", LOCAL))
    pods = tuple((f"10.200.0.{netid % 200 + 2}", f"ns-{netid}", node_name(LOCAL)) for netid in t.namespaces)
    active = tuple(s.ip for s in t.state.hosted_by(node_name(LOCAL)))
    intent = compute_egress(EgressInputs(node_name(LOCAL), nodes, pods, decisions, active))
    by_ns = {e.namespace: e for e in intent.namespaces}
    out = {}
    for netid in t.namespaces:
        e = by_ns.get(f"ns-{netid}")
        if e is None:
            continue
        if e.code == SNAT:
            out[netid] = "local"
        elif e.code & STEER:
            out[netid] = f"remote {t.nodes[e.node].host_ip}"
        else:
            assert e.code == DROP
            out[netid] = "dropped"
    return out, intent.addresses


def test_node_egress_ip() -> None:
    t = Tracker()
    t.hostsubnet("172.17.0.3")
    t.hostsubnet(LOCAL)
    t.delete_netnamespace_egress(42)
    t.delete_netnamespace_egress(43)
    assert view(t) == ({}, ())

    t.netnamespace(42, "172.17.0.100")
    assert view(t) == ({42: "dropped"}, ())
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    assert view(t) == ({42: "remote 172.17.0.3"}, ())

    t.hostsubnet("172.17.0.3", ("172.17.0.101", "172.17.0.100"))
    t.hostsubnet("172.17.0.5", ("172.17.0.105",))
    assert view(t) == ({42: "remote 172.17.0.3"}, ())
    t.netnamespace(43, "172.17.0.105")
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.5"}, ())
    t.netnamespace(43, "172.17.0.101")
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.3"}, ())

    # a local egress IP: claimed here, SNAT here
    t.netnamespace(44, "172.17.0.104")
    assert view(t)[0][44] == "dropped"
    t.hostsubnet(LOCAL, ("172.17.0.102", "172.17.0.104"))
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.3", 44: "local"}, ("172.17.0.104",))
    t.netnamespace(44, "172.17.0.102")
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.3", 44: "local"}, ("172.17.0.102",))

    t.hostsubnet(LOCAL, ("172.17.0.102", "172.17.0.103"))
    assert view(t)[1] == ("172.17.0.102",)
    t.netnamespace(45, "172.17.0.103")
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.3", 44: "local", 45: "local"},
                       ("172.17.0.102", "172.17.0.103"))

    t.delete_netnamespace_egress(44)
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.3", 45: "local"}, ("172.17.0.103",))
    t.netnamespace(44, "172.17.0.102")
    assert view(t) == ({42: "remote 172.17.0.3", 43: "remote 172.17.0.3", 44: "local", 45: "local"},
                       ("172.17.0.102", "172.17.0.103"))

    # drop a remote node's IP, then a local one
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    assert view(t) == ({42: "remote 172.17.0.3", 43: "dropped", 44: "local", 45: "local"},
                       ("172.17.0.102", "172.17.0.103"))
    t.hostsubnet(LOCAL, ("172.17.0.102",))
    assert view(t) == ({42: "remote 172.17.0.3", 43: "dropped", 44: "local", 45: "dropped"}, ("172.17.0.102",))

    # add them back, swapped
    t.hostsubnet("172.17.0.3", ("172.17.0.100", "172.17.0.103"))
    assert view(t) == ({42: "remote 172.17.0.3", 43: "dropped", 44: "local", 45: "remote 172.17.0.3"},
                       ("172.17.0.102",))
    t.hostsubnet(LOCAL, ("172.17.0.101", "172.17.0.102"))
    assert view(t) == ({42: "remote 172.17.0.3", 43: "local", 44: "local", 45: "remote 172.17.0.3"},
                       ("172.17.0.101", "172.17.0.102"))


def test_node_ip_as_egress_ip_is_never_added() -> None:
    """TestNodeIPAsEgressIP: a HostSubnet listing the node's own IP changes nothing on the node."""
    t = Tracker()
    t.hostsubnet(LOCAL, (LOCAL, "172.17.0.102"))
    assert view(t) == ({}, ())
    # even if a namespace asks for it (the API refuses that first), the agent does not add it
    up = Uplink("eth0", 2, "c6:ac:2c:13:48:4b", ipaddress.IPv4Network("172.17.0.0/24"))
    want, refused = EgressIPs("osdn-test", LOCAL, "osdnbr0").usable(up, (LOCAL, "172.17.0.102", "10.9.9.9"))
    assert want == {"172.17.0.102"}
    assert refused == (f"{LOCAL} is the node IP", "10.9.9.9 is not in the network 172.17.0.0/24 of eth0")


def test_duplicate_node_egress_ips_on_the_local_node() -> None:
    t = Tracker()
    t.netnamespace(42, "172.17.0.100")
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    assert view(t) == ({42: "remote 172.17.0.3"}, ())
    # the same IP added to this node: not claimed here (no address), and the namespace drops
    t.hostsubnet(LOCAL, ("172.17.0.100",))
    assert view(t) == ({42: "dropped"}, ())
    t.hostsubnet(LOCAL, ())
    assert view(t) == ({42: "remote 172.17.0.3"}, ())
    t.hostsubnet("172.17.0.5", ("172.17.0.100",))
    assert view(t) == ({42: "dropped"}, ())
    t.delete_netnamespace_egress(42)
    assert view(t) == ({}, ())
    t.netnamespace(42, "172.17.0.100")
    assert view(t) == ({42: "dropped"}, ())
    t.hostsubnet("172.17.0.3", ())
    assert view(t) == ({42: "remote 172.17.0.5"}, ())


def test_duplicate_namespace_egress_ips_on_the_local_node() -> None:
    t = Tracker()
    t.netnamespace(42, "172.17.0.100")
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    assert view(t) == ({42: "remote 172.17.0.3"}, ())
    t.netnamespace(43, "172.17.0.100")
    assert view(t) == ({42: "dropped", 43: "dropped"}, ())
    t.delete_netnamespace_egress(43)
    assert view(t) == ({42: "remote 172.17.0.3"}, ())
    t.netnamespace(43, "172.17.0.100")
    assert view(t) == ({42: "dropped", 43: "dropped"}, ())
    t.hostsubnet("172.17.0.3", ())
    assert view(t) == ({42: "dropped", 43: "dropped"}, ())
    t.hostsubnet("172.17.0.3", ("172.17.0.100",))
    assert view(t) == ({42: "dropped", 43: "dropped"}, ())
    t.delete_netnamespace_egress(42)
    assert view(t) == ({43: "remote 172.17.0.3"}, ())
    assert t.state.namespaces[43].action is Egress.VIA
