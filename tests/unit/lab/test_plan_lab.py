"""plan_lab is pure: names, addresses and limits, no kernel needed."""

import ipaddress

import pytest

from osdn.kernel.links import IFNAMSIZ, LinkNameError, check_ifname, ifb_name, osdn_link_name, pod_mac
from osdn.lab.topology import EGRESS_IP_POOL, plan_lab


def test_plan_is_deterministic():
    assert plan_lab("lab1", nodes=3) == plan_lab("lab1", nodes=3)


def test_every_namespace_carries_the_lab_prefix_and_is_unique():
    topo = plan_lab("lab1", nodes=4)
    assert all(ns.startswith("osdn-lab1-") for ns in topo.namespaces)
    assert len(set(topo.namespaces)) == len(topo.namespaces) == 4 + 5


@pytest.mark.parametrize("nodes", [1, 2, 10, 89], ids=lambda n: f"{n}nodes")
def test_link_names_fit_ifnamsiz(nodes):
    topo = plan_lab("abcdefghijkl", nodes=nodes)
    for port in topo.ports:
        assert len(port.ifname) <= IFNAMSIZ and len(port.switch_port) <= IFNAMSIZ
    switch_ports = [(p.switch, p.switch_port) for p in topo.ports]
    assert len(set(switch_ports)) == len(switch_ports)


def test_addresses_are_unique_in_their_subnets_and_avoid_the_egress_pool():
    topo = plan_lab("lab1", nodes=89)
    ul = ipaddress.ip_network(topo.underlay_cidr)
    node_ips = [ipaddress.ip_address(n.ip) for n in topo.nodes]
    assert len(set(node_ips)) == 89 and all(ip in ul for ip in node_ips)
    lo, hi = (ipaddress.ip_address(a) for a in EGRESS_IP_POOL)
    assert all(not lo <= ip <= hi for ip in node_ips)
    assert ipaddress.ip_address(topo.router_ip) not in node_ips
    ext = ipaddress.ip_network(topo.external_cidr)
    assert {ipaddress.ip_address(a) in ext for a in (topo.dns_ip, *topo.web_ips)} == {True}


def test_nodes_route_via_the_router_and_external_hosts_via_its_other_leg():
    topo = plan_lab("lab1", nodes=2)
    by_ns = {p.netns: p for p in topo.ports if p.gateway}
    assert {by_ns[n.netns].gateway for n in topo.nodes} == {topo.router_ip}
    assert by_ns[topo.web_netns].gateway == by_ns[topo.dns_netns].gateway == "203.0.113.1"
    assert dict(topo.dns_records)["web.ext.test"] == topo.web_ips[0]


@pytest.mark.parametrize("name,nodes", [("Lab", 2), ("a-b", 2), ("", 2), ("x" * 13, 2), ("lab", 0), ("lab", 90)],
                         ids=["upper", "dash", "empty", "long", "zero-nodes", "too-many-nodes"])
def test_bad_input_is_rejected(name, nodes):
    with pytest.raises(ValueError):
        plan_lab(name, nodes=nodes)


def test_link_names_are_never_truncated():
    assert check_ifname("x" * 15) == "x" * 15
    with pytest.raises(LinkNameError, match="xxxxxxxxxxxxxxxx"):
        check_ifname("x" * 16)
    assert len(osdn_link_name("v", "ns/pod")) == 15 and osdn_link_name("v", "a") != osdn_link_name("v", "b")
    assert ifb_name("osdnv0123456789").startswith("osdni")


def test_pod_mac_is_openshift_style():
    assert pod_mac("10.128.2.11/23") == "0a:58:0a:80:02:0b"
