"""OpenShift's own validation vectors for NetNamespace, HostSubnet and EgressNetworkPolicy.

Inputs and expected error counts are those of origin's `pkg/network/apis/network/validation/
validation_test.go` (TestValidateNetNamespace, TestValidateHostSubnet, TestValidateEgressNetworkPolicy)
and openshift/sdn's `pkg/network/common/validation_test.go`, run through osdn's real create pipeline.
Where osdn deliberately differs, the case is in `DELIBERATE` with the reference's outcome and ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Problems = Callable[..., list[str]]


def netns(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "NetNamespace", "metadata": {"name": "abc"},
            "netname": "abc", "netid": 12345, **fields}


def hostsubnet(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "HostSubnet", "metadata": {"name": "abc.def.com"},
            "host": "abc.def.com", "hostIP": "10.20.30.40", "subnet": "8.8.8.0/24", **fields}


def enp(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "EgressNetworkPolicy",
            "metadata": {"name": "default", "namespace": "testing"}, "spec": {"egress": list(rules)}}


def rule(kind: str, **to: str) -> dict[str, Any]:
    return {"type": kind, "to": to}


NETNAMESPACES = [
    ("good", {}, 0),
    ("bad-netname", {"netname": "wrong"}, 1),
    ("netid-too-large", {"netid": 16777217}, 1),
    ("netid-reserved", {"netid": 5}, 1),
    ("good-egress-ips", {"egressIPs": ["192.168.1.5", "192.168.1.7"]}, 0),
    ("bad-egress-ips", {"egressIPs": ["example.com", "", "1234::5678"]}, 3),
]


@pytest.mark.parametrize("fields,count", [c[1:] for c in NETNAMESPACES], ids=[c[0] for c in NETNAMESPACES])
def test_netnamespace_vectors(problems: Problems, fields: dict[str, Any], count: int) -> None:
    found = problems(netns(**fields))
    assert len(found) == count, found


def test_netnamespace_bad_netname_message(problems: Problems) -> None:
    assert problems(netns(netname="wrong")) == ['netname: Invalid value: "wrong": must be the same as metadata.name: "abc"']


def test_netnamespace_bad_egress_ips_each_named(problems: Problems) -> None:
    assert problems(netns(egressIPs=["example.com", "", "1234::5678"])) == [
        'egressIPs[0]: Invalid value: "example.com": invalid IP address',
        'egressIPs[1]: Invalid value: "": invalid IP address',
        'egressIPs[2]: Invalid value: "1234::5678": must be an IPv4 address']


def test_hostsubnet_ip_messages(problems: Problems) -> None:
    assert problems(hostsubnet(hostIP="10.20.300.40", egressIPs=["192.168.1.0/24", "1234::5678"])) == [
        'hostIP: Invalid value: "10.20.300.40": invalid IP address',
        'egressIPs[0]: Invalid value: "192.168.1.0/24": invalid IP address',
        'egressIPs[1]: Invalid value: "1234::5678": must be an IPv4 address']


HOSTSUBNETS = [
    ("good", {}, 0),
    ("malformed-host-ip", {"hostIP": "10.20.300.40", "subnet": "8.8.0.0/24"}, 1),
    ("malformed-subnet", {"subnet": "8.8.0/24"}, 1),
    ("malformed-subnet-cidr", {"subnet": "8.8.0.1/24"}, 1),
    ("good-egress-ips", {"egressIPs": ["192.168.1.99", "192.168.2.42"]}, 0),
    ("malformed-egress-ips", {"egressIPs": ["192.168.1.0/24", "bob"]}, 2),
    ("ipv6-subnet", {"subnet": "fe80:1234::/64"}, 1),
    ("ipv6-egress-ip", {"egressIPs": ["192.168.1.99", "1234::5678"]}, 1),
    # openshift/sdn ValidateHostSubnetEgress: egressCIDRs must be canonical IPv4 CIDRs
    ("egress-cidrs", {"egressCIDRs": ["192.168.1.0/24", "172.17.0.100/32"]}, 0),
    ("egress-cidrs-bad", {"egressCIDRs": ["192.168.2.1/24", "fe80::/64", "bob"]}, 3),
    # sdn TestValidateHostSubnet: a missing subnet is an error unless assign-subnet is asked for
    ("missing-subnet", {"subnet": None}, 1),
]


@pytest.mark.parametrize("fields,count", [c[1:] for c in HOSTSUBNETS], ids=[c[0] for c in HOSTSUBNETS])
def test_hostsubnet_vectors(problems: Problems, fields: dict[str, Any], count: int) -> None:
    obj = hostsubnet(**fields)
    if obj.get("subnet") is None:
        del obj["subnet"]
    found = problems(obj)
    assert len(found) == count, found


def test_hostsubnet_missing_subnet_with_assign_annotation(problems: Problems) -> None:
    obj = hostsubnet()
    del obj["subnet"]
    obj["metadata"]["annotations"] = {"pod.network.openshift.io/assign-subnet": "true"}
    assert problems(obj) == []


EGRESS_POLICIES = [
    ("empty", [], 0),
    ("good", [rule("Allow", cidrSelector="1.2.3.0/24"), rule("Allow", dnsName="www.example.com"),
              rule("Deny", cidrSelector="1.2.3.4/32"), rule("Deny", dnsName="www.foo.com")], 0),
    ("bad-policy-type", [rule("Bob", cidrSelector="1.2.3.0/24"), rule("Deny", cidrSelector="1.2.3.4/32")], 1),
    ("bad-destination", [rule("Allow", cidrSelector="1.2.3.4"), rule("Deny", cidrSelector="")], 2),
    ("both-cidr-and-dns", [rule("Allow", cidrSelector="1.2.3.4", dnsName="www.example.com")], 2),
    ("neither-cidr-nor-dns", [rule("Allow")], 1),
    ("invalid-dns", [rule("Allow", dnsName="www.Example$.com")], 1),
    ("wildcard-dns", [rule("Allow", dnsName="*.example.com")], 1),
    # "/32" is wrong but accepted for backward compatibility (the node treats it as 0.0.0.0/0)
    ("deny-0.0.0.0/32", [rule("Deny", cidrSelector="0.0.0.0/32")], 0),
    ("50-rules", [rule("Allow", cidrSelector=f"10.0.0.{i}/32") for i in range(50)], 0),
    ("51-rules", [rule("Allow", cidrSelector=f"10.0.0.{i}/32") for i in range(51)], 1),
    # origin test/extended/testdata/egress-firewall/sdn-egressnetworkpolicy-test.yaml
    ("origin-e2e-manifest", [rule("Allow", dnsName="docs.openshift.com"), rule("Allow", cidrSelector="8.8.8.8/32"),
                             rule("Deny", cidrSelector="0.0.0.0/0")], 0),
]


@pytest.mark.parametrize("rules,count", [c[1:] for c in EGRESS_POLICIES], ids=[c[0] for c in EGRESS_POLICIES])
def test_egress_network_policy_vectors(problems: Problems, rules: list[dict[str, Any]], count: int) -> None:
    found = problems(enp(*rules))
    assert len(found) == count, found


def test_egress_network_policy_messages(problems: Problems) -> None:
    """The reference's wording, with the field path of the offending value."""
    assert problems(enp(rule("Allow", cidrSelector="1.2.3.4", dnsName="www.example.com"))) == [
        'spec.egress[0].to: Invalid value: {"cidrSelector": "1.2.3.4", "dnsName": "www.example.com"}: '
        "either specify cidrSelector or dnsName but not both",
        'spec.egress[0].to.cidrSelector: Invalid value: "1.2.3.4": invalid CIDR address: 1.2.3.4']
    assert problems(enp(rule("Bob", cidrSelector="1.2.3.0/24"))) == [
        'spec.egress[0].type: Invalid value: "Bob": invalid policy type']
    assert problems(enp(rule("Allow", dnsName="www.Example$.com"))) == [
        'spec.egress[0].to.dnsName: Invalid value: "www.Example$.com": must conform to DNS 952 subdomain conventions']
    assert problems(enp(*[rule("Deny", cidrSelector="10.0.0.0/8")] * 51)) == [
        "spec.egress: too many egress rules (max 50)"]


# (name, rules, the reference's error count, osdn's, why) -- documented in docs/egress.md
DELIBERATE = [
    ("ipv6-cidr", [rule("Allow", cidrSelector="fe80::/64")], 0, 1,
     "3.x accepted IPv6 selectors that no node enforced; the 4.x CRD pattern and osdn accept IPv4 only"),
]


@pytest.mark.parametrize("rules,reference,ours", [c[1:4] for c in DELIBERATE], ids=[c[0] for c in DELIBERATE])
def test_egress_network_policy_deliberate_differences(problems: Problems, rules: list[dict[str, Any]],
                                                      reference: int, ours: int) -> None:
    assert reference != ours
    assert len(problems(enp(*rules))) == ours
