"""Multus' pod annotation, namespace isolation, interface names, shipped plugin types, network-status."""

from __future__ import annotations

import json

import pytest

from osdn.model.multinet import (
    NetworkSelectionError,
    Selection,
    network_status,
    parse_networks,
    plugin_confs,
    status_entry,
)


@pytest.mark.parametrize("text, want", [
    ("egress-router-cni-nad", [Selection("p1", "egress-router-cni-nad", "net1")]),
    ("a, default/b@ext0 ,c", [Selection("p1", "a", "net1"), Selection("default", "b", "ext0"),
                              Selection("p1", "c", "net3")]),
    ('[{"name": "egress-router-cni-nad", "default-route": ["198.18.0.1"]}]',
     [Selection("p1", "egress-router-cni-nad", "net1", ("198.18.0.1",))]),
    ('[{"name": "a", "namespace": "openshift-multus", "interface": "up0", "ips": ["1.2.3.4/24"]}, {"name": "b"}]',
     [Selection("openshift-multus", "a", "up0"), Selection("p1", "b", "net2")]),
])
def test_parse_networks(text: str, want: list[Selection]) -> None:
    assert parse_networks(text, "p1") == want


@pytest.mark.parametrize("text, message", [
    ("p2/other", "namespace isolation enabled, annotation violates permission, pod is in namespace p1 but refers "
                 "to target namespace p2"),
    ('[{"name": "x", "namespace": "kube-system"}]', "refers to target namespace kube-system"),
    ("Bad_Name", "network name 'Bad_Name' is not a DNS-1123 label"),
    ("a/b/c", "invalid network object 'a/b/c'"),
    ("a@averyveryverylongname", "interface name 'averyveryverylongname' must be less than 16"),
    ("a@eth0", "interface name 'eth0' is already used"),
    ("a@x,b@x", "interface name 'x' is already used"),
    ("[{", "failed to parse the JSON form"),
    ('{"name": "a"}', "must be a list of objects"),
    ('[{"name": 3}]', "must be strings"),
    ('[{"name": "a", "default-route": ["gw"]}]', "default-route must be a list of IP addresses"),
    (",".join(f"n{i}" for i in range(9)), "at most 8 networks, got 9"),
    ("", "entry 1 names no network"),
])
def test_parse_networks_refuses(text: str, message: str) -> None:
    with pytest.raises(NetworkSelectionError) as err:
        parse_networks(text, "p1")
    assert message in err.value.message


def test_global_namespaces_are_usable_from_any_project() -> None:
    assert [s.ref for s in parse_networks("default/a,openshift-multus/b", "p1")] == ["default/a",
                                                                                     "openshift-multus/b"]


SEL = Selection("p1", "nad", "net1")


def test_plugin_confs_single_and_list_get_name_and_version() -> None:
    single = plugin_confs(SEL, '{"cniVersion": "0.4.0", "type": "egress-router", "ip": {}}')
    assert single == [{"cniVersion": "0.4.0", "type": "egress-router", "ip": {}, "name": "nad"}]
    listed = plugin_confs(SEL, '{"cniVersion": "1.0.0", "name": "l", "plugins": [{"type": "egress-router"}]}')
    assert listed == [{"type": "egress-router", "name": "l", "cniVersion": "1.0.0"}]


@pytest.mark.parametrize("config, kind", [
    ('{"cniVersion": "0.4.0", "type": "bridge"}', '"bridge"'),
    ('{"cniVersion": "0.4.0", "type": "/bin/sh"}', '"/bin/sh"'),
    ('{"cniVersion": "1.0.0", "plugins": [{"type": "egress-router"}, {"type": "portmap"}]}', '"portmap"'),
])
def test_only_shipped_plugin_types_run(config: str, kind: str) -> None:
    with pytest.raises(NetworkSelectionError) as err:
        plugin_confs(SEL, config)
    assert err.value.message == (f"network-attachment-definition p1/nad: CNI plugin type {kind} is not run by this "
                                 "kubelet (it runs only the plugins osdn ships: egress-router)")


def test_network_status() -> None:
    result = {"cniVersion": "0.4.0", "interfaces": [{"name": "net1", "mac": "0a:58:c6:12:00:63", "sandbox": "/x"}],
              "ips": [{"version": "4", "address": "198.18.0.99/24", "gateway": "198.18.0.1", "interface": 0}]}
    entry = status_entry(SEL, result)
    assert entry == {"name": "p1/nad", "interface": "net1", "ips": ["198.18.0.99"], "mac": "0a:58:c6:12:00:63",
                     "dns": {}}
    assert json.loads(network_status("10.128.0.5", [entry])) == [
        {"name": "openshift-sdn", "interface": "eth0", "ips": ["10.128.0.5"], "default": True, "dns": {}}, entry]
    routed = status_entry(Selection("p1", "nad", "net1", ("198.18.0.1",)), result)
    assert [e.get("default") for e in json.loads(network_status("10.128.0.5", [routed]))] == [None, True]
