"""network.openshift.io kinds: NetNamespace, HostSubnet, ClusterNetwork, EgressNetworkPolicy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from osdn.api.kinds.network import ClusterNetwork, EgressNetworkPolicy, HostSubnet, NetNamespace

Problems = Callable[..., list[str]]


def netns(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "NetNamespace", "metadata": {"name": "p1"},
            "netname": "p1", "netid": 100, **fields}


NETNS = [
    ("ok", {}, []),
    ("global", {"netid": 0}, []),
    ("min", {"netid": 10}, []),
    ("max", {"netid": 16777215}, []),
    ("reserved-5", {"netid": 5}, ["netid: Invalid value: 5: VNID must be greater than or equal to 10"]),
    ("negative", {"netid": -1}, ["netid: Invalid value: -1: VNID must be greater than or equal to 10"]),
    ("too-big", {"netid": 16777216},
     ["netid: Invalid value: 16777216: VNID must be less than or equal to 16777215"]),
    ("string-netid", {"netid": "100"}, ["netid: must be an integer, got '100'"]),
    ("netname-mismatch", {"netname": "other"}, ['netname: Invalid value: "other": must be the same as metadata.name: "p1"']),
    ("egress-ips", {"egressIPs": ["192.168.1.100", "192.168.1.101"]}, []),
    ("egress-ip-bad", {"egressIPs": ["192.168.1.300"]},
     ['egressIPs[0]: Invalid value: "192.168.1.300": invalid IP address']),
    ("egress-ip-v6", {"egressIPs": ["fd00::1"]},
     ['egressIPs[0]: Invalid value: "fd00::1": must be an IPv4 address']),
]


@pytest.mark.parametrize("fields,expected", [c[1:] for c in NETNS], ids=[c[0] for c in NETNS])
def test_netnamespace(problems: Problems, fields: dict[str, Any], expected: list[str]) -> None:
    assert problems(netns(**fields)) == expected


def test_netnamespace_netname_defaults_to_name(created: Callable[..., Any]) -> None:
    obj = netns()
    del obj["netname"]
    assert created(obj)["netname"] == "p1"
    assert NetNamespace.model_validate(created(obj)).netname == "p1"


def hostsubnet(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "HostSubnet", "metadata": {"name": "node1"},
            "host": "node1", "hostIP": "172.17.0.3", "subnet": "10.128.2.0/23", **fields}


ASSIGN = {"name": "node1", "annotations": {"pod.network.openshift.io/assign-subnet": "true"}}
HOSTSUBNETS = [
    ("ok", {}, []),
    ("host-mismatch", {"host": "node2"}, ['host: Invalid value: "node2": must be the same as metadata.name: "node1"']),
    ("subnet-not-canonical", {"subnet": "10.128.2.1/23"},
     ['subnet: Invalid value: "10.128.2.1/23": CIDR network specification "10.128.2.1/23" is not in canonical '
      "form (should be 10.128.2.0/23 or 10.128.2.1/32?)"]),
    ("subnet-empty", {"subnet": ""}, ["subnet: Required value: field cannot be empty"]),
    ("subnet-ipv6", {"subnet": "fd00::/64"}, ['subnet: Invalid value: "fd00::/64": must be an IPv4 network']),
    ("subnet-empty-assign", {"subnet": "", "metadata": ASSIGN}, []),
    ("host-ip-bad", {"hostIP": "172.17.0"}, ['hostIP: Invalid value: "172.17.0": invalid IP address']),
    ("host-ip-missing", {"hostIP": None}, ["hostIP: Required value"]),
    ("egress", {"egressIPs": ["192.168.1.100"], "egressCIDRs": ["192.168.1.0/24"]}, []),
    ("egress-ip-bad", {"egressIPs": ["x"]}, ['egressIPs[0]: Invalid value: "x": invalid IP address']),
    ("egress-cidr-bad", {"egressCIDRs": ["192.168.1.1/24"]},
     ['egressCIDRs[0]: Invalid value: "192.168.1.1/24": CIDR network specification "192.168.1.1/24" is not in '
      "canonical form (should be 192.168.1.0/24 or 192.168.1.1/32?)"]),
]


@pytest.mark.parametrize("fields,expected", [c[1:] for c in HOSTSUBNETS], ids=[c[0] for c in HOSTSUBNETS])
def test_hostsubnet(problems: Problems, fields: dict[str, Any], expected: list[str]) -> None:
    assert problems(hostsubnet(**fields)) == expected


def test_hostsubnet_host_defaults_to_name(created: Callable[..., Any]) -> None:
    obj = hostsubnet()
    del obj["host"]
    assert HostSubnet.model_validate(created(obj)).host == "node1"


@pytest.mark.parametrize("new_subnet,expected", [
    ("10.128.2.0/23", []),
    ("10.128.4.0/23", ['subnet: Invalid value: "10.128.4.0/23": cannot change the subnet lease midflight.']),
], ids=["same", "changed"])
def test_hostsubnet_subnet_immutable(problems: Problems, new_subnet: str, expected: list[str]) -> None:
    assert problems(hostsubnet(subnet=new_subnet, hostIP="172.17.0.9"), hostsubnet()) == expected


def cluster_network(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "ClusterNetwork", "metadata": {"name": "default"},
            "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}],
            "serviceNetwork": "172.30.0.0/16", "pluginName": "redhat/openshift-ovs-multitenant", **fields}


CLUSTER_NETWORKS = [
    ("ok", {}, []),
    ("short-plugin", {"pluginName": "networkpolicy"}, []),
    ("bad-plugin", {"pluginName": "redhat/openshift-ovs-magic"},
     ['pluginName: Unsupported value: "redhat/openshift-ovs-magic": supported values: '
      '"redhat/openshift-ovs-subnet", "redhat/openshift-ovs-multitenant", "redhat/openshift-ovs-networkpolicy", '
      '"subnet", "multitenant", "networkpolicy"']),
    ("name", {"metadata": {"name": "other"}}, ['metadata.name: Invalid value: "other": must be "default"']),
    ("not-canonical", {"clusterNetworks": [{"CIDR": "10.128.0.1/14", "hostSubnetLength": 9}]},
     ['clusterNetworks[0].CIDR: Invalid value: "10.128.0.1/14": CIDR network specification "10.128.0.1/14" is '
      "not in canonical form (should be 10.128.0.0/14 or 10.128.0.1/32?)"]),
    ("subnet-too-large", {"clusterNetworks": [{"CIDR": "10.128.0.0/24", "hostSubnetLength": 9}]},
     ["clusterNetworks[0].hostSubnetLength: Invalid value: 9: subnet length is too large for clusterNetwork "]),
    ("subnet-too-small", {"clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 1}]},
     ["clusterNetworks[0].hostSubnetLength: Invalid value: 1: subnet length must be at least 2"]),
    ("overlap", {"clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9},
                                     {"CIDR": "10.130.0.0/16", "hostSubnetLength": 8}]},
     ['clusterNetworks[1].CIDR: Invalid value: "10.130.0.0/16": cidr range overlaps with another cidr '
      '"10.128.0.0/14"']),
    ("two-networks", {"clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9},
                                          {"CIDR": "10.132.0.0/16", "hostSubnetLength": 8}]}, []),
    ("service-overlap", {"serviceNetwork": "10.128.0.0/16"},
     ['serviceNetwork: Invalid value: "10.128.0.0/16": service network overlaps with cluster network cidr: '
      "10.128.0.0/14"]),
    ("service-missing", {"serviceNetwork": None}, ["serviceNetwork: Required value"]),
    ("vxlan-port", {"vxlanPort": 0}, ["vxlanPort: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ("mtu-small", {"mtu": 575}, ["mtu: Invalid value: 575: must be between 576 and 65536, inclusive"]),
    ("mtu-big", {"mtu": 65537}, ["mtu: Invalid value: 65537: must be between 576 and 65536, inclusive"]),
    ("mtu-edges", {"mtu": 576, "vxlanPort": 65535}, []),
    ("legacy-mismatch", {"network": "10.0.0.0/14"},
     ['network: Invalid value: "10.0.0.0/14": must match clusterNetworks[0].CIDR']),
    ("no-networks", {"clusterNetworks": None},
     ["clusterNetworks: Required value: either clusterNetworks or network and hostsubnetlength must be set"]),
]


@pytest.mark.parametrize("fields,expected", [c[1:] for c in CLUSTER_NETWORKS], ids=[c[0] for c in CLUSTER_NETWORKS])
def test_cluster_network(problems: Problems, fields: dict[str, Any], expected: list[str]) -> None:
    assert problems(cluster_network(**fields)) == expected


def test_cluster_network_defaults_from_cluster_networks(created: Callable[..., Any]) -> None:
    cn = ClusterNetwork.model_validate(created(cluster_network()))
    assert (cn.vxlan_port, cn.mtu, cn.network, cn.hostsubnetlength) == (4789, 1450, "10.128.0.0/14", 9)
    assert cn.plugin == "multitenant"


def test_cluster_network_defaults_from_legacy(created: Callable[..., Any]) -> None:
    obj = cluster_network(network="10.128.0.0/14", hostsubnetlength=9)
    del obj["clusterNetworks"]
    stored = created(obj)
    assert stored["clusterNetworks"] == [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}]


def enp(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "EgressNetworkPolicy", "metadata": {"name": "default"},
            "spec": {"egress": list(rules)}}


def rule(type_: str = "Allow", **to: Any) -> dict[str, Any]:
    return {"type": type_, "to": to}


ENPS = [
    ("cidr", [rule(cidrSelector="1.2.3.0/24")], []),
    ("dns", [rule(dnsName="www.foo.com")], []),
    ("dns-trailing-dot", [rule(dnsName="www.foo.com.")], []),
    ("deny-all", [rule("Deny", cidrSelector="0.0.0.0/0")], []),
    ("bad-type", [rule("Reject", cidrSelector="1.2.3.0/24")],
     ['spec.egress[0].type: Invalid value: "Reject": invalid policy type']),
    ("neither", [rule()], ["spec.egress[0].to: Required value: must specify cidrSelector or dnsName"]),
    ("no-to", [{"type": "Allow"}], ["spec.egress[0].to: Required value: must specify cidrSelector or dnsName"]),
    ("both", [rule(cidrSelector="1.2.3.0/24", dnsName="www.foo.com")],
     ['spec.egress[0].to: Invalid value: {"cidrSelector": "1.2.3.0/24", "dnsName": "www.foo.com"}: either '
      "specify cidrSelector or dnsName but not both"]),
    ("empty-cidr", [rule(cidrSelector="")], ["spec.egress[0].to: Required value: must specify cidrSelector or dnsName"]),
    ("invalid-cidr", [rule(cidrSelector="1.2.3.0/40")],
     ['spec.egress[0].to.cidrSelector: Invalid value: "1.2.3.0/40": invalid CIDR address: 1.2.3.0/40']),
    ("non-canonical-cidr", [rule(cidrSelector="1.2.3.4/24")],
     ['spec.egress[0].to.cidrSelector: Invalid value: "1.2.3.4/24": CIDR network specification "1.2.3.4/24" '
      "is not in canonical form (should be 1.2.3.0/24 or 1.2.3.4/32?)"]),
    ("bad-dns", [rule(dnsName="www_foo.com")],
     ['spec.egress[0].to.dnsName: Invalid value: "www_foo.com": must conform to DNS 952 subdomain conventions']),
    ("second-rule", [rule(cidrSelector="1.2.3.0/24"), rule("Deny", dnsName="-x")],
     ['spec.egress[1].to.dnsName: Invalid value: "-x": must conform to DNS 952 subdomain conventions']),
    ("wildcard-dns", [rule(dnsName="*.example.com")],
     ['spec.egress[0].to.dnsName: Invalid value: "*.example.com": must conform to DNS 952 subdomain conventions']),
    ("wildcard-tld", [rule(dnsName="*.com")],
     ['spec.egress[0].to.dnsName: Invalid value: "*.com": must conform to DNS 952 subdomain conventions']),
    ("wildcard-inside", [rule(dnsName="a.*.example.com")],
     ['spec.egress[0].to.dnsName: Invalid value: "a.*.example.com": must conform to DNS 952 subdomain conventions']),
    ("50-rules", [rule(cidrSelector=f"10.0.{i}.0/24") for i in range(50)], []),
    ("51-rules", [rule(cidrSelector=f"10.0.{i}.0/24") for i in range(51)],
     ["spec.egress: too many egress rules (max 50)"]),
]


@pytest.mark.parametrize("rules,expected", [c[1:] for c in ENPS], ids=[c[0] for c in ENPS])
def test_egress_network_policy(problems: Problems, rules: list[dict[str, Any]], expected: list[str]) -> None:
    assert problems(enp(*rules)) == expected


def test_egress_network_policy_message_names_object() -> None:
    from osdn.api import registry
    from osdn.api.objects import prepare_create
    from osdn.errors import ValidationError

    obj = enp(*[rule(cidrSelector=f"10.0.{i}.0/24") for i in range(51)])
    with pytest.raises(ValidationError) as e:
        prepare_create(registry.for_object(obj), copy.deepcopy(obj), "p1", "now", "uid")
    assert e.value.message == ('EgressNetworkPolicy "default" in project "p1": spec.egress: too many egress rules '
                               "(max 50)")
    assert e.value.causes[0].reason == "FieldValueTooMany"


def test_egress_network_policy_model() -> None:
    policy = EgressNetworkPolicy.model_validate(enp(rule(dnsName="www.foo.com"), rule("Deny", cidrSelector="0.0.0.0/0")))
    assert policy.spec is not None and policy.spec.egress is not None
    assert [(r.type, r.to.dns_name, r.to.cidr_selector) for r in policy.spec.egress if r.to] == \
        [("Allow", "www.foo.com", None), ("Deny", None, "0.0.0.0/0")]
