"""Service externalIPs: the ExternalIPRanger decision (table-driven, upstream's cases), the policy's
place in `Network cluster` and its validation, and the Service's own checks of the addresses."""

from __future__ import annotations

import pytest

from osdn.api.kinds.operator import external_ip_policy, network_from_cluster_network, validate_network
from osdn.api.kinds.service import validate_service
from osdn.apiserver.bootstrap import default_cluster_network
from osdn.apiserver.plugins.externalips import external_ip_errors

V4, SUBSET, OFFSET = "172.0.0.0/16", "172.0.1.0/24", "172.200.0.0/24"
DISABLED = ["spec.externalIPs: Forbidden: externalIPs have been disabled"]


def refused(ips: list[str], allowed: tuple[str, ...] = (), rejected: tuple[str, ...] = ()) -> list[str]:
    return [str(e) for e in external_ip_errors(ips, allowed, rejected)]


@pytest.mark.parametrize(("ips", "allowed", "rejected", "expected"), [
    ([], (), (), []),                                      # no externalIPs: nothing to decide
    ([], (V4,), (), []),
    (["1.2.3.4"], (), (), DISABLED),                       # the default: none allowed
    (["1.2.3.4"], (), ("1.0.0.0/8",), DISABLED),           # only rejections: still none allowed
    (["172.0.0.1"], (V4,), (), []),                        # inside the allowed range
    (["1.2.3.4"], (V4,), (), ["spec.externalIPs[0]: Forbidden: externalIP is not allowed: 1.2.3.4 is not in "
                             'spec.externalIP.policy.allowedCIDRs of Network "cluster"']),
    (["172.0.1.1"], (V4,), (SUBSET,), ["spec.externalIPs[0]: Forbidden: externalIP is not allowed: 172.0.1.1 is in "
                                       'spec.externalIP.policy.rejectedCIDRs of Network "cluster"']),
    (["172.199.1.1"], (V4,), (OFFSET,), ["spec.externalIPs[0]: Forbidden: externalIP is not allowed: 172.199.1.1 is "
                                         'not in spec.externalIP.policy.allowedCIDRs of Network "cluster"']),
    (["1.2.3.4"], ("0.0.0.0/0",), ("0.0.0.0/0",), ["spec.externalIPs[0]: Forbidden: externalIP is not allowed: "
                                                   "1.2.3.4 is in spec.externalIP.policy.rejectedCIDRs of Network "
                                                   '"cluster"']),  # rejections can cover everything
    (["1.2.3.4"], ("0.0.0.0/32",), (), ["spec.externalIPs[0]: Forbidden: externalIP is not allowed: 1.2.3.4 is not "
                                        'in spec.externalIP.policy.allowedCIDRs of Network "cluster"']),
    (["abcd"], (V4,), (), ["spec.externalIPs[0]: Forbidden: externalIPs must be a valid address"]),
    (["172.0.0.1", "9.9.9.9", "172.0.0.2"], (V4,), (), [  # every address is judged, by its index
        'spec.externalIPs[1]: Forbidden: externalIP is not allowed: 9.9.9.9 is not in '
        'spec.externalIP.policy.allowedCIDRs of Network "cluster"']),
    (["192.0.2.10"], ("10.0.0.0/8", "192.0.2.0/24"), (), []),  # any allowed range will do
], ids=["none", "none-with-policy", "default-disabled", "only-rejected", "in-range", "out-of-range", "rejected",
        "in-neither", "reject-all", "empty-range", "unparsable", "by-index", "second-range"])
def test_external_ip_ranger_decisions(ips: list[str], allowed: tuple[str, ...], rejected: tuple[str, ...],
                                      expected: list[str]) -> None:
    assert refused(ips, allowed, rejected) == expected


def network(external_ip: object | None = None) -> dict:
    obj = network_from_cluster_network(default_cluster_network("redhat/openshift-ovs-subnet", "10.128.0.0/14",
                                                               9, "172.30.0.0/16"))
    if external_ip is not None:
        obj["spec"]["externalIP"] = external_ip
    return obj


def test_the_policy_lives_in_network_cluster_and_is_validated() -> None:
    assert external_ip_policy(network()) == ((), ())
    assert external_ip_policy(network({"policy": {}})) == ((), ())
    good = network({"policy": {"allowedCIDRs": ["192.0.2.0/24"], "rejectedCIDRs": ["192.0.2.128/25"]}})
    assert validate_network(good, None) == []
    assert external_ip_policy(good) == (("192.0.2.0/24",), ("192.0.2.128/25",))
    bad = network({"policy": {"allowedCIDRs": ["192.0.2.1/24"], "rejectedCIDRs": ["nope"]}})
    assert [str(e) for e in validate_network(bad, None)] == [
        'spec.externalIP.policy.allowedCIDRs[0]: Invalid value: "192.0.2.1/24": CIDR network specification '
        '"192.0.2.1/24" is not in canonical form (should be 192.0.2.0/24 or 192.0.2.1/32?)',
        'spec.externalIP.policy.rejectedCIDRs[0]: Invalid value: "nope": invalid CIDR address: nope']


@pytest.mark.parametrize(("ip", "message"), [
    ("192.0.2.10", None),
    ("nope", "must be a valid IP address"),
    ("0.0.0.0", "may not be unspecified (0.0.0.0, ::)"),
    ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("169.254.1.1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("239.1.1.1", "may not be a multicast address (224.0.0.0/4, ff00::/8)"),
])
def test_service_external_ips_are_checked_addresses(ip: str, message: str | None) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"},
           "spec": {"type": "ClusterIP", "sessionAffinity": "None", "externalIPs": ["192.0.2.9", ip],
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}}
    expected = [] if message is None else [f'spec.externalIPs[1]: Invalid value: "{ip}": {message}']
    assert [str(e) for e in validate_service(svc, None)] == expected
