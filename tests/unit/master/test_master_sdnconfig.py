"""NetworkConfig parsing, validation and the live mode-change check."""

import pytest

from osdn.errors import ValidationError
from osdn.model.sdnconfig import Mode, check_mode_change, parse_mode, parse_network_config


def cluster_network(**over):
    obj = {
        "apiVersion": "network.openshift.io/v1", "kind": "ClusterNetwork", "metadata": {"name": "default"},
        "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}],
        "serviceNetwork": "172.30.0.0/16", "pluginName": "redhat/openshift-ovs-multitenant",
    }
    obj.update(over)
    return obj


@pytest.mark.parametrize("name,mode", [
    ("redhat/openshift-ovs-subnet", Mode.SUBNET), ("redhat/openshift-ovs-multitenant", Mode.MULTITENANT),
    ("redhat/openshift-ovs-networkpolicy", Mode.NETWORKPOLICY), ("networkpolicy", Mode.NETWORKPOLICY),
    ("subnet", Mode.SUBNET), ("redhat/openshift-ovs-bogus", None), ("", None)], ids=str)
def test_parse_mode(name, mode):
    assert parse_mode(name) is mode


def test_defaults_and_helpers():
    cfg = parse_network_config(cluster_network())
    assert (cfg.vxlan_port, cfg.mtu) == (4789, 1450)
    assert cfg.mode is Mode.MULTITENANT and cfg.supports_vnids and cfg.allows_renumbering
    assert cfg.cluster_networks[0].node_prefixlen == 23
    assert cfg.contains_pod_ip("10.131.255.1") and not cfg.contains_pod_ip("10.132.0.1")
    assert cfg.contains_service_ip("172.30.0.1")
    assert not parse_network_config(cluster_network(pluginName="subnet")).supports_vnids
    np = parse_network_config(cluster_network(pluginName="networkpolicy"))
    assert np.supports_vnids and not np.allows_renumbering


def test_legacy_only_object():
    cfg = parse_network_config(cluster_network(clusterNetworks=None, network="10.1.0.0/16", hostsubnetlength=8))
    assert str(cfg.cluster_networks[0].cidr) == "10.1.0.0/16"
    assert cfg.cluster_networks[0].host_subnet_length == 8


@pytest.mark.parametrize("over,needle", [
    ({"clusterNetworks": [{"CIDR": "10.128.0.1/14", "hostSubnetLength": 9}]}, "not in canonical form"),
    ({"clusterNetworks": [{"CIDR": "fd00::/48", "hostSubnetLength": 9}]}, "must be an IPv4 network"),
    ({"clusterNetworks": [{"CIDR": "10.1.0.0/24", "hostSubnetLength": 9}]}, "subnet length is too large"),
    ({"clusterNetworks": [{"CIDR": "10.1.0.0/16", "hostSubnetLength": 1}]}, "must be at least 2"),
    ({"clusterNetworks": [{"CIDR": "10.1.0.0/16", "hostSubnetLength": 8},
                          {"CIDR": "10.1.128.0/17", "hostSubnetLength": 8}]}, "overlaps with another cidr"),
    ({"serviceNetwork": "10.130.0.0/16"}, "service network overlaps with cluster network cidr"),
    ({"vxlanPort": 0}, "vxlanPort"), ({"mtu": 100}, "mtu"),
    ({"pluginName": "redhat/openshift-ovs-foo"}, "unsupported network plugin"),
    ({"network": "10.0.0.0/8"}, "must equal clusterNetworks[0].CIDR"),
], ids=["canonical", "ipv6", "too-large", "too-small", "overlap", "service-overlap", "vxlan", "mtu",
        "plugin", "legacy-mismatch"])
def test_invalid_configs_are_rejected(over, needle):
    with pytest.raises(ValidationError) as info:
        parse_network_config(cluster_network(**over))
    assert needle in info.value.message
    assert info.value.message.startswith('ClusterNetwork "default"')


def test_mode_change_is_refused_naming_both_modes():
    old = parse_network_config(cluster_network())
    new = parse_network_config(cluster_network(pluginName="redhat/openshift-ovs-networkpolicy"))
    msg = check_mode_change(old, new)
    assert msg and msg.startswith("changing the network plugin of a running cluster is not supported: ")
    assert "multitenant" in msg and "networkpolicy" in msg
    assert check_mode_change(old, old) is None
    assert check_mode_change(None, new) is None
