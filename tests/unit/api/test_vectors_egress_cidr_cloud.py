"""openshift-sdn TestValidEgressCIDRsForCloudNodes: with the node's egress IP config annotation (the
cloud shape `[{"capacity": ..., "ifaddr": {"ipv4": CIDR}}]`, which osdn's agents publish for their
underlay), a HostSubnet's egressCIDRs must lie inside that network."""

from __future__ import annotations

import json

import pytest

from osdn.apiserver.plugins.egressip import hostsubnet_problems, underlay_network
from osdn.node.egressip import IPCONFIG_ANNOTATION

NODE = {"kind": "Node", "metadata": {"name": "node1", "annotations": {
    IPCONFIG_ANNOTATION: json.dumps([{"capacity": {"ipv4": 2}, "ifaddr": {"ipv4": "172.17.0.2/23"}}])}}}


@pytest.mark.parametrize(("cidr", "ok"), [
    ("172.17.0.0/26", True),     # fully within the cloud network
    ("172.17.0.0/22", False),    # overlaps and is greater than the cloud network
    ("172.18.0.0/23", False),    # does not overlap it at all
], ids=["inside", "greater", "outside"])
def test_egress_cidrs_within_the_node_network(cidr: str, ok: bool) -> None:
    hs = {"kind": "HostSubnet", "metadata": {"name": "node1"}, "host": "node1", "hostIP": "172.17.0.1",
          "subnet": "10.128.0.0/23", "egressIPs": [], "egressCIDRs": [cidr]}
    errs = hostsubnet_problems(hs, [], {"172.17.0.1": "node1"}, underlay_network(NODE), master_move=False)
    assert (errs == []) is ok, errs
    if not ok:
        assert [e.field for e in errs] == ["egressCIDRs[0]"] and "not in node node1's network 172.17.0.0/23" in str(errs[0])
